// Gradients of reductions (sum, mean, max, min) and of softmax.
import * as tf from '@tensorflow/tfjs-core';
import {
  Max,
  Mean,
  Min,
  Softmax,
  Sum,
  type GradConfig,
  type MaxAttrs,
  type MeanAttrs,
  type MinAttrs,
  type SoftmaxAttrs,
  type SumAttrs,
} from '@tensorflow/tfjs-core';
import { attrsOf, indicator, product, savedAt, single } from './util.js';

/** Reduced axes (null = all) and the kept-dims shape of a reduction of `shape`. */
function reduction(axis: number | number[] | null | undefined, shape: number[]) {
  const axes = tf.util.parseAxisParam(axis ?? shape.map((_, i) => i), shape);
  const keptShape = tf.backend_util.expandShapeToKeepDim(
    shape.filter((_, i) => !axes.includes(i)),
    axes,
  );
  return { axes, keptShape, count: product(axes.map((a) => shape[a] ?? 1)) };
}

/** The upstream gradient spread back over the reduced axes. */
function spread(dy: tf.Tensor, keptShape: number[], shape: number[]): tf.Tensor {
  return tf.broadcastTo(tf.reshape(dy, keptShape), shape);
}

const sumGrad: GradConfig = {
  kernelName: Sum,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = savedAt(saved, 0);
    const { keptShape } = reduction(attrsOf<SumAttrs>(attrs).axis, x.shape);
    return { x: () => spread(single(dy), keptShape, x.shape) };
  },
};

const meanGrad: GradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = savedAt(saved, 0);
    const { keptShape, count } = reduction(attrsOf<MeanAttrs>(attrs).axis, x.shape);
    return { x: () => tf.div(spread(single(dy), keptShape, x.shape), count) };
  },
};

/**
 * max/min over axes: the gradient goes to the elements equal to the result, shared
 * evenly among ties (as PyTorch's amax/amin and full max()/min()).
 */
function extremumGrad(kernelName: string, axisOf: (attrs: tf.NamedAttrMap) => number | number[]): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const x = savedAt(saved, 0);
      const y = savedAt(saved, 1);
      const { axes, keptShape } = reduction(axisOf(attrs), x.shape);
      return {
        x: () => {
          const hit = indicator(tf.equal(x, tf.reshape(y, keptShape)));
          const ties = tf.sum(hit, axes, true);
          return tf.mul(hit, tf.div(tf.reshape(single(dy), keptShape), ties));
        },
      };
    },
  };
}

/** softmax: dx = y ⊙ (dy − Σ dy⊙y) along the softmax axis. */
const softmaxGrad: GradConfig = {
  kernelName: Softmax,
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const y = savedAt(saved, 0);
    const { dim } = attrsOf<SoftmaxAttrs>(attrs);
    const g = single(dy);
    return { logits: () => tf.mul(y, tf.sub(g, tf.sum(tf.mul(g, y), dim, true))) };
  },
};

export const reduceGradients: GradConfig[] = [
  sumGrad,
  meanGrad,
  extremumGrad(Max, (attrs) => attrsOf<MaxAttrs>(attrs).reductionIndices),
  extremumGrad(Min, (attrs) => attrsOf<MinAttrs>(attrs).axis),
  softmaxGrad,
];
