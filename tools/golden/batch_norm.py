#!/usr/bin/python3
"""Golden vectors for @cut/core-tensors' batchNorm: torch's nn.BatchNorm2d (affine, running statistics,
momentum 0.1) on seeded inputs. Writes fixtures/golden/batch_norm.json.

Per case: the module's weight and bias (seeded, not 1 and 0), two training-mode forwards on x1 and x2
(outputs y1, y2; running_mean / running_var / num_batches_tracked after each), the gradients of
sum(y1 * dy) for x1, weight and bias, then an eval-mode forward on x1 (y_eval) and its input gradient.
NCHW layout. Float32, CPU, one thread.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
from golden_common import dumps, enc  # noqa: E402

gc.setup(seed=20261207)


def case(shape, offset):
    c = shape[1]
    bn = torch.nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.3 * torch.randn(c))
        bn.bias.copy_(0.5 * torch.randn(c))
    x1 = torch.randn(shape) * 2 + offset
    x2 = torch.randn(shape) * 0.5 - offset
    out = {'shape': shape, 'weight': enc(bn.weight), 'bias': enc(bn.bias), 'x1': enc(x1, 'NCHW'), 'x2': enc(x2, 'NCHW')}
    bn.train()
    x = x1.clone().requires_grad_(True)
    y1 = bn(x)
    dy = torch.randn(y1.shape)
    dx, dw, db = torch.autograd.grad((y1 * dy).sum(), [x, bn.weight, bn.bias])
    out.update({'y1': enc(y1, 'NCHW'), 'dy': enc(dy, 'NCHW'), 'dx1': enc(dx, 'NCHW'), 'dweight': enc(dw), 'dbias': enc(db),
                'after1': {'running_mean': enc(bn.running_mean), 'running_var': enc(bn.running_var),
                           'num_batches_tracked': int(bn.num_batches_tracked)}})
    with torch.no_grad():
        y2 = bn(x2)
    out.update({'y2': enc(y2, 'NCHW'), 'after2': {'running_mean': enc(bn.running_mean), 'running_var': enc(bn.running_var),
                                                  'num_batches_tracked': int(bn.num_batches_tracked)}})
    bn.eval()
    x = x1.clone().requires_grad_(True)
    y = bn(x)
    (dxe,) = torch.autograd.grad((y * dy).sum(), [x])
    out.update({'y_eval': enc(y, 'NCHW'), 'dx_eval': enc(dxe, 'NCHW')})
    return out


doc = {
    'meta': {'generator': 'tools/golden/batch_norm.py', 'torch_version': torch.__version__, 'float_format': gc.FLOAT_FORMAT,
             'what': __doc__.strip().split('\n\n')[1]},
    'cases': [case([2, 3, 4, 5], 1.0), case([1, 4, 3, 3], -0.5), case([4, 2, 1, 1], 3.0)],
}
print(gc.write_text(os.path.join(gc.GOLDEN, 'batch_norm.json'), dumps(doc)))
