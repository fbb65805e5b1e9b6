"""Writes the hostile checkpoints of fixtures/checkpoints/hostile/ with PyTorch (torch.save), for the
reader's tests (packages/networks/src/pth/hostile.test.ts):

- expand.pth: {'model.0.weight': torch.zeros(1).expand(20000, 20000)}: one stored float, strides
  (0, 0), a shape of 400 million elements (1.6 GB as float32) in a file of about 1 KB.
- expand_small.pth: {'w': torch.zeros(1).expand(3, 4)}: a stride-0 view small enough to be harmless,
  refused all the same (a state_dict's tensors never repeat elements).
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
import torch  # noqa: E402

OUT = os.path.join(gc.FIXTURES, 'checkpoints', 'hostile')


def save(name, sd):
    path = os.path.join(OUT, name)
    torch.save(sd, path)
    print(path, os.path.getsize(path), 'bytes')


def main():
    gc.setup(0)
    os.makedirs(OUT, exist_ok=True)
    big = torch.zeros(1).expand(20000, 20000)
    assert big.stride() == (0, 0)
    save('expand.pth', collections.OrderedDict([('model.0.weight', big)]))
    save('expand_small.pth', collections.OrderedDict([('w', torch.zeros(1).expand(3, 4))]))


if __name__ == '__main__':
    main()
