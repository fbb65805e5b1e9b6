import {
  backend_util,
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  FusedConv2D,
  type KernelBackend,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { KernelOverride } from '@cut/core-tensors';
import type { NativeAddon } from './addon.js';

const OP_FORWARD = 0;
const OP_BACKWARD_DATA = 1;
const OP_BACKWARD_WEIGHTS = 2;
/** FusedConv2D activations the addon fuses, by their index in native/conv.cc. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

/** What the kernels use of tfjs-backend-wasm's BackendWasm (public members of 4.22). */
export interface WasmBackend {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

export function asWasm(backend: KernelBackend): WasmBackend | undefined {
  const b = backend as unknown as Partial<WasmBackend>;
  return b.dataIdMap && b.wasm && b.makeOutput ? (b as WasmBackend) : undefined;
}

const advised = new WeakSet<ArrayBuffer>();

/**
 * The wasm heap's buffer, fetched now (growing the memory detaches the old one). The first time
 * a buffer is seen, the addon asks Linux for transparent huge pages over the heap's 4 GiB range
 * (inside V8's reservation for it): on VMs that charge ~10 us per first-touched 4 KiB page, the
 * first iterations and every large single-image translation spend seconds in page faults
 * otherwise. CUT_HUGEPAGES=0 leaves the heap as it is.
 */
export function heapBuffer(addon: NativeAddon, wasm: WasmBackend): ArrayBuffer {
  const buffer = wasm.wasm.HEAPU8.buffer as ArrayBuffer;
  if (!advised.has(buffer)) {
    advised.add(buffer);
    if (process.env.CUT_HUGEPAGES !== '0') addon.adviseHugePages(buffer, 4 * 2 ** 30);
  }
  return buffer;
}

/** Where a tensor's data starts in the wasm heap, in bytes. */
export const heapOffset = (wasm: WasmBackend, t: TensorInfo): number => wasm.dataIdMap.get(t.dataId)!.memoryOffset;

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The geometry the addon takes (native/conv.cc): n, ih, iw, ic, oh, ow, oc, kh, kw, strides,
 * dilations, pads top/left/bottom/right, bias flag, activation, groups (depthwise: the input
 * channels; tfjs's depthwise Conv2DInfo counts outChannels as channels x multiplier). The right and bottom pads are
 * whatever makes oneDNN's output size tfjs's (negative when 'valid' leaves input unused).
 */
function geometry(info: backend_util.Conv2DInfo, hasBias: boolean, activation: number, groups = 1): Int32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  const bottom = (outHeight - 1) * strideHeight + (filterHeight - 1) * dilationHeight + 1 - inHeight - padInfo.top;
  const right = (outWidth - 1) * strideWidth + (filterWidth - 1) * dilationWidth + 1 - inWidth - padInfo.left;
  return Int32Array.from([
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
    padInfo.top,
    padInfo.left,
    bottom,
    right,
    hasBias ? 1 : 0,
    activation,
    groups,
  ]);
}

const channelsLast = (format: unknown) => format === undefined || format === 'NHWC' || format === 'channelsLast';

/** A kernel's arguments; `I` and `A` as tfjs's kernel_names.ts (or @cut/core-tensors' optional-kernels.ts) declare them. */
export type Args<I = Record<string, TensorInfo | undefined>, A = NamedAttrMap> = { inputs: I; backend: KernelBackend; attrs: A };

/** Calls that ran natively and that fell back, since the process started. */
export const calls = { native: 0, fallback: 0 };

/** Geometries oneDNN refused (primitive creation threw): they stay on the fallback. */
const refused = new Set<string>();

/**
 * One native convolution kernel: `plan` returns the call (or undefined for a case it does
 * not cover); anything not covered, or refused by oneDNN, runs the kernel it replaced.
 */
function nativeKernel(
  addon: NativeAddon,
  fallback: KernelFunc,
  plan: (
    args: Args,
  ) => { op: number; a: TensorInfo; b: TensorInfo; bias?: TensorInfo; outShape: number[]; dims: Int32Array; alpha?: number } | undefined,
): KernelFunc {
  return (raw) => {
    const args = raw as unknown as Args;
    const wasm = asWasm(args.backend);
    const call = wasm ? plan(args) : undefined;
    const key = call && `${call.op}:${call.dims.join(',')}:${call.alpha ?? ''}`;
    const inputs = call ? [call.a, call.b, ...(call.bias ? [call.bias] : [])] : [];
    if (!wasm || !call || refused.has(key!) || size(call.outShape) === 0 || inputs.some((t) => t.dtype !== 'float32' || size(t.shape) === 0)) {
      calls.fallback++;
      return fallback(raw);
    }
    const out = wasm.makeOutput(call.outShape, 'float32');
    // The heap's buffer fetched after makeOutput: growing the memory detaches the old one.
    const buffer = heapBuffer(addon, wasm);
    const offset = (t: TensorInfo) => heapOffset(wasm, t);
    const offsets = Float64Array.from([offset(call.a), offset(call.b), call.bias ? offset(call.bias) : 0, offset(out)]);
    try {
      addon.conv(call.op, buffer, offsets, call.dims, call.alpha ?? 0);
      calls.native++;
      return out;
    } catch (e) {
      args.backend.disposeData(out.dataId);
      refused.add(key!);
      calls.fallback++;
      if (process.env.CUT_NATIVE_DEBUG === '1') console.warn(`@cut/native-kernels: ${(e as Error).message}; this shape runs on wasm`);
      return fallback(raw);
    }
  };
}

export const WASM = 'wasm';

/** The kernel below one of ours, or (none: tfjs-backend-wasm 4.22 without @cut/core-tensors' patches) one that says so. */
export function below(name: string, kernel: KernelFunc | undefined): KernelFunc {
  return (
    kernel ??
    (() => {
      throw new Error(`wasm ${name}: a case the native kernels do not cover, and the wasm backend has no kernel of its own for it`);
    })
  );
}

/** Our kernels as patches of @cut/core-tensors' registry, each built over the kernel it replaces. */
export function overrides(funcs: Record<string, (fallback: KernelFunc) => KernelFunc>): KernelOverride[] {
  return Object.entries(funcs).map(([kernelName, make]) => ({ kernelName, backendName: WASM, over: (kernel) => make(below(kernelName, kernel)) }));
}

/** The convolutions the addon provides, each over the kernel it replaces. */
export function nativeConvKernels(addon: NativeAddon): KernelOverride[] {
  const funcs: Record<string, (fallback: KernelFunc) => KernelFunc> = {};

  funcs[Conv2D] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const x = inputs.x!;
      const filter = inputs.filter!;
      if (!channelsLast(attrs.dataFormat)) return undefined;
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number],
        attrs.strides as number,
        (attrs.dilations as number | undefined) ?? 1,
        attrs.pad as 'same',
        attrs.dimRoundingMode as 'floor',
        false,
        'channelsLast',
      );
      return { op: OP_FORWARD, a: x, b: filter, outShape: info.outShape, dims: geometry(info, false, 0) };
    });

  funcs[FusedConv2D] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const x = inputs.x!;
      const filter = inputs.filter!;
      const activation = ACTIVATIONS[(attrs.activation as string | undefined) ?? 'linear'];
      if (!channelsLast(attrs.dataFormat) || activation === undefined) return undefined;
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number],
        attrs.strides as number,
        (attrs.dilations as number | undefined) ?? 1,
        attrs.pad as 'same',
        attrs.dimRoundingMode as 'floor',
        false,
        'channelsLast',
      );
      const bias = inputs.bias;
      // The addon adds a bias of one value per output channel; broadcasts of other shapes stay on wasm.
      if (bias && size(bias.shape) !== info.outChannels) return undefined;
      const alpha = activation === ACTIVATIONS.leakyrelu ? ((attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0;
      return { op: OP_FORWARD, a: x, b: filter, bias, outShape: info.outShape, dims: geometry(info, !!bias, activation), alpha };
    });

  funcs[Conv2DBackpropInput] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const dy = inputs.dy!;
      const filter = inputs.filter!;
      if (!channelsLast(attrs.dataFormat)) return undefined;
      const inputShape = attrs.inputShape as [number, number, number, number];
      const info = backend_util.computeConv2DInfo(
        inputShape,
        filter.shape as [number, number, number, number],
        attrs.strides as number,
        1,
        attrs.pad as 'same',
        attrs.dimRoundingMode as 'floor',
        false,
        'channelsLast',
      );
      return { op: OP_BACKWARD_DATA, a: dy, b: filter, outShape: [...inputShape], dims: geometry(info, false, 0) };
    });

  funcs[Conv2DBackpropFilter] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const x = inputs.x!;
      const dy = inputs.dy!;
      if (!channelsLast(attrs.dataFormat)) return undefined;
      const filterShape = attrs.filterShape as [number, number, number, number];
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filterShape,
        attrs.strides as number,
        1,
        attrs.pad as 'same',
        attrs.dimRoundingMode as 'floor',
        false,
        'channelsLast',
      );
      return { op: OP_BACKWARD_WEIGHTS, a: x, b: dy, outShape: [...filterShape], dims: geometry(info, false, 0) };
    });

  // Depthwise: grouped convolutions with one group per input channel (filters [kh, kw, C, multiplier]).
  const depthwiseInfo = (xShape: number[], filterShape: number[], attrs: NamedAttrMap) =>
    backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides as number,
      (attrs.dilations as number | undefined) ?? 1,
      attrs.pad as 'same',
      attrs.dimRoundingMode as 'floor',
      true,
      'channelsLast',
    );

  funcs[DepthwiseConv2dNative] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const x = inputs.x!;
      const filter = inputs.filter!;
      if (!channelsLast(attrs.dataFormat)) return undefined;
      const info = depthwiseInfo(x.shape, filter.shape, attrs);
      return { op: OP_FORWARD, a: x, b: filter, outShape: info.outShape, dims: geometry(info, false, 0, info.inChannels) };
    });

  funcs[DepthwiseConv2dNativeBackpropInput] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const dy = inputs.dy!;
      const filter = inputs.filter!;
      const inputShape = attrs.inputShape as number[];
      const info = depthwiseInfo(inputShape, filter.shape, attrs);
      return { op: OP_BACKWARD_DATA, a: dy, b: filter, outShape: [...inputShape], dims: geometry(info, false, 0, info.inChannels) };
    });

  funcs[DepthwiseConv2dNativeBackpropFilter] = (fallback) =>
    nativeKernel(addon, fallback, ({ inputs, attrs }) => {
      const x = inputs.x!;
      const dy = inputs.dy!;
      const filterShape = attrs.filterShape as number[];
      const info = depthwiseInfo(x.shape, filterShape, attrs);
      return { op: OP_BACKWARD_WEIGHTS, a: x, b: dy, outShape: [...filterShape], dims: geometry(info, false, 0, info.inChannels) };
    });
  return overrides(funcs);
}
