#!/usr/bin/python3
"""Checks a .pth written by @cut/networks' writePth against real PyTorch, and writes one back.

Usage (run by packages/networks/src/pth/pth.test.ts): pth_roundtrip.py EXPECTED.json IN.pth OUT.pth

EXPECTED.json: {"prefix": "...", "metadata": {module path: {attr: value}} | null,
                "tensors": {name: {"shape": [...], "dtype": "float32"|"int64", "data": [...]}}}
(int64 values as decimal strings). The script
  1. torch.load(IN) (and again with weights_only=True): keys in order, shapes, dtypes and values
     must equal EXPECTED exactly, and so must the state_dict's `_metadata`;
  2. loads it with load_state_dict(strict=True) into a module of the same structure (after dropping
     `prefix`, as a user of a DataParallel checkpoint would);
  3. writes OUT.pth = torch.save(module.state_dict()) after scaling every float tensor by 2 and
     adding 1 to the int64 counter, so the caller can check what torch wrote.
Exits non-zero with a message on any mismatch.
"""
import collections
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402


class Net(nn.Module):
    """conv -> batch norm -> linear, plus a fixed depthwise blur buffer like the CUT generator's."""

    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(5, 2))
        self.register_buffer('filt', torch.zeros(4, 1, 3, 3))


def fail(msg):
    sys.stderr.write(f'pth_roundtrip.py: {msg}\n')
    sys.exit(1)


def check(sd, expected, metadata, how):
    if not isinstance(sd, collections.OrderedDict):
        fail(f'{how}: loaded a {type(sd).__name__}, not an OrderedDict')
    got_meta = getattr(sd, '_metadata', None)
    got_meta = None if got_meta is None else {k: dict(v) for k, v in got_meta.items()}
    if got_meta != metadata:
        fail(f'{how}: _metadata {got_meta} != {metadata}')
    if list(sd.keys()) != list(expected.keys()):
        fail(f'{how}: keys {list(sd.keys())} != {list(expected.keys())}')
    for k, spec in expected.items():
        t = sd[k]
        want = gc.decode(spec)
        if t.dtype != want.dtype or list(t.shape) != spec['shape']:
            fail(f'{how}: {k} is {t.dtype} {list(t.shape)}, expected {want.dtype} {spec["shape"]}')
        if not t.is_contiguous():
            fail(f'{how}: {k} is not contiguous')
        if not torch.equal(t, want):
            fail(f'{how}: {k} values differ (max |d| {(t.double() - want.double()).abs().max().item()})')


def main():
    exp_path, in_path, out_path = sys.argv[1:4]
    with open(exp_path) as f:
        spec = json.load(f)
    expected = collections.OrderedDict(spec['tensors'].items())
    prefix = spec.get('prefix', '')

    sd = torch.load(in_path, map_location='cpu')
    check(sd, expected, spec.get('metadata'), 'torch.load')
    try:
        safe = torch.load(in_path, map_location='cpu', weights_only=True)
    except TypeError:
        safe = None  # torch < 1.13 has no weights_only
    if safe is not None:
        check(safe, expected, spec.get('metadata'), 'torch.load(weights_only=True)')

    net = Net()
    stripped = collections.OrderedDict((k[len(prefix):] if k.startswith(prefix) else k, v) for k, v in sd.items())
    net.load_state_dict(stripped, strict=True)
    for k, v in net.state_dict().items():
        if not torch.equal(v, stripped[k]):
            fail(f'load_state_dict: {k} did not arrive')

    with torch.no_grad():
        for k, v in net.state_dict().items():
            if v.dtype == torch.int64:
                v.add_(1)
            else:
                v.mul_(2)
    torch.save(net.state_dict(), out_path)
    print(json.dumps({'ok': True, 'torch': torch.__version__, 'weights_only_checked': safe is not None}))


if __name__ == '__main__':
    main()
