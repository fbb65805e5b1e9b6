import type { BackendChoice } from '@cut/backends';
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

/** The worker's tfjs backend, which it loads through @cut/backends as the main thread did (wasm or cpu). */
export interface WorkerBackend {
  backend: BackendChoice;
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
