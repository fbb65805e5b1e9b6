/**
 * Batches of a dataset (`ImageDataset`: unaligned, aligned or single), like the reference's `DataLoader(dataset, batch_size,
 * shuffle=not serial_batches, drop_last=isTrain)`, decoded ahead of the consumer: while the
 * training step runs, the next `prefetch` batches are being read and decoded (sharp works on
 * libuv's thread pool).
 *
 * Everything random is planned per epoch from one `SeededRng`, in a fixed order (the epoch's
 * shuffle, then each item's B index and crop/flip draws), before any image is decoded. So
 * batches do not depend on decoding order or timing, and a saved `LoaderState` (epoch, next
 * batch, the generator's state at the start of that epoch) resumes the exact same stream.
 */

import { SeededRng, type RngState } from '@cut/core-tensors';
import type { ImageDataset, Item, ItemDraws } from './dataset.js';

export interface BatchLoaderOptions {
  /** Seed of the loader's generator (ignored with `rng` or `state`); default: a random seed. */
  seed?: number;
  /** The generator to draw from (it is advanced by the loader); default: `new SeededRng(seed)`. */
  rng?: SeededRng;
  /** Batches decoded ahead of the consumer; 0 = decode on demand. Default 2. */
  prefetch?: number;
  /** Shuffle the order every epoch; default: not `serial_batches`. */
  shuffle?: boolean;
  /** Drop the last incomplete batch; default: the dataset is for training (the reference's drop_last=isTrain). */
  dropLast?: boolean;
  /** First epoch (the reference's `epoch_count`, 1-based). Default 1. */
  startEpoch?: number;
  /** Last epoch (inclusive); nothing is decoded beyond it. Default: no end. */
  endEpoch?: number;
  /** Resume from `state()` of an earlier loader over the same data (overrides seed/rng/startEpoch). */
  state?: LoaderState;
}

/** Where a loader stands, JSON-able: enough to reproduce every following batch exactly. */
export interface LoaderState {
  version: 1;
  /** Epoch of the next batch to be returned. */
  epoch: number;
  /** Index within that epoch of the next batch to be returned. */
  batch: number;
  /** The generator's state when that epoch was planned. */
  epochRng: RngState;
  /** For checking that the state fits the dataset and loader it is restored into. */
  sizeA: number;
  sizeB: number;
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  serialBatches: boolean;
  /** The dataset mode (absent in states written before there were several: unaligned). */
  datasetMode?: string;
}

/** One batch, NHWC float32 in [-1, 1], host memory (the trainer makes tensors of it). */
export interface Batch {
  A: Float32Array;
  /** null for the single dataset (no B). */
  B: Float32Array | null;
  /** [N, H, W, C] of A; B's may differ in C (output_nc) and, without cropping, in H and W. */
  shapeA: [number, number, number, number];
  shapeB: [number, number, number, number] | null;
  pathsA: string[];
  /** Empty for the single dataset; the aligned dataset's are the same files as pathsA. */
  pathsB: string[];
  epoch: number;
  /** Index of this batch within its epoch (0-based). */
  index: number;
  batchesPerEpoch: number;
  /** Whether the epoch is in the reference's fine-tuning phase (no resize-crop jitter). */
  finetuning: boolean;
}

interface EpochPlan {
  epoch: number;
  rngStart: RngState;
  /** Dataset index of each position in the epoch. */
  order: Int32Array;
  /** Draws of each used position. */
  draws: ItemDraws[];
}

interface Pending {
  epoch: number;
  index: number;
  promise: Promise<Batch>;
  ready: boolean;
}

export class BatchLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly endEpoch: number;
  /** Batches per epoch: ⌊len / batch_size⌋ when dropping the last partial batch, else ⌈len / batch_size⌉. */
  readonly batchesPerEpoch: number;

  private readonly rng: SeededRng;
  private plans = new Map<number, EpochPlan>();
  private queue: Pending[] = [];
  /** Next position to hand out. */
  private pos: { epoch: number; index: number };
  /** Next position to schedule for decoding. */
  private ahead: { epoch: number; index: number };
  private closed = false;

  constructor(dataset: ImageDataset, options: BatchLoaderOptions = {}) {
    this.dataset = dataset;
    this.batchSize = dataset.options.batch_size;
    this.shuffle = options.shuffle ?? !dataset.options.serial_batches;
    this.dropLast = options.dropLast ?? dataset.isTrain;
    this.prefetch = options.prefetch ?? 2;
    this.endEpoch = options.endEpoch ?? Infinity;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) throw new Error(`prefetch must be a non-negative integer, got ${this.prefetch}`);
    const n = dataset.length;
    this.batchesPerEpoch = this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
    if (this.batchesPerEpoch === 0) {
      const where = dataset.dirA === dataset.dirB ? dataset.dirA : `${dataset.dirA}, ${dataset.dirB}`;
      throw new Error(`${where}: ${n} images per epoch, fewer than batch_size ${this.batchSize} (the last partial batch is dropped in training)`);
    }
    const state = options.state;
    if (state) {
      this.checkState(state);
      this.rng = SeededRng.fromState(state.epochRng);
      this.pos = { epoch: state.epoch, index: state.batch };
    } else {
      this.rng = options.rng ?? (options.seed === undefined ? SeededRng.unseeded() : new SeededRng(options.seed));
      const start = options.startEpoch ?? 1;
      if (!Number.isInteger(start) || start < 0) throw new Error(`startEpoch must be a non-negative integer, got ${start}`);
      this.pos = { epoch: start, index: 0 };
    }
    this.ahead = { ...this.pos };
    // Plan the current epoch now, so that state() is defined before the first batch.
    this.plan(this.pos.epoch);
  }

  /** Epoch of the next batch `next()` returns. */
  get epoch(): number {
    return this.pos.epoch;
  }

  /** Index within its epoch of the next batch `next()` returns. */
  get batchIndex(): number {
    return this.pos.index;
  }

  /** Batches already decoded and waiting (for tests and progress displays). */
  get readyCount(): number {
    return this.queue.filter((p) => p.ready).length;
  }

  /** Whether another batch exists (not past `endEpoch`). */
  get hasNext(): boolean {
    return this.pos.epoch <= this.endEpoch;
  }

  /** The loader's position, to save with a checkpoint and pass back as `options.state`. */
  state(): LoaderState {
    return {
      version: 1,
      epoch: this.pos.epoch,
      batch: this.pos.index,
      epochRng: this.plan(this.pos.epoch).rngStart,
      sizeA: this.dataset.pathsA.length,
      sizeB: this.dataset.pathsB.length,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      dropLast: this.dropLast,
      serialBatches: this.dataset.options.serial_batches,
      datasetMode: this.dataset.mode,
    };
  }

  /** The next batch, crossing into the next epoch after the last batch of one. */
  async next(): Promise<Batch> {
    if (this.closed) throw new Error('BatchLoader: closed');
    if (!this.hasNext) throw new Error(`BatchLoader: past the last epoch (${this.endEpoch})`);
    if (this.queue.length === 0) this.schedule();
    const head = this.queue.shift()!;
    this.pos = this.step(this.pos);
    this.fill();
    return head.promise;
  }

  /** The remaining batches of the current epoch. */
  async *epochBatches(): AsyncGenerator<Batch> {
    const epoch = this.pos.epoch;
    while (this.hasNext && this.pos.epoch === epoch) yield await this.next();
  }

  /** Stops scheduling; batches in flight finish and are dropped. */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private step(p: { epoch: number; index: number }): { epoch: number; index: number } {
    return p.index + 1 < this.batchesPerEpoch ? { epoch: p.epoch, index: p.index + 1 } : { epoch: p.epoch + 1, index: 0 };
  }

  /** Keeps `prefetch` batches beyond the one being consumed in flight. */
  private fill(): void {
    while (!this.closed && this.queue.length < this.prefetch && this.ahead.epoch <= this.endEpoch) this.schedule();
  }

  private schedule(): void {
    const { epoch, index } = this.ahead;
    const pending: Pending = { epoch, index, promise: this.loadBatch(epoch, index), ready: false };
    // Mark readiness; a failure is reported when the batch is consumed, not as an unhandled rejection.
    pending.promise.then(
      () => (pending.ready = true),
      () => undefined,
    );
    this.queue.push(pending);
    this.ahead = this.step(this.ahead);
  }

  /** Plans epochs in order (each from where the previous left the generator); kept until passed. */
  private plan(epoch: number): EpochPlan {
    let plan = this.plans.get(epoch);
    if (plan) return plan;
    const last = Math.max(-Infinity, ...this.plans.keys());
    if (this.plans.size > 0 && epoch !== last + 1) throw new Error(`BatchLoader: epoch ${epoch} planned out of order`);
    const n = this.dataset.length;
    const rngStart = this.rng.getState();
    const order = this.shuffle ? this.rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const used = Math.min(n, this.batchesPerEpoch * this.batchSize);
    const draws: ItemDraws[] = [];
    for (let i = 0; i < used; i++) draws.push(this.dataset.drawItem(this.rng));
    plan = { epoch, rngStart, order, draws };
    this.plans.set(epoch, plan);
    // Epochs before the consumer's are done with.
    for (const e of this.plans.keys()) if (e < this.pos.epoch) this.plans.delete(e);
    return plan;
  }

  private async loadBatch(epoch: number, index: number): Promise<Batch> {
    const plan = this.plan(epoch);
    const first = index * this.batchSize;
    const count = Math.min(this.batchSize, plan.draws.length - first);
    const finetuning = this.dataset.isFinetuning(epoch);
    const items: Item[] = await Promise.all(
      Array.from({ length: count }, (_, k) => this.dataset.getItem(plan.order[first + k]!, plan.draws[first + k]!, epoch)),
    );
    const stack = (key: 'A' | 'B') => {
      const head = items[0]![key]!;
      for (const it of items) {
        const img = it[key]!;
        if (img.height !== head.height || img.width !== head.width || img.channels !== head.channels) {
          const path = (x: Item) => (key === 'A' ? x.pathA : x.pathB);
          throw new Error(
            `cannot batch ${path(items[0]!)} (${head.width}x${head.height}x${head.channels}) with ${path(it)} (${img.width}x${img.height}x${img.channels}): ` +
              `with preprocess '${this.dataset.options.preprocess}' images keep different sizes; use batch_size 1 or a cropping mode`,
          );
        }
      }
      const size = head.data.length;
      const data = new Float32Array(size * count);
      items.forEach((it, k) => data.set(it[key]!.data, k * size));
      const shape: [number, number, number, number] = [count, head.height, head.width, head.channels];
      return { data, shape };
    };
    const a = stack('A');
    const b = items[0]!.B ? stack('B') : null;
    return {
      A: a.data,
      B: b?.data ?? null,
      shapeA: a.shape,
      shapeB: b?.shape ?? null,
      pathsA: items.map((it) => it.pathA),
      pathsB: items.flatMap((it) => (it.pathB === null ? [] : [it.pathB])),
      epoch,
      index,
      batchesPerEpoch: this.batchesPerEpoch,
      finetuning,
    };
  }

  private checkState(s: LoaderState): void {
    if (s?.version !== 1) throw new Error('BatchLoader: unknown loader state version');
    const mismatch: string[] = [];
    const mode = s.datasetMode ?? 'unaligned';
    if (mode !== this.dataset.mode) mismatch.push(`dataset_mode ${mode} vs ${this.dataset.mode}`);
    if (s.sizeA !== this.dataset.pathsA.length) mismatch.push(`|A| ${s.sizeA} vs ${this.dataset.pathsA.length}`);
    if (s.sizeB !== this.dataset.pathsB.length) mismatch.push(`|B| ${s.sizeB} vs ${this.dataset.pathsB.length}`);
    if (s.batchSize !== this.batchSize) mismatch.push(`batch_size ${s.batchSize} vs ${this.batchSize}`);
    if (s.shuffle !== this.shuffle) mismatch.push(`shuffle ${s.shuffle} vs ${this.shuffle}`);
    if (s.dropLast !== this.dropLast) mismatch.push(`dropLast ${s.dropLast} vs ${this.dropLast}`);
    const serial = this.dataset.options.serial_batches;
    if (s.serialBatches !== serial) mismatch.push(`serial_batches ${s.serialBatches} vs ${serial}`);
    if (mismatch.length > 0) throw new Error(`BatchLoader: saved state does not fit this data (${mismatch.join(', ')})`);
    if (!Number.isInteger(s.batch) || s.batch < 0 || s.batch >= this.batchesPerEpoch) {
      throw new Error(`BatchLoader: saved batch index ${s.batch} out of range 0..${this.batchesPerEpoch - 1}`);
    }
  }
}
