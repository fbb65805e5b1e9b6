import * as tf from '@tensorflow/tfjs-core';

/** Attributes as the kernel received them (tfjs types them loosely). */
export function attrsOf<T>(attrs: tf.NamedAttrMap): T {
  return attrs as unknown as T;
}

/** The i-th saved tensor, with a clear error when a config saves fewer than it reads. */
export function savedAt(saved: tf.Tensor[], i: number): tf.Tensor {
  const t = saved[i];
  if (!t) throw new Error(`gradient: saved tensor #${i} missing`);
  return t;
}

/** The single upstream gradient of a one-output kernel. */
export function single(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(dy)) throw new Error('gradient: expected one upstream gradient');
  return dy;
}

/** The upstream gradients of a multi-output kernel. */
export function several(dy: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(dy) ? dy : [dy];
}

/**
 * Sums a gradient computed at the broadcast output shape back to the shape of the input
 * that was broadcast (leading axes it lacked and axes where it had size 1). Always
 * returns a new tensor, never `g` itself: tfjs's backprop may dispose either.
 */
export function sumToShape(g: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, g.shape);
  return tf.tidy(() => tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape));
}

/** Normalises a (possibly negative) axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`gradient: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** `[h, w]` from a number-or-pair attribute. */
export function pair(v: number | [number, number] | number[]): [number, number] {
  if (typeof v === 'number') return [v, v];
  const [a, b] = v;
  if (a === undefined || b === undefined) throw new Error(`gradient: expected a pair, got [${v.join(', ')}]`);
  return [a, b];
}

export const product = (dims: number[]): number => dims.reduce((p, d) => p * d, 1);

/** A numeric tensor as float32 (same values when it already is). */
export const asFloat = (t: tf.Tensor): tf.Tensor => tf.cast(t, 'float32');

/**
 * 1 where `mask` holds, 0 elsewhere, as float32 with float data of its own. (Not a
 * cast: tfjs-backend-webgpu casts bool to float32 by relabelling the int buffer, which
 * some of its kernels, e.g. Transpose, then fail to compile against.)
 */
export const indicator = (mask: tf.Tensor): tf.Tensor => tf.where(mask, tf.ones(mask.shape), tf.zeros(mask.shape));

/** `g` where `mask` holds, 0 elsewhere. */
export const keepWhere = (mask: tf.Tensor, g: tf.Tensor): tf.Tensor => tf.where(mask, g, tf.zerosLike(g));
