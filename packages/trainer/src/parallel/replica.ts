import * as tf from '@tensorflow/tfjs-core';
import type { CUTModel } from '../cut-model.js';
import { encodeOptimizerStates, restoreOptimizerStates } from '../optim/optimizer-state.js';
import type { HostTensor, ReplicaState } from './protocol.js';

const host = async (t: tf.Tensor): Promise<HostTensor> => ({ shape: [...t.shape], data: (await t.data()) as Float32Array });

/** A copy of everything `importReplicaState` needs to make another CUTModel continue exactly like this one. */
export async function exportReplicaState(model: CUTModel): Promise<ReplicaState> {
  if (!model.isInitialized) throw new Error('exportReplicaState: the model is not initialised (run dataDependentInitialize first)');
  const G = await Promise.all(model.named('G').map(([, v]) => host(v)));
  const D = await Promise.all(model.named('D').map(([, v]) => host(v)));
  const fWeights = model.netF.getWeights();
  const F: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(fWeights)) F[name] = await host(t);
  tf.dispose(Object.values(fWeights));
  const chunks = await encodeOptimizerStates(model);
  const optimizers = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    optimizers.set(c, offset);
    offset += c.length;
  }
  return { G, D, F, optimizers, rng: model.rng.getState(), lr: model.learningRate };
}

/** Makes `model` (same options) a replica of the model the state was exported from. */
export function importReplicaState(model: CUTModel, state: ReplicaState): void {
  for (const net of ['G', 'D'] as const) {
    const named = model.named(net);
    const values = state[net];
    if (values.length !== named.length) throw new Error(`replica state: ${net} has ${values.length} parameters, this model ${named.length}`);
    named.forEach(([name, v], i) => {
      const s = values[i]!;
      if (s.shape.join() !== v.shape.join()) throw new Error(`replica state: ${net} ${name} is [${s.shape}], this model has [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(s.data, s.shape, 'float32')));
    });
  }
  const fWeights = Object.fromEntries(Object.entries(state.F).map(([name, s]) => [name, tf.tensor(s.data, s.shape, 'float32')]));
  model.netF.setWeights(fWeights);
  tf.dispose(Object.values(fWeights));
  model.markInitialized();
  restoreOptimizerStates(model, state.optimizers, 'replica state');
  model.rng.setState(state.rng);
  model.setLearningRate(state.lr);
}
