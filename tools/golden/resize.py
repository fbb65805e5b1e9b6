#!/usr/bin/python3
"""Golden outputs of the reference's image transform (PIL + torchvision), for @cut/trainer's data pipeline.

Run with Debian's Python (Pillow 9.4, torchvision 0.14): `/usr/bin/python3 tools/golden/resize.py`
from the repo root. Writes fixtures/golden/resize.json. Deterministic (seeded numpy inputs).

What is recorded:
* `normalize`: ToTensor() + Normalize(0.5, 0.5) of every 8-bit value (float32, as torch computes it).
* `synthetic`: small seeded images (RGB and L) resized with PIL's BICUBIC to sizes that enlarge,
  shrink, mix both and change one axis only: inputs and outputs in full (uint8, HWC).
* `transforms`: the reference's transform chain written out with torchvision/PIL
  (Grayscale(1) -> Resize([load, load]) or scale_width -> crop at a given position -> resize to
  multiples of 4 -> flip -> ToTensor -> Normalize), on a demo photo and on synthetic images, with
  the crop position and flip fixed. Outputs as sha256 of the uint8 HWC pixels and of the float32
  HWC values (little-endian), plus the first values, sizes and a few full rows.
  If the environment variable CUT_REFERENCE points at a checkout of
  taesungp/contrastive-unpaired-translation, every case is also run through the reference's own
  `get_transform(opt, params)` and must agree exactly.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
import torchvision.transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

OUT = os.path.join(gc.GOLDEN, 'resize.json')
DEMO = 'datasets/horse2zebra_demo/trainA/n02381460_1001.jpg'
BICUBIC = Image.BICUBIC

rng = np.random.default_rng(20240611)


def synthetic(w, h, mode):
    """Smooth gradients plus noise plus a few hard edges: exercises ringing and clipping."""
    c = 3 if mode == 'RGB' else 1
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 / max(1, w - 1)), (y * 255 / max(1, h - 1)), ((x + y) % 7) * 36], -1)[..., :c]
    noise = rng.integers(-40, 41, size=(h, w, c))
    edges = np.where((x // 3 + y // 4) % 2 == 0, 60, -60)[..., None]
    a = np.clip(base + noise + edges, 0, 255).astype(np.uint8)
    return a if c == 3 else a[..., 0]


def hwc(img):
    a = np.asarray(img, dtype=np.uint8)
    return a if a.ndim == 3 else a[..., None]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def round_half_even_multiple(s, base=4):
    return int(round(s / base) * base)


def reference_chain(img, p):
    """The reference's get_transform for one image, written out; p holds options and fixed params."""
    if p['channels'] == 1:
        img = T.Grayscale(1)(img)
    w, h = img.size
    load = p['crop'] if p.get('finetune') else p['load']
    if p['preprocess'] == 'resize_and_crop':
        img = T.Resize([load, load], BICUBIC)(img)
    elif p['preprocess'].startswith('scale_width'):
        if not (w == load and h >= p['crop']):
            img = img.resize((load, int(max(load * h / w, p['crop']))), BICUBIC)
    if p['preprocess'].endswith('crop'):
        x, y = p['crop_pos']
        img = img.crop((x, y, x + p['crop'], y + p['crop']))
    w, h = img.size
    nw, nh = round_half_even_multiple(w), round_half_even_multiple(h)
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), BICUBIC)
    if p['flip']:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    t = T.Normalize((0.5,) * p['channels'], (0.5,) * p['channels'])(T.ToTensor()(img))
    return img, t


def reference_get_transform(img, p):
    """The same through the reference's own get_transform (only with CUT_REFERENCE set)."""
    sys.path.insert(0, os.environ['CUT_REFERENCE'])
    from argparse import Namespace
    from data.base_dataset import get_transform
    load = p['crop'] if p.get('finetune') else p['load']
    opt = Namespace(preprocess=p['preprocess'], load_size=load, crop_size=p['crop'], no_flip=False, dataroot='x')
    tr = get_transform(opt, params={'crop_pos': tuple(p.get('crop_pos', (0, 0))), 'flip': p['flip']}, grayscale=p['channels'] == 1)
    return tr(img)


def record(img, p):
    out, t = reference_chain(img, p)
    if 'CUT_REFERENCE' in os.environ:
        ref = reference_get_transform(img, p)
        assert torch.equal(ref, t), f'reference get_transform disagrees for {p}'
    pix = hwc(out)
    f = t.permute(1, 2, 0).contiguous().numpy().astype('<f4')
    rows = sorted({0, pix.shape[0] // 2, pix.shape[0] - 1})
    return {
        **p,
        'width': pix.shape[1],
        'height': pix.shape[0],
        'channels': pix.shape[2],
        'pixels_sha256': sha(pix.tobytes()),
        'float_sha256': sha(f.tobytes()),
        'first_floats': gc.f32_decimals(f.ravel()[:16]),
        'rows': {str(r): pix[r].ravel().tolist() for r in rows},
    }


def main():
    norm = T.Normalize((0.5,), (0.5,))(T.ToTensor()(Image.fromarray(np.arange(256, dtype=np.uint8)[None, :], 'L')))
    normalize = gc.f32_decimals(norm.numpy())

    synth = []
    for mode, (w, h), (ow, oh) in [
        ('RGB', (23, 17), (31, 29)),   # enlarge both axes
        ('RGB', (40, 36), (13, 9)),    # shrink (antialiasing support)
        ('RGB', (20, 30), (35, 11)),   # enlarge x, shrink y
        ('L', (64, 64), (5, 7)),       # strong shrink, grey
        ('L', (20, 16), (20, 9)),      # vertical pass only
        ('RGB', (9, 8), (286, 3)),     # extreme enlarge x
    ]:
        a = synthetic(w, h, mode)
        out = Image.fromarray(a, mode).resize((ow, oh), BICUBIC)
        synth.append({'mode': mode, 'width': w, 'height': h, 'out_width': ow, 'out_height': oh,
                      'input': hwc(a).ravel().tolist(), 'output': hwc(out).ravel().tolist()})

    demo = Image.open(os.path.join(gc.ROOT, DEMO)).convert('RGB')
    demo286 = hwc(demo.resize((286, 286), BICUBIC))
    demo_resize = {
        'file': DEMO,
        'decoded_sha256': sha(hwc(demo).tobytes()),
        'width': 286, 'height': 286,
        'sha256': sha(demo286.tobytes()),
        'rows': {str(r): demo286[r].ravel().tolist() for r in (0, 1, 143, 284, 285)},
    }

    transforms = []
    base = {'load': 286, 'crop': 256}
    for p in [
        {'preprocess': 'resize_and_crop', 'channels': 3, 'crop_pos': [17, 9], 'flip': True},
        {'preprocess': 'resize_and_crop', 'channels': 3, 'crop_pos': [30, 0], 'flip': False},
        {'preprocess': 'resize_and_crop', 'channels': 1, 'crop_pos': [5, 22], 'flip': True},
        {'preprocess': 'resize_and_crop', 'channels': 3, 'crop_pos': [0, 0], 'flip': True, 'finetune': True},
        {'preprocess': 'crop', 'channels': 3, 'crop_pos': [0, 0], 'flip': False, 'crop': 256},
    ]:
        transforms.append({'file': DEMO, **record(demo, {**base, **p})})
    # Non-square synthetic sources for scale_width and the multiple-of-4 resize.
    for mode, (w, h), p in [
        ('RGB', (30, 22), {'preprocess': 'none', 'channels': 3, 'flip': True, 'load': 286, 'crop': 256}),
        ('RGB', (30, 22), {'preprocess': 'scale_width', 'channels': 3, 'flip': False, 'load': 40, 'crop': 16}),
        ('RGB', (30, 22), {'preprocess': 'scale_width_and_crop', 'channels': 3, 'crop_pos': [3, 7], 'flip': True, 'load': 40, 'crop': 16}),
        ('RGB', (26, 41), {'preprocess': 'crop', 'channels': 1, 'crop_pos': [4, 11], 'flip': True, 'load': 286, 'crop': 18}),
    ]:
        a = synthetic(w, h, mode)
        img = Image.fromarray(a, mode)
        transforms.append({'source': {'width': w, 'height': h, 'input': hwc(a).ravel().tolist()}, **record(img, p)})

    meta = {
        'pillow': Image.__version__ if hasattr(Image, '__version__') else __import__('PIL').__version__,
        'torchvision': __import__('torchvision').__version__,
        'torch': torch.__version__,
        'checked_against_reference_get_transform': 'CUT_REFERENCE' in os.environ,
        'note': 'uint8 arrays are HWC row-major; floats are float32 shortest round-trip decimals',
    }
    doc = {'meta': meta, 'normalize': normalize, 'synthetic': synth, 'demo_resize': demo_resize, 'transforms': transforms}
    gc.write_text(OUT, json.dumps(doc, separators=(',', ':')))
    print('wrote', OUT)


if __name__ == '__main__':
    main()
