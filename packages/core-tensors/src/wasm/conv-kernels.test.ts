import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { patchedKernels } from '../backend-registry.js';
import { loadCpuAndWasm, memoryCounts, randomValues, relativeDiffWasmVsCpu, runKernelOn } from './compare-backends.test-helper';
import { wasmTrainingKernelConfigs } from './index.js';

// Our wasm kernels against tfjs-backend-cpu's own kernels (straightforward loops) on tiny
// shapes: every stride/padding/size combination the formulations treat differently.
const TOL = 1e-4;

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
interface ConvCase {
  x: [number, number, number, number];
  k: number | [number, number];
  /** Output channels (dense) or channel multiplier (depthwise). */
  out: number;
  stride: number | [number, number];
  pad: Pad;
  dilation?: number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const explicit = (top: number, bottom: number, left: number, right: number): tf.backend_util.ExplicitPadding => [
  [0, 0],
  [top, bottom],
  [left, right],
  [0, 0],
];

const denseCases: ConvCase[] = [
  { x: [1, 5, 5, 3], k: 3, out: 5, stride: 1, pad: 'same' },
  { x: [2, 7, 6, 5], k: 3, out: 6, stride: 2, pad: 'same' },
  { x: [1, 9, 9, 2], k: 7, out: 3, stride: 1, pad: 'valid' },
  { x: [2, 8, 9, 3], k: 4, out: 5, stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 6], k: 4, out: 7, stride: 2, pad: explicit(1, 1, 1, 1) },
  { x: [2, 6, 7, 5], k: 4, out: 3, stride: 1, pad: explicit(1, 2, 2, 1) },
  { x: [1, 6, 6, 7], k: 1, out: 5, stride: 1, pad: 'valid' },
  { x: [1, 7, 7, 3], k: 1, out: 4, stride: 2, pad: 'same' },
  { x: [1, 11, 10, 3], k: [3, 2], out: 5, stride: [2, 1], pad: 'same' },
  { x: [1, 9, 9, 5], k: 3, out: 2, stride: 2, pad: 1, dimRoundingMode: 'floor' },
  { x: [1, 10, 10, 3], k: 5, out: 4, stride: 3, pad: 'same' },
  { x: [1, 7, 8, 3], k: 2, out: 3, stride: 2, pad: explicit(3, 0, 0, 4) }, // pads beyond the filter
  { x: [2, 10, 10, 33], k: 3, out: 9, stride: 1, pad: 'same' }, // several windows per matmul
  { x: [1, 12, 12, 130], k: 3, out: 4, stride: 2, pad: 'same' }, // one window per matmul
];

const depthwiseCases: ConvCase[] = [
  { x: [1, 8, 8, 5], k: 3, out: 1, stride: 2, pad: 'valid' }, // blur downsample
  { x: [2, 9, 9, 3], k: 3, out: 1, stride: 2, pad: 'same' },
  { x: [1, 7, 7, 6], k: 4, out: 1, stride: 2, pad: explicit(1, 2, 2, 1) },
  { x: [1, 8, 7, 3], k: 3, out: 2, stride: 1, pad: 'same' },
  { x: [1, 9, 9, 5], k: 5, out: 3, stride: 2, pad: 'valid' },
  { x: [1, 6, 6, 7], k: 1, out: 1, stride: 1, pad: 'valid' },
  { x: [1, 7, 6, 3], k: 1, out: 2, stride: 2, pad: 'same' }, // a phase no tap reaches
  { x: [1, 10, 10, 2], k: 7, out: 1, stride: 1, pad: 'valid' },
  { x: [2, 11, 9, 3], k: [2, 3], out: 2, stride: [1, 2], pad: explicit(0, 1, 1, 0) },
];

const kernelSize = (k: ConvCase['k']): [number, number] => (typeof k === 'number' ? [k, k] : k);
const label = (c: ConvCase) =>
  `x [${c.x}] k ${kernelSize(c.k).join('x')} out ${c.out} stride ${c.stride} pad ${JSON.stringify(c.pad)}` +
  (c.dilation ? ` dilation ${c.dilation}` : '');

function geometry(c: ConvCase, depthwise: boolean) {
  const [kh, kw] = kernelSize(c.k);
  const filterShape: [number, number, number, number] = [kh, kw, c.x[3], c.out];
  const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, c.dilation ?? 1, c.pad, c.dimRoundingMode, depthwise);
  return { filterShape, dyShape: info.outShape };
}

describe('wasm training kernels: registration', () => {
  beforeAll(loadCpuAndWasm);

  it('activateBackend("wasm") installs every kernel, replacing the slow natives', () => {
    const names = wasmTrainingKernelConfigs.map((c) => c.kernelName);
    expect(new Set(patchedKernels('wasm'))).toEqual(new Set(names));
    for (const config of wasmTrainingKernelConfigs) {
      expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).toBe(config.kernelFunc);
    }
  });
});

describe('wasm Conv2DBackpropFilter / Conv2DBackpropInput vs cpu', () => {
  beforeAll(loadCpuAndWasm);

  denseCases.forEach((c, n) => {
    const { filterShape, dyShape } = geometry(c, false);
    const common = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };

    // Below 16 output channels the filter gradient takes its "wide window" route: test both.
    for (const out of [c.out, c.out + 16]) {
      it(`filter gradient: ${label({ ...c, out })}`, async () => {
        const { diff } = await relativeDiffWasmVsCpu(
          'Conv2DBackpropFilter',
          { x: { shape: c.x }, dy: { shape: [...dyShape.slice(0, 3), out] } },
          { ...common, filterShape: [...filterShape.slice(0, 3), out] },
          n + 1,
        );
        expect(diff).toBeLessThan(TOL);
      });
    }

    it(`input gradient: ${label(c)}`, async () => {
      const { diff } = await relativeDiffWasmVsCpu(
        'Conv2DBackpropInput',
        { dy: { shape: dyShape }, filter: { shape: filterShape } },
        { ...common, inputShape: c.x },
        n + 1,
      );
      expect(diff).toBeLessThan(TOL);
    });
  });
});

describe('wasm DepthwiseConv2dNativeBackpropFilter / Input vs cpu', () => {
  beforeAll(loadCpuAndWasm);

  depthwiseCases.forEach((c, n) => {
    const { filterShape, dyShape } = geometry(c, true);
    const common = { strides: c.stride, pad: c.pad, dilations: c.dilation ?? 1, dimRoundingMode: c.dimRoundingMode };

    it(`filter gradient: ${label(c)}`, async () => {
      const { diff } = await relativeDiffWasmVsCpu(
        'DepthwiseConv2dNativeBackpropFilter',
        { x: { shape: c.x }, dy: { shape: dyShape } },
        { ...common, filterShape },
        n + 1,
      );
      expect(diff).toBeLessThan(TOL);
    });

    it(`input gradient: ${label(c)}`, async () => {
      const { diff } = await relativeDiffWasmVsCpu(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: { shape: dyShape }, filter: { shape: filterShape } },
        { ...common, inputShape: c.x },
        n + 1,
      );
      expect(diff).toBeLessThan(TOL);
    });
  });
});

// tfjs-backend-cpu's depthwise backprop kernels ignore `dilations` (tfjs's own gradients
// reject dilation > 1), so dilated cases are checked against the equivalent undilated
// problem on cpu: the filter with d-1 zeros inserted between its taps.
describe('wasm depthwise backprop with dilation vs cpu on the zero-inserted filter', () => {
  beforeAll(loadCpuAndWasm);

  const dilatedCases: Array<{ x: [number, number, number, number]; k: number; m: number; d: number; pad: Pad }> = [
    { x: [2, 7, 6, 3], k: 3, m: 1, d: 2, pad: 'same' },
    { x: [1, 9, 9, 2], k: 2, m: 2, d: 3, pad: 'valid' },
    { x: [1, 8, 8, 3], k: 3, m: 1, d: 2, pad: explicit(1, 3, 2, 0) },
  ];

  dilatedCases.forEach((c, n) => {
    const ke = c.d * (c.k - 1) + 1;
    const ci = c.x[3];
    const dyShape = tf.backend_util.computeConv2DInfo(c.x, [ke, ke, ci, c.m], 1, 1, c.pad, undefined, true).outShape;
    const name = `x [${c.x}] k ${c.k} m ${c.m} dilation ${c.d} pad ${JSON.stringify(c.pad)}`;
    const filterValues = randomValues(c.k * c.k * ci * c.m, 7 + n);
    const dyValues = randomValues(
      dyShape.reduce((p, v) => p * v, 1),
      8 + n,
    );
    const xValues = randomValues(
      c.x.reduce((p, v) => p * v, 1),
      9 + n,
    );
    // Tap (i, j) of the dilated filter sits at (i*d, j*d) of the zero-inserted one.
    const inserted = new Float32Array(ke * ke * ci * c.m);
    const tapSize = ci * c.m;
    for (let i = 0; i < c.k; i++) {
      for (let j = 0; j < c.k; j++) {
        const from = (i * c.k + j) * tapSize;
        inserted.set(filterValues.subarray(from, from + tapSize), (i * c.d * ke + j * c.d) * tapSize);
      }
    }
    const scaleOf = (v: ArrayLike<number>) => Math.max(1, ...Array.from(v, Math.abs));

    it(`input gradient: ${name}`, async () => {
      const wasm = await runKernelOn(
        'wasm',
        'DepthwiseConv2dNativeBackpropInput',
        { dy: { shape: dyShape, values: dyValues }, filter: { shape: [c.k, c.k, ci, c.m], values: filterValues } },
        { strides: 1, dilations: c.d, pad: c.pad, inputShape: c.x },
      );
      const cpu = await runKernelOn(
        'cpu',
        'DepthwiseConv2dNativeBackpropInput',
        { dy: { shape: dyShape, values: dyValues }, filter: { shape: [ke, ke, ci, c.m], values: inserted } },
        { strides: 1, dilations: 1, pad: c.pad, inputShape: c.x },
      );
      expect(wasm.shape).toEqual(cpu.shape);
      const scale = scaleOf(cpu.values);
      const diff = Math.max(...Array.from(cpu.values, (v, i) => Math.abs(v - wasm.values[i]!) / scale));
      expect(diff).toBeLessThan(TOL);
    });

    it(`filter gradient: ${name}`, async () => {
      const inputs = { x: { shape: c.x, values: xValues }, dy: { shape: dyShape, values: dyValues } };
      const wasm = await runKernelOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', inputs, {
        strides: 1,
        dilations: c.d,
        pad: c.pad,
        filterShape: [c.k, c.k, ci, c.m],
      });
      const cpu = await runKernelOn('cpu', 'DepthwiseConv2dNativeBackpropFilter', inputs, {
        strides: 1,
        dilations: 1,
        pad: c.pad,
        filterShape: [ke, ke, ci, c.m],
      });
      const expected: number[] = [];
      for (let i = 0; i < c.k; i++) {
        for (let j = 0; j < c.k; j++) {
          const from = (i * c.d * ke + j * c.d) * tapSize;
          expected.push(...cpu.values.subarray(from, from + tapSize));
        }
      }
      expect(wasm.shape).toEqual([c.k, c.k, ci, c.m]);
      const scale = scaleOf(expected);
      const diff = Math.max(...expected.map((v, i) => Math.abs(v - wasm.values[i]!) / scale));
      expect(diff).toBeLessThan(TOL);
    });
  });
});

describe('wasm conv kernels free their intermediates', () => {
  beforeAll(loadCpuAndWasm);

  it('tensor and data-id counts stay flat over repeated calls', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomUniform([2, 9, 8, 5]);
    const dy = tf.randomUniform([2, 5, 4, 6]);
    const w = tf.randomUniform([3, 3, 5, 6]);
    const dw = tf.randomUniform([3, 3, 5, 2]);
    const dyDw = tf.randomUniform([2, 5, 4, 10]);
    const runAll = () => {
      const outs = [
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', filterShape: [3, 3, 5, 6], dataFormat: 'NHWC' }),
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 2, pad: 'same', inputShape: [2, 9, 8, 5], dataFormat: 'NHWC' }),
        tf
          .engine()
          .runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dyDw }, { strides: 2, pad: 'same', dilations: 1, filterShape: [3, 3, 5, 2] }),
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropInput',
            { dy: dyDw, filter: dw },
            { strides: 2, pad: 'same', dilations: 1, inputShape: [2, 9, 8, 5] },
          ),
      ] as tf.Tensor[];
      tf.dispose(outs);
    };
    runAll(); // first call: lazily created state, if any
    const before = memoryCounts();
    for (let i = 0; i < 3; i++) runAll();
    expect(memoryCounts()).toEqual(before);
    tf.dispose([x, dy, w, dw, dyDw]);
  });
});
