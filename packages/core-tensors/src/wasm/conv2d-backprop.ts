import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  type Conv2DBackpropInputAttrs,
  type Conv2DBackpropInputInputs,
  type KernelBackend,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { assertChannelsLast, dims4, WASM, withScope, type Scope } from './kernel-call.js';
import { phaseExtent, phaseSplitChannelsFirst } from './phase-split.js';
import { phaseCorrelations, phaseFilter, transposedAxis } from './transposed-conv.js';

/** Each matmul of the filter gradient gets at least this many rows (windows x input channels). */
const MIN_MATMUL_ROWS = 128;
/** Below this many output channels one matmul covers a whole row of taps (see below). */
const WIDE_BELOW_OUT_CHANNELS = 16;

/**
 * Conv2DBackpropFilter: dW[i,j,c,o] = sum over (n, y, x) of xpad[n, y*s+i, x*s+j, c] * dy[n, y, x, o].
 *
 * For tap (i, j) that is `X_ij [ci, N] @ dy [N, co]` (N = b*oh*ow), X_ij the window of x
 * the tap sees, channels first (phase-split.ts: one XNNPACK transpose, and for stride s a
 * split into the s*s phases, so every window is a plain slice). Windows are stacked into
 * matmuls of >= MIN_MATMUL_ROWS rows, all against the same right operand, which the wasm
 * fully-connected operator packs once per call.
 * With few output channels `[., N] @ [N, co]` is too skinny for the GEMM and copying the
 * windows dominates; then each window is a whole row of taps wide (`span` taps) and meets
 * `span` shifted copies of dy side by side (`[N', span*co]`).
 * Measured against the forward convolution (bench/README.md): 1.1x at 64x64 3x3 256->256,
 * 1.2x at stride 2; the 7x7 64->3 head 1.0-1.3x wide vs 3.5x per tap. The alternative, a
 * dilated convolution over transposed tensors (dy as a oh x ow filter), was 2.5x the forward.
 */
function conv2dBackpropFilter(args: { inputs: Conv2DBackpropFilterInputs; backend: KernelBackend; attrs: Conv2DBackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  assertChannelsLast(attrs.dataFormat, Conv2DBackpropFilter);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(
    dims4(x.shape, 'Conv2DBackpropFilter x'),
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [b, , , ci] = dims4(x.shape, 'x');
  const [kh, kw, , co] = filterShape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const phaseColTaps = (t: number) => Math.ceil((kw - t) / sw);
  // Column taps per window, and the window width that covers them.
  const span = co < WIDE_BELOW_OUT_CHANNELS ? phaseColTaps(0) : 1;
  const width = ow + span - 1;
  const rowsPerWindow = b * oh * width;

  return withScope(backend, [x, dy], (s) => {
    const phases = phaseSplitChannelsFirst(s, x, sh, sw, phaseExtent(info.padInfo.top, oh, kh, sh), phaseExtent(info.padInfo.left, ow, kw, sw));
    const dyShifted = shiftedColumns(s, dy, span, width);
    // Windows: tap row i, column phase t, first of its `span` column taps within the phase.
    const windows: Array<{ i: number; t: number; first: number }> = [];
    for (let i = 0; i < kh; i++) {
      for (let t = 0; t < sw; t++) for (let first = 0; first < phaseColTaps(t); first += span) windows.push({ i, t, first });
    }
    const perMatmul = Math.ceil(windows.length / Math.ceil(windows.length / Math.ceil(MIN_MATMUL_ROWS / ci)));
    // Where each tap's [ci, co] block lands: product index and row in it.
    const blockOf = new Map<number, [number, number]>();
    const products: TensorInfo[] = [];
    for (let start = 0; start < windows.length; start += perMatmul) {
      const group = windows.slice(start, start + perMatmul);
      const cut = group.map(({ i, t, first }) => s.slice(phases, [((i % sh) * sw + t) * ci, 0, Math.floor(i / sh), first], [ci, b, oh, width]));
      const product = s.matMul2D(s.reshape(s.concat(cut, 0), [group.length * ci, rowsPerWindow]), dyShifted);
      // [windows, ci, span, co] -> one [ci, co] block per (window, column tap).
      products.push(s.reshape(s.transpose(s.reshape(product, [group.length, ci, span, co]), [0, 2, 1, 3]), [group.length * span, ci * co]));
      group.forEach(({ i, t, first }, w) => {
        for (let q = 0; q < span && first + q < phaseColTaps(t); q++) blockOf.set(i * kw + t + sw * (first + q), [products.length - 1, w * span + q]);
      });
    }
    const blocks: TensorInfo[] = [];
    for (let tap = 0; tap < kh * kw; tap++) {
      const [p, row] = blockOf.get(tap)!;
      blocks.push(s.slice(products[p]!, [row, 0], [1, ci * co]));
    }
    return s.reshape(s.concat(blocks, 0), filterShape);
  });
}

/**
 * dy `[b, oh, ow, co]` as `[b*oh*width, span*co]`: column (q, o) at position x holds
 * dy[.., x - q, o] (zero outside), so a window `width` wide times it gives `span` taps at once.
 */
function shiftedColumns(s: Scope, dy: TensorInfo, span: number, width: number): TensorInfo {
  const [b, oh, ow, co] = dy.shape as [number, number, number, number];
  if (span === 1) return s.reshape(dy, [b * oh * ow, co]);
  const channelsFirst = s.reshape(s.transpose(s.reshape(dy, [b * oh * ow, co]), [1, 0]), [co, b * oh, ow]);
  const padded = s.pad(channelsFirst, [
    [0, 0],
    [0, 0],
    [span - 1, width - ow],
  ]);
  const shifts: TensorInfo[] = [];
  for (let q = 0; q < span; q++) shifts.push(s.slice(padded, [0, 0, span - 1 - q], [co, b * oh, width]));
  return s.transpose(s.reshape(s.concat(shifts, 0), [span * co, b * oh * width]), [1, 0]);
}

/**
 * Conv2DBackpropInput, replacing wasm's own (a scalar loop, ~12x slower than the forward
 * convolution): per stride phase one XNNPACK stride-1 convolution over dy with that phase's
 * taps, flipped, input and output channels swapped; phases interleaved (transposed-conv.ts).
 */
function conv2dBackpropInput(args: { inputs: Conv2DBackpropInputInputs; backend: KernelBackend; attrs: Conv2DBackpropInputAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  assertChannelsLast(attrs.dataFormat, Conv2DBackpropInput);
  const inputShape = dims4(attrs.inputShape, 'Conv2DBackpropInput inputShape');
  const [kh, kw, ci, co] = dims4(filter.shape, 'Conv2DBackpropInput filter');
  const info = backend_util.computeConv2DInfo(
    inputShape,
    [kh, kw, ci, co],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [b, h, w] = inputShape;
  const rows = transposedAxis(h, info.outHeight, kh, info.strideHeight, 1, info.padInfo.top);
  const cols = transposedAxis(w, info.outWidth, kw, info.strideWidth, 1, info.padInfo.left);

  return withScope(backend, [dy, filter], (s) => {
    // One [co, ci] block per forward tap: the correlation maps dy's co channels to ci.
    const taps = s.reshape(s.transpose(s.reshape(filter, [kh * kw, ci, co]), [0, 2, 1]), [kh * kw, co * ci]);
    const full = phaseCorrelations(s, dy, rows, cols, ci, false, (rowTaps, colTaps, input, pad) =>
      s.run(
        'Conv2D',
        { x: input, filter: phaseFilter(s, taps, kw, rowTaps, colTaps, [co, ci]) },
        {
          strides: 1,
          dilations: 1,
          pad,
          dataFormat: 'NHWC',
        },
      ),
    );
    return s.slice(full, [0, rows.offset, cols.offset, 0], [b, h, w, ci]);
  });
}

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: WASM,
  kernelFunc: conv2dBackpropFilter as unknown as KernelConfig['kernelFunc'],
};

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: WASM,
  kernelFunc: conv2dBackpropInput as unknown as KernelConfig['kernelFunc'],
};
