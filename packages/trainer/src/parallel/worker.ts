// The second thread of `TwoThreadTrainer`: a replica of the main thread's CUTModel on its own
// tfjs backend, running half 'B' of every iteration (real_B's identity term).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '@cut/backends';
import { CUTModel } from '../cut-model.js';
import { applyHalves, trainHalf, type HalfStep } from './halves.js';
import type { FromWorker, ToWorker, WorkerBackend } from './protocol.js';
import { importReplicaState } from './replica.js';

if (!parentPort) throw new Error('two-thread-worker: must run in a worker thread (started by TwoThreadTrainer)');
const port: MessagePort = parentPort;
const post = (m: FromWorker) => port.postMessage(m);
const setup = workerData as WorkerBackend;

let model: CUTModel | null = null;
let pending: HalfStep | null = null;

function handle(msg: ToWorker): void {
  switch (msg.type) {
    case 'init':
      model?.dispose();
      model = new CUTModel(msg.options, { seed: 0 }); // its initial weights are replaced right away
      importReplicaState(model, msg.state);
      post({ type: 'synced' });
      return;
    case 'state':
      importReplicaState(model!, msg.state);
      post({ type: 'synced' });
      return;
    case 'half': {
      const m = model!;
      if (m.learningRate !== msg.lr) m.setLearningRate(msg.lr);
      const realB = tf.tensor4d(msg.realB.data, msg.realB.shape as [number, number, number, number]);
      const half = trainHalf(m, 'B', realB);
      realB.dispose();
      pending = half;
      post({
        type: 'half',
        grads: half.grads.map((t) => t.dataSync() as Float32Array),
        value: half.value.dataSync()[0]!,
        NCE_Y: half.losses.NCE_Y!.dataSync()[0]!,
      });
      return;
    }
    case 'apply': {
      const m = model!;
      const own = pending!;
      pending = null;
      const gradsA = msg.gradsA.map((d, i) => tf.tensor(d, own.grads[i]!.shape, 'float32'));
      const dVars = m.named('D');
      const dGrads = msg.dGrads.map((d, i) => tf.tensor(d, dVars[i]![1].shape, 'float32'));
      tf.dispose([own.value, ...Object.values(own.losses)]);
      applyHalves(m, gradsA, own.grads, dGrads);
      return;
    }
    case 'close':
      model?.dispose();
      model = null;
      port.close();
      return;
  }
}

async function start(): Promise<void> {
  await loadBackend(setup.backend);
  port.on('message', (msg: ToWorker) => {
    try {
      handle(msg);
    } catch (e) {
      post({ type: 'error', message: (e as Error).stack ?? String(e) });
    }
  });
  post({ type: 'ready', backend: tf.getBackend() });
}

start().catch((e: Error) => post({ type: 'error', message: `backend setup failed: ${e.message}` }));
