#!/usr/bin/python3
"""Golden values for QS-Attn's query selection in PatchSampleF (packages/patch-sampler/src/query-selection.ts),
computed by the authors' own modules.

Run with Debian's PyTorch from the repo root: `/usr/bin/python3 tools/golden/qs_attn.py`.
Writes fixtures/golden/qs_attn.json.gz (gzip without name or time: identical bytes on a rerun). Deterministic: seeded float32 inputs, 1 thread.

The modules come from a checkout of sapphire497/query-selected-attention (Hu et al., CVPR 2022; commit c2c5e40),
imported from $QS_ATTN_REFERENCE (default /work/ref/qsattn; `git archive HEAD models | tar -x -C
/work/ref/qsattn`), never copied here: the PatchSampleF of models/networks_global.py ('global'),
networks_local.py ('local') and networks_local_global.py ('local_global', their QS_mode names). The
models folder is loaded as a bare package (its __init__.py is not run). Their create_mlp moves the
MLPs to CUDA, so the MLPs are set here (nn.Sequential(Linear, ReLU, Linear), as theirs, seeded weights).

Their modules choose at level index < 3 random ids and rank queries from level 3 on, so each case
has five levels, as their five nce_layers: three small random levels (ids given, as torch drew them)
and two attention levels. Per case, as their calculate_NCE_loss does: the k call on the source
features (num_patches, no ids, no attention), then the q call on the translated features with the
k call's ids and attention matrices. Recorded: the selected ids of each attention level ([B, P], the
first num_patches of their torch.sort of the entropies, captured from that call), the entropies, both
calls' outputs, and the gradients of sum(out_k * dy_k) + sum(out_q * dy_q) w.r.t. both calls' feature
maps and the MLP parameters (the attention from the k call carries the q call's gradient back to the
source features, as in their code).

Ties: their torch.sort (stable=False) leaves tied entropies in an unspecified order; ours keeps the
lower index first. Every case's inputs are drawn (seed by seed, deterministically) until, at each
attention level of every image, the first P + 1 sorted entropies are at least MIN_GAP apart, so
float32 rounding cannot reorder them.

Their 'local' module raises at batch 1 (torch 1.13: a .view of the non-contiguous gathered windows); that
error is recorded under reference_errors instead of a case.
"""
import gzip
import importlib
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import enc  # noqa: E402

REFERENCE = os.environ.get('QS_ATTN_REFERENCE', '/work/ref/qsattn')
_pkg = types.ModuleType('qs_attn_reference')
_pkg.__path__ = [os.path.join(REFERENCE, 'models')]
sys.modules['qs_attn_reference'] = _pkg
MODULES = {mode: importlib.import_module(f'qs_attn_reference.networks_{mode}') for mode in ('global', 'local', 'local_global')}

gc.setup()
OUT = os.path.join(gc.GOLDEN, 'qs_attn.json.gz')
MIN_GAP = 2e-4
RANDOM_LEVELS = [(4, 4, 4), (6, 4, 4), (4, 3, 5)]  # (C, H, W) of levels 0-2


class SortRecorder:
    """Stands in for `torch` in their module: every torch.sort call is recorded (values, indices)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        if name == 'sort':
            def sort(x, *args, **kwargs):
                out = torch.sort(x, *args, **kwargs)
                self.calls.append((x.detach().clone(), out[1].clone()))
                return out
            return sort
        return getattr(torch, name)


def make_feats(gen, batch, shapes, scale):
    """NCHW maps with a per-position scale spread (so that the entropies spread out)."""
    out = []
    for (c, h, w) in shapes:
        f = torch.randn(batch, c, h, w, generator=gen) * scale
        f = f * torch.exp(0.6 * torch.randn(batch, 1, h, w, generator=gen))
        out.append(f)
    return out


def min_gap(entropy, p):
    """Smallest gap between neighbours of the first p + 1 sorted entropies, over the batch."""
    e = np.sort(entropy.double().numpy(), axis=1)[:, : p + 1]
    return float(np.diff(e, axis=1).min()) if e.shape[1] > 1 else float('inf')


def run(mode, feats_k, feats_q, ids, num_patches, mlps):
    module = MODULES[mode]
    recorder = SortRecorder()
    module.torch = recorder
    try:
        net = module.PatchSampleF(use_mlp=mlps is not None, nc=mlps[0][0].shape[0] if mlps else 256)
        if mlps is not None:
            for i, (w1, b1, w2, b2) in enumerate(mlps):
                seq = nn.Sequential(nn.Linear(w1.shape[1], w1.shape[0]), nn.ReLU(), nn.Linear(w2.shape[1], w2.shape[0]))
                with torch.no_grad():
                    seq[0].weight.copy_(w1)
                    seq[0].bias.copy_(b1)
                    seq[2].weight.copy_(w2)
                    seq[2].bias.copy_(b2)
                setattr(net, f'mlp_{i}', seq)
            net.mlp_init = True
        fk = [f.clone().requires_grad_(True) for f in feats_k]
        fq = [f.clone().requires_grad_(True) for f in feats_q]
        given = [torch.tensor(i, dtype=torch.long) for i in ids] + [None] * (len(fk) - len(ids))
        out_k, ids_k, attn = net(fk, num_patches, given, None)
        sorts = list(recorder.calls)
        out_q, _, _ = net(fq, num_patches, ids_k, attn)
    finally:
        module.torch = torch
    return net, fk, fq, out_k, out_q, sorts


def case(mode, batch, num_patches, attn_shapes, use_mlp, nc, seed):
    shapes = RANDOM_LEVELS + attn_shapes
    tries = 0
    while True:
        gen = torch.Generator().manual_seed(seed + tries)
        feats_k = make_feats(gen, batch, shapes, 0.5)
        noise = make_feats(gen, batch, shapes, 0.5)
        feats_q = [0.7 * k + 0.5 * n for k, n in zip(feats_k, noise)]
        ids = [torch.randperm(h * w, generator=gen)[: min(num_patches, h * w)].tolist() for (_, h, w) in RANDOM_LEVELS]
        mlps = None
        if use_mlp:
            mlps = [[(torch.rand(*s, generator=gen) * 2 - 1).div(s[-1] ** 0.5) for s in ((nc, c), (nc,), (nc, nc), (nc,))]
                    for (c, _, _) in shapes]
        net, fk, fq, out_k, out_q, sorts = run(mode, feats_k, feats_q, ids, num_patches, mlps)
        gaps = [min_gap(entropy, min(num_patches, entropy.shape[1])) for entropy, _ in sorts]
        if min(gaps) >= MIN_GAP:
            break
        tries += 1
    dy_k = [torch.randn(*o.shape, generator=gen) for o in out_k]
    dy_q = [torch.randn(*o.shape, generator=gen) for o in out_q]
    total = sum((o * d).sum() for o, d in zip(out_k + out_q, dy_k + dy_q))
    total.backward()
    attn_levels = list(range(len(RANDOM_LEVELS), len(shapes)))
    doc = {
        'id': f'{mode}_b{batch}_np{num_patches}' + ('_mlp' if use_mlp else '_nomlp'),
        'mode': mode,
        'batch': batch,
        'num_patches': num_patches,
        'use_mlp': use_mlp,
        'nc': nc if use_mlp else None,
        'seed': seed + tries,
        'attention_levels': attn_levels,
        'random_level_ids': ids,
        'selected_ids': [enc(index[:, :num_patches]) for _, index in sorts],
        'entropy': [enc(entropy) for entropy, _ in sorts],
        'min_entropy_gap': gaps,
        'feats_k_nhwc': [enc(f.permute(0, 2, 3, 1), 'NHWC') for f in fk],
        'feats_q_nhwc': [enc(f.permute(0, 2, 3, 1), 'NHWC') for f in fq],
        'out_k': [enc(o, '(B*P, C_out), row b*P + p') for o in out_k],
        'out_q': [enc(o, '(B*P, C_out), row b*P + p') for o in out_q],
        'dy_k': [enc(d) for d in dy_k],
        'dy_q': [enc(d) for d in dy_q],
        'grad_feats_k_nhwc': [enc(f.grad.permute(0, 2, 3, 1), 'NHWC') for f in fk],
        'grad_feats_q_nhwc': [enc(f.grad.permute(0, 2, 3, 1), 'NHWC') for f in fq],
    }
    if use_mlp:
        names = ('0.weight', '0.bias', '2.weight', '2.bias')
        doc['weights'] = {f'mlp_{i}.{n}': enc(p) for i in range(len(shapes)) for n, p in zip(names, getattr(net, f'mlp_{i}').parameters())}
        doc['grad_weights'] = {f'mlp_{i}.{n}': enc(p.grad) for i in range(len(shapes))
                               for n, p in zip(names, getattr(net, f'mlp_{i}').parameters())}
    return doc


def reference_error(mode, batch, num_patches, attn_shapes):
    """The error their module raises on these shapes (None when it runs)."""
    gen = torch.Generator().manual_seed(1)
    feats = make_feats(gen, batch, RANDOM_LEVELS + attn_shapes, 0.5)
    ids = [list(range(min(num_patches, h * w))) for (_, h, w) in RANDOM_LEVELS]
    try:
        run(mode, feats, feats, ids, num_patches, None)
    except RuntimeError as e:
        return {'mode': mode, 'batch': batch, 'num_patches': num_patches, 'error': str(e).split('\n')[0]}
    return None


def main():
    cases = []
    errors = []
    for k, mode in enumerate(('global', 'local', 'local_global')):
        err = reference_error(mode, 1, 16, [(8, 8, 8), (4, 16, 16)])
        if err is None:
            cases.append(case(mode, 1, 16, [(8, 8, 8), (4, 16, 16)], True, 8, 1000 + 100 * k))
        else:
            errors.append(err)
        cases.append(case(mode, 2, 64, [(8, 8, 8), (4, 16, 16)], True, 8, 2000 + 100 * k))
        cases.append(case(mode, 2, 16, [(16, 8, 8)], False, None, 3000 + 100 * k))
    doc = {
        'meta': {
            'generator': 'tools/golden/qs_attn.py',
            'reference': 'sapphire497/query-selected-attention c2c5e40fb252a092da66c5ab41683b9995e6a7ad, models/networks_{global,local,local_global}.py PatchSampleF',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'float_format': gc.FLOAT_FORMAT,
            'array_format': '{shape, dtype, layout?, data}: data is the row-major (C-order) flattening of the tensor',
            'what': 'k call (source) then q call (translated, reusing ids and attention); selected ids, entropies, outputs, '
                    'gradients of sum(out_k*dy_k)+sum(out_q*dy_q); see the docstring of tools/golden/qs_attn.py',
        },
        'cases': cases,
        'reference_errors': errors,
    }
    data = (gc.dumps(doc) + '\n').encode('utf8')
    with open(OUT, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as f:
        f.write(data)
    print(f'wrote {os.path.relpath(OUT)} ({len(data)} bytes before gzip)', file=sys.stderr)
    for c in cases:
        print(c['id'], 'seed', c['seed'], 'min gap', min(c['min_entropy_gap']), file=sys.stderr)


if __name__ == '__main__':
    main()
