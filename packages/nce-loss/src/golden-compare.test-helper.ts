import * as tf from '@tensorflow/tfjs-core';
import { goldenTensor, type GoldenTensor } from '../../../test-utils/golden';

/** A golden tensor whose data may hold null (NaN in PyTorch: JSON has no NaN). */
/** What every loss golden case of tools/golden/hneg_src.py and monce.py holds besides its results. */
export interface PatchGoldenCase {
  id: string;
  batch_size: number;
  num_patches: number;
  dim: number;
  nce_T: number;
  zero_rows: { feat_q: number[]; feat_k: number[] } | null;
  feat_q: GoldenTensor;
  feat_k: GoldenTensor;
}

export type NullableGolden = Omit<GoldenTensor, 'data'> & { data: (number | null)[] };

/** The tolerance the goldens are held to: max |ours − golden| / max |golden|. */
export const REL_TOL = 1e-5;

/**
 * max |actual − expected| / max |expected| over the entries where `expected` is a number
 * (null entries, PyTorch's NaN, are left out). Infinity when `actual` has a NaN there.
 */
export function relDiff(actual: ArrayLike<number>, expected: readonly (number | null)[]): number {
  if (actual.length !== expected.length) throw new Error(`length mismatch: got ${actual.length}, expected ${expected.length}`);
  let scale = 1e-12;
  for (const e of expected) if (e !== null) scale = Math.max(scale, Math.abs(e));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i];
    if (e === null || e === undefined) continue;
    const d = Math.abs(actual[i]! - e);
    worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(worst, d);
  }
  return worst / scale;
}

export const allFinite = (a: ArrayLike<number>) => Array.from(a).every(Number.isFinite);

/** The value of `f(q, k)` and its gradients w.r.t. q and k (k's: whether all zero or absent). */
export async function valueAndGrads(
  f: (q: tf.Tensor2D, k: tf.Tensor2D) => tf.Scalar,
  q: tf.Tensor,
  k: tf.Tensor,
): Promise<{ value: number; gradQ: Float32Array; gradKIsZero: boolean }> {
  const vq = tf.variable(q, true);
  const vk = tf.variable(k, true);
  const { value, grads } = tf.variableGrads(() => f(vq as tf.Variable<tf.Rank.R2>, vk as tf.Variable<tf.Rank.R2>), [vq, vk]);
  const gradQ = (await grads[vq.name]!.data()) as Float32Array;
  const gk = grads[vk.name];
  const gradKIsZero = gk === undefined || (await gk.data()).every((x) => x === 0);
  const out = { value: (await value.data())[0]!, gradQ, gradKIsZero };
  tf.dispose([vq, vk, value, ...Object.values(grads)]);
  return out;
}

export const golden2d = (g: GoldenTensor) => goldenTensor(g) as tf.Tensor2D;

/** A copy of `g` with entry `index` moved by `delta` (to show a comparison can fail). */
export function perturbed(g: GoldenTensor, index: number, delta: number): GoldenTensor {
  const data = g.data.slice();
  data[index] = data[index]! + delta;
  return { ...g, data };
}

/** Worst differences seen per label, printed once per backend. */
export class Worst {
  private readonly seen = new Map<string, number>();
  note(label: string, d: number): number {
    this.seen.set(label, Math.max(this.seen.get(label) ?? 0, d));
    return d;
  }
  report(title: string): void {
    const parts = [...this.seen].map(([k, v]) => `${k} ${v.toExponential(2)}`);
    console.log(`[${tf.getBackend()}] ${title}: max relative difference: ${parts.join(', ')}`);
  }
}
