import {
  add,
  concat,
  div,
  matMul,
  mul,
  reshape,
  sub,
  sum,
  tidy,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
} from '@tensorflow/tfjs-core';
import { stopGradient } from '@cut/core-tensors';
import { crossEntropyFirstColumn, logSumExp } from './cross-entropy.js';
import { checkPositive, fillDiagonal, rowGroups, type PatchLossOptions } from './groups.js';
import { PATCHNCE_DIAGONAL_FILL } from './patchnce.js';

export interface DecoupledContrastiveOptions extends PatchLossOptions {
  /** Softmax temperature τ (`--nce_T`). Default 0.07. */
  temperature?: number;
}

export interface HardNegativeDCEOptions extends DecoupledContrastiveOptions {
  /**
   * Per-negative weights w [G, M, M] (or [1, M, M], broadcast over the groups): w[g, i, j]
   * multiplies the similarity of query g·M + i with key g·M + j. G and M as the negatives
   * mode groups the rows (G = batchSize, M = P for 'image'; G = 1, M = N for 'minibatch').
   * `semanticRelationLoss` returns them (detached) for the same mode. Omitted: plain DCE.
   */
  weights?: Tensor;
}

/**
 * Hard-negative decoupled contrastive loss (hDCE) of Hneg-SRC (Jung et al., CVPR 2022,
 * `PatchHDCELoss` of jcy132/Hneg_SRC), per row; without `weights` it is the decoupled
 * contrastive loss (DCE, Yeh et al. 2022) on patches.
 *
 * `featQ`, `featK`: [N, D], N = batchSize·P, row b·P + p = patch p of image b (as for
 * `patchNCELoss`; the keys are detached). With the rows grouped as `negatives` says:
 *
 *     l_pos[i]    = q_i · k_i
 *     l_neg[i, j] = w_ij · (q_i · k_j)  for the j of i's group, with l_neg[i, i] = −10
 *     dce[i]      = log Σ_j exp((l_neg[i, j] − l_pos[i]) / τ)   (the positive left out)
 *
 * As in the authors' code, the returned value is the cross-entropy of [l_pos, l_neg] / τ (the
 * PatchNCE form, which their code reports "for monitoring"), while the gradient is that of the
 * decoupled loss: loss[i] = stop(ce[i]) + dce[i] − stop(dce[i]). So d mean(loss)/d featQ is
 * d mean(dce)/d featQ, exactly as their `loss_vec.mean() − 1 + CE.detach()`; each row's own
 * gradient is its dce[i]'s. Stable log-sum-exp for both terms.
 *
 * Exact-zero rows: nothing is normalised here (PatchSampleF normalises), so a zero query or key
 * row only gives zero similarities; loss and gradients stay finite.
 */
export function hardNegativeDCELoss(featQ: Tensor, featK: Tensor, options: HardNegativeDCEOptions): Tensor1D {
  return decoupled('hardNegativeDCELoss', featQ, featK, options);
}

function decoupled(fn: string, featQ: Tensor, featK: Tensor, options: HardNegativeDCEOptions): Tensor1D {
  const { temperature = 0.07, weights } = options;
  const { n, d, groups, m } = rowGroups(fn, featQ, featK, options);
  checkPositive(fn, 'temperature', temperature);
  if (weights !== undefined) {
    const ok = weights.rank === 3 && (weights.shape[0] === groups || weights.shape[0] === 1) && weights.shape[1] === m && weights.shape[2] === m;
    if (!ok) throw new Error(`${fn}: weights must be [${groups}, ${m}, ${m}] (or [1, ${m}, ${m}]) for these negatives, got [${weights.shape}]`);
  }

  return tidy(() => {
    const k = stopGradient(featK);
    const lPos = sum(mul(featQ, k), 1, true); // [N, 1]
    let lNeg = matMul(reshape(featQ, [groups, m, d]), reshape(k, [groups, m, d]), false, true) as Tensor3D;
    if (weights !== undefined) lNeg = mul(lNeg, weights);
    const negatives = reshape(fillDiagonal(lNeg, PATCHNCE_DIAGONAL_FILL), [n, m]);
    const ce = crossEntropyFirstColumn(div(concat([lPos, negatives], 1), temperature) as Tensor2D);
    const dce = logSumExp(div(sub(negatives, lPos), temperature), 1);
    // dce − stop(dce) is exactly 0: the value is ce's, the gradient dce's.
    return add(stopGradient(ce), sub(dce, stopGradient(dce))) as Tensor1D;
  });
}

/**
 * Decoupled contrastive loss (DCE) on patches: `hardNegativeDCELoss` without weights (Hneg-SRC's
 * `PatchHDCELoss(feat_q, feat_k)`, their `--no_Hneg`). Same value and gradient conventions.
 */
export function decoupledContrastiveLoss(featQ: Tensor, featK: Tensor, options: DecoupledContrastiveOptions): Tensor1D {
  const { batchSize, negatives, temperature } = options; // a wider object's `weights` are not used
  return decoupled('decoupledContrastiveLoss', featQ, featK, { batchSize, negatives, temperature });
}
