import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensorInfoMap } from '@tensorflow/tfjs-core';

/**
 * Kernels that do in one pass what is otherwise composed of several elementwise kernels, by
 * name (TensorFlow's op names where it has one), with their inputs and attributes declared as
 * tfjs declares its own in kernel_names.ts. No tfjs backend has them; a backend package may
 * register them (@cut/native-kernels does for wasm), and our ops and gradients then call them.
 * On a backend without them the same values are composed of ordinary kernels.
 */

/** dy where x > 0, else alpha * dy (exactly 0 when alpha is 0). float32, dy and x of one size. */
export const LeakyReluGrad = 'LeakyReluGrad';
export type LeakyReluGradInputs = Pick<NamedTensorInfoMap, 'dy' | 'x'>;
export interface LeakyReluGradAttrs {
  alpha: number;
}

/**
 * The gradient of a MirrorPad (float32, rank 4, NHWC, padding on H and W only): each entry of x
 * gets the sum of dy over the places that copied it.
 */
export const MirrorPadGrad = 'MirrorPadGrad';
export type MirrorPadGradInputs = Pick<NamedTensorInfoMap, 'dy'>;
/** The attributes of the MirrorPad it undoes. */
export interface MirrorPadGradAttrs {
  paddings: Array<[number, number]>;
  mode: 'reflect' | 'symmetric';
}

/**
 * Per sample and channel over H and W of a float32 NHWC x; outputs [y, rstd]:
 * y = (x - mean) * rstd, rstd = 1 / sqrt(var + eps) (biased variance) of shape [N, 1, 1, C].
 */
export const InstanceNorm = 'InstanceNorm';
export type InstanceNormInputs = Pick<NamedTensorInfoMap, 'x'>;
export interface InstanceNormAttrs {
  eps: number;
}

/** dx = (dy - mean(dy) - y * mean(dy * y)) * rstd, from the y and rstd InstanceNorm left. No attributes. */
export const InstanceNormGrad = 'InstanceNormGrad';
export type InstanceNormGradInputs = Pick<NamedTensorInfoMap, 'dy' | 'y' | 'rstd'>;

/** Every optional kernel's name. */
export const OPTIONAL_KERNELS = [LeakyReluGrad, MirrorPadGrad, InstanceNorm, InstanceNormGrad] as const;

/** The active backend registers `kernelName`. */
export function backendHasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
