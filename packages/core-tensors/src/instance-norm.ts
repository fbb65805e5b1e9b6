import * as tf from '@tensorflow/tfjs-core';
import { eagerGradient } from './gradients/release.js';
import {
  backendHasKernel,
  InstanceNorm,
  InstanceNormGrad,
  type InstanceNormAttrs,
  type InstanceNormGradInputs,
  type InstanceNormInputs,
} from './optional-kernels.js';

/**
 * Instance normalisation of an NHWC tensor, as torch's
 * `InstanceNorm2d(C, affine=False, track_running_stats=False)` (the reference's `norm='instance'`):
 * for every (sample, channel), over H and W, `(x - mean) / sqrt(var + eps)` with the biased
 * (divide by H*W) variance. No parameters, no running statistics: training and test compute
 * the same thing.
 *
 * The variance is taken around the mean (two passes), not as E[x^2] - E[x]^2, which would lose
 * digits on offset inputs. Means over H, W are full-window average pools: on wasm that is
 * XNNPACK's global average pooling, 10-25x faster than `tf.mean` over axes [1, 2] (which
 * transposes first). The gradient is the closed form
 *   dx = rstd * (dy - mean(dy) - y * mean(dy * y)),   rstd = 1 / sqrt(var + eps),
 * exact for any eps; on wasm forward + backward takes ~53 / 122 / 281 ms at
 * 1x64x64x256 / 1x128x128x128 / 1x256x256x64 against ~480 / 860 / 1770 ms for the
 * gradient assembled op by op (measured on a shared 2-core machine). Where the backend has the
 * InstanceNorm / InstanceNormGrad kernels (optional-kernels.ts), each direction is one kernel.
 */
export function instanceNorm(x: tf.Tensor4D, eps = 1e-5): tf.Tensor4D {
  return instanceNormWithEps(eps)(x);
}

/** Per-(sample, channel) mean over H and W, shape [N, 1, 1, C]. */
function spatialMean(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.avgPool(x, [h, w], 1, 'valid');
}

const byEps = new Map<number, (x: tf.Tensor4D) => tf.Tensor4D>();

function instanceNormWithEps(eps: number): (x: tf.Tensor4D) => tf.Tensor4D {
  let op = byEps.get(eps);
  if (!op) {
    op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
      if (x.dtype === 'float32' && backendHasKernel(InstanceNorm) && backendHasKernel(InstanceNormGrad)) {
        // One kernel each way where the backend has them (same arithmetic, one pass per statistic).
        const [y, rstd] = tf.engine().runKernel(InstanceNorm, { x } satisfies InstanceNormInputs, { eps } satisfies InstanceNormAttrs) as [
          tf.Tensor4D,
          tf.Tensor4D,
        ];
        save([y, rstd]);
        return {
          value: y,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [out, r] = saved as [tf.Tensor4D, tf.Tensor4D];
            return eagerGradient(
              dy,
              () => tf.engine().runKernel(InstanceNormGrad, { dy, y: out, rstd: r } satisfies InstanceNormGradInputs, {}) as tf.Tensor4D,
            );
          },
        };
      }
      const centered = tf.sub(x, spatialMean(x));
      const rstd = tf.rsqrt(tf.add(spatialMean(tf.square(centered) as tf.Tensor4D), eps));
      const y = tf.mul(centered, rstd);
      save([y, rstd]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          eagerGradient(dy, () =>
            tf.tidy(() => {
              const [out, r] = saved as [tf.Tensor4D, tf.Tensor4D];
              const g = dy as tf.Tensor4D;
              const centeredGrad = tf.sub(g, spatialMean(g));
              return tf.mul(tf.sub(centeredGrad, tf.mul(out, spatialMean(tf.mul(g, out)))), r);
            }),
          ),
      };
    }) as (x: tf.Tensor4D) => tf.Tensor4D;
    byEps.set(eps, op);
  }
  return op;
}
