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

/**
 * Runs `fn` with any active gradient tape paused: its ops are not recorded, so what it returns
 * is a constant to the enclosing `tf.grad`/`tf.variableGrads` (like PyTorch's `no_grad()`
 * inside a forward pass), and nothing it computes is kept alive for that gradient. `fn` may
 * compute gradients of its own: they run on a fresh tape.
 */
export function offTape<T>(fn: () => T): T {
  // tfjs records a kernel when gradientDepth > 0; gradients() starts a new tape at depth 0.
  const state = (tf.engine() as unknown as { state: { activeTape: unknown; gradientDepth: number } }).state;
  const tape = state.activeTape;
  const depth = state.gradientDepth;
  state.activeTape = null;
  state.gradientDepth = 0;
  try {
    return fn();
  } finally {
    state.activeTape = tape;
    state.gradientDepth = depth;
  }
}
