import { add, exp, log, max, mul, reshape, slice, squeeze, sub, sum, tidy, type Tensor, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { stopGradient } from '@cut/core-tensors';

/**
 * Row-wise `logsumexp(logits) - logits`, shifted by the row max so `exp` never overflows.
 * The max is a constant for autodiff (the loss does not depend on it), so gradients come
 * out as softmax − one-hot with no special case for ties.
 */
function shiftedLogits(logits: Tensor2D): { shifted: Tensor2D; lse: Tensor1D } {
  const m = stopGradient(max(logits, 1, true));
  const shifted = sub(logits, m);
  return { shifted: shifted as Tensor2D, lse: log(sum(exp(shifted), 1)) as Tensor1D };
}

/** Per-row cross-entropy of `logits` [N, C] against class 0 (the positive comes first). */
export function crossEntropyFirstColumn(logits: Tensor2D): Tensor1D {
  return tidy(() => {
    const { shifted, lse } = shiftedLogits(logits);
    return sub(lse, reshape(slice(shifted, [0, 0], [-1, 1]), [-1]));
  });
}

/** Per-row cross-entropy of `logits` [N, C] against the class marked by a one-hot mask [N, C]. */
export function crossEntropyOneHot(logits: Tensor2D, oneHot: Tensor2D): Tensor1D {
  return tidy(() => {
    const { shifted, lse } = shiftedLogits(logits);
    return sub(lse, sum(mul(shifted, oneHot), 1));
  });
}

/**
 * `log(sum(exp(x), axis))` with the max along `axis` subtracted first (a constant for autodiff,
 * so the gradient is the softmax along `axis`). Keeps the reduced axis when `keepDims`.
 */
export function logSumExp(x: Tensor, axis: number, keepDims = false): Tensor {
  return tidy(() => {
    const m = stopGradient(max(x, axis, true));
    const lse = add(log(sum(exp(sub(x, m)), axis, true)), m);
    return keepDims ? lse : squeeze(lse, [axis]);
  });
}
