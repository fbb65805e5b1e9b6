/**
 * The reference's `get_transform` (`data/base_dataset.py`) for the preprocess modes CUT
 * uses, applied to decoded pixels in the reference's order:
 *
 *   [Grayscale] -> resize (resize / scale_width) -> random crop -> multiple-of-4 resize
 *   -> random horizontal flip -> ToTensor + Normalize(0.5, 0.5)
 *
 * All resizes are Pillow-exact bicubic (`resample.ts`) unless `resampler: 'sharp'`.
 * Randomness comes in as `ImageDraws` (uniform numbers drawn beforehand from a
 * `SeededRng`), so that a transform is a pure function of (file, options, draws, epoch) and
 * prefetching in any order cannot change the result.
 */

import sharp from 'sharp';
import type { SeededRng } from '@cut/core-tensors';
import { decodeImage } from '@cut/files';
import { cropImage, flipHorizontal, normalizeImage, toChannels, type RawImage } from '@cut/images';
import { resizeBicubic } from './resample.js';

/**
 * `resize_and_crop` (default): square resize to load_size, random crop_size crop.
 * `crop`: random crop_size crop of the image as it is. `scale_width`: width to load_size,
 * height by aspect ratio (at least crop_size). `scale_width_and_crop`: that, then a random crop.
 * `none`: only the multiple-of-4 adjustment.
 */
export type PreprocessMode = 'resize_and_crop' | 'crop' | 'scale_width' | 'scale_width_and_crop' | 'none';
export const PREPROCESS_MODES: readonly PreprocessMode[] = ['resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop', 'none'];

/** Which implementation resizes: Pillow-exact bicubic in JS (default) or libvips's cubic (off the main thread, not Pillow's grid). */
export type Resampler = 'pil' | 'sharp';

export interface TransformOptions {
  preprocess: PreprocessMode;
  /** Resize target (reference `--load_size`, 286 for training). */
  loadSize: number;
  /** Crop size (reference `--crop_size`, 256). */
  cropSize: number;
  /** No random horizontal flip (reference `--no_flip`). */
  noFlip: boolean;
  /** Channels of the result: 3 (RGB) or 1 (luminance). */
  channels: number;
  /**
   * The reference's fine-tuning phase (training epochs after `n_epochs`, i.e. while the learning
   * rate decays): load_size is replaced by crop_size, so `resize_and_crop` resizes straight to
   * crop_size and no longer jitters; `scale_width*` scales to crop_size wide. Flips still apply.
   */
  finetune: boolean;
  resampler: Resampler;
}

export const DEFAULT_TRANSFORM_OPTIONS: TransformOptions = {
  preprocess: 'resize_and_crop',
  loadSize: 286,
  cropSize: 256,
  noFlip: false,
  channels: 3,
  finetune: false,
  resampler: 'pil',
};

/** The random numbers one image's transform consumes, each uniform in [0, 1). */
export interface ImageDraws {
  cropY: number;
  cropX: number;
  flip: number;
}

/** Draws for one image, in a fixed order (crop y, crop x, flip; torchvision's order), always all three. */
export function drawImageParams(rng: SeededRng): ImageDraws {
  const cropY = rng.random();
  const cropX = rng.random();
  const flip = rng.random();
  return { cropY, cropX, flip };
}

/** An integer uniform in [0, range] from a uniform u in [0, 1) (torch.randint(0, range + 1)). */
function offset(u: number, range: number): number {
  return Math.min(range, Math.floor(u * (range + 1)));
}

/** Python's `round` (half to even), which `__make_power_2` uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Nearest multiple of `base` (the reference's `__make_power_2`, base 4). */
export function multipleOf(size: number, base = 4): number {
  return roundHalfEven(size / base) * base;
}

/** The size an image of `width x height` has after the resize step of `preprocess`. */
export function resizedSize(width: number, height: number, opts: Pick<TransformOptions, 'preprocess' | 'loadSize' | 'cropSize' | 'finetune'>): [number, number] {
  const load = opts.finetune ? opts.cropSize : opts.loadSize;
  if (opts.preprocess === 'resize_and_crop') return [load, load];
  if (opts.preprocess === 'scale_width' || opts.preprocess === 'scale_width_and_crop') {
    // `__scale_width`: unchanged when already load_size wide and tall enough.
    if (width === load && height >= opts.cropSize) return [width, height];
    return [load, Math.trunc(Math.max((load * height) / width, opts.cropSize))];
  }
  return [width, height];
}

/** The final `[width, height]` for an input of `width x height` (inputs too small to crop throw in `transformImage`). */
export function outputSize(width: number, height: number, opts: Pick<TransformOptions, 'preprocess' | 'loadSize' | 'cropSize' | 'finetune'>): [number, number] {
  let [w, h] = resizedSize(width, height, opts);
  if (opts.preprocess.endsWith('crop')) {
    w = opts.cropSize;
    h = opts.cropSize;
  }
  return [multipleOf(w), multipleOf(h)];
}

/** Bicubic resize with the chosen resampler (`'sharp'` runs on libuv's thread pool). */
export async function resizeImage(img: RawImage, width: number, height: number, resampler: Resampler): Promise<RawImage> {
  if (width === img.width && height === img.height) return img;
  if (resampler === 'pil') return resizeBicubic(img, width, height);
  const sixteen = img.bitDepth === 16;
  const colourspace = img.channels === 1 ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb';
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .toColourspace(colourspace)
    .raw(sixteen ? { depth: 'ushort' } : {})
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== img.channels) {
    throw new Error(`sharp resize returned ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${img.channels}`);
  }
  const out = sixteen ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) : new Uint8Array(data);
  return { data: out, width, height, channels: img.channels, bitDepth: img.bitDepth };
}

/**
 * Applies the transform to decoded pixels. `name` (the file) is used in error messages.
 * Returns the image after all geometric steps, still integer-valued.
 */
export async function transformImage(src: RawImage, opts: TransformOptions, draws: ImageDraws, name = 'image'): Promise<RawImage> {
  const { preprocess, cropSize } = opts;
  if (!PREPROCESS_MODES.includes(preprocess)) {
    throw new Error(`preprocess '${preprocess}' is not supported (${PREPROCESS_MODES.join(', ')})`);
  }
  let img = toChannels(src, opts.channels);
  const [rw, rh] = resizedSize(img.width, img.height, opts);
  img = await resizeImage(img, rw, rh, opts.resampler);
  if (preprocess.endsWith('crop')) {
    if (img.width < cropSize || img.height < cropSize) {
      const resized = rw !== src.width || rh !== src.height ? ` (${src.width}x${src.height} resized to ${rw}x${rh})` : '';
      throw new Error(`${name}: image is ${img.width}x${img.height}${resized}, smaller than crop_size ${cropSize}x${cropSize} (preprocess '${preprocess}')`);
    }
    const top = offset(draws.cropY, img.height - cropSize);
    const left = offset(draws.cropX, img.width - cropSize);
    img = cropImage(img, left, top, cropSize, cropSize);
  }
  const w4 = multipleOf(img.width);
  const h4 = multipleOf(img.height);
  if (w4 < 1 || h4 < 1) throw new Error(`${name}: image is ${img.width}x${img.height}, too small to round to a multiple of 4`);
  img = await resizeImage(img, w4, h4, opts.resampler);
  // torchvision's RandomHorizontalFlip: flip when rand < 0.5.
  if (!opts.noFlip && draws.flip < 0.5) img = flipHorizontal(img);
  return img;
}

/** A transformed image as float32 NHWC-ready data in [-1, 1]. */
export interface TensorImage {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/** Decodes `file` and applies the transform: the reference's `transform(Image.open(file).convert('RGB'))`, in HWC. */
export async function loadImage(file: string, opts: TransformOptions, draws: ImageDraws): Promise<TensorImage> {
  const img = await transformImage(await decodeImage(file), opts, draws, file);
  return { data: normalizeImage(img), height: img.height, width: img.width, channels: img.channels };
}
