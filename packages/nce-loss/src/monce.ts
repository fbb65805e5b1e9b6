import {
  add,
  concat,
  div,
  exp,
  log,
  matMul,
  max,
  mul,
  neg,
  reshape,
  sub,
  sum,
  tidy,
  transpose,
  zeros,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
} from '@tensorflow/tfjs-core';
import { stopGradient } from '@cut/core-tensors';
import { crossEntropyFirstColumn, logSumExp } from './cross-entropy.js';
import { checkPositive, fillDiagonal, rowGroups, type PatchLossOptions } from './groups.js';
import { PATCHNCE_DIAGONAL_FILL } from './patchnce.js';

/** MoNCE's transport cost (`--cost_type`): 'hard' weights hard negatives up, 'easy' down. */
export type MoNCECost = 'hard' | 'easy';

export interface MoNCEOptions extends PatchLossOptions {
  /** Softmax temperature τ (`--nce_T`). Default 0.07. */
  temperature?: number;
  /** Entropic regularisation ε of the optimal transport (`--eps`). Default 1.0 (their scripts: 0.1). */
  epsilon?: number;
  /** `--cost_type`: 'hard' (default; cost C = q·k) or 'easy' (cost 1 − q·k). */
  cost?: MoNCECost;
  /** Sinkhorn iterations. Default 50 (what their loss passes to their OT). */
  iterations?: number;
  /** `--neg_term_weight`, the scale of the transport weights. Default 1.0. */
  negTermWeight?: number;
  /**
   * How the Sinkhorn iterations are computed (the same plan either way): 'products' (vector–matrix
   * products with a rescaled kernel, as fast as their code) or 'log' (log-sum-exp over [M, M] per
   * step, about 5x slower, finite for any ε). Default: 'log' when ε < `MONCE_LOG_SINKHORN_BELOW`
   * (0.02), else 'products'.
   */
  sinkhorn?: 'products' | 'log';
}

/** The ε below which `moNCELoss` runs its Sinkhorn in the log domain by default. */
export const MONCE_LOG_SINKHORN_BELOW = 0.02;

/** What MoNCE adds to each transport weight before its log (their `+ 1e-8`). */
export const MONCE_WEIGHT_FLOOR = 1e-8;

/**
 * MoNCE of Zhan et al. (CVPR 2022, `MoNCELoss` of fnzhan/MoNCE): PatchNCE with its negatives
 * reweighted by an entropic optimal-transport plan between queries and keys, per row.
 *
 * `featQ`, `featK`: [N, D] as for `patchNCELoss` (keys detached; the gradient flows into the
 * queries both directly and through the Sinkhorn iterations, as in their code). Per group of M
 * rows (see `negatives`), with P = N / batchSize patches per image (their `--num_patches`, also
 * in 'minibatch' mode):
 *
 *     C[i, j]   = q_i · k_j;  K = C ('hard') or 1 − C ('easy'), K[i, i] = −10;  log G = K / ε
 *     Sinkhorn: u, v from 1, `iterations` times u = 1 / (G v), v = 1 / (Gᵀ u);  T = diag(u) G diag(v)
 *     f[i, j]   = T[i, j] · (P − 1) · negTermWeight + 1e-8
 *     l_neg     = C + τ · log f, with l_neg[i, i] = −10;  l_pos[i] = q_i · k_i
 *     loss[i]   = −log softmax([l_pos[i], l_neg[i, ·]] / τ)[0]
 *
 * The Sinkhorn keeps log u and log v and multiplies by G with its rows (or columns) scaled to a
 * maximum of 1: the same plan as their direct form at its cost (vector–matrix products, O(M)
 * memory per iteration), but no overflow (their exp(K / ε) overflows float32 when max K / ε > 88,
 * e.g. ε < 0.012 with unit rows). Products of small kernel and vector entries can still underflow
 * for ε ≲ 0.005 with unit rows, so below ε = 0.02 it runs in the log domain (`sinkhorn: 'log'`),
 * finite for any ε > 0. Exact-zero rows: nothing is normalised here
 * (PatchSampleF normalises), so a zero row only gives zero similarities; finite loss and gradients.
 */
export function moNCELoss(featQ: Tensor, featK: Tensor, options: MoNCEOptions): Tensor1D {
  const fn = 'moNCELoss';
  const { batchSize, temperature = 0.07, epsilon = 1.0, cost = 'hard', iterations = 50, negTermWeight = 1.0 } = options;
  const { sinkhorn = epsilon < MONCE_LOG_SINKHORN_BELOW ? 'log' : 'products' } = options;
  const { n, d, groups, m } = rowGroups(fn, featQ, featK, options, true);
  checkPositive(fn, 'temperature', temperature);
  checkPositive(fn, 'epsilon', epsilon);
  if (cost !== 'hard' && cost !== 'easy') throw new Error(`${fn}: cost must be 'hard' or 'easy', got '${String(cost)}'`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`${fn}: iterations must be a non-negative integer, got ${iterations}`);
  if (sinkhorn !== 'products' && sinkhorn !== 'log') throw new Error(`${fn}: sinkhorn must be 'products' or 'log', got '${String(sinkhorn)}'`);
  if (!(negTermWeight >= 0) || !Number.isFinite(negTermWeight)) {
    throw new Error(`${fn}: negTermWeight must be a non-negative finite number, got ${negTermWeight}`);
  }
  const patches = n / batchSize;

  return tidy(() => {
    const k = stopGradient(featK);
    const similarity = matMul(reshape(featQ, [groups, m, d]), reshape(k, [groups, m, d]), false, true) as Tensor3D;
    const costs = cost === 'hard' ? similarity : (sub(1, similarity) as Tensor3D);
    const logG = div(fillDiagonal(costs, PATCHNCE_DIAGONAL_FILL), epsilon) as Tensor3D;
    const { logU, logV } = (sinkhorn === 'log' ? sinkhornLog : sinkhornProducts)(logG, iterations);
    const plan = exp(add(add(reshape(logU, [groups, m, 1]), logG), logV));
    const logF = log(add(mul(plan, (patches - 1) * negTermWeight), MONCE_WEIGHT_FLOOR));
    const lNeg = fillDiagonal(add(similarity, mul(logF, temperature)) as Tensor3D, PATCHNCE_DIAGONAL_FILL);
    const lPos = sum(mul(featQ, k), 1, true);
    return crossEntropyFirstColumn(div(concat([lPos, reshape(lNeg, [n, m])], 1), temperature) as Tensor2D);
  });
}

/**
 * Their Sinkhorn (u, v from 1; `iterations` times u = 1 / (G v), v = 1 / (Gᵀ u)) with G =
 * exp(logG), as log u and log v, rows [groups, 1, M]. Each step is a vector–matrix product with
 * a rescaled kernel: G's rows (for u) or columns (for v) divided by their maximum, so the kernel
 * never overflows and no row or column is all zero, and the vector divided by its maximum
 * before exp. The shifts are constants for autodiff (the result does not depend on them), so
 * the unrolled gradient is that of their iterations; the memory per iteration is O(M).
 * (The vectors are the left operands: as a right operand, a vector's buffer would be packed by
 * the wasm backend's XNNPACK product once as [M, 1] and reused, wrongly, as [1, M] in the
 * backward pass.)
 */
function sinkhornProducts(logG: Tensor3D, iterations: number): { logU: Tensor; logV: Tensor } {
  const [groups, m] = logG.shape;
  const rowMax = stopGradient(max(logG, 2, true)); // [G, M, 1]
  const colMax = stopGradient(max(logG, 1, true)); // [G, 1, M]
  // (G v)ᵀ = vᵀ Gᵀ: row i of G divided by its max, as column i.
  const byRowT = transpose(exp(sub(logG, rowMax)), [0, 2, 1]);
  const byCol = exp(sub(logG, colMax)); // (Gᵀ u)ᵀ = uᵀ G: column j divided by its max
  const rowMaxT = reshape(rowMax, [groups, 1, m]);
  // log(1 / (xᵀ K)) for K = exp(shift) · scaled (shift per output entry), x = exp(logX).
  const step = (logX: Tensor, scaled: Tensor, shift: Tensor) => {
    const xMax = stopGradient(max(logX, 2, true)); // [G, 1, 1]
    const xk = matMul(exp(sub(logX, xMax)), scaled);
    return neg(add(add(shift, xMax), log(xk)));
  };
  let logV: Tensor = zeros([groups, 1, m]);
  let logU: Tensor = zeros([groups, 1, m]);
  for (let it = 0; it < iterations; it++) {
    logU = step(logV, byRowT, rowMaxT);
    logV = step(logU, byCol, colMax);
  }
  return { logU, logV };
}

/**
 * The same iterations in the log domain: log u_i = −logsumexp_j(log G_ij + log v_j), and
 * likewise for v. Finite for any ε (every step shifts by its own maximum), but each step makes
 * [G, M, M] temporaries. Rows [groups, 1, M], as `sinkhornProducts`.
 */
function sinkhornLog(logG: Tensor3D, iterations: number): { logU: Tensor; logV: Tensor } {
  const [groups, m] = logG.shape;
  let logV: Tensor = zeros([groups, 1, m]);
  let logU: Tensor = zeros([groups, 1, m]);
  for (let it = 0; it < iterations; it++) {
    logU = reshape(neg(logSumExp(add(logG, logV), 2)), [groups, 1, m]);
    logV = neg(logSumExp(add(logG, reshape(logU, [groups, m, 1])), 1, true));
  }
  return { logU, logV };
}
