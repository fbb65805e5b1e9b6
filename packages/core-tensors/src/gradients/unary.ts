// Gradients of one-input elementwise kernels: activations and math functions.
// Where PyTorch picks a value at a kink (relu/abs at 0, clamp at its bounds), the
// same value is picked here.
import * as tf from '@tensorflow/tfjs-core';
import {
  Abs,
  Cast,
  ClipByValue,
  Elu,
  Exp,
  Identity,
  LeakyRelu,
  Log,
  Log1p,
  Neg,
  Reciprocal,
  Relu,
  Rsqrt,
  Sigmoid,
  Softplus,
  Sqrt,
  Square,
  Tanh,
  type ClipByValueAttrs,
  type GradConfig,
  type LeakyReluAttrs,
} from '@tensorflow/tfjs-core';
import { backendHasKernel, LeakyReluGrad, type LeakyReluGradAttrs, type LeakyReluGradInputs } from '../optional-kernels.js';
import { asFloat, attrsOf, keepWhere, savedAt, single } from './util.js';

/** A gradient dL/dx = dy · f'(saved) for a kernel with input `x`, saving its input or its output. */
function unary(
  kernelName: string,
  save: 'input' | 'output',
  derivative: (saved: tf.Tensor, dy: tf.Tensor, attrs: tf.NamedAttrMap) => tf.Tensor,
): GradConfig {
  return {
    kernelName,
    ...(save === 'input' ? { inputsToSave: ['x'] } : { outputsToSave: [true] }),
    gradFunc: (dy, saved, attrs) => {
      const g = single(dy);
      const s = savedAt(saved, 0);
      return { x: () => derivative(s, g, attrs) };
    },
  };
}

/** A gradient that does not need the forward values. */
function linear(kernelName: string, map: (dy: tf.Tensor) => tf.Tensor): GradConfig {
  return { kernelName, gradFunc: (dy) => ({ x: () => map(single(dy)) }) };
}

/**
 * dy where x > 0, else alpha * dy (0 for ReLU): one LeakyReluGrad kernel where the backend has
 * it (one pass instead of a comparison, a select and a tensor of zeros), else composed.
 */
function leakyReluBackward(x: tf.Tensor, dy: tf.Tensor, alpha: number): tf.Tensor {
  if (x.dtype === 'float32' && dy.dtype === 'float32' && backendHasKernel(LeakyReluGrad)) {
    return tf.engine().runKernel(LeakyReluGrad, { dy, x } satisfies LeakyReluGradInputs, { alpha } satisfies LeakyReluGradAttrs) as tf.Tensor;
  }
  if (alpha === 0) return keepWhere(tf.greater(x, 0), dy);
  return tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha));
}

export const unaryGradients: GradConfig[] = [
  // relu'(x) = [x > 0] (0 at x = 0, as PyTorch).
  unary(Relu, 'input', (x, dy) => leakyReluBackward(x, dy, 0)),
  // leaky_relu'(x) = 1 for x > 0, else alpha (alpha at 0, as PyTorch).
  unary(LeakyRelu, 'input', (x, dy, attrs) => leakyReluBackward(x, dy, attrsOf<LeakyReluAttrs>(attrs).alpha)),
  // elu'(x) = 1 for x > 0, else exp(x) = y + 1.
  unary(Elu, 'output', (y, dy) => tf.where(tf.greater(y, 0), dy, tf.mul(dy, tf.add(y, 1)))),
  // tanh' = 1 - y².
  unary(Tanh, 'output', (y, dy) => tf.mul(dy, tf.sub(1, tf.square(y)))),
  // sigmoid' = y (1 - y).
  unary(Sigmoid, 'output', (y, dy) => tf.mul(dy, tf.mul(y, tf.sub(1, y)))),
  // softplus' = sigmoid(x).
  unary(Softplus, 'input', (x, dy) => tf.mul(dy, tf.sigmoid(x))),
  unary(Square, 'input', (x, dy) => tf.mul(dy, tf.mul(x, 2))),
  // sqrt' = 1 / (2 y).
  unary(Sqrt, 'output', (y, dy) => tf.div(dy, tf.mul(y, 2))),
  // rsqrt' = -x^(-3/2) / 2 = -y³ / 2.
  unary(Rsqrt, 'output', (y, dy) => tf.mul(dy, tf.mul(tf.mul(tf.square(y), y), -0.5))),
  unary(Exp, 'output', (y, dy) => tf.mul(dy, y)),
  unary(Log, 'input', (x, dy) => tf.div(dy, asFloat(x))),
  unary(Log1p, 'input', (x, dy) => tf.div(dy, tf.add(x, 1))),
  // abs' = sign(x) (0 at x = 0).
  unary(Abs, 'input', (x, dy) => tf.mul(dy, tf.sign(asFloat(x)))),
  // (1/x)' = -1/x² = -y².
  unary(Reciprocal, 'output', (y, dy) => tf.neg(tf.mul(dy, tf.square(y)))),
  // clamp passes the gradient where min <= x <= max (bounds included, as PyTorch).
  unary(ClipByValue, 'input', (x, dy, attrs) => {
    const { clipValueMin, clipValueMax } = attrsOf<ClipByValueAttrs>(attrs);
    const inside = tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax));
    return keepWhere(inside, dy);
  }),
  linear(Neg, (dy) => tf.neg(dy)),
  linear(Identity, (dy) => tf.clone(dy)),
  // A cast passes the gradient unchanged (gradients are float32 whatever the input dtype).
  linear(Cast, (dy) => tf.cast(dy, 'float32')),
];
