import {
  abs,
  concat,
  div,
  eye,
  matMul,
  max,
  maximum,
  mean,
  mul,
  reshape,
  sqrt,
  square,
  sum,
  tidy,
  type Scalar,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
} from '@tensorflow/tfjs-core';
import { stopGradient } from '@cut/core-tensors';
import { crossEntropyFirstColumn, crossEntropyOneHot } from './cross-entropy.js';

export type NegativeMode = 'unpaired' | 'paired';
export type Reduction = 'mean' | 'sum' | 'none';

export interface InfoNCEOptions {
  /**
   * Explicit negative keys: [M, D] shared by every query ('unpaired') or [N, M, D], M per
   * query ('paired'). Without them the other rows' positive keys are the negatives.
   */
  negatives?: Tensor | null;
  /** How `negatives` is laid out. Default 'unpaired'. */
  negativeMode?: NegativeMode;
  /** Softmax temperature τ, at least 1e-30. Default 0.1. */
  temperature?: number;
  /** 'mean' (default) or 'sum' over the N queries, or 'none' for the per-query vector [N]. */
  reduction?: Reduction;
  /** Stop gradients through the keys and negatives (a momentum-encoder setup). Default false. */
  detachKeys?: boolean;
}

/** The smallest temperature accepted: 1/τ must stay far from float32 overflow. */
export const MIN_INFONCE_TEMPERATURE = 1e-30;

/**
 * `x / max(‖x‖₂, 1e-12)` along the last axis (PyTorch's `F.normalize`), computed without
 * overflow or underflow for any finite input: each row is first divided by
 * s = max(max|x|, 1e-12) (a constant for autodiff; the result does not depend on it),
 * then by max(‖x/s‖, 1). When max|x| ≥ 1e-12, ‖x/s‖ ≥ 1 and this is x/‖x‖; below,
 * it is x/1e-12, exactly as `F.normalize`. A zero row stays zero with a finite gradient.
 */
export function safeL2Normalize<T extends Tensor>(x: T): T {
  return tidy(() => {
    const scale = stopGradient(maximum(max(abs(x), -1, true), 1e-12));
    const y = div(x, scale);
    const norm = sqrt(maximum(sum(square(y), -1, true), 1));
    return div(y, norm) as T;
  });
}

function shapeOf(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

function validate(query: Tensor, positiveKey: Tensor, negatives: Tensor | null, mode: NegativeMode): void {
  if (query.rank !== 2) throw new Error(`infoNCELoss: query must be 2-D [N, D], got ${shapeOf(query)}`);
  if (positiveKey.rank !== 2 || positiveKey.shape[0] !== query.shape[0] || positiveKey.shape[1] !== query.shape[1]) {
    throw new Error(`infoNCELoss: positiveKey must have the query's shape ${shapeOf(query)}, got ${shapeOf(positiveKey)}`);
  }
  if (query.shape[0] === 0 || query.shape[1] === 0) throw new Error(`infoNCELoss: empty query ${shapeOf(query)}`);
  if (negatives == null) return;
  const [n, d] = query.shape as [number, number];
  if (mode === 'unpaired') {
    if (negatives.rank !== 2 || negatives.shape[1] !== d || negatives.shape[0] === 0) {
      throw new Error(`infoNCELoss: unpaired negatives must be [M, ${d}] with M ≥ 1, got ${shapeOf(negatives)}`);
    }
  } else if (mode === 'paired') {
    if (negatives.rank !== 3 || negatives.shape[0] !== n || negatives.shape[2] !== d || negatives.shape[1] === 0) {
      throw new Error(`infoNCELoss: paired negatives must be [${n}, M, ${d}] with M ≥ 1, got ${shapeOf(negatives)}`);
    }
  } else {
    throw new Error(`infoNCELoss: negativeMode must be 'unpaired' or 'paired', got '${String(mode)}'`);
  }
}

/**
 * InfoNCE (van den Oord et al. 2018) on cosine similarities, as used by SimCLR/CLIP-style
 * training. With q̂, k̂, n̂ the rows of query, positiveKey and negatives divided by
 * max(‖row‖₂, 1e-12) (`F.normalize`):
 *
 * - with negatives ('unpaired', n̂ [M, D]):  logits_i = [q̂_i·k̂_i, q̂_i·n̂_1, …, q̂_i·n̂_M] / τ, target 0
 * - with negatives ('paired', n̂ [N, M, D]): logits_i = [q̂_i·k̂_i, q̂_i·n̂_i1, …, q̂_i·n̂_iM] / τ, target 0
 * - without negatives (in-batch):           logits_i = [q̂_i·k̂_1, …, q̂_i·k̂_N] / τ,          target i
 *
 *     loss_i = logsumexp(logits_i) − logits_i[target]      (= cross-entropy)
 *
 * reduced by mean (default), sum or none. Stable for any finite input: the rows are
 * normalised with a pre-scaling, so norms of huge entries (1e30, up to the float32 maximum)
 * do not overflow, |logits| ≤ 1/τ, and the log-sum-exp subtracts the row max. The loss is
 * finite for every τ ≥ 1e-30; gradients are finite unless 1/(τ·max(‖x‖, 1e-12)) itself
 * leaves the float32 range.
 *
 * Inputs are typed `Tensor` (what `tf.layers` models and most ops return); their ranks are
 * checked when called. The result is a `Scalar` for 'mean' and 'sum' (ready for
 * `optimizer.minimize`) and a `Tensor1D` for 'none'.
 */
export function infoNCELoss(query: Tensor, positiveKey: Tensor, options?: InfoNCEOptions & { reduction?: 'mean' | 'sum' }): Scalar;
export function infoNCELoss(query: Tensor, positiveKey: Tensor, options: InfoNCEOptions & { reduction: 'none' }): Tensor1D;
export function infoNCELoss(query: Tensor, positiveKey: Tensor, options?: InfoNCEOptions): Scalar | Tensor1D;
export function infoNCELoss(query: Tensor, positiveKey: Tensor, options: InfoNCEOptions = {}): Scalar | Tensor1D {
  const { negatives = null, negativeMode = 'unpaired', temperature = 0.1, reduction = 'mean', detachKeys = false } = options;
  validate(query, positiveKey, negatives, negativeMode);
  if (!Number.isFinite(temperature) || !(temperature >= MIN_INFONCE_TEMPERATURE)) {
    throw new Error(`infoNCELoss: temperature must be a finite number ≥ ${MIN_INFONCE_TEMPERATURE}, got ${temperature}`);
  }
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new Error(`infoNCELoss: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
  const [n, d] = query.shape as [number, number];
  const invT = 1 / temperature; // ≤ 1e30: finite in float32, and so are the logits

  return tidy(() => {
    const keep = <T extends Tensor>(t: T): T => (detachKeys ? stopGradient(t) : t);
    const q = safeL2Normalize(query as Tensor2D);
    const k = safeL2Normalize(keep(positiveKey as Tensor2D));
    let perQuery: Tensor1D;
    if (negatives == null) {
      const logits = mul(matMul(q, k, false, true), invT) as Tensor2D; // [N, N]
      perQuery = crossEntropyOneHot(logits, eye(n) as Tensor2D);
    } else {
      const neg = safeL2Normalize(keep(negatives));
      const pos = sum(mul(q, k), 1, true); // [N, 1]
      const negSims =
        negativeMode === 'unpaired'
          ? matMul(q, neg as Tensor2D, false, true) // [N, M]
          : reshape(matMul(reshape(q, [n, 1, d]), neg as Tensor3D, false, true), [n, -1]); // [N, M]
      const logits = mul(concat([pos, negSims], 1), invT) as Tensor2D;
      perQuery = crossEntropyFirstColumn(logits);
    }
    if (reduction === 'none') return perQuery;
    return reduction === 'sum' ? sum(perQuery) : mean(perQuery);
  });
}
