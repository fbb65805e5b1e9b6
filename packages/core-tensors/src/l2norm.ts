import { add, div, sqrt, square, sum, tidy, type Tensor } from '@tensorflow/tfjs-core';

/** The epsilon the reference adds to the norm (not inside the square root). */
export const L2_NORM_EPSILON = 1e-7;

/**
 * `x / (sqrt(sum(x², axis)) + 1e-7)`: the reference's `Normalize(2)` (CUT `networks.py`),
 * with the epsilon added to the norm, not inside the square root, so a zero vector stays
 * zero. Note its gradient is NaN at an exactly zero vector, as in PyTorch.
 */
export function l2Normalize<T extends Tensor>(x: T, axis: number = -1): T {
  return tidy(() => {
    const norm = sqrt(sum(square(x), axis, true));
    return div(x, add(norm, L2_NORM_EPSILON)) as T;
  });
}
