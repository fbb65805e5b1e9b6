// The memory-bound kernels of a training step on the addon's multi-threaded loops
// (native/eltwise.cc): Add, Sub, Multiply (with broadcasting), Sum over adjacent axes,
// MirrorPad, Reverse along one axis, Tile where it broadcasts, and the kernels @cut/core-tensors calls by name when a
// backend has them (LeakyReluGrad, MirrorPadGrad, InstanceNorm, InstanceNormGrad). float32 only; anything else, and tensors too
// small to be worth a thread, run the wasm kernel they replace.
import { Add, backend_util, MirrorPad, Multiply, Reverse, Sub, Sum, Tile, util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  InstanceNorm,
  InstanceNormGrad,
  LeakyReluGrad,
  MirrorPadGrad,
  type InstanceNormAttrs,
  type InstanceNormGradInputs,
  type InstanceNormInputs,
  type KernelOverride,
  type LeakyReluGradAttrs,
  type LeakyReluGradInputs,
  type MirrorPadGradAttrs,
  type MirrorPadGradInputs,
} from '@cut/core-tensors';
import type { NativeAddon } from './addon.js';
import { asWasm, heapBuffer, heapOffset, overrides, size, WASM, type Args, type WasmBackend } from './kernels.js';

/** Under this many output elements the wasm kernel is as fast as a call out. */
const MIN_ELEMENTS = 4096;

/** Calls that ran natively and that fell back, since the process started. */
export const eltwiseCalls = { native: 0, fallback: 0 };

/** Runs `body` with byte offsets of the inputs and of fresh float32 outputs of `outShapes`. */
function runMany(
  addon: NativeAddon,
  wasm: WasmBackend,
  inputs: TensorInfo[],
  outShapes: number[][],
  body: (buffer: ArrayBuffer, offsets: Float64Array) => void,
): TensorInfo[] {
  const outs = outShapes.map((shape) => wasm.makeOutput(shape, 'float32'));
  // The heap's buffer fetched after makeOutput: growing the memory detaches the old one.
  const buffer = heapBuffer(addon, wasm);
  body(
    buffer,
    Float64Array.from([...inputs, ...outs], (t) => heapOffset(wasm, t)),
  );
  eltwiseCalls.native++;
  return outs;
}

function run(
  addon: NativeAddon,
  wasm: WasmBackend,
  inputs: TensorInfo[],
  outShape: number[],
  body: (buffer: ArrayBuffer, offsets: Float64Array) => void,
): TensorInfo {
  return runMany(addon, wasm, inputs, [outShape], body)[0]!;
}

const allFloat = (ts: TensorInfo[]) => ts.every((t) => t.dtype === 'float32');

/** Element strides of `shape` broadcast to `out` (right-aligned), 0 along broadcast axes. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let step = 1;
  for (let i = shape.length - 1, j = out.length - 1; i >= 0; i--, j--) {
    strides[j] = shape[i] === 1 && out[j] !== 1 ? 0 : step;
    step *= shape[i]!;
  }
  return strides;
}

/** Drops axes of length 1 and merges neighbours both inputs walk contiguously, so inner loops are long. */
function coalesce(shape: number[], sa: number[], sb: number[]): [number[], number[], number[]] {
  const s: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const k = s.length - 1;
    if (k >= 0 && a[k] === sa[i]! * d && b[k] === sb[i]! * d) {
      s[k]! *= d;
      a[k] = sa[i]!;
      b[k] = sb[i]!;
    } else {
      s.push(d);
      a.push(sa[i]!);
      b.push(sb[i]!);
    }
  });
  return s.length ? [s, a, b] : [[1], [1], [1]];
}

function binary(addon: NativeAddon, fallback: KernelFunc, op: number): KernelFunc {
  return (raw) => {
    const { inputs, backend } = raw as unknown as Args;
    const a = inputs.a!;
    const b = inputs.b!;
    const wasm = asWasm(backend);
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (!wasm || !allFloat([a, b]) || size(outShape) < MIN_ELEMENTS) {
      eltwiseCalls.fallback++;
      return fallback(raw);
    }
    const [shape, sa, sb] = coalesce(outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
    return run(addon, wasm, [a, b], outShape, (buffer, offsets) =>
      addon.binary(buffer, offsets, op, Int32Array.from(shape), Int32Array.from(sa), Int32Array.from(sb)),
    );
  };
}

/** Sum over a run of adjacent axes (bias gradients: N, H, W of NHWC; instance-norm statistics: H, W). */
function sum(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args;
    const x = inputs.x!;
    const wasm = asWasm(backend);
    const axes = [...new Set(util.parseAxisParam(attrs.axis as number | number[], x.shape))].sort((p, q) => p - q);
    const adjacent = axes.length > 0 && axes.every((ax, i) => ax === axes[0]! + i);
    if (!wasm || !allFloat([x]) || !adjacent || size(x.shape) < MIN_ELEMENTS) {
      eltwiseCalls.fallback++;
      return fallback(raw);
    }
    const first = axes[0]!;
    const last = axes[axes.length - 1]!;
    const outer = size(x.shape.slice(0, first));
    const reduce = size(x.shape.slice(first, last + 1));
    const inner = size(x.shape.slice(last + 1));
    const outShape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    return run(addon, wasm, [x], outShape, (buffer, offsets) => addon.sum(buffer, offsets, outer, reduce, inner));
  };
}

/** [top, bottom, left, right] of a MirrorPad on H and W of a rank-4 tensor, or undefined. */
function spatialPads(paddings: Array<[number, number]>, rank: number): Int32Array | undefined {
  if (rank !== 4 || paddings.length !== 4) return undefined;
  const [pn, ph, pw, pc] = paddings as [[number, number], [number, number], [number, number], [number, number]];
  if (pn[0] || pn[1] || pc[0] || pc[1]) return undefined;
  return Int32Array.from([ph[0], ph[1], pw[0], pw[1]]);
}

function mirrorPad(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args;
    const x = inputs.x!;
    const wasm = asWasm(backend);
    const paddings = attrs.paddings as Array<[number, number]>;
    const pads = spatialPads(paddings, x.shape.length);
    if (!wasm || !allFloat([x]) || !pads || size(x.shape) < MIN_ELEMENTS) {
      eltwiseCalls.fallback++;
      return fallback(raw);
    }
    const outShape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    return run(addon, wasm, [x], outShape, (buffer, offsets) =>
      addon.mirrorPad(buffer, offsets, Int32Array.from(x.shape), pads, attrs.mode === 'symmetric'),
    );
  };
}

/** MirrorPadGrad: @cut/core-tensors calls it only for float32 NHWC padded on H and W. */
function mirrorPadGrad(addon: NativeAddon): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args<MirrorPadGradInputs, MirrorPadGradAttrs>;
    const dy = inputs.dy!;
    const wasm = asWasm(backend);
    const paddings = attrs.paddings;
    const pads = spatialPads(paddings, dy.shape.length);
    if (!wasm || !allFloat([dy]) || !pads)
      throw new Error(
        `${MirrorPadGrad}: takes float32 NHWC padded on H and W only, got ${dy.dtype} [${dy.shape}] paddings ${JSON.stringify(paddings)}`,
      );
    const xShape = dy.shape.map((d, i) => d - paddings[i]![0] - paddings[i]![1]);
    return run(addon, wasm, [dy], xShape, (buffer, offsets) =>
      addon.mirrorPadGrad(buffer, offsets, Int32Array.from(xShape), pads, attrs.mode === 'symmetric'),
    );
  };
}

/** LeakyReluGrad (ReLU: alpha 0): @cut/core-tensors calls it only for float32 dy and x of one shape. */
function leakyReluGrad(addon: NativeAddon): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args<LeakyReluGradInputs, LeakyReluGradAttrs>;
    const dy = inputs.dy!;
    const x = inputs.x!;
    const wasm = asWasm(backend);
    if (!wasm || !allFloat([dy, x]) || size(dy.shape) !== size(x.shape)) {
      throw new Error(`${LeakyReluGrad}: takes float32 dy and x of one size, got ${dy.dtype} [${dy.shape}] and ${x.dtype} [${x.shape}]`);
    }
    return run(addon, wasm, [dy, x], [...dy.shape], (buffer, offsets) =>
      addon.leakyReluGrad(buffer, offsets, size(dy.shape), Number(attrs.alpha ?? 0)),
    );
  };
}

/** Reverse along one axis (FastCUT's flips of images and feature maps). */
function reverse(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args;
    const x = inputs.x!;
    const wasm = asWasm(backend);
    const axes = [...new Set(util.parseAxisParam(attrs.dims as number | number[], x.shape))].filter((ax) => x.shape[ax]! > 1);
    if (!wasm || !allFloat([x]) || axes.length !== 1 || size(x.shape) < MIN_ELEMENTS) {
      eltwiseCalls.fallback++;
      return fallback(raw);
    }
    const axis = axes[0]!;
    return run(addon, wasm, [x], [...x.shape], (buffer, offsets) =>
      addon.reverse(buffer, offsets, size(x.shape.slice(0, axis)), x.shape[axis]!, size(x.shape.slice(axis + 1))),
    );
  };
}

/** Tile where every repeated axis has length 1 (a broadcast, as tf.broadcastTo runs it): a strided copy. */
function tile(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args;
    const x = inputs.x!;
    const wasm = asWasm(backend);
    const reps = attrs.reps as number[];
    const outShape = x.shape.map((d, i) => d * reps[i]!);
    const broadcast = reps.length === x.shape.length && reps.every((r, i) => r === 1 || x.shape[i] === 1);
    if (!wasm || !allFloat([x]) || !broadcast || size(outShape) < MIN_ELEMENTS) {
      eltwiseCalls.fallback++;
      return fallback(raw);
    }
    const strides = broadcastStrides(x.shape, outShape);
    // A binary op that copies its first input; the second (x again) is never read.
    const [shape, sx] = coalesce(outShape, strides, strides);
    return run(addon, wasm, [x, x], outShape, (buffer, offsets) =>
      addon.binary(buffer, offsets, 3, Int32Array.from(shape), Int32Array.from(sx), Int32Array.from(sx)),
    );
  };
}

/** InstanceNorm / InstanceNormGrad: @cut/core-tensors calls them only for float32 NHWC. */
function instanceNorm(addon: NativeAddon): KernelFunc {
  return (raw) => {
    const { inputs, backend, attrs } = raw as unknown as Args<InstanceNormInputs, InstanceNormAttrs>;
    const x = inputs.x!;
    const wasm = asWasm(backend);
    if (!wasm || !allFloat([x]) || x.shape.length !== 4) throw new Error(`${InstanceNorm}: takes a float32 NHWC tensor, got ${x.dtype} [${x.shape}]`);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    return runMany(
      addon,
      wasm,
      [x],
      [
        [n, h, w, c],
        [n, 1, 1, c],
      ],
      (buffer, offsets) => addon.instanceNorm(buffer, offsets, n, h * w, c, Number(attrs.eps)),
    );
  };
}

function instanceNormGrad(addon: NativeAddon): KernelFunc {
  return (raw) => {
    const { inputs, backend } = raw as unknown as Args<InstanceNormGradInputs>;
    const { dy, y, rstd } = inputs;
    const wasm = asWasm(backend);
    if (!wasm || !dy || !y || !rstd || !allFloat([dy, y, rstd]) || dy.shape.length !== 4 || size(dy.shape) !== size(y.shape)) {
      throw new Error(`${InstanceNormGrad}: takes float32 NHWC dy and y of one shape and rstd [N, 1, 1, C]`);
    }
    const [n, h, w, c] = dy.shape as [number, number, number, number];
    return run(addon, wasm, [dy, y, rstd], [n, h, w, c], (buffer, offsets) => addon.instanceNormGrad(buffer, offsets, n, h * w, c));
  };
}

/** The kernels of this file, each over the wasm kernel it replaces (the four optional ones replace none). */
export function nativeEltwiseKernels(addon: NativeAddon): KernelOverride[] {
  const optional = (kernelName: string, kernelFunc: KernelFunc): KernelOverride => ({ kernelName, backendName: WASM, over: () => kernelFunc });
  return [
    ...overrides({
      [Add]: (fallback) => binary(addon, fallback, 0),
      [Sub]: (fallback) => binary(addon, fallback, 1),
      [Multiply]: (fallback) => binary(addon, fallback, 2),
      [Sum]: (fallback) => sum(addon, fallback),
      [MirrorPad]: (fallback) => mirrorPad(addon, fallback),
      [Tile]: (fallback) => tile(addon, fallback),
      [Reverse]: (fallback) => reverse(addon, fallback),
    }),
    optional(MirrorPadGrad, mirrorPadGrad(addon)),
    optional(LeakyReluGrad, leakyReluGrad(addon)),
    optional(InstanceNorm, instanceNorm(addon)),
    optional(InstanceNormGrad, instanceNormGrad(addon)),
  ];
}
