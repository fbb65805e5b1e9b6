// Gradients of kernels that move values around without arithmetic: reshapes,
// transposes, flips, tiling/broadcasting, and joining/splitting along an axis.
import * as tf from '@tensorflow/tfjs-core';
import {
  BroadcastTo,
  Concat,
  ExpandDims,
  Pack,
  Reshape,
  Reverse,
  SplitV,
  Tile,
  Transpose,
  Unpack,
  type BroadCastToAttrs,
  type ConcatAttrs,
  type GradConfig,
  type PackAttrs,
  type ReverseAttrs,
  type SplitVAttrs,
  type TileAttrs,
  type TransposeAttrs,
  type UnpackAttrs,
} from '@tensorflow/tfjs-core';
import { attrsOf, normAxis, product, savedAt, several, single, sumToShape } from './util.js';

/** Gradient of a kernel that only reinterprets the shape of its input (named `inputName`). */
function reshapeLike(kernelName: string, inputName: string): GradConfig {
  return {
    kernelName,
    inputsToSave: [inputName],
    gradFunc: (dy, saved) => {
      const x = savedAt(saved, 0);
      return { [inputName]: () => tf.reshape(single(dy), x.shape) };
    },
  };
}

/** The slice of `t` holding `size` entries of `axis` from `start`, all of the other axes. */
function sliceAxis(t: tf.Tensor, axis: number, start: number, size: number): tf.Tensor {
  const begin = t.shape.map((_, i) => (i === axis ? start : 0));
  const sizes = t.shape.map((d, i) => (i === axis ? size : d));
  return tf.slice(t, begin, sizes);
}

const transposeGrad: GradConfig = {
  kernelName: Transpose,
  gradFunc: (dy, _saved, attrs) => {
    const { perm } = attrsOf<TransposeAttrs>(attrs);
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return { x: () => tf.transpose(single(dy), inverse) };
  },
};

const reverseGrad: GradConfig = {
  kernelName: Reverse,
  gradFunc: (dy, _saved, attrs) => {
    const { dims } = attrsOf<ReverseAttrs>(attrs);
    return { x: () => tf.reverse(single(dy), dims) };
  },
};

/**
 * tile: output axis i holds reps[i] copies of input axis i, copy-major. Summing the
 * copies one axis at a time keeps every intermediate at rank 4 (some backends cap
 * the rank of transposes and reductions).
 */
const tileGrad: GradConfig = {
  kernelName: Tile,
  gradFunc: (dy, _saved, attrs) => {
    const { reps } = attrsOf<TileAttrs>(attrs);
    return {
      x: () => {
        let g = single(dy);
        const shape = g.shape.slice();
        reps.forEach((r, i) => {
          if (r === 1) return;
          const size = shape[i]! / r;
          const outer = product(shape.slice(0, i));
          const inner = product(shape.slice(i + 1));
          g = tf.sum(tf.reshape(g, [outer, r, size, inner]), 1);
          shape[i] = size;
        });
        return tf.reshape(g, shape);
      },
    };
  },
};

const broadcastToGrad: GradConfig = {
  kernelName: BroadcastTo,
  gradFunc: (dy, _saved, attrs) => {
    const { inputShape } = attrsOf<BroadCastToAttrs>(attrs);
    return { x: () => sumToShape(single(dy), inputShape) };
  },
};

/** concat: each input gets its own stretch of the gradient along the axis. */
const concatGrad: GradConfig = {
  kernelName: Concat,
  saveAllInputs: true,
  gradFunc: (dy, saved, attrs) => {
    const g = single(dy);
    const axis = normAxis(attrsOf<ConcatAttrs>(attrs).axis, g.rank);
    const grads: Record<string, () => tf.Tensor> = {};
    let start = 0;
    saved.forEach((t, i) => {
      const from = start;
      const size = t.shape[axis]!;
      grads[String(i)] = () => sliceAxis(g, axis, from, size);
      start += size;
    });
    return grads;
  },
};

/** stack: input i gets entry i of the new axis. */
const packGrad: GradConfig = {
  kernelName: Pack,
  gradFunc: (dy, _saved, attrs) => {
    const g = single(dy);
    const axis = normAxis(attrsOf<PackAttrs>(attrs).axis, g.rank);
    const shape = g.shape.filter((_, i) => i !== axis);
    const grads: Record<string, () => tf.Tensor> = {};
    for (let i = 0; i < g.shape[axis]!; i++) {
      grads[String(i)] = () => tf.reshape(sliceAxis(g, axis, i, 1), shape);
    }
    return grads;
  },
};

/** unstack: the output gradients stacked back (outputs off the path arrive as zeros). */
const unpackGrad: GradConfig = {
  kernelName: Unpack,
  gradFunc: (dy, _saved, attrs) => {
    const dys = several(dy);
    const axis = normAxis(attrsOf<UnpackAttrs>(attrs).axis, dys[0]!.rank + 1);
    return { value: () => tf.stack(dys, axis) };
  },
};

/** split: the output gradients concatenated back. */
const splitGrad: GradConfig = {
  kernelName: SplitV,
  gradFunc: (dy, _saved, attrs) => {
    const dys = several(dy);
    const axis = normAxis(attrsOf<SplitVAttrs>(attrs).axis, dys[0]!.rank);
    return { x: () => tf.concat(dys, axis) };
  },
};

export const shapeGradients: GradConfig[] = [
  reshapeLike(Reshape, 'x'),
  reshapeLike(ExpandDims, 'input'),
  transposeGrad,
  reverseGrad,
  tileGrad,
  broadcastToGrad,
  concatGrad,
  packGrad,
  unpackGrad,
  splitGrad,
];
