"""Golden values for every `--preprocess` keyword combination and the aligned dataset's transform.

Run: /usr/bin/python3 tools/golden/preprocess.py  (writes fixtures/golden/preprocess.json)

Every case goes through the reference's own `get_transform` (and, for the aligned cases, its
`get_params`), imported from the reference checkout (CUT_REFERENCE, default /work/ref/cut), on PIL
images with seeded Python, numpy and torch generators. The random calls it makes are recorded on
the way (numpy's uniform/randint in `__random_zoom`, `__patch`, `__trim`; torch's randint/rand in
RandomCrop and RandomHorizontalFlip; Python's randint/random in `get_params`) and written out as
the uniforms our `ImageDraws` hold, so the TypeScript side can replay the same choices:
an integer k of a range of n values as (k + 0.5) / n, zoom's uniforms as numpy drew them.

Cases with `patch` pass `params={'patch_index': k}` (and zoom's `scale_factor` from recorded
uniforms), as SinCUT's singleimage dataset does: with params=None the reference's `__patch`
fails. `fixsize` gets `params={'size': [h, w]}` (no reference dataset supplies one).
The aligned cases follow junyanz/pytorch-CycleGAN-and-pix2pix data/aligned_dataset.py:
AB split at int(w / 2), one get_params(opt, A.size) for both halves.
Outputs: uint8 HWC pixels (sha256, sizes, a few full rows) and the float32 HWC tensor's sha256.
"""
import hashlib
import json
import os
import random
import sys
from argparse import Namespace

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

REF = os.environ.get('CUT_REFERENCE', '/work/ref/cut')
sys.path.insert(0, REF)
import data.base_dataset as bd  # noqa: E402

OUT = os.path.join(gc.GOLDEN, 'preprocess.json')
DEMO = 'datasets/horse2zebra_demo/trainA/n02381460_1001.jpg'

src_rng = np.random.default_rng(20251207)


def synthetic(w, h):
    """Smooth gradients plus noise plus hard edges (RGB uint8 HWC)."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 / max(1, w - 1)), (y * 255 / max(1, h - 1)), ((x + y) % 7) * 36], -1)
    noise = src_rng.integers(-40, 41, size=(h, w, 3))
    edges = np.where((x // 3 + y // 4) % 2 == 0, 60, -60)[..., None]
    return np.clip(base + noise + edges, 0, 255).astype(np.uint8)


def hwc(img):
    a = np.asarray(img, dtype=np.uint8)
    return a if a.ndim == 3 else a[..., None]


def sha(b):
    return hashlib.sha256(b).hexdigest()


# --- recording the random calls ------------------------------------------------------------
calls = []
_np_uniform, _np_randint = np.random.uniform, np.random.randint
_torch_randint, _torch_rand = torch.randint, torch.rand
_py_randint, _py_random = random.randint, random.random


def rec_uniform(low, high, size=None):
    u = np.random.random_sample(size)  # legacy uniform is low + (high - low) * random_sample()
    calls.append(('uniform', [float(v) for v in np.ravel(u)]))
    return low + (high - low) * u


def rec_np_randint(n):
    k = _np_randint(n)
    calls.append(('np_randint', int(k), int(n)))
    return k


def rec_torch_randint(low, high, size):
    k = _torch_randint(low, high, size)
    calls.append(('torch_randint', int(k.item()), int(high - low)))
    return k


def rec_torch_rand(*a, **kw):
    r = _torch_rand(*a, **kw)
    calls.append(('torch_rand', float(r.item())))
    return r


def rec_py_randint(a, b):
    k = _py_randint(a, b)
    calls.append(('py_randint', int(k), int(b - a + 1)))
    return k


def rec_py_random():
    r = _py_random()
    calls.append(('py_random', r))
    return r


def check_uniform_equivalence():
    """numpy's legacy uniform(low, high, 2) is low + (high - low) * random_sample(2), bit for bit."""
    np.random.seed(5)
    a = _np_uniform(0.8, 1.0, size=[2])
    np.random.seed(5)
    b = 0.8 + (1.0 - 0.8) * np.random.random_sample([2])
    assert np.array_equal(a, b), (a, b)


def recording(fn):
    np.random.uniform, np.random.randint = rec_uniform, rec_np_randint
    torch.randint, torch.rand = rec_torch_randint, rec_torch_rand
    random.randint, random.random = rec_py_randint, rec_py_random
    try:
        return fn()
    finally:
        np.random.uniform, np.random.randint = _np_uniform, _np_randint
        torch.randint, torch.rand = _torch_randint, _torch_rand
        random.randint, random.random = _py_randint, _py_random


def mid(k, n):
    """The uniform that maps to integer k of n values (our floor(u * n))."""
    return (k + 0.5) / n


def options(p):
    return Namespace(preprocess=p['preprocess'], load_size=p['load'], crop_size=p['crop'], no_flip=p.get('no_flip', False),
                     dataroot=p.get('dataroot', './datasets/x'))


def encode(out_img, t):
    pix = hwc(out_img)
    f = t.permute(1, 2, 0).contiguous().numpy().astype('<f4')
    rows = sorted({0, pix.shape[0] // 2, pix.shape[0] - 1})
    return {
        'width': pix.shape[1], 'height': pix.shape[0], 'channels': pix.shape[2],
        'pixels_sha256': sha(pix.tobytes()),
        'float_sha256': sha(f.tobytes()),
        'first_floats': gc.f32_decimals(f.ravel()[:8]),
        'rows': {str(r): pix[r].ravel().tolist() for r in rows},
    }


def run_transform(img, p, params):
    """get_transform(opt, params) on img, recording the draws; returns (PIL result, tensor, draws)."""
    opt = options(p)
    grey = p.get('channels', 3) == 1
    tr = bd.get_transform(opt, params=params, grayscale=grey)
    no_convert = bd.get_transform(opt, params=params, grayscale=grey, convert=False)
    seed = p['seed']

    def once(t):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        calls.clear()
        return t(img), list(calls)

    pil_out, pil_calls = recording(lambda: once(no_convert))
    tensor, t_calls = recording(lambda: once(tr))
    assert pil_calls == t_calls, 'the converting and non-converting chains drew differently'
    return pil_out, tensor, t_calls


def draws_from(p, call_list, patch_u=None, zoom_u=None):
    """Our ImageDraws from the recorded calls of one transform (steps in get_transform's order)."""
    pre = p['preprocess']
    cs = list(call_list)
    d = {'cropY': 0.5, 'cropX': 0.5, 'flip': 0.75}
    if 'zoom' in pre:
        if zoom_u is not None:
            d['zoom'] = zoom_u
        else:
            kind, us = cs.pop(0)
            assert kind == 'uniform'
            d['zoom'] = us
    if 'crop' in pre and cs and cs[0][0] == 'torch_randint':
        _, i, ni = cs.pop(0)
        _, j, nj = cs.pop(0)
        d['cropY'], d['cropX'] = mid(i, ni), mid(j, nj)
    if 'patch' in pre:
        _, sx, nx = cs.pop(0)
        _, sy, ny = cs.pop(0)
        d['patch'] = [patch_u, mid(sx, nx), mid(sy, ny)]
    if 'trim' in pre:
        # __trim draws x only when the image is wider than crop_size, then y only when taller.
        t = [0.5, 0.5]
        for axis in range(2):
            if cs and cs[0][0] == 'np_randint' and p['_trim_draws'][axis]:
                _, k, n = cs.pop(0)
                t[axis] = mid(k, n)
        d['trim'] = t
    if not p.get('no_flip') and cs and cs[0][0] == 'torch_rand':
        _, r = cs.pop(0)
        d['flip'] = r
    assert not cs, f'unconsumed draws {cs} for {p}'
    return d


def trim_axes(img, p):
    """Which axes __trim will draw for: run the chain up to trim on a copy to know the size there."""
    q = dict(p, preprocess=p['preprocess'].replace('trim', 'none'))
    opt = options(q)
    opt.no_flip = True
    params = p.get('_params')
    t = bd.get_transform(opt, params=params, grayscale=p.get('channels', 3) == 1, convert=False)
    # __make_power_2 may change the size; rebuild without it by hand: only sizes matter here.
    saved = bd.__dict__['__make_power_2']
    bd.__dict__['__make_power_2'] = lambda im, base, method=None: im
    try:
        random.seed(p['seed'])
        np.random.seed(p['seed'])
        torch.manual_seed(p['seed'])
        out = recording(lambda: t(img))
    finally:
        bd.__dict__['__make_power_2'] = saved
    w, h = out.size
    return [w > p['crop'], h > p['crop']]


def case(img, p, source):
    params = None
    patch_u = None
    zoom_u = None
    if 'fixsize' in p['preprocess']:
        params = {'size': p['size']}
    if 'patch' in p['preprocess']:
        params = dict(params or {}, patch_index=p['patch_index'])
        if 'zoom' in p['preprocess']:
            np.random.seed(p['seed'] + 1000)
            zoom_u = [float(v) for v in np.random.random_sample(2)]
            params['scale_factor'] = 0.8 + (1.0 - 0.8) * np.array(zoom_u)
    p = dict(p, _params=params)
    if 'trim' in p['preprocess']:
        p['_trim_draws'] = trim_axes(img, p)
    pil_out, tensor, cl = run_transform(img, p, params)
    if 'patch' in p['preprocess']:
        # Our patch uniform picks index k of the grid's nw * nh cells; the grid is that of the image
        # __patch got, which we learn by wrapping it.
        patch_u = mid(p['patch_index'] % p['_cells'], p['_cells'])
    d = draws_from(p, cl, patch_u=patch_u, zoom_u=zoom_u)
    out = {k: v for k, v in p.items() if not k.startswith('_') and k not in ('seed',)}
    out.update({'source': source, 'draws': d, **encode(pil_out, tensor)})
    return out


# __patch wrapper: learn the grid size the reference's __patch sees.
_patch = bd.__dict__['__patch']


def patch_spy(img, index, size):
    ow, oh = img.size
    patch_spy.cells = (ow // size) * (oh // size)
    return _patch(img, index, size)


bd.__dict__['__patch'] = patch_spy


def unaligned_case(img, p, source):
    if 'patch' in p['preprocess']:
        # A dry run to learn the grid (sizes do not depend on the patch index).
        q = dict(p)
        params = {'patch_index': 0}
        if 'fixsize' in p['preprocess']:
            params['size'] = p['size']
        if 'zoom' in p['preprocess']:
            np.random.seed(p['seed'] + 1000)
            params['scale_factor'] = 0.8 + (1.0 - 0.8) * np.random.random_sample(2)
        run_transform(img, q, params)
        p = dict(p, _cells=patch_spy.cells)
    return case(img, p, source)


def aligned_case(ab, p, source):
    """pix2pix's AlignedDataset.__getitem__ with the reference's get_params / get_transform."""
    w, h = ab.size
    w2 = int(w / 2)
    A = ab.crop((0, 0, w2, h))
    B = ab.crop((w2, 0, w, h))
    opt = options(p)
    seed = p['seed']
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    calls.clear()

    def item():
        params = bd.get_params(opt, A.size)
        pc = list(calls)
        calls.clear()
        ta = bd.get_transform(opt, params, grayscale=p.get('input_nc', 3) == 1, convert=False)
        tb = bd.get_transform(opt, params, grayscale=p.get('output_nc', 3) == 1, convert=False)
        a = ta(A)
        ac = list(calls)
        calls.clear()
        b = tb(B)
        bc = list(calls)
        return params, pc, a, ac, b, bc

    params, pc, a, ac, b, bc = recording(item)
    (_, x, nx), (_, y, ny), (_, r) = pc
    assert params['crop_pos'] == (x, y) and params['flip'] == (r > 0.5)

    def trims(c, img_size_fn):
        t = [0.5, 0.5]
        c = list(c)
        for axis, draws in enumerate(img_size_fn):
            if draws:
                _, k, n = c.pop(0)
                t[axis] = mid(k, n)
        assert not c
        return t

    out = {k: v for k, v in p.items() if k != 'seed'}
    out['source'] = source
    out['params'] = {'crop_pos': [x, y], 'ranges': [nx, ny], 'flip': bool(params['flip'])}
    out['shared'] = {'cropX': mid(x, nx), 'cropY': mid(y, ny), 'flip': 0.75 if params['flip'] else 0.25}

    def conv(img, nc):
        import torchvision.transforms as T
        return T.Normalize((0.5,) * nc, (0.5,) * nc)(T.ToTensor()(img))

    res = {}
    for name, img, c, nc in (('A', a, ac, p.get('input_nc', 3)), ('B', b, bc, p.get('output_nc', 3))):
        entry = encode(img, conv(img, nc))
        if 'trim' in p['preprocess']:
            # The trim windows: the reference draws them per half (A and B get different windows).
            half = A if name == 'A' else B
            q = dict(p, preprocess=p['preprocess'].replace('trim', 'none'), no_flip=True)
            before = bd.get_transform(options(q), params, grayscale=nc == 1, convert=False)
            saved = bd.__dict__['__make_power_2']
            bd.__dict__['__make_power_2'] = lambda im, base, method=None: im
            try:
                sw, sh = before(half).size
            finally:
                bd.__dict__['__make_power_2'] = saved
            entry['trim'] = trims(c, [sw > p['crop'], sh > p['crop']])
        else:
            assert not c, c
        res[name] = entry
    out.update(res)
    return out


def main():
    check_uniform_equivalence()
    sources = {}

    def source(name, w, h):
        a = synthetic(w, h)
        sources[name] = {'width': w, 'height': h, 'input': a.ravel().tolist()}
        return Image.fromarray(a, 'RGB')

    s30 = source('s30x22', 30, 22)
    s26 = source('s26x41', 26, 41)
    s13 = source('s13x9', 13, 9)
    s50 = source('s50x34', 50, 34)
    demo = Image.open(os.path.join(gc.ROOT, DEMO)).convert('RGB')

    small = {'load': 40, 'crop': 16}
    transforms = []
    seed = 100
    for img, src, p in [
        (s30, 's30x22', {'preprocess': 'resize'}),
        (s30, 's30x22', {'preprocess': 'resize_and_crop'}),
        (s30, 's30x22', {'preprocess': 'scale_shortside'}),
        (s26, 's26x41', {'preprocess': 'scale_shortside_and_crop'}),
        (s50, 's50x34', {'preprocess': 'scale_shortside_and_crop', 'load': 30}),  # short side above load: unchanged
        (s13, 's13x9', {'preprocess': 'scale_shortside', 'load': 20, 'crop': 8}),
        (s30, 's30x22', {'preprocess': 'zoom'}),
        (s50, 's50x34', {'preprocess': 'zoom_and_crop'}),
        (s26, 's26x41', {'preprocess': 'zoom_and_crop', 'channels': 1}),
        (s50, 's50x34', {'preprocess': 'zoom_and_patch', 'crop': 12, 'patch_index': 4}),
        (s50, 's50x34', {'preprocess': 'patch', 'crop': 10, 'patch_index': 13}),
        (s30, 's30x22', {'preprocess': 'resize_and_patch', 'crop': 12, 'patch_index': 2}),
        (s26, 's26x41', {'preprocess': 'trim'}),
        (s30, 's30x22', {'preprocess': 'scale_width_and_trim'}),
        (s50, 's50x34', {'preprocess': 'trim_and_zoom_and_scale_shortside', 'load': 40, 'crop': 30}),  # order of words is free
        (s26, 's26x41', {'preprocess': 'crop_and_trim'}),
        (s30, 's30x22', {'preprocess': 'resize_and_scale_width_and_crop'}),  # resize wins over scale_width (if/elif)
        (s30, 's30x22', {'preprocess': 'fixsize', 'size': [20, 34]}),
        (s26, 's26x41', {'preprocess': 'fixsize_and_crop', 'size': [24, 18]}),
        (s26, 's26x41', {'preprocess': 'fixsize_and_scale_width', 'size': [24, 18]}),
        (s30, 's30x22', {'preprocess': 'none', 'channels': 1}),
        (s30, 's30x22', {'preprocess': 'resize_and_crop', 'dataroot': './datasets/gta2cityscapes'}),  # height load // 2
        (s26, 's26x41', {'preprocess': 'scale_shortside_and_crop', 'load': 16, 'no_flip': True}),  # test.py: load = crop, no flip
        (s50, 's50x34', {'preprocess': 'zoom_and_trim', 'no_flip': True}),
        (demo, 'demo', {'preprocess': 'scale_shortside_and_crop', 'load': 300, 'crop': 256}),
        (demo, 'demo', {'preprocess': 'zoom_and_patch', 'load': 286, 'crop': 64, 'patch_index': 7}),
    ]:
        seed += 1
        p = {**small, **p, 'seed': seed}
        transforms.append(unaligned_case(img, p, src))

    aligned = []
    ab60 = source('s60x22', 60, 22)
    ab53 = source('s53x30', 53, 30)  # odd width: A is int(53 / 2) = 26 wide, B 27
    for img, src, p in [
        (ab60, 's60x22', {'preprocess': 'resize_and_crop'}),
        (ab60, 's60x22', {'preprocess': 'crop', 'crop': 24}),  # taller than the half: __crop fills with black
        (ab60, 's60x22', {'preprocess': 'scale_width_and_crop', 'load': 36}),
        (ab53, 's53x30', {'preprocess': 'scale_shortside_and_crop', 'load': 34}),
        (ab53, 's53x30', {'preprocess': 'none'}),
        (ab53, 's53x30', {'preprocess': 'trim'}),
        (ab60, 's60x22', {'preprocess': 'resize', 'output_nc': 1}),
        (ab53, 's53x30', {'preprocess': 'resize_and_crop', 'no_flip': True}),
    ]:
        seed += 1
        aligned.append(aligned_case(img, {**small, **p, 'seed': seed}, src))

    meta = {
        'torch': torch.__version__,
        'pillow': __import__('PIL').__version__,
        'numpy': np.__version__,
        'reference': REF,
        'note': 'uint8 arrays are HWC row-major; draws are the uniforms our ImageDraws hold',
    }
    doc = {'meta': meta, 'sources': sources, 'demo': DEMO, 'transforms': transforms, 'aligned': aligned}
    gc.write_text(OUT, json.dumps(doc, separators=(',', ':')))
    print('wrote', OUT, len(transforms), 'transforms', len(aligned), 'aligned')


if __name__ == '__main__':
    main()
