import * as tf from '@tensorflow/tfjs-core';

/**
 * `x` cut off from differentiation, like PyTorch's `detach()`: the same values, and no
 * gradient flows back through the result into `x`.
 *
 * The result is a new tensor handle on `x`'s data (no copy; the backend's reference
 * count keeps the data alive until both are disposed). It is created outside the
 * kernel machinery, so it never appears on tfjs's gradient tape: to `tf.grad` it is a
 * constant. A Variable comes back as a plain tensor.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  if (x.isDisposed) throw new Error('stopGradient: tensor is disposed');
  const backend = tf.backend();
  // Moves the data to the active backend first if it lives elsewhere.
  backend.incRef(x.dataId);
  return tf.engine().makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, backend) as T;
}
