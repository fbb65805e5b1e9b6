#!/usr/bin/python3
"""Golden statistics of the reference's weight initialisers (init_weights in networks.py).

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/init.py` (from the repo root).
Writes fixtures/golden/init.json. Deterministic: torch.manual_seed, float32, 1 thread.

For several layers (Conv2d, ConvTranspose2d, Linear; square, wide and tall weight matrices)
it records torch's own fans (`torch.nn.init._calculate_fan_in_and_fan_out` on the layer's
weight) and, for each `--init_type` as init_weights applies it with init_gain 0.02:
  normal     -> init.normal_(w, 0.0, gain)
  xavier     -> init.xavier_normal_(w, gain=gain)
  kaiming    -> init.kaiming_normal_(w, a=0, mode='fan_in')     (gain unused)
  orthogonal -> init.orthogonal_(w, gain=gain)
the mean and standard deviation of a large sample (the layer initialised `reps` times),
and for orthogonal the largest deviation of W·Wᵀ (rows <= cols) or Wᵀ·W (rows > cols) from
gain²·I with W the weight viewed as [dim 0, rest].
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.nn import init

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

gc.setup(seed=20240612)
OUT = os.path.join(gc.GOLDEN, 'init.json')
GAIN = 0.02
MIN_SAMPLES = 200_000

LAYERS = [
    ('conv_3_8_k7', 'conv2d', lambda: nn.Conv2d(3, 8, 7)),
    ('conv_16_32_k3', 'conv2d', lambda: nn.Conv2d(16, 32, 3)),
    ('conv_64_4_k4', 'conv2d', lambda: nn.Conv2d(64, 4, 4)),
    ('conv_1_96_k1', 'conv2d', lambda: nn.Conv2d(1, 96, 1)),
    ('convT_32_16_k3', 'conv2dTranspose', lambda: nn.ConvTranspose2d(32, 16, 3)),
    ('convT_8_24_k4', 'conv2dTranspose', lambda: nn.ConvTranspose2d(8, 24, 4)),
    ('linear_3_64', 'linear', lambda: nn.Linear(3, 64)),
    ('linear_48_16', 'linear', lambda: nn.Linear(48, 16)),
    ('linear_32_32', 'linear', lambda: nn.Linear(32, 32)),
]


def apply_init(w, init_type):
    if init_type == 'normal':
        init.normal_(w, 0.0, GAIN)
    elif init_type == 'xavier':
        init.xavier_normal_(w, gain=GAIN)
    elif init_type == 'kaiming':
        init.kaiming_normal_(w, a=0, mode='fan_in')
    elif init_type == 'orthogonal':
        init.orthogonal_(w, gain=GAIN)
    else:
        raise ValueError(init_type)


def orthogonality_error(w):
    m = w.reshape(w.shape[0], -1).double()
    g = m @ m.t() if m.shape[0] <= m.shape[1] else m.t() @ m
    return float((g - GAIN ** 2 * torch.eye(g.shape[0], dtype=torch.float64)).abs().max())


def main():
    cases = []
    for name, kind, make in LAYERS:
        layer = make()
        w = layer.weight.data
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(w)
        reps = max(1, -(-MIN_SAMPLES // w.numel()))
        stats = {}
        for init_type in ('normal', 'xavier', 'kaiming', 'orthogonal'):
            samples = []
            ortho = 0.0
            for _ in range(reps):
                with torch.no_grad():
                    apply_init(w, init_type)
                samples.append(w.detach().double().flatten().clone())
                if init_type == 'orthogonal':
                    ortho = max(ortho, orthogonality_error(w))
            s = torch.cat(samples)
            stats[init_type] = {
                'samples': int(s.numel()),
                'mean': float(s.mean()),
                'std': float(s.std(unbiased=False)),
            }
            if init_type == 'orthogonal':
                stats[init_type]['max_abs_gram_minus_gain2_eye'] = ortho
        cases.append({
            'id': name,
            'kind': kind,
            'module': repr(layer),
            'torch_weight_shape': list(w.shape),
            'fan_in': fan_in,
            'fan_out': fan_out,
            'gain': GAIN,
            'stats': stats,
        })
    doc = {
        'meta': {
            'generator': 'tools/golden/init.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'what': 'torch fans of layer weights (torch layouts: Conv2d [out,in,kh,kw], ConvTranspose2d '
                    '[in,out,kh,kw], Linear [out,in]) and sample mean/std of the reference init_weights '
                    'initialisers with init_gain 0.02 (kaiming ignores the gain).',
        },
        'cases': cases,
    }
    gc.write_text(OUT, json.dumps(doc, indent=1))
    print(f'wrote {os.path.relpath(OUT)} ({len(cases)} layers)', file=sys.stderr)


if __name__ == '__main__':
    main()
