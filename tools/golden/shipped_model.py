#!/usr/bin/python3
"""The shipped horse2zebra model (packages/model-horse2zebra/model) run by the reference's own code.

Usage: /usr/bin/python3 tools/golden/shipped_model.py
(the reference checkout at $CUT_REFERENCE, default /work/ref/cut; never copied).

Builds G with the reference's define_G from the model's train_opt.txt, loads latest_net_G.pth
(half precision) with load_state_dict(strict=True) as its load_networks does (torch converts to
float32), and translates the first three photos of datasets/horse2zebra_demo/testA whole, as its
test.py does with --preprocess none: PIL RGB, ToTensor, Normalize(0.5, 0.5), G, util.tensor2im.
Writes fixtures/golden/horse2zebra_model/<photo>.png and source.json (the weights' SHA-256: the
test says when the goldens are older than the weights). Rerun after the model changes.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

REFERENCE = os.environ.get('CUT_REFERENCE', '/work/ref/cut')
sys.path.insert(0, REFERENCE)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import read_options  # noqa: E402
from models import networks  # noqa: E402
from util import util  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '../..'))
MODEL = os.path.join(ROOT, 'packages/model-horse2zebra/model')
PHOTOS = os.path.join(ROOT, 'datasets/horse2zebra_demo/testA')
OUT = os.path.join(ROOT, 'fixtures/golden/horse2zebra_model')


def main():
    torch.set_num_threads(1)
    o = read_options(os.path.join(MODEL, 'train_opt.txt'))
    flag = lambda k: o.get(k) == 'True'
    G = networks.define_G(int(o['input_nc']), int(o['output_nc']), int(o['ngf']), o['netG'], o['normG'], not flag('no_dropout'),
                          o['init_type'], float(o['init_gain']), flag('no_antialias'), flag('no_antialias_up'), [], None)
    weights = os.path.join(MODEL, 'latest_net_G.pth')
    state = torch.load(weights, map_location='cpu')
    dtypes = sorted({str(v.dtype) for v in state.values()})
    G.load_state_dict(state, strict=True)
    os.makedirs(OUT, exist_ok=True)
    to_tensor = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    photos = sorted(f for f in os.listdir(PHOTOS) if f.endswith('.jpg'))[:3]
    for name in photos:
        x = to_tensor(Image.open(os.path.join(PHOTOS, name)).convert('RGB')).unsqueeze(0)
        with torch.no_grad():
            y = G(x)
        Image.fromarray(util.tensor2im(y)).save(os.path.join(OUT, name.replace('.jpg', '.png')))
    sha = hashlib.sha256(open(weights, 'rb').read()).hexdigest()
    source = {'weights_sha256': sha, 'weights_dtypes': dtypes, 'photos': photos, 'torch': torch.__version__, 'netG': o['netG'], 'ngf': int(o['ngf'])}
    with open(os.path.join(OUT, 'source.json'), 'w') as f:
        json.dump(source, f, indent=2)
        f.write('\n')
    print(json.dumps(source))


if __name__ == '__main__':
    main()
