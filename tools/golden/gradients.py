#!/usr/bin/python3
"""Golden forward values and gradients for the kernel gradients of @cut/core-tensors.

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/gradients.py` (from anywhere).
Writes fixtures/golden/gradients.json. Deterministic: each case draws its float32 inputs
from its own seeded generator; 1 thread.

Layout: every tensor is stored in the layout our TensorFlow.js ops consume, so tests use
it as is: activations NHWC, conv filters HWIO ([kh, kw, in, out]), depthwise filters
[kh, kw, C, multiplier], transposed-conv filters [kh, kw, out, in] (tfjs conv2dTranspose).
Each tensor's `layout` field names it. The PyTorch side receives those tensors as autograd
leaves and converts them to NCHW/OIHW inside the differentiated function, so the
gradients come back in the stored layout too.

Per case: `op` and `params` say which tfjs call the test makes; `inputs`; `wrt` (the
inputs differentiated); `dy` (seeded upstream gradient, one per output); `output`
(forward value(s)); `grads` = d/d(input) of sum(output * dy) for each name in `wrt`.
Integer inputs (indices, 0/1 conditions) are stored with dtype int64.
"""
import math
import os
import sys
import zlib

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import dumps, enc  # noqa: E402

gc.setup()
OUT = os.path.join(gc.GOLDEN, 'gradients.json')


class Inputs:
    """Seeded inputs of one case, each with its layout."""

    def __init__(self, name):
        self.gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        self.tensors = {}
        self.layouts = {}

    def randn(self, name, shape, layout='any', scale=1.0, shift=0.0):
        t = torch.randn(tuple(shape), generator=self.gen, dtype=torch.float32) * scale + shift
        return self.add(name, t, layout)

    def uniform(self, name, shape, lo, hi, layout='any'):
        t = torch.rand(tuple(shape), generator=self.gen, dtype=torch.float32) * (hi - lo) + lo
        return self.add(name, t, layout)

    def ints(self, name, values):
        return self.add(name, torch.tensor(values, dtype=torch.int64), 'any')

    def add(self, name, t, layout='any'):
        self.tensors[name] = t
        self.layouts[name] = layout
        return t


CASES = []


def case(name, op, params, make_inputs, fn, wrt=None, out_layout='any'):
    """Runs fn on autograd leaves, draws dy, records output(s) and gradients."""
    inp = Inputs(name)
    make_inputs(inp)
    if wrt is None:
        wrt = [k for k, t in inp.tensors.items() if t.is_floating_point()]
    leaves = {k: (t.clone().requires_grad_(True) if k in wrt else t.clone()) for k, t in inp.tensors.items()}
    out = fn(**leaves)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    dys = [torch.randn(tuple(o.shape), generator=inp.gen, dtype=torch.float32) for o in outs]
    total = sum((o * d).sum() for o, d in zip(outs, dys))
    grads = torch.autograd.grad(total, [leaves[k] for k in wrt], allow_unused=True)
    multi = isinstance(out, (list, tuple))
    entry = {
        'name': name,
        'op': op,
        'params': params,
        'inputs': {k: enc(t, inp.layouts[k]) for k, t in inp.tensors.items()},
        'wrt': wrt,
        'dy': [enc(d, out_layout) for d in dys] if multi else enc(dys[0], out_layout),
        'output': [enc(o, out_layout) for o in outs] if multi else enc(outs[0], out_layout),
        'grads': {
            k: enc(g if g is not None else torch.zeros_like(inp.tensors[k]), inp.layouts[k])
            for k, g in zip(wrt, grads)
        },
    }
    CASES.append(entry)
    return inp.tensors


# --- layout helpers (NHWC/HWIO leaves → torch NCHW/OIHW) ------------------------------
def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def tf_same_pads(size, k, stride, dilation=1):
    """TensorFlow 'same' padding (before, after) of one axis."""
    eff = (k - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def explicit_pads(pad, h, w, kh, kw, stride, dilation):
    """(top, bottom, left, right) for a tfjs pad spec: 'valid', 'same', a number or [[0,0],[t,b],[l,r],[0,0]]."""
    if pad == 'valid':
        return 0, 0, 0, 0
    if pad == 'same':
        return (*tf_same_pads(h, kh, stride[0], dilation[0]), *tf_same_pads(w, kw, stride[1], dilation[1]))
    if isinstance(pad, int):
        return pad, pad, pad, pad
    return pad[1][0], pad[1][1], pad[2][0], pad[2][1]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# --- convolutions ------------------------------------------------------------------
def conv2d_cases():
    specs = [
        # name, (N, H, W, C), out channels, k, strides, pad, dilations, dimRoundingMode
        ('conv2d_k3_s1_pad1_explicit', (1, 5, 6, 3), 4, 3, 1, [[0, 0], [1, 1], [1, 1], [0, 0]], 1, None),
        ('conv2d_k3_s2_valid_odd', (2, 7, 9, 2), 3, 3, 2, 'valid', 1, None),
        ('conv2d_k4_s2_explicit_asym', (1, 8, 7, 2), 3, 4, 2, [[0, 0], [2, 0], [1, 3], [0, 0]], 1, None),
        ('conv2d_k1_s1_valid_batch2', (2, 4, 3, 5), 6, 1, 1, 'valid', 1, None),
        ('conv2d_k7_s1_same', (1, 9, 8, 2), 2, 7, 1, 'same', 1, None),
        ('conv2d_k3_s2_same_even', (1, 8, 8, 3), 2, 3, 2, 'same', 1, None),
        ('conv2d_k4_s2_same_odd', (1, 7, 6, 2), 2, 4, 2, 'same', 1, None),
        ('conv2d_k3_s2_pad1_floor', (1, 9, 8, 2), 2, 3, 2, 1, 1, 'floor'),
        ('conv2d_k3_dil2_same', (1, 7, 7, 2), 3, 3, 1, 'same', 2, None),
        ('conv2d_k3_dil2x1_explicit', (1, 9, 8, 3), 2, 3, 1, [[0, 0], [2, 1], [0, 2], [0, 0]], [2, 1], None),
    ]
    for name, (n, h, w, c), o, k, strides, pad, dilations, rounding in specs:
        s, d = pair(strides), pair(dilations)
        top, bottom, left, right = explicit_pads(pad, h, w, k, k, s, d)

        def make(inp, n=n, h=h, w=w, c=c, o=o, k=k):
            inp.randn('x', (n, h, w, c), 'NHWC')
            inp.randn('filter', (k, k, c, o), 'HWIO', scale=1 / math.sqrt(k * k * c))

        def fn(x, filter, s=s, d=d, pads=(left, right, top, bottom)):
            y = F.conv2d(F.pad(nchw(x), pads), filter.permute(3, 2, 0, 1), stride=s, dilation=d)
            return nhwc(y)

        params = {'strides': strides, 'pad': pad, 'dilations': dilations}
        if rounding:
            params['dimRoundingMode'] = rounding
        case(name, 'conv2d', params, make, fn, out_layout='NHWC')


def conv2d_transpose_cases():
    specs = [
        # name, (N, H, W, Cin), Cout, k, stride, torch padding, output_padding, tfjs pad
        ('conv2d_transpose_k3_s2_p1_op1', (1, 4, 5, 3), 2, 3, 2, 1, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]),
        ('conv2d_transpose_k4_s2_same', (1, 3, 4, 2), 3, 4, 2, 1, 0, 'same'),
        ('conv2d_transpose_k3_s1_valid_batch2', (2, 3, 3, 2), 2, 3, 1, 0, 0, 'valid'),
        ('conv2d_transpose_k3_s2_valid', (1, 3, 4, 2), 2, 3, 2, 0, 0, 'valid'),
    ]
    for name, (n, h, w, cin), cout, k, stride, p, op, pad in specs:
        oh = (h - 1) * stride - 2 * p + k + op
        ow = (w - 1) * stride - 2 * p + k + op

        def make(inp, n=n, h=h, w=w, cin=cin, cout=cout, k=k):
            inp.randn('x', (n, h, w, cin), 'NHWC')
            inp.randn('filter', (k, k, cout, cin), 'HWOI', scale=1 / math.sqrt(k * k * cin))

        def fn(x, filter, stride=stride, p=p, op=op):
            # torch ConvTranspose2d weight: [in, out, kh, kw].
            y = F.conv_transpose2d(nchw(x), filter.permute(3, 2, 0, 1), stride=stride, padding=p, output_padding=op)
            return nhwc(y)

        params = {'strides': stride, 'pad': pad, 'outputShape': [n, oh, ow, cout]}
        case(name, 'conv2dTranspose', params, make, fn, out_layout='NHWC')


def depthwise_cases():
    specs = [
        # name, (N, H, W, C), multiplier, k, strides, pad, dilations
        ('depthwise_k3_s2_valid', (1, 7, 8, 3), 1, 3, 2, 'valid', 1),
        ('depthwise_k3_s1_same_mult2', (1, 5, 6, 2), 2, 3, 1, 'same', 1),
        ('depthwise_k3_dil2_valid', (1, 7, 7, 2), 1, 3, 1, 'valid', 2),
        ('depthwise_k4_s2_explicit_batch2', (2, 6, 5, 3), 1, 4, 2, [[0, 0], [1, 2], [1, 2], [0, 0]], 1),
    ]
    for name, (n, h, w, c), m, k, strides, pad, dilations in specs:
        s, d = pair(strides), pair(dilations)
        top, bottom, left, right = explicit_pads(pad, h, w, k, k, s, d)

        def make(inp, n=n, h=h, w=w, c=c, m=m, k=k):
            inp.randn('x', (n, h, w, c), 'NHWC')
            inp.randn('filter', (k, k, c, m), 'HWCM', scale=1 / k)

        def fn(x, filter, s=s, d=d, c=c, m=m, k=k, pads=(left, right, top, bottom)):
            # torch grouped weight [C*M, 1, kh, kw]; output channel c*M + m, as tfjs.
            wt = filter.permute(2, 3, 0, 1).reshape(c * m, 1, k, k)
            return nhwc(F.conv2d(F.pad(nchw(x), pads), wt, stride=s, dilation=d, groups=c))

        case(name, 'depthwiseConv2d', {'strides': strides, 'pad': pad, 'dilations': dilations}, make, fn,
             out_layout='NHWC')


def depthwise_transpose_cases():
    specs = [
        # name, (N, H, W, C), k, stride, torch padding, output_padding, tfjs pad
        ('depthwise_transpose_k4_s2_p1', (1, 4, 5, 3), 4, 2, 1, 0, [[0, 0], [1, 1], [1, 1], [0, 0]]),
        ('depthwise_transpose_k3_s2_p1_op1', (2, 3, 4, 2), 3, 2, 1, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ]
    for name, (n, h, w, c), k, stride, p, op, pad in specs:
        oh = (h - 1) * stride - 2 * p + k + op
        ow = (w - 1) * stride - 2 * p + k + op

        def make(inp, n=n, h=h, w=w, c=c, k=k):
            inp.randn('x', (n, h, w, c), 'NHWC')
            inp.randn('filter', (k, k, c, 1), 'HWCM', scale=1 / k)

        def fn(x, filter, stride=stride, p=p, op=op, c=c):
            wt = filter.permute(2, 3, 0, 1)  # [C, 1, kh, kw]
            y = F.conv_transpose2d(nchw(x), wt, stride=stride, padding=p, output_padding=op, groups=c)
            return nhwc(y)

        params = {'strides': stride, 'pad': pad, 'inputShape': [n, oh, ow, c]}
        case(name, 'depthwiseConv2dTranspose', params, make, fn, out_layout='NHWC')


# --- matmul ------------------------------------------------------------------------
def matmul_cases():
    specs = [
        ('matmul', (3, 4), (4, 5), False, False),
        ('matmul_transpose_a', (4, 3), (4, 5), True, False),
        ('matmul_transpose_b', (3, 4), (5, 4), False, True),
        ('matmul_transpose_ab', (4, 3), (5, 4), True, True),
        ('matmul_batch', (2, 3, 4), (2, 4, 5), False, False),
        ('matmul_batch_transpose_b', (2, 3, 4), (2, 5, 4), False, True),
        ('matmul_broadcast_b', (2, 3, 4), (4, 5), False, False),
    ]
    for name, sa, sb, ta, tb in specs:
        def make(inp, sa=sa, sb=sb):
            inp.randn('a', sa)
            inp.randn('b', sb)

        def fn(a, b, ta=ta, tb=tb):
            return torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)

        case(name, 'matMul', {'transposeA': ta, 'transposeB': tb}, make, fn)


# --- elementwise ---------------------------------------------------------------------
def with_zeros(inp, name, shape):
    """randn with a few exact zeros (kinks of relu/abs)."""
    t = torch.randn(*shape, generator=inp.gen)
    t.view(-1)[::5] = 0.0
    return inp.add(name, t)


def unary_cases():
    shape = (2, 3, 4)
    specs = [
        ('relu', 'relu', {}, lambda i: with_zeros(i, 'x', shape), F.relu),
        ('leaky_relu', 'leakyRelu', {'alpha': 0.2}, lambda i: with_zeros(i, 'x', shape),
         lambda x: F.leaky_relu(x, 0.2)),
        ('elu', 'elu', {}, lambda i: i.randn('x', shape), F.elu),
        ('tanh', 'tanh', {}, lambda i: i.randn('x', shape), torch.tanh),
        ('sigmoid', 'sigmoid', {}, lambda i: i.randn('x', shape, scale=2), torch.sigmoid),
        ('softplus', 'softplus', {}, lambda i: i.randn('x', shape, scale=3), F.softplus),
        ('neg', 'neg', {}, lambda i: i.randn('x', shape), torch.neg),
        ('square', 'square', {}, lambda i: i.randn('x', shape), torch.square),
        ('sqrt', 'sqrt', {}, lambda i: i.uniform('x', shape, 0.1, 3), torch.sqrt),
        ('rsqrt', 'rsqrt', {}, lambda i: i.uniform('x', shape, 0.2, 3), torch.rsqrt),
        ('exp', 'exp', {}, lambda i: i.randn('x', shape), torch.exp),
        ('log', 'log', {}, lambda i: i.uniform('x', shape, 0.1, 3), torch.log),
        ('log1p', 'log1p', {}, lambda i: i.uniform('x', shape, -0.8, 3), torch.log1p),
        ('abs', 'abs', {}, lambda i: with_zeros(i, 'x', shape), torch.abs),
        ('reciprocal', 'reciprocal', {}, lambda i: i.uniform('x', shape, 0.5, 2), torch.reciprocal),
        ('identity', 'clone', {}, lambda i: i.randn('x', shape), lambda x: x * 1),
        ('cast_float32', 'cast', {'dtype': 'float32'}, lambda i: i.randn('x', shape), lambda x: x.float()),
        ('expand_dims', 'expandDims', {'axis': 1}, lambda i: i.randn('x', shape), lambda x: x.unsqueeze(1)),
        ('softmax_last', 'softmax', {'dim': -1}, lambda i: i.randn('x', shape, scale=2),
         lambda x: torch.softmax(x, -1)),
    ]
    for name, op, params, make, fn in specs:
        case(name, op, params, make, lambda x, fn=fn: fn(x))

    def clip_inputs(inp):
        t = torch.randn(*shape, generator=inp.gen)
        t.view(-1)[::4] = 0.5  # exactly on the bounds
        t.view(-1)[1::6] = -0.5
        inp.add('x', t)

    case('clip_by_value', 'clipByValue', {'min': -0.5, 'max': 0.5}, clip_inputs, lambda x: torch.clamp(x, -0.5, 0.5))


def binary_cases():
    def ties(inp, name, shape):
        return inp.add(name, torch.randint(-2, 3, shape, generator=inp.gen).float())

    specs = [
        ('add_broadcast', 'add', lambda i: (i.randn('a', (2, 3, 4)), i.randn('b', (4,))), torch.add),
        ('add_same_shape', 'add', lambda i: (i.randn('a', (3, 4)), i.randn('b', (3, 4))), torch.add),
        ('sub_broadcast_both', 'sub', lambda i: (i.randn('a', (2, 1, 4)), i.randn('b', (3, 1))), torch.sub),
        ('mul_broadcast', 'mul', lambda i: (i.randn('a', (2, 3, 4)), i.randn('b', (1, 3, 1))), torch.mul),
        ('mul_scalar', 'mul', lambda i: (i.randn('a', (2, 3)), i.randn('b', ())), torch.mul),
        ('div_broadcast', 'div',
         lambda i: (i.randn('a', (3, 4)), i.add('b', torch.sign(torch.randn(2, 3, 4, generator=i.gen))
                                                 * (torch.rand(2, 3, 4, generator=i.gen) * 1.5 + 0.5))),
         torch.div),
        ('squared_difference', 'squaredDifference', lambda i: (i.randn('a', (2, 3, 4)), i.randn('b', (3, 4))),
         lambda a, b: (a - b) ** 2),
        ('pow_broadcast', 'pow', lambda i: (i.uniform('a', (2, 3), 0.5, 2), i.uniform('b', (3,), -1, 2.5)), torch.pow),
        ('maximum_ties', 'maximum', lambda i: (ties(i, 'a', (2, 3, 4)), ties(i, 'b', (4,))), torch.maximum),
        ('minimum_ties', 'minimum', lambda i: (ties(i, 'a', (2, 3, 4)), ties(i, 'b', (3, 4))), torch.minimum),
    ]
    for name, op, make, fn in specs:
        case(name, op, {}, make, lambda a, b, fn=fn: fn(a, b))

    case('pow_const_exponent', 'pow', {},
         lambda i: (i.randn('a', (2, 3)), i.add('b', torch.tensor(2.0))), lambda a, b: torch.pow(a, b), wrt=['a'])
    case('add_n', 'addN', {}, lambda i: (i.randn('a', (2, 3)), i.randn('b', (2, 3)), i.randn('c', (2, 3))),
         lambda a, b, c: a + b + c)
    case('select', 'where', {},
         lambda i: (i.add('condition', torch.randint(0, 2, (2, 3, 4), generator=i.gen)),
                    i.randn('t', (2, 3, 4)), i.randn('e', (2, 3, 4))),
         lambda condition, t, e: torch.where(condition.bool(), t, e), wrt=['t', 'e'])


# --- reductions --------------------------------------------------------------------
def reduce_cases():
    def ties(inp):
        return inp.add('x', torch.randint(-3, 4, (2, 3, 4), generator=inp.gen).float())

    specs = [
        ('sum_axis1', 'sum', {'axis': 1, 'keepDims': False}, lambda x: x.sum(1)),
        ('sum_axes02_keepdims', 'sum', {'axis': [0, 2], 'keepDims': True}, lambda x: x.sum((0, 2), keepdim=True)),
        ('sum_all', 'sum', {'axis': None, 'keepDims': False}, lambda x: x.sum()),
        ('mean_last', 'mean', {'axis': -1, 'keepDims': False}, lambda x: x.mean(-1)),
        ('mean_axes12_keepdims', 'mean', {'axis': [1, 2], 'keepDims': True}, lambda x: x.mean((1, 2), keepdim=True)),
        ('mean_all', 'mean', {'axis': None, 'keepDims': False}, lambda x: x.mean()),
    ]
    for name, op, params, fn in specs:
        case(name, op, params, lambda i: i.randn('x', (2, 3, 4)), lambda x, fn=fn: fn(x))
    # Integer-valued inputs: many ties, which share the gradient evenly.
    tie_specs = [
        ('max_axis1_ties', 'max', {'axis': 1, 'keepDims': False}, lambda x: torch.amax(x, 1)),
        ('max_all_ties', 'max', {'axis': None, 'keepDims': False}, lambda x: torch.amax(x)),
        ('max_axis2_keepdims_ties', 'max', {'axis': 2, 'keepDims': True}, lambda x: torch.amax(x, 2, keepdim=True)),
        ('min_axes02_ties', 'min', {'axis': [0, 2], 'keepDims': False}, lambda x: torch.amin(x, (0, 2))),
    ]
    for name, op, params, fn in tie_specs:
        case(name, op, params, ties, lambda x, fn=fn: fn(x))


# --- shape, slicing, padding, gather --------------------------------------------------
def symmetric_index(n, before, after):
    """Source index of each position of a 'symmetric' mirror pad (edge repeated)."""
    idx = []
    for k in range(-before, n + after):
        idx.append(-k - 1 if k < 0 else (2 * n - 1 - k if k >= n else k))
    return torch.tensor(idx)


def shape_cases():
    r = lambda shape: (lambda i: i.randn('x', shape))
    case('reshape', 'reshape', {'shape': [6, 4]}, r((2, 3, 4)), lambda x: x.reshape(6, 4))
    case('transpose', 'transpose', {'perm': [2, 0, 1]}, r((2, 3, 4)), lambda x: x.permute(2, 0, 1))
    case('reverse', 'reverse', {'axis': [0, 2]}, r((2, 3, 4)), lambda x: x.flip(0, 2))
    case('slice', 'slice', {'begin': [0, 1, 1], 'size': [2, -1, 2]}, r((2, 3, 4)), lambda x: x[0:2, 1:, 1:3])
    case('strided_slice_step2', 'stridedSlice',
         {'begin': [0, 1], 'end': [3, 6], 'strides': [2, 2], 'beginMask': 0, 'endMask': 0, 'shrinkAxisMask': 0},
         r((4, 6)), lambda x: x[0:3:2, 1:6:2])
    case('strided_slice_negative', 'stridedSlice',
         {'begin': [-1, 0], 'end': [0, 0], 'strides': [-2, 1], 'beginMask': 0, 'endMask': 3, 'shrinkAxisMask': 0},
         r((5, 4)), lambda x: x.index_select(0, torch.tensor([4, 2, 0])))
    case('strided_slice_shrink', 'stridedSlice',
         {'begin': [1, 0], 'end': [2, 3], 'strides': [1, 1], 'beginMask': 0, 'endMask': 0, 'shrinkAxisMask': 1},
         r((4, 6)), lambda x: x[1, 0:3])
    case('concat_axis1', 'concat', {'axis': 1},
         lambda i: (i.randn('a', (2, 1, 3)), i.randn('b', (2, 3, 3)), i.randn('c', (2, 2, 3))),
         lambda a, b, c: torch.cat([a, b, c], 1))
    case('concat_axis_neg1', 'concat', {'axis': -1}, lambda i: (i.randn('a', (2, 3)), i.randn('b', (2, 2))),
         lambda a, b: torch.cat([a, b], -1))
    case('stack_axis1', 'stack', {'axis': 1},
         lambda i: (i.randn('a', (2, 3)), i.randn('b', (2, 3)), i.randn('c', (2, 3))),
         lambda a, b, c: torch.stack([a, b, c], 1))
    case('unstack_axis1', 'unstack', {'axis': 1}, r((3, 2, 4)), lambda x: list(torch.unbind(x, 1)))
    case('split_sizes', 'split', {'sizes': [2, 4, 1], 'axis': 1}, r((2, 7, 3)),
         lambda x: list(torch.split(x, [2, 4, 1], 1)))
    case('tile_2d', 'tile', {'reps': [2, 3]}, r((2, 3)), lambda x: x.repeat(2, 3))
    case('tile_3d', 'tile', {'reps': [1, 3, 2]}, r((2, 1, 3)), lambda x: x.repeat(1, 3, 2))
    case('broadcast_to', 'broadcastTo', {'shape': [2, 3, 4]}, r((3, 1)), lambda x: x.expand(2, 3, 4))
    case('pad_constant', 'pad', {'paddings': [[1, 2], [0, 3]], 'value': 0.5}, r((2, 3)),
         lambda x: F.pad(x, (0, 3, 1, 2), value=0.5))
    case('mirror_pad_reflect', 'mirrorPad', {'paddings': [[0, 0], [2, 1], [1, 2], [0, 0]], 'mode': 'reflect'},
         lambda i: i.randn('x', (1, 4, 5, 2), 'NHWC'), lambda x: nhwc(F.pad(nchw(x), (1, 2, 2, 1), mode='reflect')),
         out_layout='NHWC')
    case('mirror_pad_reflect3', 'mirrorPad', {'paddings': [[0, 0], [3, 3], [3, 3], [0, 0]], 'mode': 'reflect'},
         lambda i: i.randn('x', (2, 5, 4, 1), 'NHWC'), lambda x: nhwc(F.pad(nchw(x), (3, 3, 3, 3), mode='reflect')),
         out_layout='NHWC')
    case('mirror_pad_symmetric', 'mirrorPad', {'paddings': [[2, 1], [1, 2]], 'mode': 'symmetric'}, r((3, 4)),
         lambda x: x.index_select(0, symmetric_index(3, 2, 1)).index_select(1, symmetric_index(4, 1, 2)))
    case('gather_axis0_repeated', 'gather', {'axis': 0, 'batchDims': 0},
         lambda i: (i.randn('x', (5, 3)), i.ints('indices', [0, 2, 2, 4, 0, 2])),
         lambda x, indices: x[indices], wrt=['x'])
    case('gather_axis1_2d_indices', 'gather', {'axis': 1, 'batchDims': 0},
         lambda i: (i.randn('x', (2, 5, 3)), i.ints('indices', [[1, 1, 3], [4, 0, 1]])),
         lambda x, indices: x[:, indices], wrt=['x'])
    case('gather_batch_dims1', 'gather', {'axis': 1, 'batchDims': 1},
         lambda i: (i.randn('x', (2, 4, 3)), i.ints('indices', [[0, 3, 3, 1, 0], [2, 2, 1, 2, 0]])),
         lambda x, indices: x[torch.arange(2)[:, None], indices], wrt=['x'])
    case('unsorted_segment_sum', 'unsortedSegmentSum', {'numSegments': 4},
         lambda i: (i.randn('x', (6, 3)), i.ints('segmentIds', [0, 2, 2, 1, 0, 3])),
         lambda x, segmentIds: torch.zeros(4, 3).index_add(0, segmentIds, x), wrt=['x'])


def resize_cases():
    specs = [
        ('resize_bilinear_x2_half_pixel', 'resizeBilinear', (1, 3, 4, 2), (6, 8), False, 'bilinear'),
        ('resize_bilinear_down_nonsquare', 'resizeBilinear', (2, 5, 6, 1), (7, 4), False, 'bilinear'),
        ('resize_bilinear_align_corners', 'resizeBilinear', (1, 3, 4, 2), (5, 7), True, 'bilinear'),
        ('resize_nearest_x2', 'resizeNearestNeighbor', (1, 3, 4, 2), (6, 8), False, 'nearest'),
        ('resize_nearest_nonsquare', 'resizeNearestNeighbor', (1, 5, 6, 1), (7, 4), False, 'nearest'),
    ]
    for name, op, shape, size, align, mode in specs:
        # tfjs: bilinear with align_corners=False is halfPixelCenters=True (PyTorch's
        # rule); nearest matches PyTorch's legacy 'nearest' with both flags false.
        params = {'size': list(size), 'alignCorners': align, 'halfPixelCenters': mode == 'bilinear' and not align}

        def fn(x, size=size, align=align, mode=mode):
            kw = {'align_corners': align} if mode == 'bilinear' else {}
            return nhwc(F.interpolate(nchw(x), size=size, mode=mode, **kw))

        case(name, op, params, lambda i, shape=shape: i.randn('x', shape, 'NHWC'), fn, out_layout='NHWC')


# --- zero-gradient kernels on the path, and tfjs compositions --------------------------
def composite_cases():
    case('floor_times_x', 'floorTimesX', {}, lambda i: i.randn('x', (2, 5), scale=2), lambda x: x * torch.floor(x))
    case('where_greater', 'whereGreater', {}, lambda i: i.randn('x', (3, 4)),
         lambda x: torch.where(x > 0, 2 * x, x * x))
    case('instance_norm_moments', 'instanceNorm', {'epsilon': 1e-5},
         lambda i: i.randn('x', (2, 4, 5, 3), 'NHWC', scale=2, shift=0.5),
         lambda x: nhwc(F.instance_norm(nchw(x), eps=1e-5)), out_layout='NHWC')
    case('log_softmax_cross_entropy', 'logSoftmaxCrossEntropy', {},
         lambda i: (i.randn('logits', (4, 5), scale=2), i.ints('labels', [1, 0, 4, 2])),
         lambda logits, labels: F.cross_entropy(logits, labels), wrt=['logits'])
    case('l2_normalize', 'l2Normalize', {'epsilon': 1e-7}, lambda i: i.randn('x', (4, 6)),
         lambda x: x / (x.pow(2).sum(1, keepdim=True).pow(0.5) + 1e-7))
    case('mse_loss', 'meanSquaredError', {}, lambda i: (i.randn('labels', (2, 3, 4)), i.randn('predictions', (2, 3, 4))),
         lambda labels, predictions: F.mse_loss(predictions, labels))
    case('sigmoid_cross_entropy', 'sigmoidCrossEntropy', {},
         lambda i: (i.uniform('labels', (3, 4), 0, 1), i.randn('logits', (3, 4), scale=3)),
         lambda labels, logits: F.binary_cross_entropy_with_logits(logits, labels), wrt=['logits'])
    # The plain-node test recomputes this one in a child `node` process, with dy = 1.
    inputs = case('conv_relu_mean', 'convReluMean', {'strides': 1, 'pad': 'same'},
                  lambda i: (i.randn('x', (1, 6, 6, 2), 'NHWC'), i.randn('filter', (3, 3, 2, 3), 'HWIO', scale=0.3)),
                  lambda x, filter: conv_relu_mean(x, filter))
    x = inputs['x'].clone().requires_grad_(True)
    f = inputs['filter'].clone().requires_grad_(True)
    gx, gf = torch.autograd.grad(conv_relu_mean(x, f), [x, f])
    CASES[-1]['unit_dy_grads'] = {'x': enc(gx, 'NHWC'), 'filter': enc(gf, 'HWIO')}


def conv_relu_mean(x, filter):
    """mean(relu(conv2d(x, filter, stride 1, 'same'))) for NHWC x and an HWIO 3x3 filter."""
    return F.relu(F.conv2d(F.pad(nchw(x), (1, 1, 1, 1)), filter.permute(3, 2, 0, 1))).mean()


def main():
    conv2d_cases()
    conv2d_transpose_cases()
    depthwise_cases()
    depthwise_transpose_cases()
    matmul_cases()
    unary_cases()
    binary_cases()
    reduce_cases()
    shape_cases()
    resize_cases()
    composite_cases()
    names = [c['name'] for c in CASES]
    assert len(names) == len(set(names)), 'duplicate case names'
    doc = {
        'meta': {
            'torch': torch.__version__,
            'generator': 'tools/golden/gradients.py',
            'what': 'forward output and d/d(input) of sum(output * dy) per case, tensors in tfjs layouts',
            'layouts': 'NHWC activations; HWIO conv filters; HWCM depthwise filters; HWOI conv2dTranspose filters',
        },
        'cases': CASES,
    }
    size = gc.write_text(OUT, dumps(doc))
    print(f'wrote {len(CASES)} cases to {os.path.relpath(OUT)} ({size} bytes)')


if __name__ == '__main__':
    main()
