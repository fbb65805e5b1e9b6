// Gradients of image resizing (bilinear, nearest neighbour), NHWC.
//
// Resizing is separable and linear: out = R_h · x · R_wᵀ per image and channel, with
// R an [outSize, inSize] interpolation matrix per axis. The gradient is the transpose,
// dx = R_hᵀ · dy · R_w, computed here as two batched matMuls with R built on the
// host from the exact sampling rule of tfjs's forward kernels.
//
// (We do not call the backends' ResizeBilinearGrad: in tfjs 4.22 the CPU one ignores
// halfPixelCenters, the mode PyTorch's align_corners=False needs, and swaps H and W in
// its output shape.)
import * as tf from '@tensorflow/tfjs-core';
import {
  ResizeBilinear,
  ResizeNearestNeighbor,
  type GradConfig,
  type ResizeBilinearAttrs,
  type ResizeNearestNeighborAttrs,
} from '@tensorflow/tfjs-core';
import { attrsOf, savedAt, single } from './util.js';

/** Input-over-output scale of one axis, as the forward kernels compute it. */
function scaleOf(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
}

/** [outSize, inSize] bilinear weights: output r mixes rows floor(src), ceil(src) (clamped). */
export function bilinearMatrix(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Float32Array {
  const w = new Float32Array(outSize * inSize);
  const scale = scaleOf(inSize, outSize, alignCorners);
  for (let r = 0; r < outSize; r++) {
    const src = halfPixelCenters ? scale * (r + 0.5) - 0.5 : scale * r;
    const lo = Math.max(0, Math.floor(src));
    const hi = Math.min(inSize - 1, Math.ceil(src));
    const frac = src - lo;
    // lo = hi at the clamped borders: the two weights then add up to 1 on one row.
    w[r * inSize + lo]! += 1 - frac;
    w[r * inSize + hi]! += frac;
  }
  return w;
}

/** [outSize, inSize] one-hot weights of nearest-neighbour sampling. */
export function nearestMatrix(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Float32Array {
  const w = new Float32Array(outSize * inSize);
  const scale = scaleOf(inSize, outSize, alignCorners);
  for (let r = 0; r < outSize; r++) {
    const src = halfPixelCenters ? scale * (r + 0.5) : scale * r;
    let i = Math.min(inSize - 1, alignCorners ? Math.round(src) : Math.floor(src));
    if (halfPixelCenters) i = Math.max(0, i);
    w[r * inSize + i] = 1;
  }
  return w;
}

type Weights = (inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean) => Float32Array;

function resizeGrad(kernelName: string, weights: Weights): GradConfig {
  return {
    kernelName,
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => {
      const images = savedAt(saved, 0);
      const { alignCorners, halfPixelCenters, size } = attrsOf<ResizeBilinearAttrs | ResizeNearestNeighborAttrs>(attrs);
      const [n, inH, inW, c] = images.shape as [number, number, number, number];
      const [outH, outW] = size;
      return {
        images: () => {
          const rh = tf.tensor2d(weights(inH, outH, alignCorners, halfPixelCenters), [outH, inH]);
          const rw = tf.tensor2d(weights(inW, outW, alignCorners, halfPixelCenters), [outW, inW]);
          // Along W: [n·outH, outW, c] → [n·outH, inW, c]; then along H: [n, outH, inW·c] → [n, inH, inW·c].
          const alongW = tf.matMul(rw, tf.reshape(single(dy), [n * outH, outW, c]), true, false);
          const alongH = tf.matMul(rh, tf.reshape(alongW, [n, outH, inW * c]), true, false);
          return tf.reshape(alongH, [n, inH, inW, c]);
        },
      };
    },
  };
}

export const resizeGradients: GradConfig[] = [resizeGrad(ResizeBilinear, bilinearMatrix), resizeGrad(ResizeNearestNeighbor, nearestMatrix)];
