#!/usr/bin/python3
"""Gradient goldens for PatchSampleF (packages/patch-sampler), complementing the reference's
forward-only fixtures/golden/patchsample.json.

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/patchsample_grad.py` (from the repo root).
Writes fixtures/golden/patchsample_grad.json. Deterministic: seeded float32 values, 1 thread.

The forward is written here from its description in CUT_SPEC section 5 (torch ops, NCHW input):
  x = feat.permute(0, 2, 3, 1).flatten(1, 2)            # (B, H*W, C), id = y*W + x
  num_patches > 0: x = x[:, ids, :].flatten(0, 1)         # (B*P, C), row b*P + p
  x = Linear2(ReLU(Linear1(x)))                            # if use_mlp
  x = x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-7)   # dim 1: channels, or H*W for num_patches 0
  num_patches = 0: x = x.permute(0, 2, 1).reshape(B, C', H, W)
For each case: inputs (NCHW and NHWC), ids, MLP weights ([out, in] Linear layout), the output,
a seeded upstream gradient dy (in the output's layout; NCHW for num_patches 0) and the
gradients of sum(output * dy) with respect to every feature map and MLP parameter.
Repeated ids are included on purpose (two patches at the same position add up their
gradients, as a scatter-add / UnsortedSegmentSum must).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import enc  # noqa: E402

gc.setup(seed=20240614)
OUT = os.path.join(gc.GOLDEN, 'patchsample_grad.json')


def sample_level(feat, ids, mlp):
    b, c, h, w = feat.shape
    x = feat.permute(0, 2, 3, 1).flatten(1, 2)
    if ids is not None:
        x = x[:, torch.tensor(ids, dtype=torch.long), :].flatten(0, 1)
    if mlp is not None:
        w1, b1, w2, b2 = mlp
        x = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
    x = x / (x.pow(2).sum(dim=1, keepdim=True).pow(0.5) + 1e-7)
    if ids is None:
        x = x.permute(0, 2, 1).reshape(b, x.shape[2], h, w)
    return x


def case(name, shapes, batch, nc, use_mlp, ids_per_level):
    feats = [torch.randn(batch, c, h, w).requires_grad_(True) for (c, h, w) in shapes]
    mlps = []
    for (c, _, _) in shapes:
        if use_mlp:
            mlps.append([(torch.rand(*s) * 2 - 1).div(s[-1] ** 0.5).requires_grad_(True)
                         for s in ((nc, c), (nc,), (nc, nc), (nc,))])
        else:
            mlps.append(None)
    outs = [sample_level(f, ids, m) for f, ids, m in zip(feats, ids_per_level, mlps)]
    dys = [torch.randn(*o.shape) for o in outs]
    total = sum((o * dy).sum() for o, dy in zip(outs, dys))
    total.backward()
    levels = []
    for i, (f, ids, m, o, dy) in enumerate(zip(feats, ids_per_level, mlps, outs, dys)):
        level = {
            'feat_nchw': enc(f, 'NCHW'),
            'feat_nhwc': enc(f.permute(0, 2, 3, 1), 'NHWC'),
            'patch_ids': ids,
            'output': enc(o, 'NCHW' if ids is None else '(B*P, C_out), row b*P + p'),
            'dy': enc(dy, 'same as output'),
            'grad_feat_nchw': enc(f.grad, 'NCHW'),
            'grad_feat_nhwc': enc(f.grad.permute(0, 2, 3, 1), 'NHWC'),
        }
        if m is not None:
            names = ('0.weight', '0.bias', '2.weight', '2.bias')
            level['weights'] = {f'mlp_{i}.{n}': enc(p) for n, p in zip(names, m)}
            level['grad_weights'] = {f'mlp_{i}.{n}': enc(p.grad) for n, p in zip(names, m)}
        levels.append(level)
    return {'id': name, 'use_mlp': use_mlp, 'nc': nc if use_mlp else None, 'batch': batch,
            'num_patches': 0 if ids_per_level[0] is None else len(ids_per_level[0]), 'levels': levels}


def main():
    cases = [
        case('mlp_nc6_b2_np5_repeated_ids', [(3, 4, 5), (4, 3, 3)], 2, 6, True, [[7, 0, 19, 7, 12], [8, 2, 2, 4, 0]]),
        case('nomlp_b2_np4', [(5, 3, 4)], 2, None, False, [[11, 3, 3, 6]]),
        case('mlp_nc4_b2_np0', [(3, 3, 4)], 2, 4, True, [None]),
    ]
    doc = {
        'meta': {
            'generator': 'tools/golden/patchsample_grad.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'float_format': gc.FLOAT_FORMAT,
            'array_format': '{shape, dtype, layout?, data}: data is the row-major (C-order) flattening of the tensor',
            'what': 'PatchSampleF forward (CUT_SPEC 5) and gradients of sum(output * dy) w.r.t. the feature maps and '
                    'the MLP parameters (Linear weights [out, in]); num_patches 0 outputs are NCHW, normalised over H*W.',
        },
        'cases': cases,
    }
    size = gc.write_text(OUT, gc.dumps(doc))
    print(f'wrote {os.path.relpath(OUT)} ({size} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
