#!/usr/bin/python3
"""ONNX goldens (issue 21): the reference's define_G with our weights, exported by torch.onnx.export.

For each case of fixtures/golden/onnx/cases.json: builds the reference's define_G network (its
models/networks.py, imported at run time from $CUT_REFERENCE, else /work/ref/cut), loads the case's
.pth (h2z_tiny's checkpoint, or a tiny seeded one written by our .pth writer, tools/golden/onnx_weights.mjs)
with load_state_dict(strict=True), puts it in eval mode and
  - exports it with torch.onnx.export (opset 17, input `input` / output `output`, dynamic axes
    batch, height and width) to fixtures/golden/onnx/<id>.torch.onnx;
  - runs it on each of the case's inputs (NCHW; value i = float32(sin(i * 0.37 + 1)), which the test
    recomputes) and stores the outputs in fixtures/golden/onnx_reference.json.gz: every value up to
    20000 values, else every `stride`-th value of the row-major output (the stride recorded), with
    the sum and the sum of absolute values of the whole output.

Note: torch.onnx.export traces; the reference's LayerNorm (resnet_cat) branches on the batch size
(x.size(0) == 1), so torch's ONNX of resnet_cat holds the batch-1 branch only: its cases use batch 1.

Usage: python3 tools/golden/onnx_reference.py   (Float32, CPU, one thread.)
"""
import gzip
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
import reference_networks as rn  # noqa: E402

ONNX_DIR = os.path.join(gc.GOLDEN, 'onnx')
MAX_VALUES = 20000


def fixed_input(shape):
    return rn.wave(shape, 0.37, 1.0)


def main():
    gc.setup(0)
    N = rn.reference_networks()
    with open(os.path.join(ONNX_DIR, 'cases.json')) as f:
        cases = json.load(f)['cases']
    out = {'about': __doc__.strip().split('\n')[0], 'opset': 17, 'torch': torch.__version__, 'cases': []}
    for c in cases:
        pth = os.path.join(gc.ROOT, c['pth']) if 'pth' in c else os.path.join(ONNX_DIR, c['id'] + '.pth')
        net = rn.build(N, 'G', dict(c['options'], netG=c['netG']))
        state = torch.load(pth, map_location='cpu')
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        net.load_state_dict(state, strict=True)
        net.eval()
        onnx_path = os.path.join(ONNX_DIR, c['id'] + '.torch.onnx')
        x0 = fixed_input(c['inputs'][0])
        with torch.no_grad():
            torch.onnx.export(net, x0, onnx_path, opset_version=17, input_names=['input'], output_names=['output'],
                              dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'},
                                            'output': {0: 'batch', 2: 'height', 3: 'width'}},
                              do_constant_folding=True)
        runs = []
        for shape in c['inputs']:
            with torch.no_grad():
                y = net(fixed_input(shape))
            flat = y.reshape(-1)
            stride = max(1, -(-flat.numel() // MAX_VALUES))
            runs.append({'input': shape, 'shape': list(y.shape), 'stride': stride,
                         'sum': float(flat.double().sum()), 'abs_sum': float(flat.double().abs().sum()),
                         'values': gc.f32_decimals(flat[::stride])})
        out['cases'].append({'id': c['id'], 'runs': runs})
        print(f"{c['id']}: {os.path.getsize(onnx_path)} bytes of ONNX, outputs {[r['shape'] for r in runs]}")
    out_path = os.path.join(gc.GOLDEN, 'onnx_reference.json.gz')
    for case in out['cases']:
        for r in case['runs']:
            r['values'] = gc.RawList(r['values'])  # the float32 decimals as JSON numbers, on one line
    with gzip.GzipFile(out_path, 'wb', mtime=0) as f:
        f.write((gc.dumps(out) + '\n').encode())
    print(f'wrote {out_path}')


if __name__ == '__main__':
    main()
