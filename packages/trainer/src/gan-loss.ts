import * as tf from '@tensorflow/tfjs-core';
import type { GanMode } from './options.js';

export const GAN_MODES: readonly GanMode[] = ['lsgan', 'vanilla', 'nonsaturating', 'wgangp'];

/**
 * The reference's `GANLoss` followed by the `.mean()` its callers apply: the adversarial loss
 * of discriminator logits `prediction` (any shape, batch first) against the label real (1) or
 * fake (0).
 * - lsgan: mean((prediction − label)²)
 * - vanilla: binary cross-entropy with logits, mean: softplus(−x) for real, softplus(x) for fake
 * - nonsaturating: the same softplus forms averaged per sample, then over the batch (equal to
 *   vanilla's mean since every sample has the same number of logits)
 * - wgangp: −mean(x) for real, mean(x) for fake, and nothing else: the reference's CUT model
 *   never calls its `cal_gradient_penalty`, so neither do we. A WGAN-GP penalty is not provided:
 *   it needs the gradient of a gradient, and the instance norm's backward (a closed form on
 *   average pools) cannot itself be differentiated in tfjs.
 */
export function ganLoss(prediction: tf.Tensor, targetIsReal: boolean, mode: GanMode): tf.Scalar {
  return tf.tidy(() => {
    switch (mode) {
      case 'lsgan':
        return tf.mean(tf.square(tf.sub(prediction, targetIsReal ? 1 : 0)));
      case 'vanilla':
        return tf.mean(tf.softplus(targetIsReal ? tf.neg(prediction) : prediction));
      case 'nonsaturating': {
        const batch = prediction.shape[0] ?? 1;
        const perSample = tf.mean(tf.reshape(tf.softplus(targetIsReal ? tf.neg(prediction) : prediction), [batch, -1]), 1);
        return tf.mean(perSample);
      }
      case 'wgangp':
        return targetIsReal ? tf.neg(tf.mean(prediction)) : tf.mean(prediction);
      default:
        throw new Error(`ganLoss: gan_mode '${String(mode)}' is not supported (${GAN_MODES.join(', ')})`);
    }
  }) as tf.Scalar;
}
