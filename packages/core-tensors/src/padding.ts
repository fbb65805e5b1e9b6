import * as tf from '@tensorflow/tfjs-core';

/** How `pad2d` fills the border (torch's ReflectionPad2d / ReplicationPad2d / ZeroPad2d). */
export type PadMode = 'reflect' | 'replicate' | 'zero';

/**
 * Padding amounts in OUR order: `[top, bottom, left, right]` (rows first, like NHWC).
 * Careful: torch's padding modules and `F.pad` take `(left, right, top, bottom)`.
 * A single number pads all four sides by that amount.
 */
export type Pad2d = number | readonly [top: number, bottom: number, left: number, right: number];

/** Normalises a `Pad2d` to `[top, bottom, left, right]`, rejecting negative or fractional amounts. */
export function padAmounts(pad: Pad2d): [number, number, number, number] {
  const p: [number, number, number, number] = typeof pad === 'number' ? [pad, pad, pad, pad] : [...pad];
  for (const v of p) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`pad2d: pad amounts must be integers >= 0, got [${p}]`);
  }
  return p;
}

/**
 * Pads the spatial dimensions of an NHWC tensor like torch's padding modules:
 * - `reflect`: mirror without repeating the edge (ReflectionPad2d); each amount must be < that side's size,
 * - `replicate`: repeat the edge row/column (ReplicationPad2d),
 * - `zero`: zeros (ZeroPad2d, and Conv2d's own `padding=`).
 *
 * `pad` is `[top, bottom, left, right]` (see `Pad2d`), NOT torch's `(left, right, top, bottom)`.
 * Differentiable with plain ops: MirrorPad, PadV2, or (replicate wider than 1) slices and concat.
 */
export function pad2d(x: tf.Tensor4D, pad: Pad2d, mode: PadMode): tf.Tensor4D {
  const [top, bottom, left, right] = padAmounts(pad);
  const [, h, w] = x.shape;
  const paddings: Array<[number, number]> = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  switch (mode) {
    case 'zero':
      return tf.pad(x, paddings);
    case 'reflect':
      if (top >= h || bottom >= h || left >= w || right >= w) {
        throw new Error(`pad2d: reflect padding [${[top, bottom, left, right]}] must be smaller than the input's ${h}x${w}`);
      }
      return tf.mirrorPad(x, paddings, 'reflect');
    case 'replicate':
      // For widths <= 1, replicate equals a 'symmetric' mirror (the mirror includes the edge):
      // one native MirrorPad, several times faster on wasm than slices + concat.
      if (Math.max(top, bottom, left, right) <= 1) return tf.mirrorPad(x, paddings, 'symmetric');
      return tf.tidy(() => replicateAxis(replicateAxis(x, 1, top, bottom), 2, left, right));
    default:
      throw new Error(`pad2d: unknown mode '${String(mode)}' (expected reflect, replicate or zero)`);
  }
}

/**
 * Replicate-pads one spatial axis: the first/last slice along `axis`, broadcast to the
 * pad width, concatenated on each side. The gradient is slices of dy summed back onto
 * the edges (Concat -> Slice, BroadcastTo -> Sum), all kernels every backend has.
 * (A clamped-index gather would need UnsortedSegmentSum for its gradient, which wasm lacks.)
 */
function replicateAxis(x: tf.Tensor4D, axis: 1 | 2, before: number, after: number): tf.Tensor4D {
  if (before === 0 && after === 0) return x;
  const size = x.shape[axis];
  const edge = (start: number, count: number): tf.Tensor4D => {
    const begin = [0, 0, 0, 0];
    const sliceSize = [...x.shape];
    begin[axis] = start;
    sliceSize[axis] = 1;
    const slice = tf.slice(x, begin, sliceSize);
    if (count === 1) return slice;
    const shape = [...x.shape] as [number, number, number, number];
    shape[axis] = count;
    return tf.broadcastTo(slice, shape);
  };
  const parts: tf.Tensor4D[] = [];
  if (before > 0) parts.push(edge(0, before));
  parts.push(x);
  if (after > 0) parts.push(edge(size - 1, after));
  return tf.concat(parts, axis);
}
