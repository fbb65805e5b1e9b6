import type { CUTOptions } from '../options.js';
import type { RngState } from '@cut/core-tensors';

/** A tensor's values and shape, as sent between threads. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Everything a replica needs to continue a model's training identically: the weights of G and D
 * (`named` order), F's in PyTorch layout (by name), the optimisers' state
 * (`encodeOptimizerStates`), the rng and the learning rate.
 */
export interface ReplicaState {
  G: HostTensor[];
  D: HostTensor[];
  F: Record<string, HostTensor>;
  optimizers: Uint8Array;
  rng: RngState;
  lr: number;
}

/** How the worker sets up its tfjs backend: `import(module)` then `loadBackend(backend)`. */
export interface WorkerBackend {
  /** URL or absolute path of an ES module that exports `loadBackend(name: string): Promise<unknown>`. */
  module: string;
  backend: string;
}

export type ToWorker =
  | { type: 'init'; options: CUTOptions; state: ReplicaState }
  | { type: 'state'; state: ReplicaState }
  | { type: 'half'; realB: HostTensor; lr: number }
  | { type: 'apply'; gradsA: Float32Array[]; dGrads: Float32Array[] }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'synced' }
  | { type: 'half'; grads: Float32Array[]; value: number; NCE_Y: number }
  | { type: 'error'; message: string };
