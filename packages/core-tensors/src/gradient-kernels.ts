import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernels that compute a gradient in one pass, by name (TensorFlow's own op names). No tfjs
 * backend has them; a backend package may register them (@cut/native-kernels does for wasm),
 * and our gradients then call them instead of composing several elementwise kernels.
 * On a backend without them the gradients are built from ordinary kernels, with the same values.
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
