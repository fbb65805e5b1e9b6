import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernels that do in one pass what is otherwise composed of several elementwise kernels, by
 * name (TensorFlow's op names where it has one). No tfjs backend has them; a backend package
 * may register them (@cut/native-kernels does for wasm), and our ops and gradients then call
 * them. On a backend without them the same values are composed of ordinary kernels.
 */

/** inputs { dy, x } (float32, same size), attrs { alpha }: dy where x > 0, else alpha * dy (exactly 0 when alpha is 0). */
export const LeakyReluGrad = 'LeakyReluGrad';

/**
 * inputs { dy } (float32, rank 4, NHWC), attrs { paddings, mode } as the MirrorPad it undoes
 * (padding on H and W only): each entry of x gets the sum of dy over the places that copied it.
 */
export const MirrorPadGrad = 'MirrorPadGrad';

/** The active backend registers `kernelName`. */
export function backendHasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

/**
 * inputs { x } (float32 NHWC), attrs { eps }; outputs [y, rstd]: per sample and channel over H
 * and W, y = (x - mean) * rstd, rstd = 1 / sqrt(var + eps) (biased variance) of shape [N, 1, 1, C].
 */
export const InstanceNorm = 'InstanceNorm';

/** inputs { dy, y, rstd } as InstanceNorm left them: dx = (dy - mean(dy) - y * mean(dy * y)) * rstd. */
export const InstanceNormGrad = 'InstanceNormGrad';
