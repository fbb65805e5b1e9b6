/**
 * The reference's `UnalignedDataset` (`data/unaligned_dataset.py`): two unpaired image
 * folders `<dataroot>/<phase>A` and `<dataroot>/<phase>B`, item i pairs A[i % |A|] with
 * B[i % |B|] (`serial_batches`) or a uniformly random B. Also what every dataset mode shares
 * (`ImageDataset`, the options, listing, checks); `aligned-dataset.ts` and `single-dataset.ts`
 * hold the other two modes, `createDataset` picks one by `dataset_mode`.
 *
 * Option names are the reference's (snake_case), so the trainer's `CUTOptions` object can be
 * passed as it is.
 */

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_EXTENSIONS, listImages } from '@cut/files';
import type { SeededRng } from '@cut/core-tensors';
import {
  drawImageParams,
  loadImage,
  parsePreprocess,
  type ImageDraws,
  type PreprocessMode,
  type Resampler,
  type TensorImage,
  type TransformOptions,
} from './transforms.js';

/** `--dataset_mode`: unpaired folders, pix2pix's side-by-side pairs, or one folder (for test). */
export type DatasetMode = 'unaligned' | 'aligned' | 'single';
export const DATASET_MODES: readonly DatasetMode[] = ['unaligned', 'aligned', 'single'];

export interface DataOptions {
  /** Folder holding `trainA/`, `trainB/` (and `testA/`, `testB/`); aligned: `train/`, `test/`; single: the images. */
  dataroot: string;
  /** Which dataset `createDataset` builds; default unaligned. */
  dataset_mode?: DatasetMode | string;
  /** 'train' or 'test' (any name works: folders `<phase>A`, `<phase>B`). */
  phase: string;
  /** Training (the reference's `isTrain`): enables the fine-tuning switch. Default: phase === 'train'. */
  isTrain?: boolean;
  /** BtoA swaps the two domains: the batch's A comes from `<phase>B`. */
  direction: 'AtoB' | 'BtoA';
  /** In order (A and B by index, no shuffling) instead of shuffled A and random B. */
  serial_batches: boolean;
  /** At most this many files from each folder (the first ones in sorted order); Infinity = all. */
  max_dataset_size: number;
  preprocess: PreprocessMode | string;
  load_size: number;
  crop_size: number;
  no_flip: boolean;
  /** Channels of A (1 = luminance, 3 = RGB) and of B. */
  input_nc: number;
  output_nc: number;
  /** Epochs at constant learning rate; later epochs are the reference's fine-tuning phase (no resize-crop jitter). */
  n_epochs: number;
  batch_size: number;
  /** Ours: 'pil' (default, Pillow-exact bicubic) or 'sharp' (libvips cubic). */
  resampler?: Resampler;
}

/** The reference's defaults; `phase: 'test'` gives what test.py runs with (load_size 256, serial, no flip). */
export function defaultDataOptions(phase: 'train' | 'test' = 'train'): DataOptions {
  const test = phase === 'test';
  return {
    dataroot: 'placeholder',
    phase,
    direction: 'AtoB',
    serial_batches: test,
    max_dataset_size: Infinity,
    preprocess: 'resize_and_crop',
    load_size: test ? 256 : 286,
    crop_size: 256,
    no_flip: test,
    input_nc: 3,
    output_nc: 3,
    n_epochs: 200,
    batch_size: 1,
  };
}

/** The random numbers one item consumes: which B, and the A and B transform draws. */
export interface ItemDraws {
  /** Index into B's files (ignored when serial; -1 for the aligned and single datasets). */
  bIndex: number;
  a: ImageDraws;
  /** null for the single dataset (no B). */
  b: ImageDraws | null;
}

/** One item, already in the model's orientation (A = real_A, B = real_B). */
export interface Item {
  A: TensorImage;
  /** null for the single dataset. */
  B: TensorImage | null;
  pathA: string;
  /** null for the single dataset; the aligned dataset's A and B come from the same file. */
  pathB: string | null;
}

/** An item with both images (the unaligned and aligned datasets). */
export type PairedItem = Item & { B: TensorImage; pathB: string };

/** What the batch loader and the trainer need of a dataset, whatever its mode. */
export interface ImageDataset {
  readonly mode: DatasetMode;
  readonly options: Readonly<DataOptions>;
  /** The files items are made from: A's folder (aligned: the AB files; single: the images). */
  readonly pathsA: readonly string[];
  /** B's files (aligned: the same AB files; single: none). */
  readonly pathsB: readonly string[];
  /** The folders, for messages. */
  readonly dirA: string;
  readonly dirB: string;
  readonly isTrain: boolean;
  readonly length: number;
  isFinetuning(epoch: number): boolean;
  drawItem(rng: SeededRng): ItemDraws;
  getItem(index: number, draws: ItemDraws | SeededRng, epoch?: number): Promise<Item>;
}

/** Lists `dir` for a dataset; errors name the folder and what the dataset needs. */
export async function listDatasetFolder(dir: string, max: number, needs: string): Promise<string[]> {
  const files = await listImages(dir, max).catch((e: Error) => {
    throw new Error(`${e.message} (${needs})`);
  });
  if (files.length === 0) throw new Error(`${dir}: no images (${IMAGE_EXTENSIONS.join(' ')}) in this folder or below`);
  return files;
}

/** Errors unless `dataroot` is a folder. */
export async function checkDataroot(dataroot: string): Promise<void> {
  const root = await stat(dataroot).catch(() => undefined);
  if (!root) throw new Error(`${dataroot}: dataroot does not exist`);
  if (!root.isDirectory()) throw new Error(`${dataroot}: dataroot is not a folder`);
}

/** Transform options for images with `channels` channels (the reference's fine-tuning switch as given). */
export function transformOptionsFor(o: Readonly<DataOptions>, channels: number, finetune: boolean): TransformOptions {
  return {
    preprocess: o.preprocess,
    loadSize: o.load_size,
    cropSize: o.crop_size,
    noFlip: o.no_flip,
    channels,
    finetune,
    resampler: o.resampler ?? 'pil',
    // The reference's special case (base_dataset.py): a dataroot naming gta2cityscapes resizes to half height.
    halfHeight: o.dataroot.includes('gta2cityscapes'),
  };
}

export class UnalignedDataset implements ImageDataset {
  readonly mode = 'unaligned' as const;
  readonly options: Readonly<DataOptions>;
  readonly dirA: string;
  readonly dirB: string;
  readonly pathsA: readonly string[];
  readonly pathsB: readonly string[];
  readonly isTrain: boolean;

  private constructor(options: DataOptions, dirA: string, dirB: string, pathsA: string[], pathsB: string[]) {
    this.options = options;
    this.dirA = dirA;
    this.dirB = dirB;
    this.pathsA = pathsA;
    this.pathsB = pathsB;
    this.isTrain = options.isTrain ?? options.phase === 'train';
  }

  /** Lists both folders; errors name the folder that is missing or has no images. */
  static async create(options: DataOptions): Promise<UnalignedDataset> {
    validate(options);
    const { dataroot, phase } = options;
    let dirA = join(dataroot, `${phase}A`);
    let dirB = join(dataroot, `${phase}B`);
    // test.py falls back to valA/valB when there is no testA.
    const exists = async (p: string) => (await stat(p).catch(() => undefined)) !== undefined;
    if (phase === 'test' && !(await exists(dirA)) && (await exists(join(dataroot, 'valA')))) {
      dirA = join(dataroot, 'valA');
      dirB = join(dataroot, 'valB');
    }
    const list = (dir: string) => listDatasetFolder(dir, options.max_dataset_size, `the unaligned dataset needs ${dirA} and ${dirB}`);
    await checkDataroot(dataroot);
    // One after the other, so that the error (if any) is always about A first.
    const pathsA = await list(dirA);
    const pathsB = await list(dirB);
    return new UnalignedDataset({ ...options }, dirA, dirB, pathsA, pathsB);
  }

  /** max(|A|, |B|), the reference's `__len__`. */
  get length(): number {
    return Math.max(this.pathsA.length, this.pathsB.length);
  }

  /** The reference's fine-tuning phase: training epochs after `n_epochs` (1-based epochs). */
  isFinetuning(epoch: number): boolean {
    return this.isTrain && epoch > this.options.n_epochs;
  }

  /** Draws an item's random numbers in a fixed order: B index (unless serial), A's transform, B's. */
  drawItem(rng: SeededRng): ItemDraws {
    const bIndex = this.options.serial_batches ? -1 : rng.int(this.pathsB.length);
    const a = drawImageParams(rng, this.options.preprocess);
    const b = drawImageParams(rng, this.options.preprocess);
    return { bIndex, a, b };
  }

  /** Transform options for one folder's images in `epoch`. */
  transformOptions(domain: 'A' | 'B', epoch: number): TransformOptions {
    const o = this.options;
    // Channels follow the model's orientation: with BtoA, trainA images become real_B.
    const toModelA = (domain === 'A') === (o.direction === 'AtoB');
    return transformOptionsFor(o, toModelA ? o.input_nc : o.output_nc, this.isFinetuning(epoch));
  }

  /**
   * Item `index` (0 <= index < length) for `epoch`, with the given draws (`drawItem`), or
   * drawing them from `rng` now. Decoding runs on libuv threads.
   */
  async getItem(index: number, draws: ItemDraws | SeededRng, epoch = 1): Promise<PairedItem> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`UnalignedDataset: index ${index} out of range 0..${this.length - 1}`);
    }
    const d = 'a' in draws ? draws : this.drawItem(draws);
    const pathA = this.pathsA[index % this.pathsA.length]!;
    const pathB = this.pathsB[this.options.serial_batches ? index % this.pathsB.length : d.bIndex]!;
    if (pathB === undefined) throw new Error(`UnalignedDataset: B index ${d.bIndex} out of range 0..${this.pathsB.length - 1}`);
    const [a, b] = await Promise.all([
      loadImage(pathA, this.transformOptions('A', epoch), d.a),
      loadImage(pathB, this.transformOptions('B', epoch), d.b!),
    ]);
    // The reference swaps in the model's set_input; here, once, so the model always reads A -> B.
    return this.options.direction === 'BtoA' ? { A: b, B: a, pathA: pathB, pathB: pathA } : { A: a, B: b, pathA, pathB };
  }
}

/** Checks the options every dataset mode shares; errors name the option. */
export function validate(o: DataOptions): void {
  const positiveInt = (name: keyof DataOptions) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${String(v)}`);
  };
  positiveInt('load_size');
  positiveInt('crop_size');
  positiveInt('batch_size');
  const steps = parsePreprocess(o.preprocess);
  for (const name of ['input_nc', 'output_nc'] as const) {
    if (o[name] !== 1 && o[name] !== 3) throw new Error(`${name} must be 1 or 3 for image data, got ${o[name]}`);
  }
  if (o.direction !== 'AtoB' && o.direction !== 'BtoA') throw new Error(`direction must be AtoB or BtoA, got '${String(o.direction)}'`);
  if (!(o.max_dataset_size >= 1)) throw new Error(`max_dataset_size must be at least 1, got ${o.max_dataset_size}`);
  if (steps.crop && (steps.resize || steps.scaleWidth) && o.load_size < o.crop_size) {
    throw new Error(`load_size ${o.load_size} is smaller than crop_size ${o.crop_size}: every ${o.preprocess} crop would fail`);
  }
  if (steps.crop && steps.resize && o.dataroot.includes('gta2cityscapes') && Math.floor(o.load_size / 2) < o.crop_size) {
    throw new Error(
      `load_size ${o.load_size}: a dataroot naming gta2cityscapes resizes to half height (${Math.floor(o.load_size / 2)}, the reference's special case), smaller than crop_size ${o.crop_size}`,
    );
  }
}
