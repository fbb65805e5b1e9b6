"""Goldens for @cut/images' pixel conversions (fixtures/golden/pixels.json), from the reference:

* `tensor2im`: the reference's util.tensor2im (imported from /work/ref/cut) of a 3-channel and a
  1-channel float32 image whose values cover [-1.2, 1.2] densely (clamping, and every truncation
  step of the (x + 1) / 2 * 255 mapping); its uint8 HWC RGB output.
* `luma`: PIL's Image.convert('L') of RGB pixels (the extremes and seeded random ones).
* `normalize`: ToTensor() + Normalize(0.5, 0.5) of every 8-bit value.

Run: /usr/bin/python3 tools/golden/pixels.py
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

sys.path.insert(0, '/work/ref/cut')
from util.util import tensor2im  # noqa: E402

gc.setup(0)

# 3 x 8 x 64 values: a dense ramp over [-1.2, 1.2] plus the exact ends and steps of the mapping.
ramp = np.linspace(-1.2, 1.2, 3 * 8 * 64 - 6, dtype=np.float32)
edges = np.array([-1.0, 1.0, 0.0, -0.0, np.float32(1) / 255, np.float32(254) / 255], dtype=np.float32)
values3 = np.concatenate([ramp, edges]).reshape(1, 3, 8, 64)
values1 = values3[:, :1]
im3 = tensor2im(torch.from_numpy(values3))
im1 = tensor2im(torch.from_numpy(values1.copy()))

rng = np.random.default_rng(0)
rgb = np.concatenate([np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [1, 2, 3]], np.uint8),
                      rng.integers(0, 256, size=(250, 3), dtype=np.uint8)])
luma = np.asarray(Image.fromarray(rgb.reshape(1, -1, 3), 'RGB').convert('L')).reshape(-1)

norm = T.Normalize((0.5,), (0.5,))(T.ToTensor()(Image.fromarray(np.arange(256, dtype=np.uint8).reshape(1, 256), 'L')))

doc = {
    'meta': {'float_format': gc.FLOAT_FORMAT, 'torch': torch.__version__, 'pil': Image.__version__, 'script': 'tools/golden/pixels.py'},
    'tensor2im': {
        'width': 64, 'height': 8,
        # NCHW float32 input; the 1-channel image is its first channel.
        'input_nchw': gc.f32_decimals(values3),
        'rgb3': im3.reshape(-1).tolist(),
        'rgb1': im1.reshape(-1).tolist(),
    },
    'luma': {'rgb': rgb.reshape(-1).tolist(), 'l': luma.tolist()},
    'normalize': gc.f32_decimals(norm.numpy()),
}
gc.write_text(os.path.join(gc.GOLDEN, 'pixels.json'), json.dumps(doc, separators=(',', ':')))
