// Gradients of the convolution kernels: Conv2D, its transpose (Conv2DBackpropInput,
// what tf.conv2dTranspose runs) and the depthwise pair.
//
// Each backward pass calls the backend's backprop kernels directly. Those kernels
// have no dilation parameter, so a dilated convolution is differentiated as the
// undilated convolution with a zero-stuffed filter (same window, same padding), and
// the filter gradient is read back at the filter taps.
import * as tf from '@tensorflow/tfjs-core';
import {
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type Conv2DAttrs,
  type Conv2DBackpropInputAttrs,
  type DepthwiseConv2dNativeAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type GradConfig,
} from '@tensorflow/tfjs-core';
import { attrsOf, pair, savedAt, single } from './util.js';

type Pad = Conv2DAttrs['pad'];
type Rounding = Conv2DAttrs['dimRoundingMode'];

const run = (kernel: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor4D =>
  tf.engine().runKernel<tf.Tensor4D>(kernel, inputs, attrs as tf.NamedAttrMap);

/** Inserts `d - 1` zeros between neighbouring taps of one spatial axis (0 or 1) of an HW.. filter. */
function stuffAxis(filter: tf.Tensor4D, axis: 0 | 1, d: number): tf.Tensor4D {
  if (d === 1) return filter;
  const [kh, kw, a, b] = filter.shape;
  const k = axis === 0 ? kh : kw;
  const outer = axis === 0 ? 1 : kh;
  const inner = axis === 0 ? kw * a * b : a * b;
  return tf.tidy(() => {
    const spread = tf.pad(tf.reshape(filter, [outer, k, 1, inner]), [
      [0, 0],
      [0, 0],
      [0, d - 1],
      [0, 0],
    ]);
    const taps = tf.slice(tf.reshape(spread, [outer, k * d, inner]), [0, 0, 0], [outer, (k - 1) * d + 1, inner]);
    const shape: [number, number, number, number] = axis === 0 ? [(kh - 1) * d + 1, kw, a, b] : [kh, (kw - 1) * d + 1, a, b];
    return tf.reshape(taps, shape);
  });
}

/** The filter a dilated convolution effectively applies: taps `dilations` apart, zeros between. */
export function dilateFilter(filter: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  const [dh, dw] = dilations;
  if (dh === 1 && dw === 1) return filter;
  return tf.tidy(() => stuffAxis(stuffAxis(filter, 0, dh), 1, dw));
}

/** Shape of `dilateFilter(filter, dilations)`. */
function dilatedShape(shape: number[], [dh, dw]: [number, number]): [number, number, number, number] {
  const [kh, kw, a, b] = shape as [number, number, number, number];
  return [(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b];
}

/** Inverse of `dilateFilter` for gradients: keeps every `dilations`-th tap. */
function filterTaps(g: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  const [dh, dw] = dilations;
  if (dh === 1 && dw === 1) return g;
  return tf.stridedSlice(g, [0, 0, 0, 0], g.shape, [dh, dw, 1, 1]) as tf.Tensor4D;
}

interface ConvGeometry {
  strides: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: Rounding;
}

/** dL/dx and dL/dfilter of a (possibly dilated) Conv2D, NHWC or NCHW. */
const conv2DGrad: GradConfig = {
  kernelName: Conv2D,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const g = single(dy) as tf.Tensor4D;
    const x = savedAt(saved, 0) as tf.Tensor4D;
    const filter = savedAt(saved, 1) as tf.Tensor4D;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrsOf<Conv2DAttrs>(attrs);
    const dil = pair(dilations ?? 1);
    const geometry = { strides, pad, dataFormat, dimRoundingMode };
    return {
      x: () => run(Conv2DBackpropInput, { dy: g, filter: dilateFilter(filter, dil) }, { ...geometry, inputShape: x.shape }),
      filter: () => {
        const filterShape = dilatedShape(filter.shape, dil);
        return filterTaps(run(Conv2DBackpropFilter, { x, dy: g }, { ...geometry, filterShape }), dil);
      },
    };
  },
};

/**
 * Conv2DBackpropInput is the transposed convolution: its output is linear in both of its
 * inputs (`dy`, the transposed conv's input, and `filter`). Its adjoint w.r.t. `dy` is the
 * forward Conv2D with the same geometry; w.r.t. the filter it is Conv2DBackpropFilter
 * with the roles of image and output gradient swapped.
 */
const conv2DBackpropInputGrad: GradConfig = {
  kernelName: Conv2DBackpropInput,
  inputsToSave: ['dy', 'filter'],
  gradFunc: (upstream, saved, attrs) => {
    const g = single(upstream) as tf.Tensor4D;
    const input = savedAt(saved, 0) as tf.Tensor4D;
    const filter = savedAt(saved, 1) as tf.Tensor4D;
    const { strides, pad, dataFormat, dimRoundingMode } = attrsOf<Conv2DBackpropInputAttrs>(attrs);
    const geometry = { strides, pad, dataFormat, dimRoundingMode };
    return {
      dy: () => run(Conv2D, { x: g, filter }, { ...geometry, dilations: 1 }),
      filter: () => run(Conv2DBackpropFilter, { x: g, dy: input }, { ...geometry, filterShape: filter.shape }),
    };
  },
};

const depthwiseGeometry = (a: ConvGeometry) => ({
  strides: a.strides,
  pad: a.pad,
  dimRoundingMode: a.dimRoundingMode,
  dilations: 1,
});

/** dL/dx and dL/dfilter of a (possibly dilated) depthwise convolution, NHWC, any channel multiplier. */
const depthwiseConv2dGrad: GradConfig = {
  kernelName: DepthwiseConv2dNative,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const g = single(dy) as tf.Tensor4D;
    const x = savedAt(saved, 0) as tf.Tensor4D;
    const filter = savedAt(saved, 1) as tf.Tensor4D;
    const a = attrsOf<DepthwiseConv2dNativeAttrs>(attrs);
    if (a.dataFormat === 'NCHW') throw new Error('DepthwiseConv2dNative gradient: only NHWC is supported');
    const dil = pair(a.dilations ?? 1);
    const geometry = depthwiseGeometry(a);
    return {
      x: () => run(DepthwiseConv2dNativeBackpropInput, { dy: g, filter: dilateFilter(filter, dil) }, { ...geometry, inputShape: x.shape }),
      filter: () => {
        const filterShape = dilatedShape(filter.shape, dil);
        return filterTaps(run(DepthwiseConv2dNativeBackpropFilter, { x, dy: g }, { ...geometry, filterShape }), dil);
      },
    };
  },
};

/**
 * DepthwiseConv2dNativeBackpropInput is the grouped (groups = channels) transposed
 * convolution, e.g. a blur upsampling; adjoints as for Conv2DBackpropInput.
 */
const depthwiseBackpropInputGrad: GradConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  inputsToSave: ['dy', 'filter'],
  gradFunc: (upstream, saved, attrs) => {
    const g = single(upstream) as tf.Tensor4D;
    const input = savedAt(saved, 0) as tf.Tensor4D;
    const filter = savedAt(saved, 1) as tf.Tensor4D;
    const a = attrsOf<DepthwiseConv2dNativeBackpropInputAttrs>(attrs);
    const dil = pair(a.dilations ?? 1);
    const geometry = depthwiseGeometry(a);
    return {
      dy: () => run(DepthwiseConv2dNative, { x: g, filter: dilateFilter(filter, dil) }, { ...geometry, dataFormat: 'NHWC' }),
      filter: () => {
        const filterShape = dilatedShape(filter.shape, dil);
        return filterTaps(run(DepthwiseConv2dNativeBackpropFilter, { x: g, dy: input }, { ...geometry, filterShape }), dil);
      },
    };
  },
};

export const convGradients: GradConfig[] = [conv2DGrad, conv2DBackpropInputGrad, depthwiseConv2dGrad, depthwiseBackpropInputGrad];
