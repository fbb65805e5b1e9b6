#!/usr/bin/python3
"""Loads a run folder's latest_net_{G,D,F}.pth into the reference's own networks, strictly.

Usage: /usr/bin/python3 tools/golden/reference_load_checkpoint.py RUN_DIR [EPOCH]
(the reference checkout at $CUT_REFERENCE, default /work/ref/cut; never copied).

Builds G, D and F with the reference's define_G / define_D / define_F from RUN_DIR/train_opt.txt,
creates netF's lazily made layers as the reference's data_dependent_initialize would (F on G's
encode_only features of a crop_size image; the heads that take one map, map by map), then
load_state_dict(strict=True) each file and runs G and D once. Prints a JSON summary; exits 1 with
the reference's message when a file does not load.
"""
import json
import os
import sys
from types import SimpleNamespace

import torch

REFERENCE = os.environ.get('CUT_REFERENCE', '/work/ref/cut')
sys.path.insert(0, REFERENCE)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import read_options  # noqa: E402
from models import networks  # noqa: E402


def main():
    run = sys.argv[1]
    epoch = sys.argv[2] if len(sys.argv) > 2 else 'latest'
    o = read_options(os.path.join(run, 'train_opt.txt'))
    flag = lambda k: o.get(k) == 'True'
    opt = SimpleNamespace(netF_nc=int(o['netF_nc']), nz=0)
    G = networks.define_G(int(o['input_nc']), int(o['output_nc']), int(o['ngf']), o['netG'], o['normG'], not flag('no_dropout'),
                          o['init_type'], float(o['init_gain']), flag('no_antialias'), flag('no_antialias_up'), [], opt)
    D = networks.define_D(int(o['output_nc']), int(o['ndf']), o['netD'], int(o['n_layers_D']), o['normD'], o['init_type'],
                          float(o['init_gain']), flag('no_antialias'), [], opt)
    F = networks.define_F(int(o['input_nc']), o['netF'], o['normG'], not flag('no_dropout'), o['init_type'],
                          float(o['init_gain']), flag('no_antialias'), [], opt)
    size = int(o['crop_size'])
    x = torch.rand(1, int(o['input_nc']), size, size) * 2 - 1
    layers = [int(i) for i in o['nce_layers'].split(',')]
    with torch.no_grad():
        feats = G(x, layers, encode_only=True)
        if o['netF'] in ('sample', 'mlp_sample'):
            F(feats, int(o['num_patches']), None)
        else:
            for f in feats:
                F(f)
    summary = {'options': {k: o[k] for k in ['netG', 'netD', 'netF', 'ngf', 'ndf', 'crop_size']}}
    for name, net in [('G', G), ('D', D), ('F', F)]:
        path = os.path.join(run, f'{epoch}_net_{name}.pth')
        sd = torch.load(path, map_location='cpu')
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            sys.stderr.write(f'{path}: {e}\n')
            sys.exit(1)
        summary[name] = {'class': type(net).__name__, 'keys': len(sd), 'strict_load': True}
    with torch.no_grad():
        y = G(x)
        d = D(y)
    summary['G_output'] = {'shape': list(y.shape), 'min': y.min().item(), 'max': y.max().item()}
    summary['D_output_shape'] = list(d.shape)
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
