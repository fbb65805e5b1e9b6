import {
  getKernel,
  type DataId,
  type DataType,
  type TypedArray,
  type KernelBackend,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { originalKernel } from '../backend-registry.js';

export const WASM = 'wasm';

/** The shape each buffer (by its dataId) was first given to XNNPACK as a right operand (see Scope.rightOperand). */
const RIGHT_OPERAND_SHAPES = new WeakMap<object, string>();

type Inputs = Record<string, TensorInfo> | TensorInfo[];

/** Calls a wasm kernel directly (no engine, no tape): the building block of our composite kernels. */
function callKernel(kernelName: string, backend: KernelBackend, inputs: Inputs, attrs: object, original: boolean): TensorInfo {
  const kernelFunc = original ? originalKernel(kernelName, WASM) : getKernel(kernelName, WASM)?.kernelFunc;
  if (!kernelFunc) throw new Error(`wasm backend has no ${original ? 'original ' : ''}kernel '${kernelName}'`);
  const out = kernelFunc({ inputs: inputs as never, backend, attrs: attrs as NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`kernel '${kernelName}' returned several outputs`);
  return out;
}

/**
 * The intermediates of one composite kernel call. Every tensor made through `run` is freed
 * by `dispose`, except the one handed out by `keep`. Reshapes share their input's data with
 * a reference count, so freeing each TensorInfo once is exactly right.
 */
export class Scope {
  private readonly made: TensorInfo[] = [];

  constructor(readonly backend: KernelBackend) {}

  /** Runs a kernel of the wasm backend as currently registered. */
  run(kernelName: string, inputs: Inputs, attrs: object = {}): TensorInfo {
    return this.track(callKernel(kernelName, this.backend, inputs, attrs, false));
  }

  /** Runs the wasm backend's own implementation of a kernel we replaced. */
  runOriginal(kernelName: string, inputs: Inputs, attrs: object = {}): TensorInfo {
    return this.track(callKernel(kernelName, this.backend, inputs, attrs, true));
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    if (sameShape(x.shape, shape)) return x;
    return this.run('Reshape', { x }, { shape });
  }

  /** A transpose; a free reshape when only size-1 axes move. */
  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    const moved = perm.filter((axis) => x.shape[axis] !== 1);
    const outShape = perm.map((axis) => x.shape[axis]!);
    if (moved.every((axis, i) => i === 0 || axis > moved[i - 1]!)) return this.reshape(x, outShape);
    return this.run('Transpose', { x }, { perm });
  }

  /**
   * A box of `x`; the input itself when the box is all of it. wasm's Slice kernel first
   * copies the WHOLE input out of the heap (readSync) and then the box; copying the box's
   * rows straight from heap to heap is several times faster for the windows we cut.
   */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && sameShape(x.shape, size)) return x;
    const heap = this.backend as Partial<WasmHeapAccess>;
    if (x.dtype === 'string' || !heap.makeOutput || !heap.typedArrayFromHeap) return this.run('Slice', { x }, { begin, size });
    const out = this.track(heap.makeOutput(size, x.dtype));
    // Views after makeOutput: it may grow (and so detach) the heap.
    copyBox(heap.typedArrayFromHeap(x), x.shape, begin, size, heap.typedArrayFromHeap(out));
    return out;
  }

  /** Zero padding; the input itself when there is none. */
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  concat(parts: TensorInfo[], axis: number): TensorInfo {
    if (parts.length === 1) return parts[0]!;
    return this.run('Concat', parts, { axis });
  }

  /** `a [M,K] @ b [K,N]`: the one matmul the wasm backend runs on XNNPACK (untransposed, unbatched). */
  matMul2D(a: TensorInfo, b: TensorInfo): TensorInfo {
    return this.runOriginal('BatchMatMul', { a, b: this.rightOperand(b) }, { transposeA: false, transposeB: false });
  }

  /**
   * `b` as a right operand XNNPACK may pack. tfjs-wasm caches the packed right operand of a
   * product by its buffer's id, whatever the shape; reshapes (and our Identity) share buffers,
   * so a buffer met again as [1, 4] after [4, 1] (a column vector and its transpose in a
   * gradient) would reuse the [4, 1] packing and give garbage. Such a view gets its own copy.
   */
  rightOperand(b: TensorInfo): TensorInfo {
    const shape = b.shape.slice(-2).join(',');
    const seen = RIGHT_OPERAND_SHAPES.get(b.dataId as object);
    if (seen === undefined) RIGHT_OPERAND_SHAPES.set(b.dataId as object, shape);
    if (seen === undefined || seen === shape) return b;
    const heap = this.backend as Partial<WasmHeapAccess>;
    if (!heap.makeOutput || !heap.typedArrayFromHeap) return this.run('Slice', { x: b }, { begin: b.shape.map(() => 0), size: b.shape });
    const copy = this.track(heap.makeOutput([...b.shape], b.dtype));
    // Views after makeOutput: it may grow (and so detach) the heap.
    heap.typedArrayFromHeap(copy).set(heap.typedArrayFromHeap(b));
    RIGHT_OPERAND_SHAPES.set(copy.dataId as object, shape);
    return copy;
  }

  /** Takes `t` out of the scope: the caller owns it (the kernel's output). */
  keep(t: TensorInfo): TensorInfo {
    const i = this.made.lastIndexOf(t);
    if (i >= 0) this.made.splice(i, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId as DataId);
    this.made.length = 0;
  }

  /** Adds a tensor made outside `run` (e.g. by `backend.write`) to the scope. */
  track(t: TensorInfo): TensorInfo {
    this.made.push(t);
    return t;
  }
}

/**
 * Runs `body` with a fresh scope and returns its result; all other intermediates are freed,
 * also when `body` throws. A result that is one of the kernel's inputs (a no-op) is returned
 * as a new reference to the same data, as the engine expects of a kernel output.
 */
export function withScope(backend: KernelBackend, inputs: TensorInfo[], body: (s: Scope) => TensorInfo): TensorInfo {
  const scope = new Scope(backend);
  try {
    const out = body(scope);
    if (inputs.includes(out)) return callKernel('Reshape', backend, { x: out }, { shape: out.shape }, false);
    return scope.keep(out);
  } finally {
    scope.dispose();
  }
}

/** The two public methods of tfjs-backend-wasm's BackendWasm that its own kernels use for output and heap views. */
interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): TypedArray;
}

/** Copies the box `begin`/`size` of `src` (shape `shape`) into `dst`, one contiguous run at a time. */
export function copyBox(src: TypedArray, shape: readonly number[], begin: readonly number[], size: readonly number[], dst: TypedArray): void {
  const rank = shape.length;
  if (size.some((d) => d === 0)) return;
  // Axes after `inner` are taken whole, so each index of the axes before it is one run.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === shape[inner]) inner--;
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let a = rank - 1; a >= 0; a--) {
    strides[a] = stride;
    stride *= shape[a]!;
  }
  const run = size[inner]! * strides[inner]!;
  const index = new Array<number>(inner).fill(0);
  let written = 0;
  for (;;) {
    let from = begin[inner]! * strides[inner]!;
    for (let a = 0; a < inner; a++) from += (begin[a]! + index[a]!) * strides[a]!;
    dst.set(src.subarray(from, from + run), written);
    written += run;
    let a = inner - 1;
    while (a >= 0 && ++index[a]! === size[a]) index[a--] = 0;
    if (a < 0) return;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The four dimensions of a rank-4 shape (throws otherwise). */
export function dims4(shape: readonly number[], what: string): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`${what} must be rank 4, got shape [${shape.join(', ')}]`);
  return [shape[0]!, shape[1]!, shape[2]!, shape[3]!];
}

/** `[h, w]` from a tfjs number-or-pair attribute. */
export function pair(v: number | readonly number[] | undefined, fallback = 1): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];
}

export function assertChannelsLast(dataFormat: string | undefined, kernelName: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`wasm ${kernelName}: only NHWC data is supported, got dataFormat '${dataFormat}'`);
  }
}
