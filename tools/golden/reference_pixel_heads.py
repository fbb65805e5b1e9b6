#!/usr/bin/python3
"""Goldens and .pth round trips for the reference's PixelDiscriminator (netD `pixel`) and its netF
heads ReshapeF (`reshape`), PoolingF (`global_pool`) and StridedConvF (`strided_conv`), built with
the reference's own `define_D` / `define_F` (imported from its checkout, never copied).

Usage (Debian's /usr/bin/python3, PyTorch 1.13; the checkout at $CUT_REFERENCE, default /work/ref/cut):
  reference_pixel_heads.py golden
      Writes fixtures/golden/pixel_discriminator.json and fixtures/golden/netf_heads.json.gz:
      fixed (seeded) weights and inputs, forward outputs, the gradients of sum(output * R) (R fixed)
      with respect to the inputs and every parameter, and the state_dict keys and shapes.
  reference_pixel_heads.py roundtrip SPEC.json OUT.json
      SPEC: {"cases": [{"id", "kind": "D"|"F", "config": {...}, "pth", "out_pth",
                        "inputs": [NCHW tensors]}]}. Per case: torch.load our file (weights_only),
      build the network with define_D / define_F (netF: a forward on the inputs first creates its
      layers, as the reference's data_dependent_initialize does), load_state_dict(strict=True),
      check `_metadata` against the network's own, run the forward (netF: on each input in turn;
      strided_conv: its running averages started afresh, a first call on the inputs, the compared
      one on the negated inputs), then multiply every parameter by -1.5,
      torch.save the state_dict to out_pth and run the forward again. OUT: keys, outputs before and
      after. Exit status 1 with a message when a file does not load strictly.
Float32, CPU, one thread.
"""
import json
import os
import sys
from types import SimpleNamespace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

REFERENCE = os.environ.get('CUT_REFERENCE', '/work/ref/cut')
sys.path.insert(0, REFERENCE)
from models import networks  # noqa: E402  (the reference's own module)

gc.setup()


def define_D(config):
    return networks.define_D(config.get('input_nc', 3), config['ndf'], 'pixel', norm=config.get('norm', 'instance'),
                             init_type='normal', init_gain=0.02)


def define_F(config):
    opt = SimpleNamespace(netF_nc=config.get('netF_nc', 256))
    return networks.define_F(3, config['netF'], 'instance', False, 'normal', 0.02, False, [], opt)


def default_init(net):
    """PyTorch's default init (kaiming-uniform weights, nonzero biases) instead of the reference's
    normal(0, 0.02) and zero biases: the goldens test the forward math, not the initialiser."""
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()


def head_outputs(net, feats):
    """One netF call as the reference's heads take it: one feature map at a time."""
    return [net(f) for f in feats]


def grads_of(outputs, tensors, seed):
    """Gradients of sum(output * R) with fixed random R, and the R used."""
    g = torch.Generator().manual_seed(seed)
    rs = [torch.randn(o.shape, generator=g) for o in outputs]
    loss = sum((o * r).sum() for o, r in zip(outputs, rs))
    return torch.autograd.grad(loss, tensors), rs


def state(net):
    return [{'name': k, 'shape': list(v.shape)} for k, v in net.state_dict().items()]


def pixel_case(norm):
    """One training-mode forward (batch norm: batch statistics, running ones updated), its gradients,
    the state_dict before and after it, and (batch norm) the eval-mode output afterwards."""
    torch.manual_seed(0)
    net = define_D({'ndf': 4, 'norm': norm})
    default_init(net)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    before = [dict(name=n, **gc.enc(t)) for n, t in net.state_dict().items()]
    x = torch.randn(2, 3, 5, 7, requires_grad=True)
    y = net(x)
    params = list(net.named_parameters())
    grads, (r,) = grads_of([y], [x] + [p for _, p in params], 1)
    case = {
        'norm': norm,
        'modules': [type(m).__name__ for m in net.net],
        'state_dict': state(net),
        'state_before': before,
        'input': gc.enc(x, 'NCHW'),
        'output': gc.enc(y, 'NCHW'),
        'R': gc.enc(r, 'NCHW'),
        'grad_input': gc.enc(grads[0], 'NCHW'),
        'grads': [dict(name=n, **gc.enc(g)) for (n, _), g in zip(params, grads[1:])],
        'state_after': [dict(name=n, **gc.enc(t)) for n, t in net.state_dict().items()],
    }
    if norm == 'batch':
        net.eval()
        with torch.no_grad():
            case['eval_output'] = gc.enc(net(x), 'NCHW')
    return case


def pixel_golden():
    return {
        'meta': {'torch_version': torch.__version__,
                 'what': "reference define_D(3, 4, 'pixel', norm) with PyTorch default init (batch norm: random affine); "
                         'one training-mode forward, grads of sum(output * R)'},
        'cases': [pixel_case(norm) for norm in ['instance', 'batch', 'none']],
    }


def heads_golden():
    torch.manual_seed(0)
    cases = []
    # Parameter-free heads: odd sizes, so that AdaptiveAvgPool2d(4)'s bins overlap / differ in size.
    shapes = [(2, 4, 9, 7), (2, 5, 8, 8), (2, 3, 3, 5)]
    for name in ['reshape', 'global_pool']:
        net = define_F({'netF': name})
        feats = [torch.randn(s, requires_grad=True) for s in shapes]
        outs = head_outputs(net, feats)
        grads, rs = grads_of(outs, feats, 2)
        cases.append({'netF': name, 'state_dict': state(net),
                      'calls': [{'feats': [gc.enc(f, 'NCHW') for f in feats], 'outputs': [gc.enc(o) for o in outs],
                                 'R': [gc.enc(r) for r in rs], 'grad_feats': [gc.enc(g, 'NCHW') for g in grads]}]})
    # StridedConvF: two levels share key 4_46 (one downsampling conv: rint(log2(46/32)) = 1), one has
    # key 6_12 (none: rint(log2(12/32)) = -1). Call 1 creates the layers and seeds the running
    # averages (its outputs are rounding noise, not compared); call 2 is the one compared.
    net = define_F({'netF': 'strided_conv'})
    shapes = [(2, 4, 46, 7), (2, 4, 46, 7), (2, 6, 12, 5)]
    first = [torch.randn(s) for s in shapes]
    with torch.no_grad():
        head_outputs(net, first)
    default_init(net)
    # The averages came from the reference init's outputs; start them again from call 1 with these weights.
    net.moving_averages = {}
    with torch.no_grad():
        head_outputs(net, first)
    second = [torch.randn(s, requires_grad=True) for s in shapes]
    outs = head_outputs(net, second)
    params = list(net.named_parameters())
    grads, rs = grads_of(outs, second + [p for _, p in params], 3)
    cases.append({'netF': 'strided_conv', 'state_dict': state(net),
                  'weights': [dict(name=n, **gc.enc(p)) for n, p in params],
                  'calls': [{'feats': [gc.enc(f, 'NCHW') for f in first]},
                            {'feats': [gc.enc(f, 'NCHW') for f in second], 'outputs': [gc.enc(o, 'NCHW') for o in outs],
                             'R': [gc.enc(r, 'NCHW') for r in rs], 'grad_feats': [gc.enc(g, 'NCHW') for g in grads[:3]],
                             'grads': [dict(name=n, **gc.enc(g)) for (n, _), g in zip(params, grads[3:])]}]})
    return {'meta': {'torch_version': torch.__version__,
                     'what': "reference define_F heads, each applied to every feature map of a call in turn; grads of "
                             "sum(output * R); strided_conv: PyTorch default init, call 1 seeds the running averages"},
            'cases': cases}


def golden():
    import gzip
    text = gc.dumps(pixel_golden())
    gc.write_text(os.path.join(gc.GOLDEN, 'pixel_discriminator.json'), text)
    text = gc.dumps(heads_golden()) + '\n'
    with gzip.GzipFile(os.path.join(gc.GOLDEN, 'netf_heads.json.gz'), 'wb', mtime=0) as f:
        f.write(text.encode('utf8'))


def fail(msg):
    sys.stderr.write(f'reference_pixel_heads.py: {msg}\n')
    sys.exit(1)


def forward(case, net, inputs):
    with torch.no_grad():
        if case['kind'] == 'D':
            return [net(inputs[0])]
        net.moving_averages = {} if hasattr(net, 'moving_averages') else None
        if case['config']['netF'] == 'strided_conv':
            # The first call seeds the running averages (its outputs are rounding noise); the second,
            # on other maps (the negated inputs), is the one compared.
            head_outputs(net, inputs)
            return head_outputs(net, [-x for x in inputs])
        return head_outputs(net, inputs)


def roundtrip(spec_path, out_path):
    spec = json.load(open(spec_path))
    out = {'cases': {}}
    for case in spec['cases']:
        inputs = [gc.decode(t) for t in case['inputs']]
        net = define_D(case['config']) if case['kind'] == 'D' else define_F(case['config'])
        if case['kind'] == 'F':
            with torch.no_grad():
                head_outputs(net, inputs)  # creates the lazily made layers
        sd = torch.load(case['pth'], map_location='cpu', weights_only=True)
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            fail(f"{case['id']}: {e}")
        want = {k: dict(v) for k, v in net.state_dict()._metadata.items()}
        got = {k: dict(v) for k, v in getattr(sd, '_metadata', {}).items()}
        if want != got:
            fail(f"{case['id']}: _metadata {got} != the network's {want}")
        before = forward(case, net, inputs)
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(-1.5)
        torch.save(net.state_dict(), case['out_pth'])
        after = forward(case, net, inputs)
        out['cases'][case['id']] = {'keys': list(sd.keys()), 'before': [gc.enc_floats(t) for t in before],
                                    'after': [gc.enc_floats(t) for t in after]}
    with open(out_path, 'w') as f:
        json.dump(out, f)


if __name__ == '__main__':
    if sys.argv[1:2] == ['golden']:
        golden()
    elif sys.argv[1:2] == ['roundtrip']:
        roundtrip(*sys.argv[2:4])
    else:
        fail(__doc__)
