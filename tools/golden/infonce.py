#!/usr/bin/python3
"""Golden values for infoNCELoss (packages/nce-loss/src/infonce.ts).

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/infonce.py` (from the repo root).
Writes fixtures/golden/infonce.json. Deterministic: seeded float32 inputs, 1 thread.

The formula (documented in infonce.ts), written with torch's F.normalize and F.cross_entropy:
  q, k, n = rows of query, positive_key, negatives divided by max(||row||_2, 1e-12)
  in-batch (no negatives): logits = q @ k.T / T,                    target i for row i
  unpaired (n [M, D]):     logits = [q_i . k_i, q_i . n_j] / T,      target 0
  paired   (n [N, M, D]):  logits = [q_i . k_i, q_i . n_ij] / T,     target 0
  loss = cross_entropy(logits, target, reduction)
Per case: the inputs, the loss for each reduction, and the gradients of the mean loss with
respect to query, positive_key and negatives.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import enc  # noqa: E402

gc.setup(seed=20240613)
OUT = os.path.join(gc.GOLDEN, 'infonce.json')


def info_nce(q, k, neg, mode, temperature, reduction):
    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    if neg is None:
        logits = q @ k.t()
        target = torch.arange(q.shape[0])
    else:
        neg = F.normalize(neg, dim=-1)
        pos = (q * k).sum(dim=1, keepdim=True)
        if mode == 'unpaired':
            negl = q @ neg.t()
        else:
            negl = (q.unsqueeze(1) @ neg.transpose(-2, -1)).squeeze(1)
        logits = torch.cat([pos, negl], dim=1)
        target = torch.zeros(q.shape[0], dtype=torch.long)
    return F.cross_entropy(logits / temperature, target, reduction=reduction)


def case(name, n, d, m, mode, temperature, scale):
    q = torch.randn(n, d) * scale
    # Keys correlated with the queries so that the losses spread out.
    k = 0.6 * q + torch.randn(n, d) * scale
    neg = None
    if mode == 'unpaired':
        neg = torch.randn(m, d) * scale
    elif mode == 'paired':
        neg = torch.randn(n, m, d) * scale
    out = {
        'id': name,
        'negative_mode': mode,
        'temperature': temperature,
        'query': enc(q),
        'positive_key': enc(k),
        'negatives': enc(neg) if neg is not None else None,
    }
    for reduction in ('none', 'mean', 'sum'):
        out[f'loss_{reduction}'] = enc(info_nce(q, k, neg, mode, temperature, reduction))
    leaves = [t.clone().requires_grad_(True) if t is not None else None for t in (q, k, neg)]
    loss = info_nce(leaves[0], leaves[1], leaves[2], mode, temperature, 'mean')
    loss.backward()
    out['grad_mean_wrt_query'] = enc(leaves[0].grad)
    out['grad_mean_wrt_positive_key'] = enc(leaves[1].grad)
    out['grad_mean_wrt_negatives'] = enc(leaves[2].grad) if neg is not None else None
    return out


def main():
    cases = [
        case('inbatch_n6_d5_t0.1', 6, 5, 0, 'inbatch', 0.1, 1.0),
        case('inbatch_n4_d16_t0.5_scale30', 4, 16, 0, 'inbatch', 0.5, 30.0),
        case('unpaired_n6_d5_m7_t0.1', 6, 5, 7, 'unpaired', 0.1, 1.0),
        case('unpaired_n3_d8_m4_t0.07_scale0.01', 3, 8, 4, 'unpaired', 0.07, 0.01),
        case('paired_n5_d6_m3_t0.1', 5, 6, 3, 'paired', 0.1, 1.0),
        case('paired_n2_d4_m9_t0.2_scale5', 2, 4, 9, 'paired', 0.2, 5.0),
    ]
    doc = {
        'meta': {
            'generator': 'tools/golden/infonce.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'float_format': gc.FLOAT_FORMAT,
            'array_format': '{shape, dtype, data}: data is the row-major (C-order) flattening of the tensor',
            'what': 'InfoNCE on F.normalize-d rows with F.cross_entropy (see the docstring of tools/golden/infonce.py); '
                    'negative_mode inbatch = no negatives given. Gradients are of the mean loss.',
        },
        'cases': cases,
    }
    size = gc.write_text(OUT, gc.dumps(doc))
    print(f'wrote {os.path.relpath(OUT)} ({size} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
