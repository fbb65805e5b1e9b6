/**
 * The reference's `SingleDataset` (`data/single_dataset.py`): the images of one folder,
 * `<dataroot>` itself, in sorted order, each through `get_transform` — for translating one
 * domain (`cutjs test --dataset_mode single`). Items have an A and no B. Channels follow the
 * generator's input (`input_nc`), as in our other datasets (the reference's CycleGAN rule would
 * take `output_nc` under BtoA).
 */

import type { SeededRng } from '@cut/core-tensors';
import {
  checkDataroot,
  listDatasetFolder,
  transformOptionsFor,
  validate,
  type DataOptions,
  type ImageDataset,
  type Item,
  type ItemDraws,
} from './dataset.js';
import { drawImageParams, loadImage } from './transforms.js';

export class SingleDataset implements ImageDataset {
  readonly mode = 'single' as const;
  readonly options: Readonly<DataOptions>;
  readonly dirA: string;
  readonly dirB: string;
  readonly pathsA: readonly string[];
  readonly pathsB: readonly string[] = [];
  readonly isTrain: boolean;

  private constructor(options: DataOptions, paths: string[]) {
    this.options = options;
    this.dirA = options.dataroot;
    this.dirB = options.dataroot;
    this.pathsA = paths;
    this.isTrain = options.isTrain ?? options.phase === 'train';
  }

  static async create(options: DataOptions): Promise<SingleDataset> {
    validate(options);
    await checkDataroot(options.dataroot);
    const paths = await listDatasetFolder(options.dataroot, options.max_dataset_size, 'the single dataset reads the images of dataroot itself');
    return new SingleDataset({ ...options }, paths);
  }

  get length(): number {
    return this.pathsA.length;
  }

  /** No fine-tuning switch (that is CUT's unaligned dataset's). */
  isFinetuning(): boolean {
    return false;
  }

  drawItem(rng: SeededRng): ItemDraws {
    return { bIndex: -1, a: drawImageParams(rng, this.options.preprocess), b: null };
  }

  async getItem(index: number, draws: ItemDraws | SeededRng, _epoch = 1): Promise<Item> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`SingleDataset: index ${index} out of range 0..${this.length - 1}`);
    }
    const d = 'a' in draws ? draws : this.drawItem(draws);
    const path = this.pathsA[index]!;
    const A = await loadImage(path, transformOptionsFor(this.options, this.options.input_nc, false), d.a);
    return { A, B: null, pathA: path, pathB: null };
  }
}
