import {
  backend_util,
  Slice,
  type KernelBackend,
  type KernelConfig,
  type SliceAttrs,
  type SliceInputs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { originalKernel } from '../backend-registry.js';
import { copyBox, WASM } from './kernel-call.js';

interface WasmHeap {
  makeOutput(shape: number[], dtype: TensorInfo['dtype']): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): ArrayLike<number> & { subarray(a: number, b: number): never; set(v: never, at: number): void };
}

/**
 * Slice, copying the box heap to heap one contiguous run at a time. wasm's own Slice first
 * copies the WHOLE input out of the heap (readSync) for every call: with the convolutions on
 * oneDNN it was the largest kernel of a CUT iteration (27% at crop 128; reflect padding and its
 * gradient slice full activations hundreds of times per iteration).
 */
function slice(args: { inputs: SliceInputs; backend: KernelBackend; attrs: SliceAttrs }): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const heap = args.backend as unknown as Partial<WasmHeap>;
  const original = originalKernel(Slice, WASM);
  if (x.dtype === 'string' || !heap.makeOutput || !heap.typedArrayFromHeap) {
    if (!original) throw new Error('wasm Slice: no original kernel');
    return original(args as never) as TensorInfo;
  }
  const [begin, size] = backend_util.slice_util.parseSliceParams(x, args.attrs.begin, args.attrs.size) as [number[], number[]];
  const out = heap.makeOutput(size, x.dtype);
  // Views after makeOutput: it may grow (and so detach) the heap.
  copyBox(heap.typedArrayFromHeap(x) as never, x.shape, begin, size, heap.typedArrayFromHeap(out) as never);
  return out;
}

export const sliceConfig: KernelConfig = {
  kernelName: Slice,
  backendName: WASM,
  kernelFunc: slice as unknown as KernelConfig['kernelFunc'],
};
