#!/usr/bin/python3
"""CUT's ResnetGenerator and NLayerDiscriminator written independently in PyTorch, with the
reference's module indices and state_dict names, to check @cut/networks' checkpoints in real PyTorch.

Written from the layer tables of the CUT spec (generator and discriminator sections); the module
list of each network is one nn.Sequential named `model`, so a parameter of entry i is
`model.<i>.weight` and a ResnetBlock's convs are `model.<i>.conv_block.<j>.weight`. The blur filters
are registered buffers (`model.<i>.filt`), as in the reference.

Usage
  torch_networks.py run SPEC.json OUT.json
      SPEC: {"cases": [{"id", "kind": "generator"|"discriminator", "config": {...}, "pth": path,
                        "input": {"shape": [N,C,H,W], "data": [...]}, "nce_layers": [..] (generator, optional)}]}
      Each .pth is read with torch.load (weights_only=True where this torch has it) and loaded with
      load_state_dict(strict=True); OUT gets, per case id, the state_dict keys, the output (NCHW) and,
      for a generator with nce_layers, the encode_only features. Exit status 1 with a message when a
      file does not load.
  torch_networks.py check FIXTURES_DIR
      Checks these definitions against the reference: the tiny generator and discriminator goldens
      (golden/resnet_generator_tiny_*.json, golden/nlayer_discriminator_*.json: module classes, output,
      encoder features) and the reference checkpoint checkpoints/h2z_tiny (strict load of
      latest_net_{G,D}.pth built from its train_opt.txt; its expected/tensors.json.gz output).
      Prints a JSON report; exit status 1 when anything deviates by more than 1e-5.

Float32, CPU, one thread, no randomness.
"""
import gzip
import json
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

gc.setup()
TOLERANCE = 1e-5


# --------------------------------------------------------------------------- modules

def binomial(k):
    rows = {3: [1.0, 2.0, 1.0], 4: [1.0, 3.0, 3.0, 1.0]}
    a = torch.tensor(rows[k])
    f = a[:, None] * a[None, :]
    return f / f.sum()


class Downsample(nn.Module):
    """Blur pooling: reflect pad 1, depthwise 3x3 binomial filter, stride 2."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.pad = nn.ReflectionPad2d(1)
        self.register_buffer('filt', binomial(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=self.channels)


class Upsample(nn.Module):
    """Blur upsampling x2: replicate pad 1, depthwise transposed 4x4 binomial filter (x4), stride 2,
    padding 2, then drop the first and the last row and column."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.pad = nn.ReplicationPad2d(1)
        self.register_buffer('filt', (binomial(4) * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        y = F.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=self.channels)
        return y[:, :, 1:-1, 1:-1]


def instance_norm(c):
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """x + [reflect pad, conv3, IN, ReLU, (dropout), reflect pad, conv3, IN]."""

    def __init__(self, dim, use_dropout):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), instance_norm(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), instance_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class Generator(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=9, no_antialias=False, no_antialias_up=False,
                 use_dropout=False):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), instance_norm(ngf), nn.ReLU(True)]
        for d in range(2):
            c = ngf * 2 ** d
            if no_antialias:
                m += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), instance_norm(2 * c), nn.ReLU(True)]
            else:
                m += [nn.Conv2d(c, 2 * c, 3, padding=1), instance_norm(2 * c), nn.ReLU(True), Downsample(2 * c)]
        m += [ResnetBlock(ngf * 4, use_dropout) for _ in range(n_blocks)]
        for u in range(2):
            c = ngf * 2 ** (2 - u)
            if no_antialias_up:
                m += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1)]
            else:
                m += [Upsample(c), nn.Conv2d(c, c // 2, 3, padding=1)]
            m += [instance_norm(c // 2), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x, layers=(), encode_only=False):
        """Like the reference: the listed entries' outputs are kept as the very tensors the next
        module receives, so an in-place ReLU right after one of them changes the kept value."""
        if not layers:
            return self.model(x)
        feats = []
        h = x
        for i, module in enumerate(self.model):
            h = module(h)
            if i in layers:
                feats.append(h)
            if encode_only and i == layers[-1]:
                return feats
        return h, feats


class Discriminator(nn.Module):
    def __init__(self, input_nc=3, ndf=64, n_layers=3, no_antialias=False):
        super().__init__()
        width = lambda n: ndf * min(2 ** n, 8)
        if no_antialias:
            m = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        else:
            m = [nn.Conv2d(input_nc, ndf, 4, padding=1), nn.LeakyReLU(0.2, True), Downsample(ndf)]
        for n in range(1, n_layers):
            if no_antialias:
                m += [nn.Conv2d(width(n - 1), width(n), 4, stride=2, padding=1), instance_norm(width(n)),
                      nn.LeakyReLU(0.2, True)]
            else:
                m += [nn.Conv2d(width(n - 1), width(n), 4, padding=1), instance_norm(width(n)),
                      nn.LeakyReLU(0.2, True), Downsample(width(n))]
        m += [nn.Conv2d(width(n_layers - 1), width(n_layers), 4, padding=1), instance_norm(width(n_layers)),
              nn.LeakyReLU(0.2, True)]
        m += [nn.Conv2d(width(n_layers), 1, 4, padding=1)]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


def build(kind, config):
    """A network from a config in the reference's option names (the goldens' `config` objects)."""
    if kind == 'generator':
        return Generator(config.get('input_nc', 3), config.get('output_nc', 3), config.get('ngf', 64),
                         config.get('n_blocks', 9), config.get('no_antialias', False),
                         config.get('no_antialias_up', False), config.get('use_dropout', False))
    if kind == 'discriminator':
        return Discriminator(config.get('input_nc', 3), config.get('ndf', 64), config.get('n_layers', 3),
                             config.get('no_antialias', False))
    raise ValueError(f'unknown network kind {kind!r}')


# --------------------------------------------------------------------------- helpers

def fail(msg):
    sys.stderr.write(f'torch_networks.py: {msg}\n')
    sys.exit(1)


def encode(t):
    """NCHW tensor with its float32 values written as float64 decimals (not the shortest float32 ones)."""
    t = t.detach().contiguous().float()
    return {'shape': list(t.shape), 'dtype': 'float32', 'layout': 'NCHW',
            'data': [float(v) for v in t.reshape(-1).tolist()]}


def load_pth(path):
    """torch.load, with the restricted weights_only unpickler where this torch has it."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except TypeError:  # torch < 1.13
        return torch.load(path, map_location='cpu')


def load_json(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf8') as f:
        return json.load(f)


def max_abs(a, b):
    if tuple(a.shape) != tuple(b.shape):
        return float('inf')
    return float((a - b).abs().max()) if a.numel() else 0.0


# --------------------------------------------------------------------------- run

def run(spec_path, out_path):
    spec = load_json(spec_path)
    results = {}
    for case in spec['cases']:
        net = build(case['kind'], case['config'])
        net.eval()
        try:
            state = load_pth(case['pth'])
            net.load_state_dict(state, strict=True)
        except Exception as e:  # noqa: BLE001 -- the message is the point
            fail(f"{case['id']}: {case['pth']} does not load strictly: {e}")
        x = gc.decode(case['input'])
        result = {'keys': list(state.keys())}
        with torch.no_grad():
            result['output'] = encode(net(x))
            layers = case.get('nce_layers')
            if case['kind'] == 'generator' and layers:
                feats = net(x, layers, encode_only=True)
                result['features'] = [dict(encode(f), layer=l) for l, f in zip(layers, feats)]
        results[case['id']] = result
    with open(out_path, 'w', encoding='utf8') as f:
        json.dump({'torch': torch.__version__, 'cases': results}, f)


# --------------------------------------------------------------------------- check

def named_state(weights):
    return {w['name']: gc.decode(w) for w in weights}


def check_golden(path, kind, report):
    g = load_json(path)
    net = build(kind, g['config'])
    net.eval()
    classes = [type(m).__name__ for m in net.model]
    want = [m['class'] for m in g['module_list']]
    if classes != want:
        fail(f'{path}: module classes {classes} differ from the golden {want}')
    net.load_state_dict(named_state(g['weights']), strict=True)
    entry = {}
    with torch.no_grad():
        entry['output'] = max_abs(net(gc.decode(g['input'])), gc.decode(g['output']))
        if kind == 'generator':
            feats = net(gc.decode(g['input']), g['nce_layers'], encode_only=True)
            entry['features'] = max(max_abs(f, gc.decode(w)) for f, w in zip(feats, g['encode_only_features']))
            x = gc.decode(g['extra_nonsquare']['input'])
            entry['nonsquare_output'] = max_abs(net(x), gc.decode(g['extra_nonsquare']['output']))
    report[os.path.basename(path)] = entry


def parse_options(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r'^\s*([A-Za-z_]\w*):\s*(.*?)\s*(?:\[default:.*\])?\s*$', line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_h2z(ckpt_dir, report):
    with open(os.path.join(ckpt_dir, 'train_opt.txt'), encoding='utf8') as f:
        opt = parse_options(f.read())
    blocks = int(re.match(r'resnet_(\d+)blocks$', opt['netG']).group(1))
    g = Generator(int(opt['input_nc']), int(opt['output_nc']), int(opt['ngf']), blocks, opt['no_antialias'] == 'True',
                  opt['no_antialias_up'] == 'True', opt['no_dropout'] != 'True')
    d = Discriminator(int(opt['output_nc']), int(opt['ndf']), 3 if opt['netD'] == 'basic' else int(opt['n_layers_D']),
                      opt['no_antialias'] == 'True')
    for net, name in ((g, 'latest_net_G.pth'), (d, 'latest_net_D.pth')):
        state = load_pth(os.path.join(ckpt_dir, name))
        # CPU training wraps the nets in DataParallel, whose state_dict names start with 'module.'.
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        # The blur filters are constants: ours must equal the ones the reference stored.
        for key, value in net.state_dict().items():
            if key.endswith('.filt') and not torch.equal(value, state[key]):
                fail(f'{name}: our {key} differs from the checkpoint')
        net.load_state_dict(state, strict=True)
    g.eval()
    entry = {'strict_load': True}
    expected = os.path.join(ckpt_dir, 'expected', 'tensors.json.gz')
    if os.path.exists(expected):
        first = load_json(expected)['first']
        with torch.no_grad():
            entry['output'] = max_abs(g(gc.decode(first['input'])), gc.decode(first['output']))
    report['h2z_tiny'] = entry


def check(fixtures):
    report = {}
    for variant in ('antialias', 'no_antialias'):
        check_golden(os.path.join(fixtures, 'golden', f'resnet_generator_tiny_{variant}.json'), 'generator', report)
        check_golden(os.path.join(fixtures, 'golden', f'nlayer_discriminator_{variant}.json'), 'discriminator', report)
    check_h2z(os.path.join(fixtures, 'checkpoints', 'h2z_tiny'), report)
    worst = max(v for entry in report.values() for v in entry.values() if not isinstance(v, bool))
    print(json.dumps({'torch': torch.__version__, 'max_abs_diff': worst, 'report': report}))
    if not worst <= TOLERANCE:
        fail(f'deviation {worst} above {TOLERANCE}')


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'run':
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == 'check':
        check(sys.argv[2])
    else:
        fail(__doc__.split('Usage')[1].split('Float32')[0].strip())
