#!/usr/bin/python3
"""Golden contents of PyTorch .pth checkpoints, for the TypeScript reader (packages/networks/src/pth).

Run with Debian's PyTorch from the repo root: `/usr/bin/python3 tools/golden/pth_dump.py`.

1. For the reference's checkpoint fixtures/checkpoints/h2z_tiny/latest_net_{G,D,F}.pth (written by the
   reference's train.py, copied from shared/reference), `torch.load`s each and writes
   fixtures/golden/pth_h2z_tiny.json: per file the keys in order, and per key shape, dtype, sum and
   sum of |x| (float64 accumulation), the first 8 values (row-major), and the file's `_metadata`.
2. Writes fixtures/checkpoints/pth_views.pth, a state_dict of strided views sharing a storage, with a
   storage offset, a Parameter, every storage dtype, a 0-d and an empty tensor, and
   fixtures/golden/pth_views.json with every value (int64 as decimal strings, bool as 0/1).
Deterministic: fixed seed; rerunning gives identical JSON (the .pth differs only in zip timestamps,
which torch sets to zero).
"""
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

gc.setup(seed=7)


def dtype_name(t):
    return str(t.dtype).replace('torch.', '')


def number(v):
    # JSON has no infinities or NaN: write them as the strings JS's Number() parses.
    if v != v:
        return 'NaN'
    if v in (float('inf'), float('-inf')):
        return 'Infinity' if v > 0 else '-Infinity'
    return v


def values(t):
    flat = t.contiguous().view(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        return [number(v) for v in flat.float().tolist()]
    if t.dtype == torch.bool:
        return [int(v) for v in flat.tolist()]
    if t.dtype == torch.int64:
        return [str(v) for v in flat.tolist()]
    return [number(v) for v in flat.tolist()]


def dump_h2z():
    out = {'meta': {'torch': torch.__version__,
                    'what': 'torch.load of the reference h2z_tiny checkpoints: keys, shapes, dtypes, '
                            'float64 sums and abs-sums, first 8 row-major values'},
           'files': {}}
    for net in 'GDF':
        name = f'latest_net_{net}.pth'
        sd = torch.load(os.path.join(gc.FIXTURES, 'checkpoints', 'h2z_tiny', name), map_location='cpu')
        tensors = collections.OrderedDict()
        for k, t in sd.items():
            tensors[k] = {'shape': list(t.shape), 'dtype': dtype_name(t),
                          'sum': t.double().sum().item(), 'abs_sum': t.double().abs().sum().item(),
                          'first': values(t)[:8]}
        meta = getattr(sd, '_metadata', None)
        out['files'][name] = {'keys': list(sd.keys()), 'tensors': tensors,
                              'metadata': {k: dict(v) for k, v in meta.items()} if meta is not None else None}
    gc.write_text(os.path.join(gc.GOLDEN, 'pth_h2z_tiny.json'), json.dumps(out, indent=1, allow_nan=False))


def dump_views():
    base = torch.randn(4, 6)
    sd = collections.OrderedDict()
    sd['base'] = base
    sd['transposed'] = base.t()                 # strides (1, 6)
    sd['offset_slice'] = base[1:3, 2:5]         # storage offset 8, strides (6, 1)
    sd['every_other'] = base[:, ::2]            # strides (6, 2)
    sd['conv_permuted'] = torch.randn(2, 3, 2, 2).permute(0, 2, 3, 1)  # NCHW viewed as NHWC
    sd['param'] = torch.nn.Parameter(torch.randn(3))  # pickled through _rebuild_parameter
    sd['f64'] = torch.randn(5, dtype=torch.float64)
    sd['f16'] = torch.tensor([0.0, -0.0, 1.5, -2.25, 65504.0, 6.1e-5, 5.96e-8, float('inf'), float('nan')], dtype=torch.float16)
    sd['bf16'] = torch.tensor([1.0, -3.140625, 1e30, 2.0 ** -100], dtype=torch.bfloat16)
    sd['i64'] = torch.tensor([0, -1, 2 ** 62 + 1, -(2 ** 63), 42], dtype=torch.int64)
    sd['i32'] = torch.tensor([[1, -2], [2 ** 31 - 1, -(2 ** 31)]], dtype=torch.int32)
    sd['i16'] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
    sd['i8'] = torch.tensor([-128, 127, -1], dtype=torch.int8)
    sd['u8'] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd['flag'] = torch.tensor([True, False, True])
    sd['scalar'] = torch.tensor(2.5)
    sd['empty'] = torch.zeros(0, 3)
    sd['num_batches_tracked'] = torch.tensor(12345)
    sd._metadata = collections.OrderedDict([('', {'version': 1}), ('bn', {'version': 2})])
    torch.save(sd, os.path.join(gc.FIXTURES, 'checkpoints', 'pth_views.pth'))
    out = {'meta': {'torch': torch.__version__,
                    'what': 'every value of fixtures/checkpoints/pth_views.pth, row-major; '
                            'int64 as decimal strings, bool as 0/1, float16/bfloat16 as float32, '
                            'non-finite floats as the strings Infinity/-Infinity/NaN'},
           'tensors': collections.OrderedDict(
               (k, {'shape': list(t.shape), 'dtype': dtype_name(t), 'data': values(t.detach())})
               for k, t in sd.items())}
    gc.write_text(os.path.join(gc.GOLDEN, 'pth_views.json'), json.dumps(out, allow_nan=False))


if __name__ == '__main__':
    dump_h2z()
    dump_views()
