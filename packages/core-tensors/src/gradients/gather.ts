// Gradients of gather (tf.gather) and of its adjoint, unsorted segment sum.
import * as tf from '@tensorflow/tfjs-core';
import { GatherV2, UnsortedSegmentSum, type GatherV2Attrs, type GradConfig, type UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';
import { attrsOf, product, savedAt, single } from './util.js';

/**
 * gather along `axis` with `batchDims` leading batch axes:
 *   x [B.., M.., D, I..], indices [B.., J..]  →  y [B.., M.., J.., I..].
 * Each gathered row's gradient is added back to row indices[b, j] of batch b, repeated
 * indices accumulating: an unsorted segment sum over segment ids b·D + index.
 */
const gatherGrad: GradConfig = {
  kernelName: GatherV2,
  inputsToSave: ['x', 'indices'],
  gradFunc: (dy, saved, attrs) => {
    const x = savedAt(saved, 0);
    const indices = savedAt(saved, 1);
    const a = attrsOf<GatherV2Attrs>(attrs);
    const axis = tf.util.parseAxisParam(a.axis, x.shape)[0]!;
    const batchDims = a.batchDims < 0 ? a.batchDims + indices.rank : a.batchDims;
    const b = product(x.shape.slice(0, batchDims));
    const m = product(x.shape.slice(batchDims, axis));
    const depth = x.shape[axis]!;
    const inner = product(x.shape.slice(axis + 1));
    const j = product(indices.shape.slice(batchDims));
    return {
      x: () => {
        // [b, m, j, inner] → [b, j, m, inner]: one row per gathered index.
        const rows = tf.reshape(tf.transpose(tf.reshape(single(dy), [b, m, j, inner]), [0, 2, 1, 3]), [b * j, m, inner]);
        const offsets = tf.reshape(tf.range(0, b * depth, depth, 'int32'), [b, 1]);
        const ids = tf.reshape(tf.add(tf.reshape(tf.cast(indices, 'int32'), [b, j]), offsets), [b * j]) as tf.Tensor1D;
        const summed = tf.unsortedSegmentSum(rows, ids, b * depth); // [b·depth, m, inner]
        const back = tf.transpose(tf.reshape(summed, [b, depth, m, inner]), [0, 2, 1, 3]);
        return tf.reshape(back, x.shape);
      },
      indices: () => tf.zeros(indices.shape, 'float32'),
    };
  },
};

/**
 * unsorted segment sum: entry i went to segment ids[i], so its gradient is row ids[i]
 * of the upstream gradient; entries with an id outside [0, numSegments) were dropped
 * and get zero.
 */
const unsortedSegmentSumGrad: GradConfig = {
  kernelName: UnsortedSegmentSum,
  inputsToSave: ['segmentIds'],
  gradFunc: (dy, saved, attrs) => {
    const ids = savedAt(saved, 0);
    const { numSegments } = attrsOf<UnsortedSegmentSumAttrs>(attrs);
    return {
      x: () => {
        const g = single(dy);
        const valid = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, numSegments));
        const rows = tf.gather(g, tf.clipByValue(ids, 0, numSegments - 1));
        const mask = tf.reshape(valid, [...ids.shape, ...new Array<number>(g.rank - 1).fill(1)]);
        return tf.where(mask, rows, tf.zerosLike(rows));
      },
      segmentIds: () => tf.zeros(ids.shape, 'float32'),
    };
  },
};

export const gatherGradients: GradConfig[] = [gatherGrad, unsortedSegmentSumGrad];
