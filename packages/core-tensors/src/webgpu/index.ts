import { AddN, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { registerBackendPatch, type KernelOverride } from '../backend-registry.js';

const WEBGPU = 'webgpu';

/**
 * tfjs-backend-webgpu 4.22 binds each AddN input as its own storage buffer in one shader. Past the
 * device's maxStorageBuffersPerShaderStage (8 in WebGPU's default limits, one of them the output)
 * the pipeline is invalid and the result is whatever the output buffer held (a 10-term loss came
 * out as the bits of an int32 tensor). Larger sums are added in chunks that fit.
 */
function maxAddNInputs(backend: unknown): number {
  const limit = (backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } }).device?.limits?.maxStorageBuffersPerShaderStage;
  return Math.max(2, (limit ?? 8) - 1);
}

export const addNInChunks: KernelOverride = {
  kernelName: AddN,
  backendName: WEBGPU,
  over: (below: KernelFunc | undefined): KernelFunc => {
    if (!below) throw new Error('webgpu has no AddN kernel to chunk');
    return (args) => {
      const { backend } = args;
      const limit = maxAddNInputs(backend);
      let terms = args.inputs as unknown as TensorInfo[];
      if (terms.length <= limit) return below(args);
      const partial: TensorInfo[] = [];
      while (terms.length > limit) {
        const next: TensorInfo[] = [];
        for (let i = 0; i < terms.length; i += limit) {
          const chunk = terms.slice(i, i + limit);
          if (chunk.length === 1) next.push(chunk[0] as TensorInfo);
          else {
            const sum = below({ inputs: chunk as never, backend, attrs: {} }) as TensorInfo;
            partial.push(sum);
            next.push(sum);
          }
        }
        terms = next;
      }
      const out = below({ inputs: terms as never, backend, attrs: {} }) as TensorInfo;
      for (const t of partial) (backend as { disposeData(id: object): void }).disposeData(t.dataId);
      return out;
    };
  },
};

let declared = false;

/** Declares the fixes above for 'webgpu'; `activateBackend('webgpu')` installs them. Idempotent. */
export function registerWebGpuKernelFixes(): void {
  if (declared) return;
  declared = true;
  registerBackendPatch(WEBGPU, [addNInChunks]);
}
