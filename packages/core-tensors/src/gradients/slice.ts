// Gradients of cropping and padding kernels: a crop's gradient is the upstream
// gradient padded back with zeros; a pad's gradient is the upstream gradient cropped,
// plus (mirror padding) the gradients of the mirrored copies folded back in.
import * as tf from '@tensorflow/tfjs-core';
import {
  MirrorPad,
  PadV2,
  Slice,
  StridedSlice,
  type GradConfig,
  type MirrorPadAttrs,
  type PadV2Attrs,
  type SliceAttrs,
  type StridedSliceAttrs,
} from '@tensorflow/tfjs-core';
import { backendHasKernel, MirrorPadGrad, type MirrorPadGradAttrs, type MirrorPadGradInputs } from '../optional-kernels.js';
import { attrsOf, product, savedAt, single } from './util.js';

const sliceGrad: GradConfig = {
  kernelName: Slice,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = savedAt(saved, 0);
    const { begin, size } = attrsOf<SliceAttrs>(attrs);
    const [start, sizes] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
    const paddings = x.shape.map((d, i): [number, number] => [start[i]!, d - start[i]! - sizes[i]!]);
    return { x: () => tf.pad(single(dy), paddings) };
  },
};

/**
 * Places `g` (length n along axis 1 of [outer, n, inner]) at positions lo, lo+step, …
 * of an axis of length `dim`, zeros elsewhere.
 */
function scatterStrided(g: tf.Tensor3D, lo: number, step: number, dim: number): tf.Tensor3D {
  const [outer, n, inner] = g.shape;
  let spread: tf.Tensor3D = g;
  if (step > 1) {
    // Interleave step-1 zeros after each entry, then drop the trailing ones.
    const padded = tf.pad(tf.reshape(g, [outer, n, 1, inner]), [
      [0, 0],
      [0, 0],
      [0, step - 1],
      [0, 0],
    ]);
    spread = tf.slice(tf.reshape(padded, [outer, n * step, inner]), [0, 0, 0], [outer, (n - 1) * step + 1, inner]) as tf.Tensor3D;
  }
  const span = (n - 1) * step + 1;
  return tf.pad(spread, [
    [0, 0],
    [lo, dim - lo - span],
    [0, 0],
  ]) as tf.Tensor3D;
}

/**
 * strided slice: every kept entry came from one distinct input position, so the
 * gradient is the upstream gradient scattered back to those positions, one axis at a
 * time (reversed first where the stride is negative).
 */
const stridedSliceGrad: GradConfig = {
  kernelName: StridedSlice,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = savedAt(saved, 0);
    const a = attrsOf<StridedSliceAttrs>(attrs);
    const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
    // Entries kept per input axis (before shrinking/new axes reshape the result).
    const counts = x.shape.map((_, i) => {
      const len = info.end[i]! - info.begin[i]!;
      const s = info.strides[i]!;
      return len === 0 || len < 0 !== s < 0 ? 0 : Math.ceil(Math.abs(len) / Math.abs(s));
    });
    return {
      x: () => {
        if (counts.some((c) => c === 0)) return tf.zeros(x.shape, 'float32');
        let g = tf.reshape(single(dy), counts);
        const shape = counts.slice();
        x.shape.forEach((dim, i) => {
          const n = counts[i]!;
          const s = info.strides[i]!;
          const outer = product(shape.slice(0, i));
          const inner = product(shape.slice(i + 1));
          let g3 = tf.reshape(g, [outer, n, inner]) as tf.Tensor3D;
          // With a negative stride the kept entries run downwards from begin.
          if (s < 0) g3 = tf.reverse(g3, 1);
          const lo = s < 0 ? info.begin[i]! + (n - 1) * s : info.begin[i]!;
          g = scatterStrided(g3, lo, Math.abs(s), dim);
          shape[i] = dim;
        });
        return tf.reshape(g, x.shape);
      },
    };
  },
};

const padGrad: GradConfig = {
  kernelName: PadV2,
  gradFunc: (dy, _saved, attrs) => {
    const { paddings } = attrsOf<PadV2Attrs>(attrs);
    const g = single(dy);
    const begin = paddings.map(([before]) => before);
    const size = g.shape.map((d, i) => d - paddings[i]![0] - paddings[i]![1]);
    return { x: () => tf.slice(g, begin, size) };
  },
};

/**
 * mirror pad: along each axis, the padded borders are reflected copies of entries
 * near the edges ('reflect' skips the edge entry, 'symmetric' repeats it); their
 * gradients are flipped and added onto those entries. Axes are folded one at a time,
 * so corners reach the right entry.
 */
const mirrorPadGrad: GradConfig = {
  kernelName: MirrorPad,
  gradFunc: (dy, _saved, attrs) => {
    const { paddings, mode } = attrsOf<MirrorPadAttrs>(attrs);
    const skip = mode === 'reflect' ? 1 : 0;
    return {
      x: () => {
        let g = single(dy);
        // One pass where the backend has the kernel (NHWC, H and W padded): else fold axis by axis.
        const spatial = paddings.length === 4 && paddings[0]!.every((p) => p === 0) && paddings[3]!.every((p) => p === 0);
        if (spatial && g.dtype === 'float32' && backendHasKernel(MirrorPadGrad)) {
          return tf
            .engine()
            .runKernel(MirrorPadGrad, { dy: g } satisfies MirrorPadGradInputs, { paddings, mode } satisfies MirrorPadGradAttrs) as tf.Tensor;
        }
        const shape = g.shape.slice();
        paddings.forEach(([before, after], i) => {
          if (before === 0 && after === 0) return;
          const n = shape[i]! - before - after;
          const outer = product(shape.slice(0, i));
          const inner = product(shape.slice(i + 1));
          const g3 = tf.reshape(g, [outer, shape[i]!, inner]);
          let folded = tf.slice(g3, [0, before, 0], [outer, n, inner]);
          if (before > 0) {
            const head = tf.reverse(tf.slice(g3, [0, 0, 0], [outer, before, inner]), 1);
            folded = tf.add(
              folded,
              tf.pad(head, [
                [0, 0],
                [skip, n - skip - before],
                [0, 0],
              ]),
            );
          }
          if (after > 0) {
            const tail = tf.reverse(tf.slice(g3, [0, before + n, 0], [outer, after, inner]), 1);
            folded = tf.add(
              folded,
              tf.pad(tail, [
                [0, 0],
                [n - skip - after, skip],
                [0, 0],
              ]),
            );
          }
          shape[i] = n;
          g = tf.reshape(folded, shape);
        });
        return tf.reshape(g, shape);
      },
    };
  },
};

export const sliceGradients: GradConfig[] = [sliceGrad, stridedSliceGrad, padGrad, mirrorPadGrad];
