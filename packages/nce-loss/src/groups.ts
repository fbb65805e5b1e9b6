import { add, eye, mul, sqrt, maximum, sub, sum, tidy, div, square, type Tensor, type Tensor3D } from '@tensorflow/tfjs-core';
import type { NegativesMode } from './patchnce.js';

/** The options every patch loss of this package shares with `patchNCELoss`. */
export interface PatchLossOptions {
  /**
   * The training batch size (`opt.batch_size`). In 'image' mode the N rows are split into this
   * many groups of N / batchSize patches (the option is used, not the tensor).
   */
  batchSize: number;
  /**
   * 'image' (default; `nce_includes_all_negatives_from_minibatch` false): the negatives of a
   * patch are the other patches of its image. 'minibatch': every other row of the minibatch.
   */
  negatives?: NegativesMode;
}

/** How the N rows are grouped: G groups of M rows (rows g·M … g·M + M − 1). */
export interface RowGroups {
  n: number;
  d: number;
  groups: number;
  m: number;
}

/**
 * Checks `featQ`, `featK` ([N, D], same shape, N > 0), `batchSize` and `negatives`, and
 * returns the grouping. `divisibleAlways`: N must be a multiple of batchSize in both modes
 * (a loss that uses the patches per image P = N / batchSize even in 'minibatch' mode).
 */
export function rowGroups(fn: string, featQ: Tensor, featK: Tensor, options: PatchLossOptions, divisibleAlways = false): RowGroups {
  const { batchSize, negatives = 'image' } = options;
  if (featQ.rank !== 2 || featK.rank !== 2) {
    throw new Error(`${fn}: featQ and featK must be 2-D [N, D], got [${featQ.shape}] and [${featK.shape}]`);
  }
  if (featQ.shape[0] !== featK.shape[0] || featQ.shape[1] !== featK.shape[1]) {
    throw new Error(`${fn}: featQ [${featQ.shape}] and featK [${featK.shape}] must have the same shape`);
  }
  const [n, d] = featQ.shape as [number, number];
  if (n === 0) throw new Error(`${fn}: no rows (N = 0)`);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${fn}: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (negatives !== 'image' && negatives !== 'minibatch') {
    throw new Error(`${fn}: negatives must be 'image' or 'minibatch', got '${String(negatives)}'`);
  }
  if ((negatives === 'image' || divisibleAlways) && n % batchSize !== 0) {
    throw new Error(`${fn}: N = ${n} rows are not divisible by batchSize = ${batchSize}`);
  }
  const groups = negatives === 'image' ? batchSize : 1;
  return { n, d, groups, m: n / groups };
}

/** Throws unless `value` is a positive finite number. */
export function checkPositive(fn: string, name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new Error(`${fn}: ${name} must be a positive finite number, got ${value}`);
  }
}

/**
 * `x` [G, M, M] with its diagonal replaced by `value` (x·1 + 0 and x·0 + value are exact, so
 * this equals PyTorch's in-place `masked_fill_` on the diagonal; no gradient reaches it).
 */
export function fillDiagonal(x: Tensor3D, value: number): Tensor3D {
  return tidy(() => {
    const diag = eye(x.shape[1]);
    return add(mul(x, sub(1, diag)), mul(diag, value)) as Tensor3D;
  });
}

/** The epsilon the authors' `Normalize` adds to each row's norm. */
export const NORMALIZE_EPSILON = 1e-7;

/**
 * Rows divided by `‖row‖₂ + 1e-7`, as the authors' `Normalize(2)` (Hneg_SRC's SRC.py), but with
 * the norm's derivative taken as 0 at an exact-zero row: that row stays zero and its gradient is
 * the upstream gradient divided by 1e-7 (PyTorch gives NaN there: d‖x‖/dx at 0). The norm is
 * computed as sqrt(max(Σx², 1e-30)), which changes no value by more than 1e-8 relative.
 */
export function normalizeRows(x: Tensor): Tensor {
  return tidy(() => {
    const norm = sqrt(maximum(sum(square(x), 1, true), 1e-30));
    return div(x, add(norm, NORMALIZE_EPSILON));
  });
}
