import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { activateBackend, instanceNorm } from '@cut/core-tensors';
import { installNativeKernels, nativeEltwiseCalls } from './index.js';
import { loadAddon } from './addon.js';
import { relativeError } from './compare.test-helper.js';

/** Deterministic values in [-1, 1), every 7th exactly 0 (ReLU's kink). */
function values(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = i % 7 === 3 ? 0 : s / 2 ** 31 - 1;
  }
  return tf.tensor(out, shape);
}

/** exact: bit for bit; otherwise the relative tolerance (sums: wasm adds in float32, the addon in double). */
type Case = { name: string; run: () => tf.Tensor | tf.Tensor[]; exact: boolean; tolerance?: number };

const X = [2, 9, 9, 70];
const binaryCases: Array<[string, number[], number[]]> = [
  ['same shape', X, X],
  ['per channel (bias)', X, [70]],
  ['per sample and channel (instance norm)', X, [2, 1, 1, 70]],
  ['scalar', X, []],
  ['scalar first', [], X],
  ['outer product', [300, 1], [1, 70]],
  ['middle axis', [4, 1, 1200], [4, 5, 1]],
];
const ops: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
  ['add', tf.add],
  ['sub', tf.sub],
  ['mul', tf.mul],
];

const CASES: Case[] = [
  ...binaryCases.flatMap(([name, sa, sb]) =>
    ops.map(([op, f]) => ({ name: `${op} ${name} [${sa}] [${sb}]`, exact: true, run: () => f(values(sa, 1), values(sb, 2)) })),
  ),
  ...([[0, 1, 2], [1, 2], [3], [0], [0, 1, 2, 3], [2, 3]] as number[][]).flatMap((axes) =>
    [false, true].map((keepDims) => ({
      name: `sum over [${axes}] of [${X}]${keepDims ? ' keepDims' : ''}`,
      exact: false,
      tolerance: 1e-5,
      run: () => tf.sum(values(X, 3), axes, keepDims),
    })),
  ),
  { name: 'sum over [0, 2] (not adjacent: wasm)', exact: false, run: () => tf.sum(values(X, 3), [0, 2]) },
  ...(['reflect', 'symmetric'] as const)
    .flatMap((mode) =>
      [
        [
          [0, 0],
          [3, 3],
          [3, 3],
          [0, 0],
        ],
        [
          [0, 0],
          [1, 2],
          [1, 2],
          [0, 0],
        ],
        [
          [0, 0],
          [1, 1],
          [0, 0],
          [0, 0],
        ],
      ].map((paddings) => {
        const p = paddings as Array<[number, number]>;
        const x = [2, 12, 11, 40];
        return [
          { name: `mirrorPad ${mode} ${JSON.stringify(p)}`, exact: true, run: () => tf.mirrorPad(values(x, 4), p, mode) },
          {
            name: `mirrorPad ${mode} ${JSON.stringify(p)} gradient`,
            exact: false,
            run: () => {
              const r = values(
                x.map((d, i) => d + p[i]![0] + p[i]![1]),
                5,
              );
              return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mirrorPad(t as tf.Tensor4D, p, mode), r)))(values(x, 4));
            },
          },
        ];
      }),
    )
    .flat(),
  ...[1, 2, 3, -1].map((axis) => ({ name: `reverse [${X}] along ${axis}`, exact: true, run: () => tf.reverse(values(X, 14), axis) })),
  { name: 'reverse along two axes (wasm)', exact: true, run: () => tf.reverse(values(X, 14), [1, 2]) },
  { name: 'broadcastTo [256,1] -> [256,70] (Tile)', exact: true, run: () => tf.broadcastTo(values([256, 1], 8), [256, 70]) },
  { name: 'tile [2,1,5] by [1,900,1]', exact: true, run: () => tf.tile(values([2, 1, 5], 8), [1, 900, 1]) },
  { name: 'tile [60,70] by [2,2] (not a broadcast: wasm)', exact: true, run: () => tf.tile(values([60, 70], 8), [2, 2]) },
  ...[
    [2, 9, 9, 70],
    [1, 40, 30, 8],
  ].map((shape) => ({
    name: `instance norm [${shape}]: forward and gradient`,
    exact: false,
    tolerance: 1e-5,
    run: () => {
      const x = tf.add(tf.mul(values(shape, 9), 3), 0.5);
      const r = values(shape, 10);
      return [instanceNorm(x as tf.Tensor4D), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(instanceNorm(t as tf.Tensor4D), r)))(x)];
    },
  })),
  {
    name: 'relu and leaky relu gradients (x with exact zeros)',
    exact: true,
    run: () => {
      const x = values(X, 6);
      const r = values(X, 7);
      return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), r)))(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(t, 0.2), r)))(x)];
    },
  },
];

async function evaluate(c: Case): Promise<Float32Array[]> {
  const outs = tf.tidy(() => [c.run()].flat());
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return data;
}

describe.skipIf(!loadAddon().ok)('native elementwise kernels against the wasm ones', () => {
  const wasm = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    await activateBackend('wasm');
    // The wasm path first (the gradients composed of wasm kernels), then the native one.
    for (const c of CASES) wasm.set(c.name, await evaluate(c));
    expect(installNativeKernels({ threads: 2 }).active).toBe(true);
    expect(tf.getKernel('LeakyReluGrad', 'wasm')).toBeDefined();
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.exact ? 'identical' : `within ${c.tolerance ?? 1e-6}`}`, async () => {
      const before = nativeEltwiseCalls().native;
      const native = await evaluate(c);
      const ran = nativeEltwiseCalls().native - before;
      if (c.name.includes('wasm')) expect(ran).toBe(0);
      else expect(ran).toBeGreaterThan(0);
      native.forEach((n, i) => {
        const expected = wasm.get(c.name)![i]!;
        if (c.exact) expect(Buffer.from(n.buffer).equals(Buffer.from(expected.buffer)), `output ${i}`).toBe(true);
        else expect(relativeError(n, expected), `output ${i}`).toBeLessThan(c.tolerance ?? 1e-6);
      });
    });
  }

  it('sums in double: a float32 sum of 11,340 values within 1e-7 of the exact one', async () => {
    const x = values(X, 3);
    const exact = ((await x.data()) as Float32Array).reduce((a, b) => a + b, 0);
    const before = nativeEltwiseCalls().native;
    const total = tf.sum(x);
    expect(nativeEltwiseCalls().native - before).toBe(1);
    expect(Math.abs((await total.data())[0]! - exact) / Math.abs(exact)).toBeLessThan(1e-7);
    tf.dispose([x, total]);
  });

  it('keeps tensors out of the native path it does not cover: int32, small', async () => {
    const before = nativeEltwiseCalls();
    const ints = tf.add(tf.ones([100, 100], 'int32'), tf.ones([100, 100], 'int32'));
    const small = tf.add(tf.ones([10]), tf.ones([10]));
    expect((await ints.data())[0]).toBe(2);
    expect((await small.data())[0]).toBe(2);
    const after = nativeEltwiseCalls();
    expect(after.native - before.native).toBe(0);
    expect(after.fallback - before.fallback).toBe(2);
    tf.dispose([ints, small]);
  });
});
