import * as tf from '@tensorflow/tfjs-core';
import { eagerGradient } from './gradients/release.js';
import { pad2d, type PadMode } from './padding.js';

/**
 * The reference's anti-aliasing filter (`get_filter`): the binomial row
 * a = [C(k-1, 0) .. C(k-1, k-1)] (k=3: [1,2,1], k=4: [1,3,3,1]), `outer(a, a) / sum`.
 * Returned row-major as `[ky][kx]`, length k*k. Supports k = 1..7 like the reference.
 */
export function binomialFilter(k: number): Float32Array {
  if (!Number.isInteger(k) || k < 1 || k > 7) throw new Error(`binomialFilter: size must be 1..7, got ${k}`);
  const row = [1];
  for (let i = 1; i < k; i++) row.push((row[i - 1]! * (k - i)) / i);
  const total = row.reduce((s, v) => s + v, 0) ** 2;
  const out = new Float32Array(k * k);
  for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) out[y * k + x] = (row[y]! * row[x]!) / total;
  return out;
}

/**
 * The binomial filter as a depthwise filter `[size, size, C, 1]`, times `scale`, placed in the
 * top-left k x k corner (zeros elsewhere when size > k). The reference registers the same
 * numbers as a `[C, 1, k, k]` buffer (`model.N.filt` in checkpoints); they are constants,
 * so we rebuild them instead of loading them.
 */
function depthwiseBlurFilter(k: number, channels: number, scale = 1, size = k): tf.Tensor4D {
  const f = binomialFilter(k);
  const values = new Float32Array(size * size * channels);
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) {
      const tap = y * size + x;
      values.fill(f[y * k + x]! * scale, tap * channels, (tap + 1) * channels);
    }
  }
  return tf.tensor4d(values, [size, size, channels, 1]);
}

export interface BlurDownsampleOptions {
  /** Filter size (reference `filt_size`): 3 by default. */
  filtSize?: number;
  /** Border handling before filtering (reference `pad_type`): reflect by default. */
  padType?: PadMode;
}

/**
 * Anti-aliased downsampling by 2, the reference's `Downsample(C, pad_type='reflect', filt_size=3, stride=2)`
 * ("blur pool"): pad by [floor((k-1)/2), ceil((k-1)/2)] on each axis, then a depthwise stride-2
 * convolution with the binomial filter. Output `ceil(H/2) x ceil(W/2)` for the default k=3.
 * NHWC. Its input gradient is the depthwise conv's backprop and the padding's gradient.
 */
export function blurDownsample(x: tf.Tensor4D, options: BlurDownsampleOptions = {}): tf.Tensor4D {
  const { filtSize = 3, padType = 'reflect' } = options;
  return tf.tidy(() => {
    const lo = Math.floor((filtSize - 1) / 2);
    const hi = Math.ceil((filtSize - 1) / 2);
    const padded = pad2d(x, [lo, hi, lo, hi], padType);
    return tf.depthwiseConv2d(padded, depthwiseBlurFilter(filtSize, x.shape[3]), 2, 'valid');
  });
}

export interface BlurUpsampleOptions {
  /** Filter size (reference `filt_size`): 4 by default. */
  filtSize?: number;
  /** Border handling before filtering (reference `pad_type='repl'`): replicate by default. */
  padType?: PadMode;
}

/**
 * Anti-aliased upsampling by 2, the reference's `Upsample(C, pad_type='repl', filt_size=4, stride=2)`:
 * pad by 1, depthwise transposed convolution (stride 2, padding 1 + floor((k-1)/2)) with
 * 4 x the binomial filter, crop to exactly `2H x 2W`. NHWC.
 *
 * For the default (k=4, replicate) this is exactly bilinear x2 with half-pixel centres
 * (torch `F.interpolate(scale_factor=2, mode='bilinear', align_corners=False)`; CUT_SPEC 3.2):
 * per axis out[2i] = 1/4 x[i-1] + 3/4 x[i], out[2i+1] = 3/4 x[i] + 1/4 x[i+1], edges clamped.
 * It runs as `ResizeBilinear` (one native kernel on every backend) with its own gradient:
 * tfjs's ResizeBilinearGrad kernels ignore `halfPixelCenters` (cpu and wasm), and a generic
 * resize gradient is far slower, so the gradient is written as what it is, the transpose of
 * the reference's transposed conv: replicate-pad dy by 1, then a depthwise 4x4 stride-2
 * convolution with the same filter (forward kernels only). Two wasm details: replicate
 * padding by 1 is a 'symmetric' MirrorPad, and the 4x4 filter sits in a 5x5 one (zero last
 * row and column; dy gets one more mirrored row and column for it), because XNNPACK has a
 * fast 5x5 depthwise kernel but runs 4x4 on a generic path about 5x slower.
 *
 * Candidates on wasm (tfjs-backend-wasm 4.22, 1 thread, shared 2-core machine, best of 3-5),
 * forward / forward + backward in ms:
 *   candidate                                              1x64x64x256    1x128x128x128
 *   ResizeBilinear + this gradient (chosen)                   18 / 41         31 / 87
 *   ResizeBilinear + generic gradient (resize matmuls)        17 / 1360       31 / 7780
 *   separable 1/4-3/4 shifted slices, 4-D interleave         110 / 293       123 / 429
 *   literal: zero-insert + depthwise 4x4 conv (below)        447 / 923      1019 / 2020
 *
 * Other filter sizes / pad types take the literal route: pad by 1, insert zeros between
 * samples, depthwise k x k convolution (the binomial filter is symmetric, so the transposed
 * convolution needs no flip), crop.
 */
export function blurUpsample(x: tf.Tensor4D, options: BlurUpsampleOptions = {}): tf.Tensor4D {
  const { filtSize = 4, padType = 'replicate' } = options;
  if (filtSize === 4 && padType === 'replicate') return bilinearUp2(x);
  return tf.tidy(() => blurUpsampleDirect(x, filtSize, padType));
}

/** Bilinear x2 (half-pixel centres) with the gradient described at `blurUpsample`. */
const bilinearUp2 = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor4D;
  const [, h, w, c] = x.shape;
  return {
    value: tf.image.resizeBilinear(x, [2 * h, 2 * w], false, true),
    gradFunc: (dy: tf.Tensor) =>
      eagerGradient(dy, () =>
        tf.tidy(() => {
          // Replicate pad by 1 (+1 row/column that meets only zero taps of the 5x5 filter).
          const padded = tf.mirrorPad(
            dy as tf.Tensor4D,
            [
              [0, 0],
              [1, 2],
              [1, 2],
              [0, 0],
            ],
            'symmetric',
          );
          return tf.depthwiseConv2d(padded, depthwiseBlurFilter(4, c, 4, 5), 2, 'valid');
        }),
      ),
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * The reference's Upsample written out: p = pad(x, 1); y = conv_transpose(p, 4 * filt, stride 2,
 * padding P = 1 + floor((k-1)/2)); y = y[1:, 1:] (and [:-1, :-1] for even k).
 * A stride-2 transposed convolution is a stride-1 correlation over p with zeros inserted
 * between samples (z[2i] = p[i]), padded by k-1-P; the crops then leave, per axis, the
 * window of z starting at 3 - k + floor((k-1)/2) of length 2H + k - 1 (zeros outside z).
 */
function blurUpsampleDirect(x: tf.Tensor4D, k: number, padType: PadMode): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const start = 3 - k + Math.floor((k - 1) / 2);
  let z = zeroInsert(zeroInsert(pad2d(x, 1, padType), 1), 2);
  z = window(z, 1, start, 2 * h + k - 1);
  z = window(z, 2, start, 2 * w + k - 1);
  return tf.depthwiseConv2d(z, depthwiseBlurFilter(k, c, 4), 1, 'valid');
}

/** Inserts a zero between consecutive samples along `axis` (length n -> 2n - 1). */
function zeroInsert(x: tf.Tensor4D, axis: 1 | 2): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  // Each sample gets a zero neighbour through a 4-D pad (4-D keeps wasm's slice fast path for the gradient).
  const asPairs: [number, number, number, number] = axis === 1 ? [b, h, 1, w * c] : [b * h, w, 1, c];
  const paired = tf.pad(tf.reshape(x, asPairs), [
    [0, 0],
    [0, 0],
    [0, 1],
    [0, 0],
  ]);
  const doubled = tf.reshape(paired, axis === 1 ? [b, 2 * h, w, c] : [b, h, 2 * w, c]) as tf.Tensor4D;
  const size = [b, h, w, c];
  size[axis] = 2 * x.shape[axis] - 1;
  return tf.slice(doubled, [0, 0, 0, 0], size);
}

/** `length` samples along `axis` starting at `start` (may be negative), zeros outside. */
function window(x: tf.Tensor4D, axis: 1 | 2, start: number, length: number): tf.Tensor4D {
  const n = x.shape[axis];
  const before = Math.max(0, -start);
  const after = Math.max(0, start + length - n);
  const paddings: Array<[number, number]> = [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ];
  paddings[axis] = [before, after];
  const padded = before || after ? tf.pad(x, paddings) : x;
  const begin = [0, 0, 0, 0];
  begin[axis] = start + before;
  const size = [...padded.shape];
  size[axis] = length;
  return tf.slice(padded, begin, size);
}
