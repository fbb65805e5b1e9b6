/**
 * pix2pix's `AlignedDataset` (junyanz/pytorch-CycleGAN-and-pix2pix, `data/aligned_dataset.py`;
 * the CUT repository has none): each file of `<dataroot>/<phase>` holds a pair side by side, A on
 * the left `int(w / 2)` columns and B on the rest. One `get_params(opt, A.size)` per pair gives
 * both halves the same crop position and flip, through the reference's `get_transform(opt,
 * params)`: its `__crop` at that position (filled with black past the image's edge, as PIL's crop
 * is) and `__flip`. Steps that draw inside the transform (`trim`) draw for A and B separately, as
 * the reference's numpy calls do. `get_params` supplies no `scale_factor`, `patch_index` or `size`,
 * so the reference fails with zoom, patch and fixsize here; so does this, with a clear error.
 */

import { join } from 'node:path';
import type { SeededRng } from '@cut/core-tensors';
import { decodeImage } from '@cut/files';
import { cropImage, normalizeImage, type RawImage } from '@cut/images';
import {
  checkDataroot,
  listDatasetFolder,
  transformOptionsFor,
  validate,
  type DataOptions,
  type ImageDataset,
  type ItemDraws,
  type PairedItem,
} from './dataset.js';
import { parsePreprocess, transformImage, uniformInt, type ImageDraws, type TensorImage } from './transforms.js';

/** The two halves of an AB image: A the left int(w / 2) columns, B the rest. */
export function splitAB(img: RawImage, name = 'image'): { A: RawImage; B: RawImage } {
  const w2 = Math.trunc(img.width / 2);
  if (w2 < 1) throw new Error(`${name}: image is ${img.width}x${img.height}, too narrow to split into A and B halves`);
  return { A: cropImage(img, 0, 0, w2, img.height), B: cropImage(img, w2, 0, img.width - w2, img.height) };
}

/**
 * The reference's `get_params(opt, size)`: the crop range it computes from the half's size
 * (`resize_and_crop`: load_size square; `scale_width_and_crop`: load_size wide,
 * load_size * h // w tall; anything else: the size as it is), then x, y and the flip.
 */
export function alignedParams(
  width: number,
  height: number,
  o: Pick<DataOptions, 'preprocess' | 'load_size' | 'crop_size'>,
  draws: Pick<ImageDraws, 'cropX' | 'cropY' | 'flip'>,
): NonNullable<ImageDraws['params']> {
  let [w, h] = [width, height];
  if (o.preprocess === 'resize_and_crop') [w, h] = [o.load_size, o.load_size];
  else if (o.preprocess === 'scale_width_and_crop') [w, h] = [o.load_size, Math.floor((o.load_size * height) / width)];
  const x = uniformInt(draws.cropX, Math.max(0, w - o.crop_size));
  const y = uniformInt(draws.cropY, Math.max(0, h - o.crop_size));
  // get_params: flip = random.random() > 0.5.
  return { cropPos: [x, y], flip: draws.flip > 0.5 };
}

export class AlignedDataset implements ImageDataset {
  readonly mode = 'aligned' as const;
  readonly options: Readonly<DataOptions>;
  readonly dirA: string;
  readonly dirB: string;
  readonly pathsA: readonly string[];
  readonly pathsB: readonly string[];
  readonly isTrain: boolean;

  private constructor(options: DataOptions, dir: string, paths: string[]) {
    this.options = options;
    this.dirA = dir;
    this.dirB = dir;
    this.pathsA = paths;
    this.pathsB = paths;
    this.isTrain = options.isTrain ?? options.phase === 'train';
  }

  /** Lists `<dataroot>/<phase>`; errors name the folder, or the option the reference cannot run with. */
  static async create(options: DataOptions): Promise<AlignedDataset> {
    validate(options);
    const steps = parsePreprocess(options.preprocess);
    const missing = (['zoom', 'patch', 'fixsize'] as const).filter((k) => steps[k]);
    if (missing.length > 0) {
      throw new Error(
        `preprocess '${options.preprocess}': the aligned dataset cannot ${missing.join(', ')} (the reference's get_params gives no ` +
          `${missing.map((k) => ({ zoom: 'scale_factor', patch: 'patch_index', fixsize: 'size' })[k]).join(', ')}, so its get_transform fails too)`,
      );
    }
    // aligned_dataset.py: assert(load_size >= crop_size).
    if (options.load_size < options.crop_size)
      throw new Error(
        `load_size ${options.load_size} is smaller than crop_size ${options.crop_size} (the aligned dataset needs load_size >= crop_size)`,
      );
    await checkDataroot(options.dataroot);
    const dir = join(options.dataroot, options.phase);
    const paths = await listDatasetFolder(dir, options.max_dataset_size, `the aligned dataset needs ${dir} with A|B images side by side`);
    return new AlignedDataset({ ...options }, dir, paths);
  }

  get length(): number {
    return this.pathsA.length;
  }

  /** pix2pix's aligned dataset has no fine-tuning switch (that is CUT's unaligned dataset's). */
  isFinetuning(): boolean {
    return false;
  }

  /** get_params' x, y and flip (shared by A and B), then A's and B's own trim draws (with trim). */
  drawItem(rng: SeededRng): ItemDraws {
    const cropX = rng.random();
    const cropY = rng.random();
    const flip = rng.random();
    const trim = parsePreprocess(this.options.preprocess).trim;
    const own = (): ImageDraws => ({ cropX, cropY, flip, ...(trim && { trim: [rng.random(), rng.random()] as [number, number] }) });
    const a = own();
    const b = own();
    return { bIndex: -1, a, b };
  }

  async getItem(index: number, draws: ItemDraws | SeededRng, _epoch = 1): Promise<PairedItem> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`AlignedDataset: index ${index} out of range 0..${this.length - 1}`);
    }
    const d = 'a' in draws ? draws : this.drawItem(draws);
    const path = this.pathsA[index]!;
    const o = this.options;
    const { A, B } = splitAB(await decodeImage(path), path);
    const params = alignedParams(A.width, A.height, o, d.a);
    // The model's orientation: with BtoA the right half is real_A (and has input_nc channels).
    const [first, second] = o.direction === 'AtoB' ? [A, B] : [B, A];
    const [drawsFirst, drawsSecond] = o.direction === 'AtoB' ? [d.a, d.b!] : [d.b!, d.a];
    const load = async (img: RawImage, channels: number, own: ImageDraws, half: string): Promise<TensorImage> => {
      const out = await transformImage(img, transformOptionsFor(o, channels, false), { ...own, params }, `${path} (${half} half)`);
      return { data: normalizeImage(out), height: out.height, width: out.width, channels: out.channels };
    };
    const [a, b] = await Promise.all([
      load(first, o.input_nc, drawsFirst, o.direction === 'AtoB' ? 'A' : 'B'),
      load(second, o.output_nc, drawsSecond, o.direction === 'AtoB' ? 'B' : 'A'),
    ]);
    return { A: a, B: b, pathA: path, pathB: path };
  }
}
