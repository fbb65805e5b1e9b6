import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Scope } from './kernel-call.js';

/**
 * The input gradient of a convolution (a transposed convolution) without zero insertion.
 *
 * Per spatial axis, forward: y[o] = sum_i x[o*s + i*d - pad] w[i]. Its transpose,
 * dx[v] = sum over (o, i) with o*s + i*d = v + pad of dy[o] w[i], splits by the phase
 * r = (v + pad) mod s: writing v + pad = s*u + r and i = r + s*m, phase r is the stride-1
 * correlation z_r[u] = sum_m dy[u - m] w[r + s*m] over the taps of w that belong to it.
 * So each of the s*s phases is one stride-1 XNNPACK convolution over dy with its own few taps
 * (flipped), all phases cover the same range of u, and they are interleaved into space by
 * stacking and transposing. No multiplications by inserted zeros (s^2 times the work): a dense
 * convolution does exactly the forward's work. (Dilation d > 1 only occurs with s = 1, where
 * it is the correlation's dilation.)
 */
export interface TransposedAxis {
  stride: number;
  dilation: number;
  /** Per phase: the forward taps it uses, in correlation order (flipped). */
  phaseTaps: number[][];
  /** u range every phase computes: [first, first + count). */
  first: number;
  count: number;
  /** Size of dy along this axis. */
  outSize: number;
  /** Where dx starts in the interleaved output. */
  offset: number;
}

export function transposedAxis(inSize: number, outSize: number, k: number, stride: number, dilation: number, padBefore: number): TransposedAxis {
  if (stride > 1 && dilation > 1) throw new Error('transposed convolution: stride and dilation cannot both exceed 1');
  const first = Math.floor(padBefore / stride);
  const last = Math.floor((inSize - 1 + padBefore) / stride);
  const phaseTaps: number[][] = [];
  for (let r = 0; r < stride; r++) {
    const taps: number[] = [];
    for (let i = r; i < k; i += stride) taps.unshift(i);
    phaseTaps.push(taps);
  }
  return { stride, dilation, phaseTaps, first, count: last - first + 1, outSize, offset: padBefore - first * stride };
}

/**
 * dy cropped and the explicit padding for one phase's correlation (`taps` taps): output
 * position u - first reads dy[u - m*d] for m < taps. Cropping happens only with explicit
 * pads larger than the filter.
 */
function phaseWindow(axis: TransposedAxis, taps: number): { crop: [number, number]; pad: [number, number] } {
  const before = axis.dilation * (taps - 1) - axis.first;
  const after = axis.first + axis.count - axis.outSize;
  return { crop: [Math.max(0, -before), Math.max(0, -after)], pad: [Math.max(0, before), Math.max(0, after)] };
}

/** A phase's taps in correlation order; `null` is a zero tap (padding to a common size). */
export type PhaseTaps = Array<number | null>;

/**
 * Runs the per-phase correlations and interleaves them: `correlate(rowTaps, colTaps, input,
 * pad)` gets dy cropped for that phase and the explicit pads, and returns `[b, count_h,
 * count_w, c]`; the result is `[b, count_h*sh, count_w*sw, c]` starting `offset` before dx.
 * With `equalTaps` every phase gets as many taps as the largest, zero taps first (XNNPACK's
 * depthwise convolution is ~10x slower for 1- and 2-tap filters than for 2x2 or 3x3).
 */
export function phaseCorrelations(
  s: Scope,
  dy: TensorInfo,
  rows: TransposedAxis,
  cols: TransposedAxis,
  channels: number,
  equalTaps: boolean,
  correlate: (rowTaps: PhaseTaps, colTaps: PhaseTaps, input: TensorInfo, pad: Array<[number, number]>) => TensorInfo,
): TensorInfo {
  const [b, dyH, dyW, dyC] = dy.shape as [number, number, number, number];
  const widen = (taps: number[], all: number[][]): PhaseTaps =>
    equalTaps ? [...new Array<null>(all[0]!.length - taps.length).fill(null), ...taps] : taps;
  const phaseRows: TensorInfo[] = [];
  for (const rowPhase of rows.phaseTaps) {
    const rowTaps = widen(rowPhase, rows.phaseTaps);
    const phaseCols: TensorInfo[] = [];
    for (const colPhase of cols.phaseTaps) {
      const colTaps = widen(colPhase, cols.phaseTaps);
      let z: TensorInfo;
      if (rowTaps.length === 0 || colTaps.length === 0) {
        // A phase no tap reaches (kernel smaller than the stride): zeros.
        z = s.run('Fill', {}, { shape: [b, rows.count, cols.count, channels], value: 0, dtype: 'float32' });
      } else {
        const r = phaseWindow(rows, rowTaps.length);
        const c = phaseWindow(cols, colTaps.length);
        const input = s.slice(dy, [0, r.crop[0], c.crop[0], 0], [b, dyH - r.crop[0] - r.crop[1], dyW - c.crop[0] - c.crop[1], dyC]);
        z = correlate(rowTaps, colTaps, input, [[0, 0], r.pad, c.pad, [0, 0]]);
      }
      phaseCols.push(s.reshape(z, [1, b * rows.count * cols.count, channels]));
    }
    // Column phases side by side: [sw, pixels, c] -> [pixels, sw, c] (stacking is a block copy
    // and XNNPACK transposes whole channel vectors; wasm's Concat on the inner axis is JS per pixel).
    const interleavedCols = s.transpose(s.concat(phaseCols, 0), [1, 0, 2]);
    phaseRows.push(s.reshape(interleavedCols, [1, b * rows.count, cols.count * cols.stride * channels]));
  }
  // Row phases likewise: [sh, b*count_h, row] -> [b*count_h, sh, row].
  const interleaved = s.transpose(s.concat(phaseRows, 0), [1, 0, 2]);
  return s.reshape(interleaved, [b, rows.count * rows.stride, cols.count * cols.stride, channels]);
}

/**
 * The filter of one phase: the given taps of `taps` (`[kh*kw, blockRows*blockCols]`, one
 * block per forward tap; `null` a zero block) stacked in correlation order as
 * `[rowTaps, colTaps, blockRows, blockCols]`.
 */
export function phaseFilter(s: Scope, taps: TensorInfo, kw: number, rowTaps: PhaseTaps, colTaps: PhaseTaps, block: [number, number]): TensorInfo {
  const [blockRows, blockCols] = block;
  const size = blockRows * blockCols;
  let zero: TensorInfo | undefined;
  const blocks: TensorInfo[] = [];
  for (const i of rowTaps) {
    for (const j of colTaps) {
      if (i === null || j === null) {
        zero ??= s.run('Fill', {}, { shape: [1, size], value: 0, dtype: 'float32' });
        blocks.push(zero);
      } else {
        blocks.push(s.slice(taps, [i * kw + j, 0], [1, size]));
      }
    }
  }
  return s.reshape(s.concat(blocks, 0), [rowTaps.length, colTaps.length, blockRows, blockCols]);
}
