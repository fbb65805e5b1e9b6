import { Identity, type IdentityInputs, type KernelBackend, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { WASM } from './kernel-call.js';

/**
 * Identity sharing its input's data (a reference count, as wasm's own Reshape and the cpu
 * backend's Identity do) instead of copying it. Tensors are immutable, so nothing can tell;
 * a training step runs Identity over a thousand times (tf.clone, gradient bookkeeping), and
 * each copy cost time and a full-size block of the heap.
 */
function identity(args: { inputs: IdentityInputs; backend: KernelBackend }): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: KernelConfig = { kernelName: Identity, backendName: WASM, kernelFunc: identity as never };
