import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Scope } from './kernel-call.js';

// The input of a filter gradient, laid out so that every tap's window is a plain slice:
// zero-padded, split into its stride phases (x[s*v + r]) and transposed channels first.

/** Rows of the zero-padded input a filter gradient reads, rounded up to whole stride phases. */
export interface PhaseExtent {
  /** Zero rows added before the input. */
  before: number;
  /** Total rows: a multiple of the stride. */
  total: number;
}

/** `span`: rows one output position's taps cover, (k - 1) * dilation + 1. */
export function phaseExtent(padBefore: number, outSize: number, span: number, stride: number): PhaseExtent {
  const needed = stride * (outSize - 1) + span;
  return { before: padBefore, total: stride * Math.ceil(needed / stride) };
}

/**
 * x `[b, H, W, ci]` -> `[sh*sw*ci, b, Hs, Ws]`, channels first, grouped by phase:
 * out[(r*sw + t)*ci + c, n, v, u] = xpad[n, v*sh + r, u*sw + t, c].
 */
export function phaseSplitChannelsFirst(s: Scope, x: TensorInfo, sh: number, sw: number, rows: PhaseExtent, cols: PhaseExtent): TensorInfo {
  const [b, h, w, ci] = x.shape as [number, number, number, number];
  // Crop what lies beyond the needed extent (valid padding can leave rows unused), then pad.
  const keepH = Math.min(h, rows.total - rows.before);
  const keepW = Math.min(w, cols.total - cols.before);
  const cropped = s.slice(x, [0, 0, 0, 0], [b, keepH, keepW, ci]);
  const padded = s.pad(cropped, [
    [0, 0],
    [rows.before, rows.total - rows.before - keepH],
    [cols.before, cols.total - cols.before - keepW],
    [0, 0],
  ]);
  const hs = rows.total / sh;
  const ws = cols.total / sw;
  let byPhase = padded;
  // [b*Hs, sh, Ws, sw*ci] -> [b*Hs, Ws, sh, sw*ci]: now [b, Hs, Ws, (r, t, c)]. With sh = 1 it already is.
  if (sh > 1) byPhase = s.transpose(s.reshape(padded, [b * hs, sh, ws, sw * ci]), [0, 2, 1, 3]);
  const channelsFirst = s.transpose(s.reshape(byPhase, [b * hs * ws, sh * sw * ci]), [1, 0]);
  return s.reshape(channelsFirst, [sh * sw * ci, b, hs, ws]);
}
