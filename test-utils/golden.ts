import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

/** A tensor as the reference's golden files encode it (row-major data in `shape`). */
export interface GoldenTensor {
  shape: number[];
  dtype: 'float32' | 'int64';
  layout?: string;
  data: number[];
}

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Reads a fixture (relative to fixtures/), gunzipping `.gz` files. */
// biome-ignore lint/suspicious/noExplicitAny: a fixture's JSON is typed by the caller, or read loosely
export function loadFixture<T = any>(relPath: string): T {
  const raw = readFileSync(fixtures + relPath);
  return JSON.parse((relPath.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as T;
}

/** The golden tensor as a tf tensor in its own layout (float32 or int32). */
export function goldenTensor(g: GoldenTensor): tf.Tensor {
  return tf.tensor(g.data, g.shape, g.dtype === 'int64' ? 'int32' : 'float32');
}

/** An NCHW golden activation as an NHWC tensor. */
export function goldenNHWC(g: GoldenTensor): tf.Tensor4D {
  if (g.shape.length !== 4) throw new Error(`expected a 4-D tensor, got shape ${g.shape}`);
  return tf.tidy(() => tf.transpose(goldenTensor(g), [0, 2, 3, 1]) as tf.Tensor4D);
}

/** Max |a - b| over two equal-length arrays; throws on a length mismatch. */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: got ${actual.length}, expected ${expected.length}`);
  }
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Reads a tensor (async: works on every backend) and returns max |actual - expected|. */
export async function maxAbsDiffTensor(actual: tf.Tensor, expected: ArrayLike<number> | tf.Tensor): Promise<number> {
  const a = await actual.data();
  const e = expected instanceof tf.Tensor ? await expected.data() : expected;
  return maxAbsDiff(a as Float32Array, e);
}
