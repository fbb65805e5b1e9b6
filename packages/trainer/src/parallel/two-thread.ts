import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { builtWorkerUrl, startWorker } from '@cut/backends';
import type { CUTModel, LossName } from '../cut-model.js';
import type { FromWorker, ToWorker, WorkerBackend } from './protocol.js';
import { applyHalves, splitsIntoHalves, trainHalf, type HalfStep } from './halves.js';
import { exportReplicaState } from './replica.js';

export { splitsIntoHalves };

/**
 * Trains a CUTModel on two threads: CUT's iteration has two independent halves until the
 * gradients are summed (G on real_A with the D step, G_GAN and NCE; G on real_B with NCE_Y;
 * instance norm is per image). The main thread runs the first on `model`, a worker thread the
 * second on a replica with its own tfjs backend; each thread then applies the same summed
 * gradients, so both hold the same weights, optimiser state and rng, and the result equals
 * `model.optimizeParameters` on one thread. The main model stays the one to read, save and log.
 */
export class TwoThreadTrainer {
  private readonly waiting: Array<{ type: FromWorker['type']; resolve: (m: FromWorker) => void; reject: (e: Error) => void }> = [];
  private failure: Error | null = null;
  private synced = false;
  private started = false;

  private constructor(
    readonly model: CUTModel,
    private readonly worker: Worker,
    /** The worker's backend, as tf.getBackend() names it there. */
    readonly workerBackend: string,
  ) {}

  /** Starts the worker, which loads `backend.backend` through @cut/backends. */
  static async start(model: CUTModel, backend: WorkerBackend): Promise<TwoThreadTrainer> {
    if (!splitsIntoHalves(model)) throw new Error('TwoThreadTrainer: only CUT with nce_idt and lambda_NCE > 0 splits into two halves');
    const url = builtWorkerUrl(import.meta.url, 'two-thread-worker.js', '../../');
    const { worker, ready } = await startWorker<FromWorker>(url, backend, 'two-thread worker');
    const t = new TwoThreadTrainer(model, worker, ready.backend);
    worker.on('message', (m: FromWorker) => t.receive(m));
    worker.on('error', (e) => t.fail(new Error(`two-thread worker: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => t.fail(new Error(`two-thread worker exited (code ${code})`)));
    return t;
  }

  /** Call after changing the main model's state other than through `optimizeParameters` (loading weights, restoring optimisers): the next step copies it to the worker first. */
  invalidate(): void {
    this.synced = false;
  }

  /** One training iteration, as `model.optimizeParameters` (which see); the main model's losses are then `currentLosses()`. */
  async optimizeParameters(realA: tf.Tensor4D, realB: tf.Tensor4D): Promise<void> {
    const model = this.model;
    if (this.failure) throw this.failure;
    if (!model.isInitialized) {
      model.dataDependentInitialize(realA, realB);
      this.synced = false;
    }
    if (!this.synced) await this.sync();
    const reply = this.request({
      type: 'half',
      realB: { shape: [...realB.shape], data: (await realB.data()) as Float32Array },
      lr: model.learningRate,
    });
    let a: HalfStep;
    try {
      a = trainHalf(model, 'A', realA, realB);
    } catch (e) {
      // The worker has stepped alone: the replicas differ now, so resync before any next step.
      this.synced = false;
      await reply.catch(() => undefined);
      throw e;
    }
    const b = (await reply) as Extract<FromWorker, { type: 'half' }>;
    this.send({
      type: 'apply',
      gradsA: a.grads.map((t) => t.dataSync() as Float32Array),
      dGrads: a.dGrads!.map((t) => t.dataSync() as Float32Array),
    });
    const gradsB = b.grads.map((d, i) => tf.tensor(d, a.grads[i]!.shape, 'float32'));
    const losses: Partial<Record<LossName, tf.Scalar>> = {
      ...a.losses,
      NCE_Y: tf.scalar(b.NCE_Y, 'float32'),
      G: tf.tidy(() => tf.add(a.value, tf.scalar(b.value, 'float32')) as tf.Scalar),
    };
    tf.dispose([a.value, ...a.dGrads!]);
    applyHalves(model, a.grads, gradsB, null, losses);
  }

  /** Stops the worker (and frees its replica). */
  async close(): Promise<void> {
    if (this.failure) return;
    this.failure = new Error('TwoThreadTrainer: closed');
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.worker.terminate();
  }

  private async sync(): Promise<void> {
    const state = await exportReplicaState(this.model);
    await this.request(this.started ? { type: 'state', state } : { type: 'init', options: this.model.options, state });
    this.started = true;
    this.synced = true;
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private request(m: ToWorker): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    const type: FromWorker['type'] = m.type === 'half' ? 'half' : 'synced';
    const p = new Promise<FromWorker>((resolve, reject) => this.waiting.push({ type, resolve, reject }));
    this.send(m);
    return p;
  }

  private receive(m: FromWorker): void {
    const w = this.waiting.shift();
    if (!w) return;
    if (m.type === 'error') w.reject(new Error(`two-thread worker: ${m.message}`));
    else if (m.type !== w.type) w.reject(new Error(`two-thread worker: expected '${w.type}', got '${m.type}'`));
    else w.resolve(m);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}
