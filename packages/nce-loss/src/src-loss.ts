import { add, div, exp, log, matMul, max, mul, reshape, sub, sum, tidy, type Scalar, type Tensor, type Tensor3D } from '@tensorflow/tfjs-core';
import { stopGradient } from '@cut/core-tensors';
import { logSumExp } from './cross-entropy.js';
import { checkPositive, fillDiagonal, normalizeRows, rowGroups, type PatchLossOptions } from './groups.js';
import { PATCHNCE_DIAGONAL_FILL } from './patchnce.js';

export interface SemanticRelationOptions extends PatchLossOptions {
  /**
   * γ of the hard-negative weights (`--HDCE_gamma`, default 1): smaller γ concentrates the
   * weight on the keys most similar to the patch's own key. For the authors' curriculum pass
   * `hdceGammaAt(epoch, schedule)`.
   */
  gamma?: number;
}

export interface SemanticRelationResult {
  /** The summed Jensen–Shannon divergence (a scalar; differentiable w.r.t. featQ). */
  loss: Scalar;
  /** The hDCE weights [G, M, M] for `hardNegativeDCELoss` with the same `negatives` (detached). */
  weights: Tensor3D;
}

/**
 * Semantic relation consistency (SRC) of Hneg-SRC (Jung et al., CVPR 2022, `SRC_Loss` of
 * jcy132/Hneg_SRC), and the hard-negative weights it hands to `hardNegativeDCELoss`.
 *
 * `featQ`, `featK`: [N, D] as for `patchNCELoss` (keys detached). Both are L2-normalised here as
 * the authors' `Normalize` does (x / (‖x‖ + 1e-7)). Per group of M rows (see `negatives`):
 *
 *     S_q = q̂ q̂ᵀ, S_k = k̂ k̂ᵀ                           [M, M]
 *     P_q = softmax over i of S_q[i, j] (each column), P_k likewise
 *     loss = Σ_groups JSD(P_q, P_k), JSD = ½ Σ P_q log(P_q / A) + ½ Σ P_k log(P_k / A), A = ½(P_q + P_k)
 *     weights[i, j] = exp((S_k[i, j] − max_j S_k[i, j]) / γ) with S_k[i, i] = −10 first
 *                    (their softmax over j divided by its row maximum)
 *
 * Groups: the authors' module views its rows as one group of `--num_patches` rows (so it runs
 * with batch size 1). 'minibatch' is that group over all N rows; 'image' (default, as
 * `hardNegativeDCELoss`'s default) applies it to each image and sums the divergences, which is
 * what their code computes for batch size 1 and what it computes per image otherwise.
 *
 * Stable: the softmaxes are log-softmaxes (log-sum-exp); the similarities of normalised rows lie
 * in [−1, 1], so no probability underflows. Exact-zero rows: a zero row stays zero after the
 * normalisation (similarities 0); its gradient is the upstream gradient divided by 1e-7 (the
 * norm's derivative taken as 0 there), finite where the authors' PyTorch code gives NaN.
 */
export function semanticRelationLoss(featQ: Tensor, featK: Tensor, options: SemanticRelationOptions): SemanticRelationResult {
  const fn = 'semanticRelationLoss';
  const { gamma = 1 } = options;
  const { groups, m, d } = rowGroups(fn, featQ, featK, options);
  checkPositive(fn, 'gamma', gamma);
  const weights = relationWeights(featK, groups, m, d, gamma);
  const loss = tidy(() => {
    const q3 = reshape(normalizeRows(featQ), [groups, m, d]);
    const k3 = reshape(normalizeRows(stopGradient(featK)), [groups, m, d]);
    // log-softmax over axis 1 (the column's entries), as their nn.Softmax(dim=1).
    const logPq = logSoftmaxAxis1(matMul(q3, q3, false, true));
    const logPk = stopGradient(logSoftmaxAxis1(matMul(k3, k3, false, true)));
    const pq = exp(logPq);
    const pk = exp(logPk);
    const logA = log(mul(add(pq, pk), 0.5));
    const kl = add(sum(mul(pq, sub(logPq, logA))), sum(mul(pk, sub(logPk, logA))));
    return mul(kl, 0.5) as Scalar;
  });
  return { loss, weights };
}

/**
 * Only the hDCE weights of `semanticRelationLoss` (their `only_weight=True`): they depend on
 * featK alone. [G, M, M], detached.
 */
export function semanticRelationWeights(featK: Tensor, options: SemanticRelationOptions): Tensor3D {
  const fn = 'semanticRelationWeights';
  const { gamma = 1 } = options;
  const { groups, m, d } = rowGroups(fn, featK, featK, options);
  checkPositive(fn, 'gamma', gamma);
  return relationWeights(featK, groups, m, d, gamma);
}

function relationWeights(featK: Tensor, groups: number, m: number, d: number, gamma: number): Tensor3D {
  return tidy(() => {
    const k3 = reshape(normalizeRows(stopGradient(featK)), [groups, m, d]);
    const seed = div(fillDiagonal(matMul(k3, k3, false, true) as Tensor3D, PATCHNCE_DIAGONAL_FILL), gamma);
    return stopGradient(exp(sub(seed, max(seed, 2, true)))) as Tensor3D;
  });
}

function logSoftmaxAxis1(x: Tensor): Tensor {
  return sub(x, logSumExp(x, 1, true));
}

/** The authors' curriculum on γ (`--use_curriculum`), with their option defaults. */
export interface HDCEGammaSchedule {
  /** `--HDCE_gamma`, the γ at epoch 0. Default 1 (their README's runs: 50 or 200). */
  gamma?: number;
  /** `--HDCE_gamma_min`, the γ reached after nEpochs + nEpochsDecay. Default 1 (README: 10 or 40). */
  gammaMin?: number;
  /** `--n_epochs`. Default 200. */
  nEpochs?: number;
  /** `--n_epochs_decay`. Default 200. */
  nEpochsDecay?: number;
  /** `--step_gamma`: γ = 1 after `stepGammaEpoch`. Default false. */
  stepGamma?: boolean;
  /** `--step_gamma_epoch`. Default 200. */
  stepGammaEpoch?: number;
}

/**
 * γ at `epoch` (the training loop's epoch, from `epoch_count`): linear from `gamma` to
 * `gammaMin` over nEpochs + nEpochsDecay epochs, and 1 after `stepGammaEpoch` with `stepGamma`.
 */
export function hdceGammaAt(epoch: number, schedule: HDCEGammaSchedule = {}): number {
  const { gamma = 1, gammaMin = 1, nEpochs = 200, nEpochsDecay = 200, stepGamma = false, stepGammaEpoch = 200 } = schedule;
  if (!Number.isFinite(epoch)) throw new Error(`hdceGammaAt: epoch must be a finite number, got ${epoch}`);
  if (!(nEpochs + nEpochsDecay > 0)) throw new Error('hdceGammaAt: nEpochs + nEpochsDecay must be positive');
  if (stepGamma && epoch > stepGammaEpoch) return 1;
  return gamma + ((gammaMin - gamma) * epoch) / (nEpochs + nEpochsDecay);
}
