import * as tf from '@tensorflow/tfjs-core';

/*
 * Layout conversions between PyTorch (checkpoints, goldens) and our channels-last tensors.
 * Only used at import/export boundaries: everything inside runs NHWC / HWIO.
 *
 *   activations      torch NCHW            <-> NHWC
 *   Conv2d weight    torch OIHW [out,in,kh,kw]  <-> tfjs conv2d filter HWIO [kh,kw,in,out]
 *   ConvTranspose2d  torch IOHW [in,out,kh,kw]  <-> tfjs conv2dTranspose filter HWOI [kh,kw,out,in]
 *                    (no spatial flip: both apply w[ky][kx] to y[i*stride - pad + ky]; see conv-transpose.ts)
 *   Linear weight    torch [out,in]        <-> [in,out] (y = x W + b with tf.matMul)
 */

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
// OIHW -> HWIO and IOHW -> HWOI are the same permutation (swap the channel pair, move it last).
const TORCH_CONV_TO_TF = [2, 3, 1, 0];
const TF_CONV_TO_TORCH = [3, 2, 0, 1];
const SWAP_2D = [1, 0];

/** torch activation [N, C, H, W] -> [N, H, W, C]. */
export function nchwToNhwc(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, NCHW_TO_NHWC);
}

/** [N, H, W, C] -> torch activation [N, C, H, W]. */
export function nhwcToNchw(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, NHWC_TO_NCHW);
}

/** torch Conv2d weight [out, in, kh, kw] -> tfjs conv2d filter [kh, kw, in, out]. */
export function oihwToHwio(w: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(w, TORCH_CONV_TO_TF);
}

/** tfjs conv2d filter [kh, kw, in, out] -> torch Conv2d weight [out, in, kh, kw]. */
export function hwioToOihw(w: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(w, TF_CONV_TO_TORCH);
}

/** torch ConvTranspose2d weight [in, out, kh, kw] -> tfjs conv2dTranspose filter [kh, kw, out, in]. */
export function iohwToHwoi(w: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(w, TORCH_CONV_TO_TF);
}

/** tfjs conv2dTranspose filter [kh, kw, out, in] -> torch ConvTranspose2d weight [in, out, kh, kw]. */
export function hwoiToIohw(w: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(w, TF_CONV_TO_TORCH);
}

/** torch Linear weight [out, in] -> [in, out] for `tf.matMul(x, w)`. */
export function linearToTf(w: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(w, SWAP_2D);
}

/** [in, out] -> torch Linear weight [out, in]. */
export function tfToLinear(w: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(w, SWAP_2D);
}

/** A row-major array with its shape: checkpoint import/export without touching a backend. */
export interface HostArray {
  data: Float32Array;
  shape: number[];
}

/**
 * Permutes the axes of a row-major array like `tf.transpose`: output axis j is input axis
 * `perm[j]`. Plain JavaScript, so it can run before any backend exists.
 */
export function permuteArray(a: HostArray, perm: readonly number[]): HostArray {
  const { data, shape } = a;
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new Error(`permuteArray: [${perm}] is not a permutation of ${rank} axes`);
  }
  const size = shape.reduce((s, d) => s * d, 1);
  if (data.length !== size) throw new Error(`permuteArray: ${data.length} values do not fill shape [${shape}]`);
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; s *= shape[i]!, i--) inStrides[i] = s;
  // Stride in the input of each output axis; walk the output in order with an odometer.
  const step = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(size);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let dst = 0; dst < size; dst++) {
    out[dst] = data[src]!;
    for (let j = rank - 1; j >= 0; j--) {
      index[j]! += 1;
      src += step[j]!;
      if (index[j]! < outShape[j]!) break;
      src -= step[j]! * outShape[j]!;
      index[j] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/** NCHW -> NHWC on a host array. */
export const nchwToNhwcArray = (a: HostArray): HostArray => permuteArray(a, NCHW_TO_NHWC);
/** NHWC -> NCHW on a host array. */
export const nhwcToNchwArray = (a: HostArray): HostArray => permuteArray(a, NHWC_TO_NCHW);
/** Conv2d OIHW -> HWIO on a host array. */
export const oihwToHwioArray = (a: HostArray): HostArray => permuteArray(a, TORCH_CONV_TO_TF);
/** Conv2d HWIO -> OIHW on a host array. */
export const hwioToOihwArray = (a: HostArray): HostArray => permuteArray(a, TF_CONV_TO_TORCH);
/** ConvTranspose2d IOHW -> HWOI on a host array. */
export const iohwToHwoiArray = (a: HostArray): HostArray => permuteArray(a, TORCH_CONV_TO_TF);
/** ConvTranspose2d HWOI -> IOHW on a host array. */
export const hwoiToIohwArray = (a: HostArray): HostArray => permuteArray(a, TF_CONV_TO_TORCH);
/** Linear [out, in] -> [in, out] on a host array. */
export const linearToTfArray = (a: HostArray): HostArray => permuteArray(a, SWAP_2D);
/** Linear [in, out] -> [out, in] on a host array. */
export const tfToLinearArray = (a: HostArray): HostArray => permuteArray(a, SWAP_2D);
