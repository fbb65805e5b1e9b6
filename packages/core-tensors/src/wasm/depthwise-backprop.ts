import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropFilterInputs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type DepthwiseConv2dNativeBackpropInputInputs,
  type KernelBackend,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { dims4, pair, WASM, withScope } from './kernel-call.js';
import { phaseExtent, phaseSplitChannelsFirst } from './phase-split.js';
import { phaseCorrelations, phaseFilter, transposedAxis } from './transposed-conv.js';

/**
 * DepthwiseConv2dNativeBackpropInput: per stride phase one XNNPACK depthwise stride-1
 * convolution over dy with that phase's taps, flipped; phases interleaved (transposed-conv.ts).
 * (One depthwise convolution with the phases as channel multiplier is 7x slower in XNNPACK.)
 * With a channel multiplier m > 1, dy channel c*m + k feeds input channel c: the m
 * contributions are summed.
 */
function depthwiseBackpropInput(args: {
  inputs: DepthwiseConv2dNativeBackpropInputInputs;
  backend: KernelBackend;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const inputShape = dims4(attrs.inputShape, 'DepthwiseConv2dNativeBackpropInput inputShape');
  const [kh, kw, ci, m] = dims4(filter.shape, 'DepthwiseConv2dNativeBackpropInput filter');
  const info = backend_util.computeConv2DInfo(
    inputShape,
    [kh, kw, ci, m],
    attrs.strides,
    pair(attrs.dilations),
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const [b, h, w] = inputShape;
  const rows = transposedAxis(h, info.outHeight, kh, info.strideHeight, dh, info.padInfo.top);
  const cols = transposedAxis(w, info.outWidth, kw, info.strideWidth, dw, info.padInfo.left);

  return withScope(backend, [dy, filter], (s) => {
    const taps = s.reshape(filter, [kh * kw, ci * m]);
    const full = phaseCorrelations(s, dy, rows, cols, ci, true, (rowTaps, colTaps, input, pad) => {
      const z = s.run(
        'DepthwiseConv2dNative',
        { x: input, filter: phaseFilter(s, taps, kw, rowTaps, colTaps, [ci * m, 1]) },
        {
          strides: 1,
          dilations: [dh, dw],
          pad,
          dataFormat: 'NHWC',
        },
      );
      if (m === 1) return z;
      const [, zh, zw] = z.shape as [number, number, number, number];
      return s.run('Sum', { x: s.reshape(z, [b, zh, zw, ci, m]) }, { axis: [4], keepDims: false });
    });
    return s.slice(full, [0, rows.offset, cols.offset, 0], [b, h, w, ci]);
  });
}

/**
 * DepthwiseConv2dNativeBackpropFilter: dW[i,j,c,k] = sum over pixels p of
 * X_ij[c, p] * dy[p, c*m + k], X_ij the window of x that tap (i, j) sees. With x split into
 * stride phases and transposed channels first (as for the dense filter gradient), each window
 * is a plain slice; per tap one XNNPACK multiply against dy (channels first) and a sum over
 * the innermost axis. (A single depthwise convolution with dy as a 64x64 "filter" was 4x slower.)
 * Blur filters are constants, so training CUT never needs this kernel.
 */
function depthwiseBackpropFilter(args: {
  inputs: DepthwiseConv2dNativeBackpropFilterInputs;
  backend: KernelBackend;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const [b, h, w, ci] = dims4(x.shape, 'DepthwiseConv2dNativeBackpropFilter x');
  const [kh, kw, , m] = dims4(attrs.filterShape, 'DepthwiseConv2dNativeBackpropFilter filterShape');
  const info = backend_util.computeConv2DInfo(
    [b, h, w, ci],
    [kh, kw, ci, m],
    attrs.strides,
    pair(attrs.dilations),
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: oh, outWidth: ow } = info;
  const pixels = b * oh * ow;

  return withScope(backend, [x, dy], (s) => {
    const phases = phaseSplitChannelsFirst(
      s,
      x,
      sh,
      sw,
      phaseExtent(info.padInfo.top, oh, dh * (kh - 1) + 1, sh),
      phaseExtent(info.padInfo.left, ow, dw * (kw - 1) + 1, sw),
    );
    const dyChannelsFirst = s.reshape(s.transpose(s.reshape(dy, [pixels, ci * m]), [1, 0]), [ci, m, pixels]);
    const perTap: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        // Tap (i, j) reads xpad[s*y + i*d]: phase (i*d) mod s, offset floor(i*d / s) in it.
        const [row, col] = [i * dh, j * dw];
        const window = s.slice(phases, [((row % sh) * sw + (col % sw)) * ci, 0, Math.floor(row / sh), Math.floor(col / sw)], [ci, b, oh, ow]);
        const products = s.run('Multiply', { a: s.reshape(window, [ci, 1, pixels]), b: dyChannelsFirst });
        perTap.push(s.run('Sum', { x: products }, { axis: [2], keepDims: false }));
      }
    }
    return s.reshape(s.concat(perTap, 0), [kh, kw, ci, m]);
  });
}

export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: WASM,
  kernelFunc: depthwiseBackpropInput as unknown as KernelConfig['kernelFunc'],
};

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: WASM,
  kernelFunc: depthwiseBackpropFilter as unknown as KernelConfig['kernelFunc'],
};
