#!/usr/bin/python3
"""Golden numbers for the backend smoke test (packages/backends/src/load.test.ts).

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/webgpu_smoke.py` (from the repo root).
Writes fixtures/golden/webgpu_smoke.json. Deterministic: seeded float32 values, 1 thread.

Two tiny convolutions with bias, one per kind of padding/stride the networks use:
  * `same_s1`:  3x3, stride 1, zero padding 1 (tfjs 'same'), 1x3x5x6 -> 1x4x5x6
  * `valid_s2`: 3x3, stride 2, no padding (tfjs 'valid'), odd 2x3x7x6 -> 2x4x3x2
For each: input x (NCHW), weight (OIHW), bias, output y, a seeded upstream gradient dy and the
gradients of sum(y * dy) with respect to x, weight and bias (conv2d backprop-input, -filter).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import enc_floats as enc  # noqa: E402

gc.setup(seed=4242)
OUT = os.path.join(gc.GOLDEN, 'webgpu_smoke.json')


def case(name, x_shape, out_ch, stride, padding, tfjs_pad):
    x = torch.randn(*x_shape).requires_grad_(True)
    w = (torch.rand(out_ch, x_shape[1], 3, 3) * 2 - 1).requires_grad_(True)
    b = (torch.rand(out_ch) * 2 - 1).requires_grad_(True)
    y = F.conv2d(x, w, b, stride=stride, padding=padding)
    dy = torch.randn(*y.shape)
    dx, dw, db = torch.autograd.grad((y * dy).sum(), [x, w, b])
    return {
        'name': name, 'stride': stride, 'torch_padding': padding, 'tfjs_pad': tfjs_pad,
        'x': enc(x, 'NCHW'), 'weight': enc(w, 'OIHW'), 'bias': enc(b, 'C'),
        'y': enc(y, 'NCHW'), 'dy': enc(dy, 'NCHW'),
        'dx': enc(dx, 'NCHW'), 'dweight': enc(dw, 'OIHW'), 'dbias': enc(db, 'C'),
    }


def main():
    doc = {
        'meta': {
            'generator': 'tools/golden/webgpu_smoke.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'what': 'F.conv2d(x, weight, bias) and the gradients of sum(y * dy) w.r.t. x, weight, bias',
            'float_format': 'float32 values as the shortest decimal that round-trips to the same float32',
        },
        'cases': [
            case('same_s1', [1, 3, 5, 6], 4, 1, 1, 'same'),
            case('valid_s2', [2, 3, 7, 6], 4, 2, 0, 'valid'),
        ],
    }
    gc.write_text(OUT, json.dumps(doc, indent=1))
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
