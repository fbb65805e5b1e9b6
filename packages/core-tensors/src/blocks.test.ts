import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { binomialFilter, blurDownsample, blurUpsample } from './blur.js';
import { conv2dTransposeTorch } from './conv-transpose.js';
import { instanceNorm } from './instance-norm.js';
import {
  hwioToOihw,
  hwioToOihwArray,
  hwoiToIohw,
  hwoiToIohwArray,
  iohwToHwoi,
  iohwToHwoiArray,
  linearToTf,
  linearToTfArray,
  nchwToNhwc,
  nchwToNhwcArray,
  nhwcToNchw,
  nhwcToNchwArray,
  oihwToHwio,
  oihwToHwioArray,
  permuteArray,
  tfToLinear,
  tfToLinearArray,
  type HostArray,
} from './layout.js';
import { pad2d, type PadMode } from './padding.js';

// Golden numbers from PyTorch 1.13 (tools/golden/blocks.py); all arrays in torch layouts.
interface GradCase {
  id: string;
  x: GoldenTensor;
  y: GoldenTensor;
  dy: GoldenTensor;
  dx: GoldenTensor;
}
interface BlocksGolden {
  binomial_filters: Array<{ k: number; filter: GoldenTensor }>;
  pad: Array<GradCase & { mode: PadMode; pad_tblr: [number, number, number, number] }>;
  instance_norm: Array<GradCase & { eps: number }>;
  blur_down: Array<GradCase & { filt_size: number; pad_type: PadMode }>;
  blur_up: Array<GradCase & { filt_size: number; pad_type: PadMode; bilinear?: GoldenTensor }>;
  conv_transpose: Array<
    GradCase & {
      kernel_size: number;
      stride: number;
      padding: number;
      output_padding: number;
      weight: GoldenTensor;
      bias: GoldenTensor;
      dweight: GoldenTensor;
      dbias: GoldenTensor;
    }
  >;
  conv: Array<{ id: string; stride: number; padding: number; x: GoldenTensor; weight: GoldenTensor; bias: GoldenTensor; y: GoldenTensor }>;
  linear: Array<{ id: string; x: GoldenTensor; weight: GoldenTensor; bias: GoldenTensor; y: GoldenTensor }>;
}

const golden = loadFixture<BlocksGolden>('golden/blocks.json');

const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-5;

const host = (g: GoldenTensor): HostArray => ({ data: Float32Array.from(g.data), shape: g.shape });

/** Max |actual - expected| where `expected` is an NCHW golden and `actual` an NHWC tensor; checks the shape too. */
async function deviationNCHW(actual: tf.Tensor, expected: GoldenTensor): Promise<number> {
  const want = nchwToNhwcArray(host(expected));
  expect(actual.shape).toEqual(want.shape);
  return maxAbsDiff(await actual.data(), want.data);
}

/** Runs `f` on the case's input: forward deviation and input-gradient deviation (gradient of sum(f(x) * dy)). */
async function checkCase(f: (x: tf.Tensor4D) => tf.Tensor4D, c: GradCase, gradTol = GRAD_TOL): Promise<void> {
  const x = goldenNHWC(c.x);
  const dy = goldenNHWC(c.dy);
  const y = f(x);
  const dx = tf.grad((t: tf.Tensor) => f(t as tf.Tensor4D))(x, dy);
  try {
    const forward = await deviationNCHW(y, c.y);
    const backward = await deviationNCHW(dx, c.dx);
    expect(forward, `${c.id} forward`).toBeLessThanOrEqual(FORWARD_TOL);
    expect(backward, `${c.id} d/dx`).toBeLessThanOrEqual(gradTol);
  } finally {
    tf.dispose([x, dy, y, dx]);
  }
}

/** `f` leaves exactly one new tensor (its result) behind, forward and through tf.grad. */
function expectNoLeaks(f: (x: tf.Tensor4D) => tf.Tensor4D, shape: [number, number, number, number]): void {
  const x = tf.randomNormal(shape, 0, 1, 'float32', 7) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const y = f(x);
  expect(tf.memory().numTensors).toBe(before + 1);
  y.dispose();
  const dx = tf.grad((t: tf.Tensor) => f(t as tf.Tensor4D))(x);
  expect(tf.memory().numTensors).toBe(before + 1);
  tf.dispose([dx, x]);
}

describeBackends('pad2d', () => {
  for (const c of golden.pad) {
    it(`${c.id} matches torch's ${c.mode} padding (forward and gradient)`, async () => {
      await checkCase((x) => pad2d(x, c.pad_tblr, c.mode), c);
    });
  }

  it('a single number pads all four sides', async () => {
    const x = tf.randomNormal([1, 4, 5, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
    for (const mode of ['reflect', 'replicate', 'zero'] as const) {
      const a = pad2d(x, 2, mode);
      const b = pad2d(x, [2, 2, 2, 2], mode);
      expect(a.shape).toEqual([1, 8, 9, 2]);
      expect(maxAbsDiff(await a.data(), await b.data())).toBe(0);
      tf.dispose([a, b]);
    }
    x.dispose();
  });

  it('rejects reflect padding as wide as the input, and negative amounts', () => {
    const x = tf.zeros([1, 3, 5, 1]) as tf.Tensor4D;
    expect(() => pad2d(x, [3, 0, 0, 0], 'reflect')).toThrow(/smaller than/);
    expect(() => pad2d(x, [0, 0, -1, 0], 'zero')).toThrow(/>= 0/);
    x.dispose();
  });

  it('frees its intermediates', () => {
    for (const mode of ['reflect', 'replicate', 'zero'] as const) expectNoLeaks((x) => pad2d(x, [1, 3, 2, 1], mode), [1, 5, 6, 3]);
  });
});

describeBackends('instanceNorm', () => {
  for (const c of golden.instance_norm) {
    const longSums = c.x.shape[2]! * c.x.shape[3]! >= 1024;
    it(`${c.id} matches torch InstanceNorm2d (forward and gradient)`, async () => {
      expect(c.eps).toBe(1e-5);
      await checkCase((x) => instanceNorm(x), c, longSums ? 1e-4 : GRAD_TOL);
    });
  }

  it('frees its intermediates', () => {
    expectNoLeaks((x) => instanceNorm(x), [2, 5, 4, 3]);
  });
});

describeBackends('blur', () => {
  it('binomialFilter equals the reference get_filter for k = 1..7', () => {
    for (const { k, filter } of golden.binomial_filters) {
      expect(maxAbsDiff(binomialFilter(k), filter.data), `k=${k}`).toBeLessThanOrEqual(1e-7);
    }
    expect(Array.from(binomialFilter(3)).map((v) => v * 16)).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
    expect(() => binomialFilter(8)).toThrow();
  });

  for (const c of golden.blur_down) {
    it(`blurDownsample ${c.id} matches the reference Downsample (forward and gradient)`, async () => {
      await checkCase((x) => blurDownsample(x, { filtSize: c.filt_size, padType: c.pad_type }), c);
    });
  }

  it('blurDownsample defaults to filtSize 3, reflect; output ceil(H/2) x ceil(W/2)', async () => {
    const c = golden.blur_down.find((d) => d.id === 'down_1x3x7x6_k3_reflect')!;
    const x = goldenNHWC(c.x);
    const y = blurDownsample(x);
    expect(y.shape).toEqual([1, 4, 3, 3]);
    expect(await deviationNCHW(y, c.y)).toBeLessThanOrEqual(FORWARD_TOL);
    tf.dispose([x, y]);
  });

  for (const c of golden.blur_up) {
    it(`blurUpsample ${c.id} matches the reference Upsample (forward and gradient)`, async () => {
      await checkCase((x) => blurUpsample(x, { filtSize: c.filt_size, padType: c.pad_type }), c);
    });
  }

  it('blurUpsample (defaults) equals torch bilinear x2 with align_corners=False', async () => {
    for (const c of golden.blur_up.filter((u) => u.bilinear)) {
      const x = goldenNHWC(c.x);
      const y = blurUpsample(x);
      expect(await deviationNCHW(y, c.bilinear!), c.id).toBeLessThanOrEqual(FORWARD_TOL);
      tf.dispose([x, y]);
    }
  });

  it('frees its intermediates', () => {
    expectNoLeaks((x) => blurDownsample(x), [1, 7, 6, 3]);
    expectNoLeaks((x) => blurUpsample(x), [1, 5, 4, 3]);
    expectNoLeaks((x) => blurUpsample(x, { filtSize: 3, padType: 'reflect' }), [1, 5, 4, 3]);
  });
});

describeBackends('conv2dTransposeTorch', () => {
  for (const c of golden.conv_transpose) {
    it(`${c.id} matches torch ConvTranspose2d (output, d/dx, d/dweight, d/dbias)`, async () => {
      const x = goldenNHWC(c.x);
      const dy = goldenNHWC(c.dy);
      const w = iohwToHwoi(goldenTensor(c.weight) as tf.Tensor4D);
      const b = goldenTensor(c.bias) as tf.Tensor1D;
      const options = { stride: c.stride, padding: c.padding, outputPadding: c.output_padding };
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        conv2dTransposeTorch(xx as tf.Tensor4D, ww as tf.Tensor4D, { ...options, bias: bb as tf.Tensor1D });
      const y = f(x, w, b);
      const [dx, dw, db] = tf.grads(f)([x, w, b], dy);
      try {
        expect(await deviationNCHW(y, c.y), 'forward').toBeLessThanOrEqual(FORWARD_TOL);
        expect(await deviationNCHW(dx!, c.dx), 'd/dx').toBeLessThanOrEqual(GRAD_TOL);
        const dwTorch = hwoiToIohw(dw as tf.Tensor4D);
        expect(dwTorch.shape).toEqual(c.dweight.shape);
        expect(maxAbsDiff(await dwTorch.data(), c.dweight.data), 'd/dweight').toBeLessThanOrEqual(GRAD_TOL);
        expect(maxAbsDiff(await db!.data(), c.dbias.data), 'd/dbias').toBeLessThanOrEqual(GRAD_TOL);
        dwTorch.dispose();
      } finally {
        tf.dispose([x, dy, w, b, y, dx!, dw!, db!]);
      }
    });
  }

  it('doubles H and W for k3 s2 p1 output_padding 1 and frees its intermediates', () => {
    const w = tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
    const x = tf.randomNormal([1, 5, 6, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const y = conv2dTransposeTorch(x, w, { stride: 2, padding: 1, outputPadding: 1 });
    expect(y.shape).toEqual([1, 10, 12, 2]);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(() => conv2dTransposeTorch(x, w, { stride: 2, outputPadding: 2 })).toThrow(/output_padding/);
    tf.dispose([w, x, y]);
  });
});

describeBackends('layout', () => {
  it('Conv2d OIHW weights converted to HWIO reproduce torch Conv2d', async () => {
    for (const c of golden.conv) {
      const x = goldenNHWC(c.x);
      const w = oihwToHwio(goldenTensor(c.weight) as tf.Tensor4D);
      const p = c.padding;
      const y = tf.add(
        tf.conv2d(x, w, c.stride, [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ]),
        goldenTensor(c.bias),
      );
      expect(await deviationNCHW(y, c.y), c.id).toBeLessThanOrEqual(FORWARD_TOL);
      // Host-array route gives the same filter.
      const wHost = oihwToHwioArray(host(c.weight));
      expect(w.shape).toEqual(wHost.shape);
      expect(maxAbsDiff(await w.data(), wHost.data)).toBe(0);
      tf.dispose([x, w, y]);
    }
  });

  it('Linear [out, in] weights converted to [in, out] reproduce torch Linear', async () => {
    for (const c of golden.linear) {
      const w = linearToTf(goldenTensor(c.weight) as tf.Tensor2D);
      const y = tf.add(tf.matMul(goldenTensor(c.x) as tf.Tensor2D, w), goldenTensor(c.bias));
      expect(y.shape).toEqual(c.y.shape);
      expect(maxAbsDiff(await y.data(), c.y.data), c.id).toBeLessThanOrEqual(FORWARD_TOL);
      expect(maxAbsDiff(linearToTfArray(host(c.weight)).data, await w.data())).toBe(0);
      tf.dispose([w, y]);
    }
  });

  it('tensor conversions round-trip and agree with the host-array ones', async () => {
    const shape = [2, 3, 4, 5];
    const data = Float32Array.from({ length: 120 }, (_, i) => i);
    const t = tf.tensor4d(data, shape as [number, number, number, number]);
    const pairs: Array<[(x: tf.Tensor4D) => tf.Tensor4D, (x: tf.Tensor4D) => tf.Tensor4D, (a: HostArray) => HostArray, (a: HostArray) => HostArray]> =
      [
        [nchwToNhwc, nhwcToNchw, nchwToNhwcArray, nhwcToNchwArray],
        [oihwToHwio, hwioToOihw, oihwToHwioArray, hwioToOihwArray],
        [iohwToHwoi, hwoiToIohw, iohwToHwoiArray, hwoiToIohwArray],
      ];
    for (const [to, from, toHost, fromHost] of pairs) {
      const there = to(t);
      const back = from(there);
      const thereHost = toHost({ data, shape });
      expect(there.shape).toEqual(thereHost.shape);
      expect(maxAbsDiff(await there.data(), thereHost.data)).toBe(0);
      expect(back.shape).toEqual(shape);
      expect(maxAbsDiff(await back.data(), data)).toBe(0);
      expect(fromHost(thereHost)).toEqual({ data, shape });
      tf.dispose([there, back]);
    }
    const m = tf.tensor2d(data.subarray(0, 12), [3, 4]);
    const mt = linearToTf(m);
    const mback = tfToLinear(mt);
    expect(mt.shape).toEqual([4, 3]);
    expect(Array.from(await mt.data())).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(maxAbsDiff(await mback.data(), data.subarray(0, 12))).toBe(0);
    expect(tfToLinearArray(linearToTfArray({ data: data.subarray(0, 12), shape: [3, 4] })).data).toEqual(data.subarray(0, 12));
    tf.dispose([t, m, mt, mback]);
  });

  it('permuteArray places element [n][c][y][x] at [n][y][x][c] and validates its input', () => {
    const a = nchwToNhwcArray({ data: Float32Array.from({ length: 24 }, (_, i) => i), shape: [1, 2, 3, 4] });
    expect(a.shape).toEqual([1, 3, 4, 2]);
    // nhwc[0][1][2][1] = nchw[0][1][1][2] = 1*12 + 1*4 + 2
    expect(a.data[(1 * 4 + 2) * 2 + 1]).toBe(18);
    expect(() => permuteArray({ data: new Float32Array(6), shape: [2, 3] }, [0, 0])).toThrow(/permutation/);
    expect(() => permuteArray({ data: new Float32Array(5), shape: [2, 3] }, [1, 0])).toThrow(/fill/);
  });
});
