import { add, concat, div, eye, matMul, mul, reshape, sub, sum, tidy, type Tensor, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { stopGradient } from '@cut/core-tensors';
import { crossEntropyFirstColumn } from './cross-entropy.js';

/** Where each query's negatives come from. */
export type NegativesMode = 'image' | 'minibatch';

export interface PatchNCEOptions {
  /**
   * The training batch size (the reference's `opt.batch_size`). In 'image' mode the N rows
   * are split into this many groups of N / batchSize patches. As in the reference the
   * option is used, not the tensor: pass the configured batch size.
   */
  batchSize: number;
  /** Softmax temperature τ (the reference's `--nce_T`). Default 0.07. */
  temperature?: number;
  /**
   * 'image' (default; CUT/FastCUT, `nce_includes_all_negatives_from_minibatch` false): the
   * negatives of a patch are the other patches of the same image. 'minibatch' (SinCUT):
   * every other row of the minibatch.
   */
  negatives?: NegativesMode;
}

/** The value the reference writes on the masked diagonal (before dividing by τ). */
export const PATCHNCE_DIAGONAL_FILL = -10;

function validateFeatures(featQ: Tensor, featK: Tensor): void {
  if (featQ.rank !== 2 || featK.rank !== 2) {
    throw new Error(`patchNCELoss: featQ and featK must be 2-D [N, D], got [${featQ.shape}] and [${featK.shape}]`);
  }
  if (featQ.shape[0] !== featK.shape[0] || featQ.shape[1] !== featK.shape[1]) {
    throw new Error(`patchNCELoss: featQ [${featQ.shape}] and featK [${featK.shape}] must have the same shape`);
  }
  if (featQ.shape[0] === 0) throw new Error('patchNCELoss: no rows (N = 0)');
}

/**
 * PatchNCE loss of the CUT reference (`models/patchnce.py`), per row.
 *
 * `featQ`, `featK`: [N, D] with N = batchSize·P rows, row b·P + p = patch p of image b
 * (the order `PatchSampleF` produces). The keys are detached: no gradient flows to featK.
 * With groups G = batchSize ('image') or 1 ('minibatch') and M = N / G rows per group:
 *
 *     l_pos[i]    = q_i · k_i
 *     l_neg[i, j] = q_i · k_j  for the j of i's group, with l_neg[i, i] = −10
 *     logits[i]   = [l_pos[i], l_neg[i, ·]] / τ                    (1 + M columns)
 *     loss[i]     = −log softmax(logits[i])[0]
 *
 * The masked diagonal stays in the softmax (as exp(−10/τ) ≈ 0), exactly as the reference.
 * Returns the loss vector [N] (the caller takes the mean); computed with a stable
 * log-sum-exp. Inputs are typed `Tensor` (what models return); their ranks are checked here.
 */
export function patchNCELoss(featQ: Tensor, featK: Tensor, options: PatchNCEOptions): Tensor1D {
  const { batchSize, temperature = 0.07, negatives = 'image' } = options;
  validateFeatures(featQ, featK);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`patchNCELoss: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`patchNCELoss: temperature must be a positive finite number, got ${temperature}`);
  }
  if (negatives !== 'image' && negatives !== 'minibatch') {
    throw new Error(`patchNCELoss: negatives must be 'image' or 'minibatch', got '${String(negatives)}'`);
  }
  const [n, d] = featQ.shape as [number, number];
  if (negatives === 'image' && n % batchSize !== 0) {
    throw new Error(`patchNCELoss: N = ${n} rows are not divisible by batchSize = ${batchSize}`);
  }
  const groups = negatives === 'image' ? batchSize : 1;
  const m = n / groups;

  return tidy(() => {
    const k = stopGradient(featK);
    const lPos = sum(mul(featQ, k), 1, true); // [N, 1]
    const q3 = reshape(featQ, [groups, m, d]);
    const k3 = reshape(k, [groups, m, d]);
    const lNeg = matMul(q3, k3, false, true); // [G, M, M]
    // Replace the diagonal (each query against its own positive) by the constant fill;
    // x·1 + 0 and x·0 + fill are exact, so this equals an in-place fill.
    const diag = eye(m);
    const masked = add(mul(lNeg, sub(1, diag)), mul(diag, PATCHNCE_DIAGONAL_FILL));
    const logits = div(concat([lPos, reshape(masked, [n, m])], 1), temperature) as Tensor2D;
    return crossEntropyFirstColumn(logits);
  });
}
