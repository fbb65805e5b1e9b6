#!/usr/bin/python3
"""Golden values for decoupledContrastiveLoss, hardNegativeDCELoss and semanticRelationLoss
(packages/nce-loss/src/hdce.ts and src.ts), computed by the authors' own modules.

Run with Debian's PyTorch from the repo root: `/usr/bin/python3 tools/golden/hneg_src.py`.
Writes fixtures/golden/hneg_src.json. Deterministic: seeded float32 inputs, 1 thread.

The modules come from a checkout of jcy132/Hneg_SRC (commit 9a9647d), imported from
$HNEG_SRC_REFERENCE (default /work/ref/hneg_src; `git archive HEAD Single-modal/models | tar -x -C
/work/ref/hneg_src`): `PatchHDCELoss` of Single-modal/models/hDCE.py and `SRC_Loss` of
Single-modal/models/SRC.py, never copied here. Their options are passed as a namespace
(the fields cut_model.py reads from its parser).

Per case (inputs: L2-normalised rows as PatchSampleF returns them, keys correlated with the queries)
and per negatives mode ('image': nce_includes_all_negatives_from_minibatch false; 'minibatch': true):
- dce:  PatchHDCELoss without weight: the loss vector and the gradient of its mean w.r.t. feat_q.
- src:  SRC_Loss (gamma 1, no curriculum): the loss, its gradient w.r.t. feat_q and the weights.
        SRC_Loss views its rows as one group of opt.num_patches; 'minibatch' is that module with
        num_patches = N; 'image' runs it on each image's P rows (num_patches = P), sums the losses
        and stacks the weights [B, P, P] (what it computes when its group size is the batch size).
- hdce: PatchHDCELoss with the src weights of the same mode.
- src_curriculum: the weights at a given epoch with --use_curriculum (and --step_gamma).
A case with an exact-zero row in feat_q and another in feat_k: the authors' Normalize gives NaN
gradients on the zero query row (the derivative of the norm at 0; written as null);
`src.grad_one_sided_wrt_feat_q`
is the same module with that norm's derivative taken as 0 there (its forward values unchanged).
"""
import importlib
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import enc  # noqa: E402

REFERENCE = os.environ.get('HNEG_SRC_REFERENCE', '/work/ref/hneg_src')
sys.path.insert(0, os.path.join(REFERENCE, 'Single-modal', 'models'))
hDCE = importlib.import_module('hDCE')
SRC = importlib.import_module('SRC')

gc.setup(seed=20261207)
OUT = os.path.join(gc.GOLDEN, 'hneg_src.json')
NCE_T = 0.07


class _OneSidedNorm(torch.autograd.Function):
    """sqrt(s) with derivative 0 at s = 0 (the forward value is unchanged)."""

    @staticmethod
    def forward(ctx, s):
        r = s.sqrt()
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return torch.where(r > 0, g / (2 * r).clamp_min(1e-30), torch.zeros_like(g))


class _OneSidedNormalize(torch.nn.Module):
    def forward(self, x):
        return x.div(_OneSidedNorm.apply(x.pow(2).sum(1, keepdim=True)) + 1e-7)


def enc_nan_as_null(t):
    """`enc`, with each NaN written as JSON null (JSON has no NaN)."""
    out = enc(t)
    out['data'] = gc.RawList('null' if v == 'nan' else v for v in out['data'])
    return out


def inputs(n, d, zero_rows):
    q = F.normalize(torch.randn(n, d), dim=1)
    k = F.normalize(0.6 * q + torch.randn(n, d), dim=1)
    if zero_rows:
        q[1] = 0
        k[n - 2] = 0
    return q, k


def hdce_opt(batch_size, minibatch):
    return SimpleNamespace(nce_includes_all_negatives_from_minibatch=minibatch, batch_size=batch_size, nce_T=NCE_T)


def src_opt(num_patches, curriculum=None):
    o = SimpleNamespace(num_patches=num_patches, HDCE_gamma=1.0, use_curriculum=False)
    if curriculum:
        o.use_curriculum = True
        for key, value in curriculum.items():
            setattr(o, key, value)
    return o


def run_src(q, k, groups, curriculum=None, epoch=None, one_sided=False):
    """SRC_Loss on each of `groups` equal row groups: summed losses, weights stacked [G, M, M]."""
    m = q.shape[0] // groups
    losses, weights = [], []
    saved = SRC.Normalize
    if one_sided:
        SRC.Normalize = _OneSidedNormalize
    try:
        for g in range(groups):
            crit = SRC.SRC_Loss(src_opt(m, curriculum))
            loss, w = crit(q[g * m:(g + 1) * m], k[g * m:(g + 1) * m], False, epoch)
            losses.append(loss)
            weights.append(w)
    finally:
        SRC.Normalize = saved
    return sum(losses), torch.cat(weights, 0)


def mode_results(q, k, batch_size, minibatch, zero_rows):
    groups = 1 if minibatch else batch_size
    hdce = hDCE.PatchHDCELoss(hdce_opt(batch_size, minibatch))
    out = {}

    qd = q.clone().requires_grad_(True)
    loss = hdce(qd, k)
    loss.mean().backward()
    out['dce'] = {'loss': enc(loss), 'loss_mean': float(np.float32(loss.mean().item())), 'grad_mean_wrt_feat_q': enc(qd.grad)}

    qs = q.clone().requires_grad_(True)
    ks = k.clone().requires_grad_(True)
    loss_src, weights = run_src(qs, ks, groups)
    loss_src.backward()
    src = {'gamma': 1.0, 'loss': enc(loss_src), 'grad_wrt_feat_q': enc_nan_as_null(qs.grad), 'grad_wrt_feat_k_is_zero': bool((ks.grad is None) or (ks.grad == 0).all())}
    if zero_rows:
        q1 = q.clone().requires_grad_(True)
        l1, _ = run_src(q1, k, groups, one_sided=True)
        l1.backward()
        src['grad_one_sided_wrt_feat_q'] = enc(q1.grad)
    src['weights'] = enc(weights)
    out['src'] = src

    qh = q.clone().requires_grad_(True)
    loss = hdce(qh, k, weights)
    loss.mean().backward()
    out['hdce'] = {'loss': enc(loss), 'loss_mean': float(np.float32(loss.mean().item())), 'grad_mean_wrt_feat_q': enc(qh.grad)}

    curricula = []
    for cur, epoch in [
        ({'HDCE_gamma': 50.0, 'HDCE_gamma_min': 10.0, 'n_epochs': 200, 'n_epochs_decay': 200, 'step_gamma': False, 'step_gamma_epoch': 200}, 120),
        ({'HDCE_gamma': 50.0, 'HDCE_gamma_min': 10.0, 'n_epochs': 200, 'n_epochs_decay': 200, 'step_gamma': True, 'step_gamma_epoch': 200}, 201),
        ({'HDCE_gamma': 200.0, 'HDCE_gamma_min': 40.0, 'n_epochs': 200, 'n_epochs_decay': 200, 'step_gamma': False, 'step_gamma_epoch': 200}, 7),
    ]:
        _, w = run_src(q, k, groups, cur, epoch)
        curricula.append({'options': cur, 'epoch': epoch, 'weights': enc(w)})
    out['src_curriculum'] = curricula
    return out


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
            'image': mode_results(q, k, batch_size, False, zero_rows),
            'minibatch': mode_results(q, k, batch_size, True, zero_rows),
        },
    }


def main():
    cases = [case(1, 4, 8), case(2, 4, 8), case(1, 16, 32), case(2, 16, 32), case(2, 4, 8, zero_rows=True)]
    doc = {
        'meta': {
            'generator': 'tools/golden/hneg_src.py',
            'reference': 'jcy132/Hneg_SRC 9a9647de602de8f26ad5e02dff594bf08bc3e9af, Single-modal/models/{hDCE,SRC}.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'float_format': gc.FLOAT_FORMAT,
            'array_format': '{shape, dtype, data}: data is the row-major (C-order) flattening of the tensor',
            'what': 'PatchHDCELoss without and with SRC weights, SRC_Loss and its curriculum weights; see the docstring of tools/golden/hneg_src.py',
        },
        'cases': cases,
    }
    size = gc.write_text(OUT, gc.dumps(doc))
    print(f'wrote {os.path.relpath(OUT)} ({size} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
