#!/usr/bin/python3
"""Goldens and .pth round trips for the generators and norms built by the reference's own
define_G / define_D: netG unet_128, unet_256, resnet_cat and resnet_<n>blocks, netD basic, with
normG / normD batch, instance and none (BatchNorm2d: training and eval mode, running statistics).

The reference's models/networks.py is imported at run time (never copied): from $CUT_REFERENCE,
else /work/ref/cut. It builds resnet_cat from `opt.nz`, which CUT's option parser does not
define; we pass nz = 0 (the only value whose forward without a style returns an image).

Usage
  reference_networks.py golden
      Writes fixtures/golden/reference_networks.json.gz: per case the reference's state_dict
      (seeded non-trivial weights and running statistics), its `_metadata` paths, the module
      classes, an input, the training-mode output, the gradients of sum(output * dy) for the
      input and every parameter, the running statistics after that forward, the eval-mode output
      after it, and the encoder features (`layers`, see each case) in training mode.
  reference_networks.py run SPEC.json OUT.json
      SPEC: {"cases": [{"id", "kind": "G"|"D", "config": {reference option names}, "pth": our file,
                        "theirs": path to write, "input": NCHW tensor}]}
      Loads each of our .pth files with load_state_dict(strict=True) into the define_G/define_D
      network (exit 1 naming the file when it does not load), and writes its state_dict keys and
      its eval-mode output; then builds the same network with other seeded weights, runs one
      training-mode forward (so the running statistics move), saves its state_dict to `theirs`
      with torch.save and writes that network's eval-mode output too.
  reference_networks.py load-run RUN_DIR
      A run folder (cutjs train's or the reference's): builds G and D with the reference's
      define_G / define_D from its train_opt.txt, loads latest_net_G.pth and latest_net_D.pth with
      load_state_dict(strict=True) (a `module.` prefix stripped, as the reference's DataParallel
      writes it), runs G in eval mode on a seeded input of crop_size and prints a JSON report.
  reference_networks.py available
      Exit 0 when the reference imports.

Float32, CPU, one thread.
"""
import argparse
import copy
import gzip
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

REFERENCE = os.environ.get('CUT_REFERENCE', '/work/ref/cut')


def reference_networks():
    sys.path.insert(0, REFERENCE)
    from models import networks  # noqa: E402  (the reference's own module)
    return networks


def fail(msg):
    sys.stderr.write(f'reference_networks.py: {msg}\n')
    sys.exit(1)


def build(N, kind, c):
    """The reference's network for a config in its option names."""
    if kind == 'G':
        return N.define_G(c.get('input_nc', 3), c.get('output_nc', 3), c['ngf'], c['netG'], c.get('normG', 'instance'),
                          c.get('use_dropout', False), c.get('init_type', 'normal'), c.get('init_gain', 0.02),
                          c.get('no_antialias', False), c.get('no_antialias_up', False), [], argparse.Namespace(nz=0))
    return N.define_D(c.get('input_nc', 3), c['ndf'], c.get('netD', 'basic'), c.get('n_layers_D', 3), c.get('normD', 'instance'),
                      c.get('init_type', 'normal'), c.get('init_gain', 0.02), c.get('no_antialias', False), [], None)


def wave64(n, a, b):
    return torch.sin(torch.arange(n, dtype=torch.float64) * a + b)


def wave(shape, a, b, scale=1.0, offset=0.0):
    """offset + scale * sin(i * a + b) over the row-major index i, in float64 rounded to float32: values
    the test recomputes (Math.fround(offset + scale * Math.sin(i * a + b))) instead of reading them."""
    n = 1
    for d in shape:
        n *= d
    return (offset + scale * wave64(n, a, b)).float().reshape(shape)


X_WAVE = (0.37, 1.0)
DY_WAVE = (0.7, 0.3)


def weight_waves(net):
    """Non-trivial deterministic state: entry j of the state_dict gets sin(i * 0.61 + j) scaled as:
    conv weights 1.7 / sqrt(fan_in), biases and betas 0.3, BatchNorm weights and LayerNorm gammas
    1 + 0.3 sin, running means 0.1, running variances 1 + 0.5 sin; num_batches_tracked 3; the blur
    filters (constants) are stored."""
    out = {}
    for j, (name, t) in enumerate(net.state_dict().items()):
        if name.endswith('num_batches_tracked'):
            out[name] = {'fill': 3}
            continue
        if name.endswith('.filt'):  # the blur filters: constants, stored as they are
            out[name] = {'tensor': gc.enc(t)}
            continue
        if t.dim() > 1:
            transposed = isinstance(dict(net.named_modules())[name.rsplit('.', 1)[0]], torch.nn.ConvTranspose2d)
            fan_in = (t.shape[0] if transposed else t.shape[1]) * t[0, 0].numel()
            spec = (1.7 / fan_in ** 0.5, 0.0)
        elif name.endswith('running_var'):
            spec = (0.5, 1.0)
        elif name.endswith('running_mean'):
            spec = (0.1, 0.0)
        elif name.endswith('.gamma') or (name.endswith('.weight') and t.dim() == 1):
            spec = (0.3, 1.0)
        else:
            spec = (0.3, 0.0)
        out[name] = {'a': 0.61, 'b': float(j), 'scale': spec[0], 'offset': spec[1]}
    return out


def apply_waves(net, waves):
    state = net.state_dict()
    with torch.no_grad():
        for name, w in waves.items():
            t = state[name]
            if 'fill' in w:
                t.fill_(w['fill'])
            elif 'a' in w:
                t.copy_(wave(t.shape, w['a'], w['b'], w['scale'], w['offset']))


def randomize(net):
    """Non-trivial seeded values: conv weights ~ N(0, 1/fan_in), biases U(-0.3, 0.3), BatchNorm
    weights N(1, 0.2), LayerNorm gamma U(0.5, 1.5), running means N(0, 0.1), variances U(0.5, 1.5)."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape) / (p.shape[1] * p[0, 0].numel()) ** 0.5)
            elif name.endswith('.gamma'):
                p.uniform_(0.5, 1.5)
            elif name.endswith('.weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape))
            else:
                p.uniform_(-0.3, 0.3)
        for name, b in net.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(0.1 * torch.randn(b.shape))
            elif name.endswith('running_var'):
                b.uniform_(0.5, 1.5)
            elif name.endswith('num_batches_tracked'):
                b.fill_(3)


def module_classes(net, netG):
    if netG and netG.startswith('unet'):
        return [type(m).__name__ for m in net.model.model]
    if netG == 'resnet_cat':
        return [type(m).__name__ for m in net.enc_content.model] + [type(m).__name__ for m in net.dec.model]
    return [type(m).__name__ for m in net.model]


def state_entries(state):
    return [dict(gc.enc(v), name=k) for k, v in state.items()]


def unet_features(net, x, layers):
    """Our UnetGenerator.encode layers through hooks: 0 the input, k the k-th down step's output
    (its conv, then its norm where the block has one), cloned before the next in-place LeakyReLU."""
    blocks = []
    block = net.model
    while True:
        blocks.append(block)
        seq = list(block.model)
        sub = [m for m in seq if type(m).__name__ == 'UnetSkipConnectionBlock']
        if not sub:
            break
        block = sub[0]
    taps = []
    for d, b in enumerate(blocks):
        seq = list(b.model)
        if d == 0 or d == len(blocks) - 1:
            taps.append([m for m in seq if isinstance(m, torch.nn.Conv2d)][0])
        else:
            taps.append(seq[2])
    got = {0: x.clone()}
    hooks = [t.register_forward_hook(lambda m, i, o, k=k: got.__setitem__(k + 1, o.clone())) for k, t in enumerate(taps)]
    net(x)
    for h in hooks:
        h.remove()
    return [got[layer] for layer in layers]


def features(net, c, x, layers):
    if c['netG'].startswith('unet'):
        return unet_features(net, x, layers)
    if c['netG'] == 'resnet_cat':
        return net(x, nce_layers=list(layers), encode_only=True)
    return net(x, list(layers), encode_only=True)


GOLDEN_CASES = [
    # (id, kind, config, input NCHW shape, encoder layers)
    ('G_resnet_4blocks_batch', 'G', {'netG': 'resnet_4blocks', 'ngf': 4, 'normG': 'batch'}, [2, 3, 16, 20], [0, 4, 8, 10, 12]),
    ('G_resnet_4blocks_none', 'G', {'netG': 'resnet_4blocks', 'ngf': 4, 'normG': 'none'}, [2, 3, 16, 20], [0, 4, 8, 10, 12]),
    ('G_resnet_4blocks_batch_no_antialias', 'G',
     {'netG': 'resnet_4blocks', 'ngf': 4, 'normG': 'batch', 'no_antialias': True, 'no_antialias_up': True}, [2, 3, 16, 16], [0, 3, 6, 8]),
    ('G_unet_128_instance', 'G', {'netG': 'unet_128', 'ngf': 1, 'input_nc': 1, 'output_nc': 1}, [1, 1, 128, 128], [0, 1, 2, 3, 4, 7]),
    ('G_unet_128_batch', 'G', {'netG': 'unet_128', 'ngf': 1, 'input_nc': 1, 'output_nc': 1, 'normG': 'batch'}, [2, 1, 128, 128], [0, 1, 2, 3, 4, 7]),
    ('G_unet_128_none', 'G', {'netG': 'unet_128', 'ngf': 1, 'input_nc': 1, 'output_nc': 1, 'normG': 'none'}, [1, 1, 128, 128], [0, 1, 2, 3, 4, 7]),
    ('G_unet_256_instance', 'G', {'netG': 'unet_256', 'ngf': 1, 'input_nc': 1, 'output_nc': 1}, [1, 1, 256, 256], [3, 4, 8]),
    ('G_resnet_cat', 'G', {'netG': 'resnet_cat', 'ngf': 4}, [2, 3, 16, 20], [0, 1, 2, 3]),
    ('D_basic_batch', 'D', {'netD': 'basic', 'ndf': 4, 'normD': 'batch'}, [2, 3, 32, 36], None),
    ('D_basic_none', 'D', {'netD': 'basic', 'ndf': 4, 'normD': 'none'}, [2, 3, 32, 32], None),
    ('D_basic_batch_no_antialias', 'D', {'netD': 'basic', 'ndf': 4, 'normD': 'batch', 'no_antialias': True}, [2, 3, 32, 32], None),
]


def golden():
    N = reference_networks()
    cases = []
    for i, (cid, kind, config, shape, layers) in enumerate(GOLDEN_CASES):
        torch.manual_seed(1000 + i)
        net = build(N, kind, config)
        waves = weight_waves(net)
        apply_waves(net, waves)
        meta = list(net.state_dict()._metadata.keys())
        x = wave(shape, *X_WAVE)
        feats_net = copy.deepcopy(net)  # features from the same weights and statistics, in training mode
        net.train()
        xg = x.clone().requires_grad_(True)
        y = net(xg)
        dy = wave(y.shape, *DY_WAVE)
        params = list(net.named_parameters())
        grads = torch.autograd.grad((y * dy).sum(), [xg] + [p for _, p in params])
        after = {k: v.clone() for k, v in net.state_dict().items() if 'running' in k or 'num_batches' in k}
        net.eval()
        with torch.no_grad():
            y_eval = net(x)
        case = {
            'id': cid, 'kind': kind, 'config': config, 'module_classes': module_classes(net, config.get('netG')),
            'metadata': meta,
            'weights': [dict(w, name=n, shape=list(net.state_dict()[n].shape)) for n, w in waves.items()], 'input_shape': shape, 'output': gc.enc(y, 'NCHW'),
            'grads': [dict(gc.enc(g), name=n) for (n, _), g in zip(params, grads[1:])],
        }
        # unet_256's input gradient is left out for size (unet_128's cover the same code).
        if config['netG'] != 'unet_256' if kind == 'G' else True:
            case['dinput'] = gc.enc(grads[0], 'NCHW')
        if after:  # batch norm: statistics after one training forward, then eval mode
            case['stats_after'] = state_entries(after)
            case['output_eval'] = gc.enc(y_eval, 'NCHW')
        if layers is not None:
            feats_net.train()
            with torch.no_grad():
                f = features(feats_net, config, x, layers)
            case['layers'] = layers
            case['features'] = [gc.enc(t, 'NCHW') for t in f]
        cases.append(case)
        print(cid, 'output spread', float(y.max() - y.min()), file=sys.stderr)
    doc = {
        'meta': {
            'generator': 'tools/golden/reference_networks.py',
            'torch_version': torch.__version__,
            'float_format': gc.FLOAT_FORMAT,
            'input': f'x = sin(i * {X_WAVE[0]} + {X_WAVE[1]}), dy = sin(i * {DY_WAVE[0]} + {DY_WAVE[1]}) over the row-major '
                     'NCHW index i, computed in float64 and rounded to float32',
            'what': 'Networks built by the reference define_G/define_D with seeded non-trivial weights and running '
                    'statistics. Training-mode output, gradients of sum(output * dy) (input and parameters), the running '
                    'statistics after that one forward, then the eval-mode output; features in training mode from a copy '
                    'of the network before the forward.',
        },
        'cases': cases,
    }
    path = os.path.join(gc.GOLDEN, 'reference_networks.json.gz')
    with open(path, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as f:
        f.write((gc.dumps(doc) + '\n').encode('utf8'))
    print(path, os.path.getsize(path), file=sys.stderr)


def load_pth(path):
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except TypeError:  # torch < 1.13
        return torch.load(path, map_location='cpu')


def encode(t):
    t = t.detach().contiguous().float()
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def run(spec_path, out_path):
    N = reference_networks()
    with open(spec_path, encoding='utf8') as f:
        spec = json.load(f)
    results = {}
    for i, case in enumerate(spec['cases']):
        x = gc.decode(case['input'])
        net = build(N, case['kind'], case['config'])
        try:
            state = load_pth(case['pth'])
            net.load_state_dict(state, strict=True)
        except Exception as e:  # noqa: BLE001 -- the message is the point
            fail(f"{case['id']}: {case['pth']} does not load strictly into the reference's network: {e}")
        net.eval()
        with torch.no_grad():
            out = {'keys': list(state.keys()), 'dtypes': {k: str(v.dtype) for k, v in state.items()}, 'output': encode(net(x))}
        torch.manual_seed(5000 + i)
        theirs = build(N, case['kind'], case['config'])
        randomize(theirs)
        theirs.train()
        with torch.no_grad():
            theirs(x)
        torch.save(theirs.state_dict(), case['theirs'])
        theirs.eval()
        with torch.no_grad():
            out['theirs_output'] = encode(theirs(x))
        results[case['id']] = out
    with open(out_path, 'w', encoding='utf8') as f:
        json.dump({'torch': torch.__version__, 'cases': results}, f)


def parse_options(text):
    import re
    out = {}
    for line in text.splitlines():
        m = re.match(r'^\s*([A-Za-z_]\w*):\s*(.*?)\s*(?:\[default:.*\])?\s*$', line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def load_run(run_dir):
    N = reference_networks()
    with open(os.path.join(run_dir, 'train_opt.txt'), encoding='utf8') as f:
        o = parse_options(f.read())
    true = lambda k: o.get(k) == 'True'  # noqa: E731
    nets = {
        'G': N.define_G(int(o['input_nc']), int(o['output_nc']), int(o['ngf']), o['netG'], o['normG'], not true('no_dropout'),
                        o['init_type'], float(o['init_gain']), true('no_antialias'), true('no_antialias_up'), [], argparse.Namespace(nz=0)),
        'D': N.define_D(int(o['output_nc']), int(o['ndf']), o['netD'], int(o['n_layers_D']), o['normD'], o['init_type'],
                        float(o['init_gain']), true('no_antialias'), [], None),
    }
    report = {'netG': o['netG'], 'normG': o['normG'], 'normD': o['normD']}
    for name, net in nets.items():
        path = os.path.join(run_dir, f'latest_net_{name}.pth')
        state = load_pth(path)
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        try:
            net.load_state_dict(state, strict=True)
        except Exception as e:  # noqa: BLE001 -- the message is the point
            fail(f'{path} does not load strictly into the reference\'s {type(net).__name__}: {e}')
        report[name] = {'class': type(net).__name__, 'strict_load': True, 'keys': len(state),
                        'batch_norm_layers': sum(1 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))}
    g = nets['G']
    g.eval()
    torch.manual_seed(0)
    side = int(o['crop_size'])
    with torch.no_grad():
        y = g(torch.rand(1, int(o['input_nc']), side, side) * 2 - 1)
    report['G']['eval_output'] = {'shape': list(y.shape), 'min': float(y.min()), 'max': float(y.max()), 'finite': bool(torch.isfinite(y).all())}
    print(json.dumps(report))


if __name__ == '__main__':
    gc.setup()
    if sys.argv[1:] == ['golden']:
        golden()
    elif len(sys.argv) == 4 and sys.argv[1] == 'run':
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == 'load-run':
        load_run(sys.argv[2])
    elif sys.argv[1:] == ['available']:
        reference_networks()
    else:
        fail(__doc__.split('Usage')[1].split('Float32')[0].strip())
