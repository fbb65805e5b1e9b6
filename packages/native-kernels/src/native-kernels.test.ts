import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { activateBackend } from '@cut/core-tensors';
import { installNativeKernels, nativeKernelCalls, nativeKernelStatus } from './index.js';
import { loadAddon } from './addon.js';
import { relativeError } from './compare.test-helper.js';

type Pad = 'valid' | 'same' | number;
interface Case {
  name: string;
  x: [number, number, number, number];
  /** HWIO, as tf.conv2d takes it. */
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
  dilation?: number;
}

// The convolutions of CUT's G (resnet_9blocks), D (PatchGAN, n_layers 3) with and without
// anti-aliasing, at small widths, plus the ragged and asymmetric cases tfjs's padding makes.
const CASES: Case[] = [
  { name: 'G stem 7x7 valid 3->8', x: [1, 14, 14, 3], filter: [7, 7, 3, 8], stride: 1, pad: 'valid' },
  { name: 'G down 3x3 s2 pad1', x: [1, 8, 8, 8], filter: [3, 3, 8, 16], stride: 2, pad: 1 },
  { name: 'G down (antialias) 3x3 s1 pad1', x: [1, 8, 8, 8], filter: [3, 3, 8, 16], stride: 1, pad: 1 },
  { name: 'G resblock 3x3 valid', x: [1, 6, 6, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'valid' },
  { name: 'G head 7x7 valid 8->3', x: [1, 14, 14, 8], filter: [7, 7, 8, 3], stride: 1, pad: 'valid' },
  { name: 'D conv1 4x4 s2 pad1', x: [2, 16, 16, 3], filter: [4, 4, 3, 8], stride: 2, pad: 1 },
  { name: 'D conv 4x4 s1 pad1', x: [1, 9, 9, 8], filter: [4, 4, 8, 16], stride: 1, pad: 1 },
  { name: 'D out 4x4 s1 pad1 ->1', x: [1, 7, 7, 16], filter: [4, 4, 16, 1], stride: 1, pad: 1 },
  { name: 'odd 3x3 s2 pad1', x: [2, 9, 9, 5], filter: [3, 3, 5, 6], stride: 2, pad: 1 },
  { name: 'same s2 (asymmetric pad)', x: [1, 10, 10, 4], filter: [3, 3, 4, 5], stride: 2, pad: 'same' },
  { name: 'valid s2 leaving a column', x: [1, 10, 10, 4], filter: [3, 3, 4, 5], stride: 2, pad: 'valid' },
  { name: '1x1', x: [1, 5, 5, 6], filter: [1, 1, 6, 7], stride: 1, pad: 0 },
];

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Forward, input gradient and filter gradient of one case (Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter). */
async function convAndGrads(c: Case): Promise<Float32Array[]> {
  const x = tf.tensor4d(values(count(c.x), 1), c.x);
  const w = tf.tensor4d(values(count(c.filter), 2), c.filter);
  const y = tf.conv2d(x, w, c.stride, c.pad, 'NHWC', c.dilation ?? 1);
  const r = tf.tensor(values(y.size, 3), y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)))([
    x,
    w,
  ]);
  const out = await Promise.all([y, dx!, dw!].map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([x, w, y, r, dx!, dw!]);
  return out;
}

// Depthwise convolutions (filters [kh, kw, C, multiplier]): CUT's blur down- and upsampling
// (3x3 / 4x4 / 5x5 binomial filters, stride 2) and the general cases.
const DEPTHWISE: Case[] = [
  { name: 'depthwise blur down 3x3 s2 valid', x: [1, 17, 17, 8], filter: [3, 3, 8, 1], stride: 2, pad: 'valid' },
  { name: 'depthwise blur up 5x5 s2 valid', x: [2, 13, 13, 6], filter: [5, 5, 6, 1], stride: 2, pad: 'valid' },
  { name: 'depthwise 3x3 s1 same, multiplier 2', x: [1, 9, 9, 5], filter: [3, 3, 5, 2], stride: 1, pad: 'same' },
  { name: 'depthwise 4x4 s1 pad 1', x: [1, 10, 10, 4], filter: [4, 4, 4, 1], stride: 1, pad: 1 },
];

/** Forward, input gradient and filter gradient of a depthwise case. */
async function depthwiseAndGrads(c: Case): Promise<Float32Array[]> {
  const x = tf.tensor4d(values(count(c.x), 11), c.x);
  const w = tf.tensor4d(values(count(c.filter), 12), c.filter);
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad as 'valid');
  const y = f(x, w);
  const r = tf.tensor(values(y.size, 13), y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)))([x, w]);
  const out = await Promise.all([y, dx!, dw!].map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([x, w, y, r, dx!, dw!]);
  return out;
}

/** A transposed convolution (Conv2DBackpropInput in the forward pass, as tf.conv2dTranspose runs it). */
async function transposed(): Promise<Float32Array> {
  const x = tf.tensor4d(values(1 * 5 * 5 * 8, 4), [1, 5, 5, 8]);
  const w = tf.tensor4d(values(3 * 3 * 4 * 8, 5), [3, 3, 4, 8]);
  const y = tf.conv2dTranspose(x, w, [1, 10, 10, 4], 2, 'same');
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, w, y]);
  return out;
}

/** FusedConv2D with a bias and each activation the addon fuses, and a dilated Conv2D. */
async function fused(): Promise<Float32Array[]> {
  const x = tf.tensor4d(values(2 * 8 * 8 * 6, 6), [2, 8, 8, 6]);
  const w = tf.tensor4d(values(3 * 3 * 6 * 5, 7), [3, 3, 6, 5]);
  const bias = tf.tensor1d(values(5, 8));
  const outs: tf.Tensor[] = [];
  for (const activation of ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'] as const) {
    outs.push(tf.fused.conv2d({ x, filter: w, strides: 1, pad: 1, bias, activation, leakyreluAlpha: 0.2 }));
  }
  outs.push(tf.conv2d(x, w, 1, 'same', 'NHWC', 2));
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([x, w, bias, ...outs]);
  return data;
}

const available = loadAddon();

describe.skipIf(!available.ok)('oneDNN kernels against the wasm ones', () => {
  const wasm = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    await activateBackend('wasm');
    // The fallback path first (what runs without the addon), then the native one.
    for (const c of CASES) wasm.set(c.name, await convAndGrads(c));
    for (const c of DEPTHWISE) wasm.set(c.name, await depthwiseAndGrads(c));
    wasm.set('transposed', [await transposed()]);
    wasm.set('fused', await fused());
    const status = installNativeKernels({ threads: 2 });
    expect(status.active).toBe(true);
  });

  for (const c of CASES) {
    it(`${c.name}: forward, input and filter gradients within 1e-5`, async () => {
      const before = nativeKernelCalls();
      const native = await convAndGrads(c);
      const after = nativeKernelCalls();
      // Every convolution of the case ran natively: forward twice (tf.grads reruns it), dx, dw.
      expect(after.native - before.native).toBe(4);
      expect(after.fallback - before.fallback).toBe(0);
      const expected = wasm.get(c.name)!;
      native.forEach((n, i) => expect(relativeError(n, expected[i]!), ['forward', 'dx', 'dw'][i]).toBeLessThan(1e-5));
    });
  }

  for (const c of DEPTHWISE) {
    it(`${c.name}: forward, input and filter gradients within 1e-5`, async () => {
      const before = nativeKernelCalls();
      const native = await depthwiseAndGrads(c);
      const after = nativeKernelCalls();
      expect(after.native - before.native).toBe(4);
      expect(after.fallback - before.fallback).toBe(0);
      native.forEach((n, i) => expect(relativeError(n, wasm.get(c.name)![i]!), ['forward', 'dx', 'dw'][i]).toBeLessThan(1e-5));
    });
  }

  it('transposed convolution (Conv2DBackpropInput, stride 2, same) within 1e-5', async () => {
    expect(relativeError(await transposed(), wasm.get('transposed')![0]!)).toBeLessThan(1e-5);
  });

  it('FusedConv2D with bias and each activation, and a dilated Conv2D, within 1e-5', async () => {
    const before = nativeKernelCalls().native;
    const native = await fused();
    expect(nativeKernelCalls().native - before).toBe(7);
    native.forEach((n, i) => expect(relativeError(n, wasm.get('fused')![i]!), `output ${i}`).toBeLessThan(1e-5));
  });

  it('reports itself and follows the thread count', async () => {
    expect(nativeKernelStatus()).toMatchObject({ active: true, threads: 2 });
    installNativeKernels({ threads: 1 });
    expect(nativeKernelStatus()).toMatchObject({ active: true, threads: 1 });
    // Primitives rebuilt for one thread give the same result.
    const c = CASES[1]!;
    const native = await convAndGrads(c);
    native.forEach((n, i) => expect(relativeError(n, wasm.get(c.name)![i]!)).toBeLessThan(1e-5));
  });
});

describe('without the addon', () => {
  it('CUT_NATIVE=0 is a reason, not an error', async () => {
    const before = process.env.CUT_NATIVE;
    process.env.CUT_NATIVE = '0';
    try {
      vi.resetModules();
      const fresh = await import('./addon.js');
      expect(fresh.loadAddon()).toEqual({ ok: false, reason: 'disabled by CUT_NATIVE=0' });
    } finally {
      if (before === undefined) delete process.env.CUT_NATIVE;
      else process.env.CUT_NATIVE = before;
    }
  });
});
