// FID and KID during training (--eval_freq N --eval_inception FILE): every N epochs, testA
// translated as `cutjs test --eval` translates it (translateTestImages, fake_B quantised to 8 bits
// as its PNGs hold it) against the whole testB folder (features cached in the run folder), so the
// logged FID is pytorch-fid's on `cutjs test`'s fake_B folder and testB. The lowest FID's
// generator is kept as best_net_G.pth with best.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listImages, saveNetworkWeights, writeFileAtomic } from '@cut/files';
import type { RgbImage } from '@cut/metrics';
import { tensorToRgb8 } from '@cut/images';
import type { Generator } from '@cut/networks';
import { createDataset } from '../data/create-dataset.js';
import type { ImageDataset } from '../data/dataset.js';
import type { CUTOptions } from '../options.js';
import { fidAndKid, folderFeatures, loadFidInception, type LoadedInception } from './fid.js';
import { translateTestImages } from './test-images.js';

/** The weights file of the best epoch and its record, in the run folder. */
export const BEST_G_FILE = 'best_net_G.pth';
export const BEST_FILE = 'best.json';

/** `best.json`: the evaluated epoch with the lowest FID so far. */
export interface BestEpoch {
  epoch: number;
  totalIters: number;
  fid: number;
  kid: number;
  kidStd: number;
  time: string;
}

/** One `type: 'eval'` line of log.jsonl. */
export interface EvalLogRecord {
  type: 'eval';
  time: string;
  epoch: number;
  totalIters: number;
  fid: number;
  kid: number;
  kidStd: number;
  /** Images: translated testA (fake) and testB (real). */
  fake: number;
  real: number;
  /** Wall-clock seconds of the evaluation (translation, features, distances). */
  seconds: number;
  /** This epoch's FID is the lowest so far (its G is best_net_G.pth). */
  best: boolean;
}

/**
 * The options of the evaluation's test dataset: test.py's (phase test, serial, no flips, batch 1,
 * load_size = crop_size, every image), the run's preprocessing and direction otherwise.
 */
export function evalDataOptions(o: CUTOptions): CUTOptions & { isTrain: false } {
  return {
    ...o,
    phase: 'test',
    load_size: o.crop_size,
    serial_batches: true,
    no_flip: true,
    batch_size: 1,
    max_dataset_size: Infinity,
    isTrain: false,
  };
}

/** What the evaluation needs, checked before a run starts (the weights are not read). */
export async function checkEvalSetup(o: CUTOptions): Promise<{ dataset: ImageDataset; fake: number; real: number } | null> {
  if (o.eval_freq <= 0) return null;
  if (o.eval_inception === null || o.eval_inception === '') {
    throw new Error(
      `--eval_freq ${o.eval_freq} needs --eval_inception FILE: pytorch-fid's FID Inception weights, pt_inception-2015-12-05-6726825d.pth (nothing downloads it)`,
    );
  }
  if (!existsSync(o.eval_inception)) {
    // loadFidInception's message: names the file and where pytorch-fid documents it.
    loadFidInception(o.eval_inception);
  }
  if (o.dataset_mode !== 'unaligned') {
    throw new Error(`--eval_freq: needs --dataset_mode unaligned (FID of translated testA against testB), got ${o.dataset_mode}`);
  }
  let dataset: ImageDataset;
  try {
    dataset = await createDataset(evalDataOptions(o));
  } catch (e) {
    throw new Error(`--eval_freq: ${(e as Error).message}`, { cause: e });
  }
  const fake = Math.min(o.eval_num_test, dataset.pathsA.length);
  const real = (await listImages(dataset.dirB)).length;
  if (fake < 2) throw new Error(`--eval_freq: ${dataset.dirA}: ${dataset.pathsA.length} image(s); FID and KID need at least 2 translated images`);
  if (real < 2) throw new Error(`--eval_freq: ${dataset.dirB}: ${real} image(s); FID and KID need at least 2 real images`);
  return { dataset, fake, real };
}

/** best.json of a run folder, or null (absent or unreadable). */
export function readBest(runDir: string): BestEpoch | null {
  const file = join(runDir, BEST_FILE);
  if (!existsSync(file) || !existsSync(join(runDir, BEST_G_FILE))) return null;
  try {
    const b = JSON.parse(readFileSync(file, 'utf8')) as BestEpoch;
    return Number.isFinite(b.fid) && Number.isInteger(b.epoch) ? b : null;
  } catch {
    return null;
  }
}

/** The evaluation of a run: the FID network, the test data, the best epoch so far. */
export class TrainingEvaluator {
  private constructor(
    private readonly inception: LoadedInception,
    private readonly dataset: ImageDataset,
    private readonly count: number,
    private readonly runDir: string,
    public best: BestEpoch | null,
  ) {}

  /** Checks the setup and loads the weights (on the current backend); null when eval_freq is 0. */
  static async create(o: CUTOptions, runDir: string): Promise<TrainingEvaluator | null> {
    const setup = await checkEvalSetup(o);
    if (!setup) return null;
    const inception = loadFidInception(o.eval_inception!);
    return new TrainingEvaluator(inception, setup.dataset, setup.fake, runDir, null);
  }

  /** Whether epoch `epoch` is evaluated. */
  static due(o: CUTOptions, epoch: number): boolean {
    return o.eval_freq > 0 && epoch % o.eval_freq === 0;
  }

  get images(): { fake: number; dirA: string; dirB: string } {
    return { fake: this.count, dirA: this.dataset.dirA, dirB: this.dataset.dirB };
  }

  /** FID and KID of G now; a new lowest FID writes best_net_G.pth, then best.json. */
  async evaluate(G: Generator, epoch: number, totalIters: number, log: (line: string) => void): Promise<EvalLogRecord> {
    const start = performance.now();
    const fakes: RgbImage[] = [];
    for await (const t of translateTestImages(G, this.dataset, { count: this.count, training: false, seed: 0 })) {
      fakes.push(tensorToRgb8(t.fakeB.data, t.fakeB.width, t.fakeB.height, t.fakeB.channels));
    }
    const fakeFeatures = await this.inception.net.featuresOf(fakes);
    const real = await folderFeatures(this.dataset.dirB, this.inception, { cacheDir: this.runDir });
    const r = fidAndKid(real, fakeFeatures);
    const better = this.best === null || r.fid < this.best.fid;
    const record: EvalLogRecord = {
      type: 'eval',
      time: new Date().toISOString(),
      epoch,
      totalIters,
      fid: r.fid,
      kid: r.kid.mean,
      kidStd: r.kid.std,
      fake: r.fake,
      real: r.real,
      seconds: (performance.now() - start) / 1000,
      best: better,
    };
    if (better) {
      // The function that writes every checkpoint's net_G.pth (atomic: temp, fsync, rename), then the record.
      await saveNetworkWeights(G, join(this.runDir, BEST_G_FILE));
      this.best = { epoch, totalIters, fid: r.fid, kid: r.kid.mean, kidStd: r.kid.std, time: record.time };
      writeFileAtomic(join(this.runDir, BEST_FILE), `${JSON.stringify(this.best, null, 1)}\n`);
      log(`saving the best model so far (epoch ${epoch}, FID ${r.fid.toFixed(3)}) as ${BEST_G_FILE}`);
    }
    record.seconds = (performance.now() - start) / 1000;
    return record;
  }

  dispose(): void {
    this.inception.net.dispose();
  }
}
