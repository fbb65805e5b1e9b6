#!/usr/bin/python3
"""Golden values for moNCELoss (packages/nce-loss/src/monce.ts), computed by the authors' own module.

Run with Debian's PyTorch from the repo root: `/usr/bin/python3 tools/golden/monce.py`.
Writes fixtures/golden/monce.json. Deterministic: seeded float32 inputs, 1 thread.

The module comes from a checkout of fnzhan/MoNCE (commit 6672c29), imported from
$MONCE_REFERENCE (default /work/ref/monce; `git archive HEAD CUT_MoNCE/models | tar -x -C
/work/ref/monce`): `MoNCELoss` of CUT_MoNCE/models/monce.py with its Sinkhorn (sinkhorn.py), never
copied here. The models folder is loaded as a bare package (its __init__.py, which imports the
whole training code, is not run). Options are passed as a namespace (the fields the module reads).

Per case (inputs: L2-normalised rows as PatchSampleF returns them, keys correlated with the queries),
per negatives mode ('image' / 'minibatch' = nce_includes_all_negatives_from_minibatch false / true)
and per configuration (cost_type, eps, neg_term_weight; their code's defaults are hard, 1.0, 1.0;
their training scripts use eps 0.1): the loss vector and the gradient of its mean w.r.t. feat_q
(the gradient also flows through the Sinkhorn iterations, as in their code).
One case has an exact-zero row in feat_q and another in feat_k.
"""
import importlib
import os
import sys
import types
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import enc  # noqa: E402

REFERENCE = os.environ.get('MONCE_REFERENCE', '/work/ref/monce')
_pkg = types.ModuleType('monce_reference')
_pkg.__path__ = [os.path.join(REFERENCE, 'CUT_MoNCE', 'models')]
sys.modules['monce_reference'] = _pkg
monce = importlib.import_module('monce_reference.monce')

gc.setup(seed=20261208)
OUT = os.path.join(gc.GOLDEN, 'monce.json')
NCE_T = 0.07
CONFIGS = [
    {'cost_type': 'hard', 'eps': 1.0, 'neg_term_weight': 1.0},
    {'cost_type': 'hard', 'eps': 0.1, 'neg_term_weight': 1.0},
    {'cost_type': 'easy', 'eps': 0.5, 'neg_term_weight': 0.5},
]


def inputs(n, d, zero_rows):
    q = F.normalize(torch.randn(n, d), dim=1)
    k = F.normalize(0.6 * q + torch.randn(n, d), dim=1)
    if zero_rows:
        q[1] = 0
        k[n - 2] = 0
    return q, k


def run(q, k, batch_size, num_patches, minibatch, cfg):
    opt = SimpleNamespace(
        nce_includes_all_negatives_from_minibatch=minibatch,
        batch_size=batch_size,
        gpu_ids=[0],
        num_patches=num_patches,
        nce_T=NCE_T,
        **cfg,
    )
    qd = q.clone().requires_grad_(True)
    kd = k.clone().requires_grad_(True)
    loss = monce.MoNCELoss(opt)(qd, kd)
    loss.mean().backward()
    return {
        'config': cfg,
        'loss': enc(loss),
        'loss_mean': float(np.float32(loss.mean().item())),
        'grad_mean_wrt_feat_q': enc(qd.grad),
        'grad_wrt_feat_k_is_zero': bool((kd.grad is None) or (kd.grad == 0).all()),
    }


def case(batch_size, num_patches, dim, zero_rows=False):
    q, k = inputs(batch_size * num_patches, dim, zero_rows)
    name = f'b{batch_size}_p{num_patches}_d{dim}' + ('_zero_rows' if zero_rows else '')
    return {
        'id': name,
        'batch_size': batch_size,
        'num_patches': num_patches,
        'dim': dim,
        'nce_T': NCE_T,
        'zero_rows': {'feat_q': [1], 'feat_k': [batch_size * num_patches - 2]} if zero_rows else None,
        'feat_q': enc(q),
        'feat_k': enc(k),
        'results': {
            'image': [run(q, k, batch_size, num_patches, False, cfg) for cfg in CONFIGS],
            'minibatch': [run(q, k, batch_size, num_patches, True, cfg) for cfg in CONFIGS],
        },
    }


def main():
    cases = [case(1, 4, 8), case(2, 4, 8), case(1, 16, 32), case(2, 16, 32), case(2, 4, 8, zero_rows=True)]
    doc = {
        'meta': {
            'generator': 'tools/golden/monce.py',
            'reference': 'fnzhan/MoNCE 6672c29bc2d83f97245b6fba48da905e85c00607, CUT_MoNCE/models/{monce,sinkhorn}.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'float_format': gc.FLOAT_FORMAT,
            'array_format': '{shape, dtype, data}: data is the row-major (C-order) flattening of the tensor',
            'what': 'MoNCELoss (50 Sinkhorn iterations, as their module calls it) per cost/eps/neg_term_weight; see the docstring of tools/golden/monce.py',
        },
        'cases': cases,
    }
    size = gc.write_text(OUT, gc.dumps(doc))
    print(f'wrote {os.path.relpath(OUT)} ({size} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
