#!/usr/bin/python3
"""Golden vectors for the network building blocks of @cut/core-tensors.

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/blocks.py` (from the repo root).
Writes fixtures/golden/blocks.json. Deterministic: seeded float32 inputs, 1 thread.

Everything is computed with torch's own modules (ReflectionPad2d, ReplicationPad2d,
ZeroPad2d, InstanceNorm2d, ConvTranspose2d, Conv2d, Linear) and, for the reference's
antialiasing layers, with the depthwise convolutions the reference performs (CUT_SPEC 3.2),
written out here from that description. For every case the file holds the input, the
output, a seeded upstream gradient `dy` and the gradients of sum(output * dy) with
respect to the input (and the parameters, where there are any). All arrays are in
PyTorch's layouts (NCHW activations, OIHW / IOHW / [out, in] weights).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import dumps, enc  # noqa: E402

gc.setup(seed=20240611)
OUT = os.path.join(gc.GOLDEN, 'blocks.json')


def randn(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale + shift)


def run(fn, x, params=()):
    """Output, upstream gradient and gradients of sum(y * dy) w.r.t. x and params."""
    x = x.clone().requires_grad_(True)
    y = fn(x)
    dy = randn(*y.shape)
    grads = torch.autograd.grad((y * dy).sum(), [x, *params])
    return y, dy, grads


# --- padding ---------------------------------------------------------------------
PAD_MODULES = {'reflect': nn.ReflectionPad2d, 'replicate': nn.ReplicationPad2d, 'zero': nn.ZeroPad2d}


def pad_cases():
    cases = []
    # pad is given as [top, bottom, left, right]; torch's modules take (left, right, top, bottom).
    for shape, pads in [
        ([1, 3, 7, 6], [[1, 1, 1, 1], [1, 2, 0, 3]]),
        ([2, 5, 8, 8], [[2, 0, 1, 3]]),
        ([1, 4, 5, 9], [[3, 3, 3, 3], [0, 1, 4, 2]]),
    ]:
        for mode, module in PAD_MODULES.items():
            for tblr in pads:
                top, bottom, left, right = tblr
                m = module((left, right, top, bottom))
                x = randn(*shape)
                y, dy, (dx,) = run(m, x)
                cases.append({
                    'id': f'{mode}_{"x".join(map(str, shape))}_tblr{"-".join(map(str, tblr))}',
                    'mode': mode, 'pad_tblr': tblr,
                    'x': enc(x, 'NCHW'), 'y': enc(y, 'NCHW'), 'dy': enc(dy, 'NCHW'), 'dx': enc(dx, 'NCHW'),
                })
    return cases


# --- instance norm ---------------------------------------------------------------
def instance_norm_cases():
    cases = []
    for shape, scale, shift in [
        ([1, 3, 7, 6], 1.0, 0.0),
        ([2, 5, 8, 8], 1.0, 0.0),
        ([1, 4, 5, 9], 1.0, 0.0),
        ([2, 3, 6, 5], 4.0, 3.0),   # offset, wide values: a one-pass variance would lose digits here
        ([1, 2, 32, 32], 1.0, 0.5),  # long sums (1024 per channel)
    ]:
        m = nn.InstanceNorm2d(shape[1], affine=False, track_running_stats=False)  # eps 1e-5
        x = randn(*shape, scale=scale, shift=shift)
        y, dy, (dx,) = run(m, x)
        cases.append({
            'id': f'in_{"x".join(map(str, shape))}', 'eps': m.eps,
            'x': enc(x, 'NCHW'), 'y': enc(y, 'NCHW'), 'dy': enc(dy, 'NCHW'), 'dx': enc(dx, 'NCHW'),
        })
    return cases


# --- antialiasing blur (CUT_SPEC 3.2) --------------------------------------------
def binomial(k):
    row = {1: [1.], 2: [1., 1.], 3: [1., 2., 1.], 4: [1., 3., 3., 1.], 5: [1., 4., 6., 4., 1.],
           6: [1., 5., 10., 10., 5., 1.], 7: [1., 6., 15., 20., 15., 6., 1.]}[k]
    a = torch.tensor(row, dtype=torch.float32)
    f = a[:, None] * a[None, :]
    return f / f.sum()


def blur_down(x, filt_size=3, pad_type='reflect'):
    """Reference Downsample(C, pad_type, filt_size, stride=2): pad, then depthwise stride-2 conv."""
    c = x.shape[1]
    if filt_size == 1:  # the reference subsamples directly
        return x[:, :, ::2, ::2]
    lo, hi = (filt_size - 1) // 2, -(-(filt_size - 1) // 2)
    pad = PAD_MODULES[pad_type]((lo, hi, lo, hi))
    filt = binomial(filt_size)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(pad(x), filt, stride=2, groups=c)


def blur_up(x, filt_size=4, pad_type='replicate'):
    """Reference Upsample(C, pad_type, filt_size, stride=2): pad 1, depthwise conv_transpose, crop."""
    c = x.shape[1]
    pad_size = (filt_size - 1) // 2
    filt = (binomial(filt_size) * 4)[None, None].repeat(c, 1, 1, 1)
    y = F.conv_transpose2d(PAD_MODULES[pad_type]((1, 1, 1, 1))(x), filt, stride=2, padding=1 + pad_size, groups=c)
    y = y[:, :, 1:, 1:]
    return y if filt_size % 2 == 1 else y[:, :, :-1, :-1]


def blur_cases():
    down, up = [], []
    # The defaults (what the networks use) on odd/even sizes, then other filter sizes / pad types.
    for shape, k, pad_type in [
        ([1, 3, 7, 6], 3, 'reflect'), ([2, 5, 8, 8], 3, 'reflect'), ([1, 4, 5, 9], 3, 'reflect'),
        ([1, 2, 2, 3], 3, 'reflect'),  # reflect needs H, W >= 2
        ([1, 3, 7, 6], 4, 'reflect'), ([1, 2, 5, 4], 5, 'replicate'), ([1, 2, 5, 4], 2, 'zero'),
        ([1, 2, 5, 4], 1, 'reflect'),
    ]:
        x = randn(*shape)
        y, dy, (dx,) = run(lambda t: blur_down(t, k, pad_type), x)
        if k == 3:
            assert list(y.shape[2:]) == [-(-shape[2] // 2), -(-shape[3] // 2)]
        down.append({'id': f'down_{"x".join(map(str, shape))}_k{k}_{pad_type}', 'filt_size': k, 'pad_type': pad_type,
                     'x': enc(x, 'NCHW'), 'y': enc(y, 'NCHW'), 'dy': enc(dy, 'NCHW'), 'dx': enc(dx, 'NCHW')})
    for shape, k, pad_type in [
        ([1, 3, 7, 6], 4, 'replicate'), ([2, 5, 8, 8], 4, 'replicate'), ([1, 4, 5, 9], 4, 'replicate'),
        ([1, 2, 1, 3], 4, 'replicate'),
        ([1, 2, 5, 4], 3, 'replicate'), ([1, 2, 5, 4], 4, 'zero'), ([1, 2, 5, 4], 5, 'reflect'),
        ([1, 2, 5, 4], 2, 'replicate'), ([1, 2, 3, 4], 7, 'replicate'),
    ]:
        x = randn(*shape)
        y, dy, (dx,) = run(lambda t: blur_up(t, k, pad_type), x)
        assert list(y.shape[2:]) == [2 * shape[2], 2 * shape[3]]
        case = {'id': f'up_{"x".join(map(str, shape))}_k{k}_{pad_type}', 'filt_size': k, 'pad_type': pad_type,
                'x': enc(x, 'NCHW'), 'y': enc(y, 'NCHW'), 'dy': enc(dy, 'NCHW'), 'dx': enc(dx, 'NCHW')}
        if k == 4 and pad_type == 'replicate':
            bil = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
            case['bilinear'] = enc(bil, 'NCHW')
            case['max_abs_diff_vs_bilinear'] = float((y - bil).abs().max())
        up.append(case)
    return down, up


# --- ConvTranspose2d / Conv2d / Linear: layouts, proven numerically ---------------
def conv_transpose_cases():
    cases = []
    for shape, c_out, k, s, p, op in [
        ([1, 3, 5, 6], 4, 3, 2, 1, 1),  # the no_antialias_up generator's layer
        ([2, 5, 4, 4], 3, 3, 2, 1, 1),
        ([1, 2, 3, 5], 3, 4, 2, 1, 0),
        ([1, 3, 4, 3], 2, 3, 2, 0, 1),  # output_padding > padding: the last row/column is bias only
    ]:
        m = nn.ConvTranspose2d(shape[1], c_out, k, stride=s, padding=p, output_padding=op, bias=True)
        with torch.no_grad():
            m.bias.copy_(randn(c_out, scale=0.5))
        x = randn(*shape)
        y, dy, (dx, dw, db) = run(m, x, [m.weight, m.bias])
        cases.append({
            'id': f'convT_{"x".join(map(str, shape))}_o{c_out}_k{k}s{s}p{p}op{op}',
            'kernel_size': k, 'stride': s, 'padding': p, 'output_padding': op,
            'x': enc(x, 'NCHW'), 'weight': enc(m.weight, 'IOHW'), 'bias': enc(m.bias),
            'y': enc(y, 'NCHW'), 'dy': enc(dy, 'NCHW'),
            'dx': enc(dx, 'NCHW'), 'dweight': enc(dw, 'IOHW'), 'dbias': enc(db),
        })
    return cases


def conv_cases():
    cases = []
    for shape, c_out, k, s, p in [([1, 3, 7, 6], 4, 3, 1, 1), ([2, 2, 6, 5], 3, 4, 2, 1)]:
        m = nn.Conv2d(shape[1], c_out, k, stride=s, padding=p, bias=True)
        x = randn(*shape)
        with torch.no_grad():
            y = m(x)
        cases.append({'id': f'conv_{"x".join(map(str, shape))}_o{c_out}_k{k}s{s}p{p}',
                      'kernel_size': k, 'stride': s, 'padding': p,
                      'x': enc(x, 'NCHW'), 'weight': enc(m.weight, 'OIHW'), 'bias': enc(m.bias), 'y': enc(y, 'NCHW')})
    return cases


def linear_cases():
    m = nn.Linear(5, 3)
    x = randn(4, 5)
    with torch.no_grad():
        y = m(x)
    return [{'id': 'linear_5to3', 'x': enc(x), 'weight': enc(m.weight, '[out,in]'), 'bias': enc(m.bias), 'y': enc(y)}]


def main():
    down, up = blur_cases()
    doc = {
        'meta': {
            'generator': 'tools/golden/blocks.py',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'float_format': gc.FLOAT_FORMAT + '; parse as double then Math.fround()',
            'array_format': '{shape, dtype, layout?, data}: data is the row-major (C-order) flattening of the tensor',
            'what': 'Building blocks computed with torch modules. dy is a seeded upstream gradient; dx (dweight, dbias) '
                    'are the gradients of sum(y * dy). pad_tblr is [top, bottom, left, right] (torch modules take '
                    '(left, right, top, bottom)). blur_down = reference Downsample (reflect pad 1, depthwise '
                    '[1,2,1]x[1,2,1]/16 stride 2); blur_up = reference Upsample (replicate pad 1, depthwise '
                    'conv_transpose2d of [1,3,3,1]x[1,3,3,1]/16, stride 2, padding 2, crop [1:-1, 1:-1]); '
                    'bilinear (default blur_up cases only) = F.interpolate(x, scale_factor=2, mode=bilinear, align_corners=False).',
        },
        'binomial_filters': [{'k': k, 'filter': enc(binomial(k), '[ky,kx]')} for k in range(1, 8)],
        'pad': pad_cases(),
        'instance_norm': instance_norm_cases(),
        'blur_down': down,
        'blur_up': up,
        'conv_transpose': conv_transpose_cases(),
        'conv': conv_cases(),
        'linear': linear_cases(),
    }
    size = gc.write_text(OUT, dumps(doc))
    worst = max(c.get('max_abs_diff_vs_bilinear', 0) for c in up)
    print(f'wrote {os.path.relpath(OUT)} ({size} bytes); blur_up vs bilinear max |d| = {worst:.3g}', file=sys.stderr)


if __name__ == '__main__':
    main()
