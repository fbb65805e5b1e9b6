"""Helpers shared by the golden-vector generators in tools/golden/ (Debian's /usr/bin/python3, PyTorch 1.13).

A script imports it from its own folder, whatever the working directory or the way it was started
(`python3 -P` and `-I` leave the script's folder off sys.path):

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import golden_common as gc  # noqa: E402

Tensors are written as {shape, dtype, layout?, data}, data row-major, float32 values as the shortest
decimal that parses back to the same float32 (the format of the reference's goldens).
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
FIXTURES = os.path.join(ROOT, 'fixtures')
GOLDEN = os.path.join(FIXTURES, 'golden')

FLOAT_FORMAT = 'float32 values written as the shortest decimal that round-trips to the same float32'


def setup(seed=None):
    """One thread (reductions summed in one fixed order) and, when given, torch's global seed."""
    torch.set_num_threads(1)
    if seed is not None:
        torch.manual_seed(seed)


def f32_decimals(values):
    """Each value, rounded to float32, as the shortest decimal that parses back to it (np.float32's repr)."""
    return [repr(np.float32(v)) for v in np.asarray(values, dtype=np.float32).ravel()]


class RawList(list):
    """Number tokens already formatted; `dumps` splices them into the JSON text verbatim."""


def enc(t, layout=None):
    """A tensor for `dumps`: floats as shortest round-trip float32 decimals, integer and bool tensors as int64."""
    a = t.detach().cpu().numpy()
    out = {'shape': list(a.shape)}
    if a.dtype.kind in 'iub':
        out['dtype'] = 'int64'
        data = [str(int(v)) for v in a.ravel()]
    else:
        out['dtype'] = 'float32'
        data = f32_decimals(a)
    if layout:
        out['layout'] = layout
    out['data'] = RawList(data)
    return out


def enc_floats(t, layout=None):
    """A float tensor for plain `json.dump`: data as Python floats parsed from the float32 decimals."""
    out = {'shape': list(t.shape), 'dtype': 'float32'}
    if layout:
        out['layout'] = layout
    out['data'] = [float(s) for s in f32_decimals(t.detach().cpu().numpy())]
    return out


def decode(spec, dtype=torch.float32):
    """The tensor of an {shape, dtype?, data} object (int64 data may be decimal strings)."""
    if spec.get('dtype') == 'int64':
        return torch.tensor([int(v) for v in spec['data']], dtype=torch.int64).reshape(spec['shape'])
    return torch.tensor(spec['data'], dtype=dtype).reshape(spec['shape'])


def dumps(obj, indent=0):
    """JSON text with one key per line and every RawList (a tensor's data) on a single line."""
    pad = ' ' * indent
    if isinstance(obj, RawList):
        return '[' + ','.join(obj) + ']'
    if isinstance(obj, dict):
        items = [f'{pad} {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        items = [pad + ' ' + dumps(v, indent + 1) for v in obj]
        return '[\n' + ',\n'.join(items) + '\n' + pad + ']'
    return json.dumps(obj)


def write_text(path, text):
    """Writes text and a final newline (creating the folder); returns the number of characters written."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf8') as f:
        f.write(text + '\n')
    return len(text) + 1


def read_options(path):
    """A run's train_opt.txt as the reference writes it ('name: value [default: ...]'), as name -> value strings."""
    out = {}
    for line in open(path):
        if ':' in line and not line.startswith('-'):
            key, value = line.split(':', 1)
            out[key.strip()] = value.split('[default:')[0].strip()
    return out
