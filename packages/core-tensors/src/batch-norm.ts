import * as tf from '@tensorflow/tfjs-core';
import { eagerGradient } from './gradients/release.js';

/**
 * Per-channel mean over N, H and W, shape [1, 1, 1, C]: one full-window average pool over the
 * batch stacked along H (on wasm XNNPACK's global average pooling; `tf.mean` over the leading
 * axes transposes first). Off the tape only (used inside the customGrad below).
 */
function channelMean(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  return tf.avgPool(tf.reshape(x, [1, n * h, w, c]) as tf.Tensor4D, [n * h, w], 1, 'valid');
}

/** torch BatchNorm2d's buffers `running_mean`, `running_var` (`[C]`) and `num_batches_tracked`. */
export interface RunningStats {
  mean: tf.Variable;
  /** The running estimate of the unbiased (divide by n - 1) variance, as torch keeps it. */
  variance: tf.Variable;
  /** Batches seen in training mode (torch's int64 counter; only counted, since momentum is set). */
  batches: number;
}

/** New running statistics for `channels` channels: mean 0, variance 1, no batch seen (torch's reset). */
export function runningStats(channels: number): RunningStats {
  const zeros = tf.zeros([channels]);
  const ones = tf.ones([channels]);
  // A variable shares its initial tensor's data: the initial handles are freed, the data stays.
  const stats = { mean: tf.variable(zeros, false), variance: tf.variable(ones, false), batches: 0 };
  tf.dispose([zeros, ones]);
  return stats;
}

export interface BatchNormOptions {
  /** Training mode: normalise with the batch's statistics and update `stats`; else use `stats`. */
  training: boolean;
  stats: RunningStats;
  /** torch's default 0.1: running = (1 - momentum) * running + momentum * batch. */
  momentum?: number;
  eps?: number;
}

/**
 * The normalisation of torch's `BatchNorm2d(C, affine=True, track_running_stats=True)` on an NHWC
 * tensor, without the affine part (the caller multiplies by `weight` and adds `bias`).
 *
 * Training mode: per channel, over N, H and W, `(x - mean) / sqrt(var + eps)` with the biased
 * variance; the running mean and the running *unbiased* variance move by `momentum` towards the
 * batch's and `batches` counts up (off any gradient tape). The gradient goes through the batch
 * statistics, in closed form: dx = rstd * (dy - mean(dy) - y * mean(dy * y)).
 * Eval mode: `(x - running_mean) / sqrt(running_var + eps)`, the statistics constants.
 * Like torch, training on one value per channel (N * H * W = 1) is an error.
 */
export function batchNorm(x: tf.Tensor4D, options: BatchNormOptions): tf.Tensor4D {
  const { stats } = options;
  const eps = options.eps ?? 1e-5;
  const [n, h, w, c] = x.shape;
  if (stats.mean.shape[0] !== c) {
    throw new Error(`batchNorm: input has ${c} channels, the running statistics ${stats.mean.shape[0]}`);
  }
  if (!options.training) {
    return tf.tidy(() => tf.mul(tf.sub(x, stats.mean), tf.rsqrt(tf.add(stats.variance, eps))) as tf.Tensor4D);
  }
  const count = n * h * w;
  if (count <= 1) throw new Error(`batchNorm: expected more than 1 value per channel when training, got input shape [${x.shape}] (NHWC)`);
  const momentum = options.momentum ?? 0.1;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    // Inside customGrad's forward nothing is taped and intermediates are freed afterwards.
    const mean = channelMean(input);
    const centered = tf.sub(input, mean);
    const variance = channelMean(tf.square(centered) as tf.Tensor4D);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const y = tf.mul(centered, rstd) as tf.Tensor4D;
    stats.mean.assign(tf.add(tf.mul(stats.mean, 1 - momentum), tf.mul(tf.reshape(mean, [c]), momentum)));
    const unbiased = tf.mul(tf.reshape(variance, [c]), count / (count - 1));
    stats.variance.assign(tf.add(tf.mul(stats.variance, 1 - momentum), tf.mul(unbiased, momentum)));
    stats.batches += 1;
    save([y, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        eagerGradient(dy, () =>
          tf.tidy(() => {
            const [out, r] = saved as [tf.Tensor4D, tf.Tensor4D];
            const g = dy as tf.Tensor4D;
            const centeredGrad = tf.sub(g, channelMean(g));
            return tf.mul(tf.sub(centeredGrad, tf.mul(out, channelMean(tf.mul(g, out) as tf.Tensor4D))), r) as tf.Tensor4D;
          }),
        ),
    };
  }) as (x: tf.Tensor4D) => tf.Tensor4D;
  return op(x);
}
