#!/usr/bin/python3
"""Golden values for FID and KID (issue 19): pytorch-fid's FID-Inception network end to end, its Fréchet
distance, clean-fid's Fréchet distance and KID, and the exact (SVD) value they approximate.

Run with Debian's PyTorch from the repo root: `/usr/bin/python3 tools/golden/fid_inception.py`.
Writes fixtures/golden/fid_inception/: bn.pth (the batch norm entries of the state_dict), images/{a,b,c}.png
(the three end-to-end inputs) and golden.json.gz (gzip without name or time: identical bytes on a rerun).
Deterministic: formula weights, fixed images, seeded numpy draws, 1 thread.

The reference code is imported at run time, never copied here:
* pytorch-fid (mseitzer/pytorch-fid, commit b9c1811) from $PYTORCH_FID_REFERENCE (default
  /work/ref/pytorch-fid/src): `InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True)`,
  `fid_score.get_activations` (its ImagePathDataset: PIL convert('RGB'), ToTensor) and
  `fid_score.calculate_frechet_distance`.
* clean-fid (GaParmar/clean-fid, commit e88c4d6) from $CLEAN_FID_REFERENCE (default /work/ref/clean-fid):
  `cleanfid.fid.frechet_distance` and `kernel_distance`. Its fid.py imports tqdm, which Debian lacks: a stub
  `tqdm` module (tqdm(x) = x) is put in sys.modules before the import; nothing else is stubbed.

Weights (no download). pytorch_fid.inception.load_state_dict_from_url is replaced by a function that takes the
key layout and shapes from the model fid_inception_v3() is building (the `inception` local of its caller, i.e.
the layout of pt_inception-2015-12-05-6726825d.pth: torchvision's Inception3 keys without AuxLogits, fc
[1008, 2048]) and fills it:
* every `.conv.weight` [out, in, kh, kw] by WEIGHTS_FORMULA (below; the TypeScript test recomputes it);
* every batch norm's weight = 1 + 0.2 u, bias = 0.2 u' (u, u' uniform [-1, 1] from numpy default_rng(19), drawn
  module by module in state_dict order, weight then bias); running_mean / running_var are then CALIBRATED: the
  InceptionV3 wrapper in train mode with every BN's momentum = None runs one batch of 8 calibration images
  (datasets/horse2zebra_demo trainA first 4 + trainB first 4, sorted names; = the demo-data package's photos),
  so each running statistic is that batch's (var unbiased) and num_batches_tracked = 1; then eval();
* fc.weight / fc.bias zeros (the pool features do not use them).
bn.pth holds every state_dict entry whose key contains `.bn.` after the calibration (torch.save, zip format).

End to end (golden.json.gz `images`, `features`, `intermediates`): images a (demo testA/n02381460_1000.jpg),
b (testB/n02391049_100.jpg), c (a 240x180 crop, left 8 top 30, of testA/n02381460_1820.jpg) saved as PNG, decoded
back by PIL (convert('RGB'), ToTensor) and run one at a time ([1, 3, H, W], eval, no_grad): the 2048 pool
features; for a, mean / std (ddof 0, float64 over the float32 tensor) / first 8 values (NCHW order) of the resized
normalised input and of the outputs of Conv2d_1a_3x3, the second max pool, Mixed_5d, Mixed_6e and Mixed_7c.

Real folders (`real_folders`; features stored, so the tests need no ../shared): $HORSE2ZEBRA (default
../shared/datasets/horse2zebra beside the repository, else /work/shared/datasets/horse2zebra) testA (all 30
sorted) and testB (first 25 sorted), via pytorch-fid's get_activations (batch 10, num_workers 0). mu / sigma as its
calculate_activation_statistics (np.mean, np.cov rowvar False on its float64 array); testA is set 1. Recorded:
pytorch-fid's and clean-fid's Fréchet distance, the exact value |mu1-mu2|^2 + tr s1 + tr s2 - 2 * (sum of the
singular values of X1c X2c^T / sqrt((n1-1)(n2-1))) in float64, `sqrtm` (whether scipy's sqrtm(s1 s2), which both
call first, came back complex, and its trace minus the exact nuclear norm), and KID as clean-fid's compute_kid calls it
(feats1 = real = testB, feats2 = fake = testA) after np.random.seed(0), 100 subsets, max size 1000 (m = 25):
on the float64 features and on float32 copies (clean-fid's own extractor gives float32), the 100 per-subset
values recomputed here with the same draws, their mean and std (ddof 0 and 1), and every subset's index arrays.
Features are base64 of float32 little-endian bytes, row-major [n, 2048].

Synthetic (`synthetic`): small float64 feature sets (JSON numbers) for the Fréchet distance (full rank,
rank-deficient, identical sets, a constant dimension) with pytorch-fid's value, what it printed or warned
(its eps branch prints), clean-fid's value and the exact value; and one KID case.
"""
import base64
import contextlib
import copy
import gzip
import importlib
import inspect
import io
import json
import os
import sys
import types
import warnings

import numpy as np
import scipy
import scipy.linalg
import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

PYTORCH_FID = os.environ.get('PYTORCH_FID_REFERENCE', '/work/ref/pytorch-fid/src')
CLEAN_FID = os.environ.get('CLEAN_FID_REFERENCE', '/work/ref/clean-fid')
sys.path.insert(0, PYTORCH_FID)
sys.path.insert(0, CLEAN_FID)
if 'tqdm' not in sys.modules:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        _tqdm = types.ModuleType('tqdm')
        _tqdm.tqdm = lambda x, *args, **kwargs: x
        sys.modules['tqdm'] = _tqdm
pf_inception = importlib.import_module('pytorch_fid.inception')
pf_score = importlib.import_module('pytorch_fid.fid_score')
cf_fid = importlib.import_module('cleanfid.fid')

gc.setup()
OUT_DIR = os.path.join(gc.GOLDEN, 'fid_inception')
DEMO = os.path.join(gc.ROOT, 'datasets', 'horse2zebra_demo')


def find_horse2zebra():
    if os.environ.get('HORSE2ZEBRA'):
        return os.environ['HORSE2ZEBRA']
    for p in (os.path.join(gc.ROOT, '..', 'shared', 'datasets', 'horse2zebra'), '/work/shared/datasets/horse2zebra'):
        if os.path.isdir(p):
            return os.path.normpath(p)
    sys.exit('the shared horse2zebra dataset is needed ($HORSE2ZEBRA)')


WEIGHTS_FORMULA = """\
Every conv weight (state_dict keys ending in '.conv.weight', torch layout [out, in, kh, kw]):
  seed(key) = FNV-1a 32-bit over the key's ASCII bytes: h = 0x811C9DC5; for each byte b: h ^= b; h = (h * 0x01000193) mod 2^32
  for flat index i (row-major over [out, in, kh, kw]):
    h = seed ^ ((i * 0x9E3779B9) mod 2^32)
    h ^= h >> 16; h = (h * 0x85EBCA6B) mod 2^32; h ^= h >> 13; h = (h * 0xC2B2AE35) mod 2^32; h ^= h >> 16
    w = float32((h / 4294967296 * 2 - 1) * sqrt(3 / fan_in))   # computed in float64, then rounded; fan_in = in * kh * kw"""

M32 = np.uint64(0xFFFFFFFF)


def fnv1a(key):
    h = 0x811C9DC5
    for b in key.encode('ascii'):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def formula_weight(key, shape):
    n = int(np.prod(shape))
    fan_in = int(np.prod(shape[1:]))
    i = np.arange(n, dtype=np.uint64)
    h = np.uint64(fnv1a(key)) ^ ((i * np.uint64(0x9E3779B9)) & M32)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    w = (h.astype(np.float64) / 4294967296.0 * 2.0 - 1.0) * np.sqrt(3.0 / fan_in)
    return torch.from_numpy(w.astype(np.float32).reshape(shape)), float(np.sqrt(3.0 / fan_in))


STATS = {}
CHECK_KEYS = ('Conv2d_1a_3x3.conv.weight', 'Mixed_6e.branch7x7dbl_3.conv.weight',
              'Mixed_7c.branch3x3dbl_2.conv.weight')


def fake_load_state_dict_from_url(url, progress=True, **kwargs):
    """Stands in for the download: the state_dict of the model being built, filled as the docstring says."""
    model = inspect.currentframe().f_back.f_locals['inception']
    template = model.state_dict()
    rng = np.random.default_rng(19)
    out = {}
    max_ratio = 0.0
    for key, t in template.items():
        if key.endswith('.conv.weight'):
            w, bound = formula_weight(key, tuple(t.shape))
            max_ratio = max(max_ratio, float(w.abs().max()) / bound)
            out[key] = w
            if key in CHECK_KEYS:
                STATS.setdefault('weights_check', {})[key] = {
                    'shape': list(t.shape), 'seed': fnv1a(key), 'bound': bound,
                    'first8': [float(v) for v in gc.f32_decimals(w.reshape(-1)[:8].numpy())],
                    'last': float(gc.f32_decimals(w.reshape(-1)[-1:].numpy())[0]),
                    'sum_float64': float(w.double().sum())}
        elif key.endswith('.bn.weight'):
            out[key] = torch.from_numpy((1 + 0.2 * rng.uniform(-1, 1, t.shape[0])).astype(np.float32))
        elif key.endswith('.bn.bias'):
            out[key] = torch.from_numpy((0.2 * rng.uniform(-1, 1, t.shape[0])).astype(np.float32))
        elif key.endswith('.bn.running_mean'):
            out[key] = torch.zeros_like(t)
        elif key.endswith('.bn.running_var'):
            out[key] = torch.ones_like(t)
        elif key.endswith('.bn.num_batches_tracked'):
            out[key] = torch.zeros_like(t)
        elif key in ('fc.weight', 'fc.bias'):
            out[key] = torch.zeros_like(t)
        else:
            raise KeyError(f'unexpected key {key}')
    STATS['url'] = url
    STATS['max_abs_w_over_bound'] = max_ratio
    STATS['num_params'] = sum(v.numel() for v in out.values())
    STATS['bytes'] = sum(v.numel() * v.element_size() for v in out.values())
    STATS['keys'] = list(out)
    STATS['inception'] = model
    return out


def to_tensor(img):
    return torchvision.transforms.ToTensor()(img.convert('RGB'))


def b64_f32(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode('ascii')


def summary(t):
    a = t.detach().numpy().astype(np.float64)
    return {'shape': list(t.shape), 'mean': float(a.mean()), 'std': float(a.std()),
            'first8': [float(s) for s in gc.f32_decimals(t.detach().numpy().ravel()[:8])]}


def build_model():
    pf_inception.load_state_dict_from_url = fake_load_state_dict_from_url
    model = pf_inception.InceptionV3([pf_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                                     normalize_input=True, use_fid_inception=True)
    return model


def block_stds(model, x):
    """Per block (and per main stage) output std of the wrapper's forward, eval or train as set."""
    out = {}
    hooks = []
    names = {'Conv2d_1a_3x3': model.blocks[0][0], 'block0_maxpool1': model.blocks[0][3],
             'block1_maxpool2': model.blocks[1][2], 'Mixed_5d': model.blocks[2][2], 'Mixed_6a': model.blocks[2][3],
             'Mixed_6e': model.blocks[2][7], 'Mixed_7a': model.blocks[3][0], 'Mixed_7b': model.blocks[3][1],
             'Mixed_7c': model.blocks[3][2], 'pool': model.blocks[3][3]}
    for name, m in names.items():
        hooks.append(m.register_forward_hook(lambda mod, inp, o, name=name: out.__setitem__(name, o.detach().clone())))
    with torch.no_grad():
        res = model(x)[0]
    for h in hooks:
        h.remove()
    return res, out


def frechet_cases(f1, f2):
    """pytorch-fid's, clean-fid's and the exact Fréchet distance of two float64 feature sets (rows = samples)."""
    mu1, s1 = np.mean(f1, axis=0), np.cov(f1, rowvar=False)
    mu2, s2 = np.mean(f2, axis=0), np.cov(f2, rowvar=False)
    res = {}
    for name, fn in (('pytorch_fid', pf_score.calculate_frechet_distance), ('clean_fid', cf_fid.frechet_distance)):
        buf = io.StringIO()
        with warnings.catch_warnings(record=True) as ws, contextlib.redirect_stdout(buf):
            warnings.simplefilter('always')
            try:
                value, error = float(fn(mu1, s1, mu2, s2)), None
            except Exception as e:  # noqa: BLE001 (recorded)
                value, error = None, f'{type(e).__name__}: {e}'
        printed = buf.getvalue().strip()
        res[name] = {'value': value, 'error': error, 'printed': printed,
                     'eps_branch': 'adding' in printed,
                     'warnings': [f'{w.category.__name__}: {w.message}' for w in ws]}
    x1c, x2c = f1 - mu1, f2 - mu2
    n1, n2 = f1.shape[0], f2.shape[0]
    sv = np.linalg.svd(x1c @ x2c.T / np.sqrt((n1 - 1) * (n2 - 1)), compute_uv=False)
    diff = mu1 - mu2
    exact = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * sv.sum())
    res['exact'] = {'value': exact, 'mean_term': float(diff @ diff), 'trace1': float(np.trace(s1)),
                    'trace2': float(np.trace(s2)), 'nuclear_norm': float(sv.sum())}
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)  # what both call first: complex part, for the notes
    res['sqrtm'] = {'complex': bool(np.iscomplexobj(covmean)), 'max_abs_imag': float(np.abs(np.imag(covmean)).max()),
                    'trace_real': float(np.trace(covmean).real), 'trace_minus_nuclear_norm': float(np.trace(covmean).real - sv.sum())}
    for name in ('pytorch_fid', 'clean_fid'):
        v = res[name]['value']
        res[name]['minus_exact'] = None if v is None else v - exact
    return res


def kid_case(feats1, feats2, seed, num_subsets, max_subset_size):
    """clean-fid's kernel_distance(feats1 = real, feats2 = fake) after np.random.seed(seed), and the per-subset values."""
    np.random.seed(seed)
    kid = cf_fid.kernel_distance(feats1, feats2, num_subsets=num_subsets, max_subset_size=max_subset_size)
    np.random.seed(seed)
    kid32 = cf_fid.kernel_distance(feats1.astype(np.float32), feats2.astype(np.float32), num_subsets=num_subsets,
                                   max_subset_size=max_subset_size)
    np.random.seed(seed)
    n = feats1.shape[1]
    m = min(min(feats1.shape[0], feats2.shape[0]), max_subset_size)
    values, ids_x, ids_y = [], [], []
    for _ in range(num_subsets):
        ix = np.random.choice(feats2.shape[0], m, replace=False)
        iy = np.random.choice(feats1.shape[0], m, replace=False)
        x, y = feats2[ix], feats1[iy]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        values.append(float(((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m))
        ids_x.append([int(v) for v in ix])
        ids_y.append([int(v) for v in iy])
    v = np.array(values)
    return {'seed': seed, 'num_subsets': num_subsets, 'max_subset_size': max_subset_size, 'm': m,
            'kid': kid, 'kid_float32_features': kid32, 'subset_values': values,
            'mean': float(v.mean()), 'std_ddof0': float(np.std(v)), 'std_ddof1': float(np.std(v, ddof=1)),
            'mean_minus_kid': float(v.mean() - kid),
            'subset_ids_fake_x': ids_x, 'subset_ids_real_y': ids_y,
            'first_subset_ids': {'x_from_feats2': ids_x[0], 'y_from_feats1': ids_y[0]}}


def main():
    os.makedirs(os.path.join(OUT_DIR, 'images'), exist_ok=True)
    model = build_model()
    print(f"state_dict: {STATS['num_params']} values, {STATS['bytes'] / 1e6:.2f} MB float32 "
          f"({len(STATS['keys'])} keys); max |w| / sqrt(3/fan_in) = {STATS['max_abs_w_over_bound']:.9f}")
    assert STATS['max_abs_w_over_bound'] <= 1 + 2 ** -23  # float32 rounding of w

    # Calibration of the batch norms' running statistics.
    calib_files = ([os.path.join(DEMO, 'trainA', f) for f in sorted(os.listdir(os.path.join(DEMO, 'trainA')))[:4]]
                   + [os.path.join(DEMO, 'trainB', f) for f in sorted(os.listdir(os.path.join(DEMO, 'trainB')))[:4]])
    calib = torch.stack([to_tensor(Image.open(f)) for f in calib_files])
    assert calib.shape == (8, 3, 256, 256), calib.shape
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(calib)
    model.eval()
    assert all(int(m.num_batches_tracked) == 1 for m in bns)
    # Features on the scale of the real network's (pool features ~0.1-1, FIDs of tens to hundreds):
    # the last block's batch norms scaled by 0.1 (ReLU, max pool and concat are positively homogeneous,
    # so every feature scales by 0.1). Without it the random features reach 40 and FID ~12,000, where
    # scipy's sqrtm alone is off by 1e-2.
    with torch.no_grad():
        for name, m in STATS['inception'].Mixed_7c.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.mul_(0.1)
                m.bias.mul_(0.1)
    _, calib_stds = block_stds(model, calib)
    calib_stds = {k: float(v.double().std()) for k, v in calib_stds.items()}
    print('eval-mode activation std on the calibration batch:',
          ', '.join(f'{k} {v:.4g}' for k, v in calib_stds.items()))

    # The Inception3 being wrapped (its modules are the wrapper's): its names are the .pth file's.
    sd = STATS['inception'].state_dict()
    assert list(sd) == STATS['keys']
    bn_sd = {k: v for k, v in sd.items() if '.bn.' in k}
    torch.save(bn_sd, os.path.join(OUT_DIR, 'bn.pth'))

    # End-to-end images.
    crop_src = Image.open(os.path.join(DEMO, 'testA', 'n02381460_1820.jpg')).convert('RGB')
    srcs = {'a': ('testA/n02381460_1000.jpg', Image.open(os.path.join(DEMO, 'testA', 'n02381460_1000.jpg')).convert('RGB')),
            'b': ('testB/n02391049_100.jpg', Image.open(os.path.join(DEMO, 'testB', 'n02391049_100.jpg')).convert('RGB')),
            'c': ('testA/n02381460_1820.jpg crop (left 8, top 30, 240 wide, 180 high)', crop_src.crop((8, 30, 248, 210)))}
    images, features, intermediates = {}, {}, {}
    for name, (src, img) in srcs.items():
        path = os.path.join(OUT_DIR, 'images', f'{name}.png')
        img.save(path, format='PNG')
        x = to_tensor(Image.open(path)).unsqueeze(0)
        images[name] = {'file': f'images/{name}.png', 'source': f'datasets/horse2zebra_demo/{src}',
                        'width': x.shape[3], 'height': x.shape[2]}
        if name == 'a':
            captured = {}
            pre = model.blocks[0].register_forward_pre_hook(lambda mod, inp: captured.__setitem__('input', inp[0].clone()))
            res, stds = block_stds(model, x)
            pre.remove()
            intermediates = {'image': 'a', 'std_note': 'mean and std (ddof 0) in float64 over the float32 tensor; '
                             'first8 in NCHW row-major order',
                             'resized_normalized_input': summary(captured['input']),
                             'Conv2d_1a_3x3': summary(stds['Conv2d_1a_3x3']),
                             'MaxPool2': summary(stds['block1_maxpool2']),
                             'Mixed_5d': summary(stds['Mixed_5d']), 'Mixed_6e': summary(stds['Mixed_6e']),
                             'Mixed_7c': summary(stds['Mixed_7c'])}
            print('image a activation std:', ', '.join(f'{k} {float(v.double().std()):.4g}' for k, v in stds.items()))
        else:
            with torch.no_grad():
                res = model(x)[0]
        f = res.reshape(-1).numpy()
        # The same network in float64: the computation's exact result, to judge float32 implementations by
        # (this random network amplifies float32 rounding: PyTorch's float32 features differ from it too).
        with torch.no_grad():
            f64 = copy.deepcopy(model).double()(x.double())[0].reshape(-1).numpy()
        features[name] = {'shape': [2048], 'base64_f32le': b64_f32(f), 'mean': float(f.astype(np.float64).mean()),
                          'first8': [float(s) for s in gc.f32_decimals(f[:8])],
                          'float64_base64_f64le': base64.b64encode(f64.astype('<f8').tobytes()).decode('ascii'),
                          'float32_vs_float64_l2_relative': float(np.linalg.norm(f - f64) / np.linalg.norm(f64)),
                          'float32_vs_float64_max_relative': float(np.abs(f - f64).max() / np.abs(f64).max())}
        print(f'image {name}: torch float32 vs float64: l2 rel {features[name]["float32_vs_float64_l2_relative"]:.3g}, '
              f'max rel {features[name]["float32_vs_float64_max_relative"]:.3g}')
        print(f'image {name} {tuple(x.shape)}: feature mean {f.mean():.6g} std {f.std():.6g}')

    # Real folders.
    h2z = find_horse2zebra()
    files_a = [os.path.join(h2z, 'testA', f) for f in sorted(os.listdir(os.path.join(h2z, 'testA')))][:30]
    files_b = [os.path.join(h2z, 'testB', f) for f in sorted(os.listdir(os.path.join(h2z, 'testB')))][:25]
    for f in files_a + files_b:
        with Image.open(f) as im:
            assert im.size == (256, 256), (f, im.size)
    act_a = pf_score.get_activations(files_a, model, batch_size=10, dims=2048, device='cpu', num_workers=0)
    act_b = pf_score.get_activations(files_b, model, batch_size=10, dims=2048, device='cpu', num_workers=0)
    assert np.array_equal(act_a, act_a.astype(np.float32).astype(np.float64))
    fr = frechet_cases(act_a, act_b)
    kid = kid_case(act_b, act_a, 0, 100, 1000)
    real = {'dataset': 'horse2zebra (../shared/datasets/horse2zebra)', 'batch_size': 10,
            'set1': {'folder': 'testA', 'files': [os.path.basename(f) for f in files_a], 'shape': list(act_a.shape),
                     'base64_f32le': b64_f32(act_a)},
            'set2': {'folder': 'testB', 'files': [os.path.basename(f) for f in files_b], 'shape': list(act_b.shape),
                     'base64_f32le': b64_f32(act_b)},
            'frechet': fr,
            'kid': dict(kid, call='np.random.seed(0); kernel_distance(feats1=testB (real), feats2=testA (fake), '
                                  'num_subsets=100, max_subset_size=1000)')}
    print('real folders: pytorch-fid', fr['pytorch_fid']['value'], 'clean-fid', fr['clean_fid']['value'],
          'exact', fr['exact']['value'], 'pf-exact', fr['pytorch_fid']['minus_exact'],
          'cf-exact', fr['clean_fid']['minus_exact'], fr['pytorch_fid']['printed'], fr['pytorch_fid']['warnings'])
    print('real KID', kid['kid'], 'float32 feats', kid['kid_float32_features'], 'mean', kid['mean'],
          'std0', kid['std_ddof0'], 'std1', kid['std_ddof1'])

    # Synthetic Fréchet cases.
    rng = np.random.default_rng(20)
    synth = []

    def add(case_id, f1, f2, note):
        r = frechet_cases(f1, f2)
        synth.append({'id': case_id, 'note': note, 'd': f1.shape[1], 'n1': f1.shape[0], 'n2': f2.shape[0],
                      'features1': f1.tolist(), 'features2': f2.tolist(), **r})
        print(case_id, 'pytorch-fid', r['pytorch_fid']['value'], r['pytorch_fid']['error'], r['pytorch_fid']['printed'],
              r['pytorch_fid']['warnings'], '| clean-fid', r['clean_fid']['value'], '| exact', r['exact']['value'],
              '| pf-exact', r['pytorch_fid']['minus_exact'], 'cf-exact', r['clean_fid']['minus_exact'])

    mix = rng.standard_normal((16, 16)) * 0.5 + np.eye(16)
    add('full_rank_d16', rng.standard_normal((100, 16)) @ mix, rng.standard_normal((80, 16)) * 1.3 + 0.4,
        'd 16, n1 100, n2 80: full-rank covariances')
    add('rank_deficient_d64', rng.standard_normal((20, 64)), rng.standard_normal((30, 64)) * 0.8 + 0.1,
        'd 64, n1 20, n2 30: covariances of rank 19 and 29')
    same = rng.standard_normal((12, 8))
    add('identical_d8', same, same.copy(), 'd 8, the same 12 rows twice: the distance is 0')
    const = rng.standard_normal((12, 8))
    const[:, 3] = 0.75
    add('constant_dim_d8', const, rng.standard_normal((15, 8)) + 0.2, 'd 8, n1 12, n2 15; set 1 is constant (0.75) in dimension 3')
    k1 = rng.standard_normal((40, 16)) + 0.3
    k2 = rng.standard_normal((30, 16))
    synth_kid = dict(kid_case(k1, k2, 3, 7, 20), features1=k1.tolist(), features2=k2.tolist(),
                     call='np.random.seed(3); kernel_distance(features1, features2, num_subsets=7, max_subset_size=20)')
    print('synthetic KID', synth_kid['kid'], 'mean', synth_kid['mean'], 'std0', synth_kid['std_ddof0'])

    doc = {
        'meta': {'issue': 19, 'script': 'tools/golden/fid_inception.py',
                 'model': 'pytorch_fid.inception.InceptionV3([3], resize_input=True, normalize_input=True, '
                          'use_fid_inception=True), formula weights (no download), eval',
                 'state_dict_values': STATS['num_params'], 'state_dict_bytes_float32': STATS['bytes'],
                 'features_encoding': 'base64 of float32 little-endian bytes, row-major'},
        'versions': {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'numpy': np.__version__,
                     'scipy': scipy.__version__, 'PIL': Image.__version__, 'pytorch-fid': 'b9c1811',
                     'clean-fid': 'e88c4d6'},
        'weights_formula': WEIGHTS_FORMULA,
        'weights_check': STATS['weights_check'],
        'weights_other': 'bn weight/bias: see bn.pth (1 + 0.2u, 0.2u\', numpy default_rng(19)); running stats '
                         'calibrated on one train-mode batch (momentum None) of demo trainA[:4] + trainB[:4]; '
                         'fc zeros',
        'state_dict_keys': STATS['keys'],
        'bn_keys': list(bn_sd),
        'calibration': {'files': [os.path.relpath(f, gc.ROOT) for f in calib_files],
                        'eval_activation_std_on_calibration_batch': calib_stds},
        'images': images,
        'features': features,
        'intermediates': intermediates,
        'real_folders': real,
        'synthetic': {'frechet': synth, 'kid': synth_kid},
    }
    data = (json.dumps(doc, indent=1) + '\n').encode('utf8')
    out = os.path.join(OUT_DIR, 'golden.json.gz')
    with open(out, 'wb') as raw, gzip.GzipFile(filename='', fileobj=raw, mode='wb', compresslevel=9, mtime=0) as f:
        f.write(data)
    print(f'wrote {os.path.relpath(out)} ({len(data)} bytes before gzip, {os.path.getsize(out)} after)')


if __name__ == '__main__':
    main()
