/**
 * The reference's `get_transform` (`data/base_dataset.py`), applied to decoded pixels. Its
 * `--preprocess` is a combination of keywords joined by `_and_` (`resize_and_crop`,
 * `scale_shortside_and_crop`, SinCUT's `zoom_and_patch`, ...), each matched as a substring, and
 * the steps run in the reference's order whatever the order of the words:
 *
 *   [Grayscale] -> fixsize -> resize | scale_width | scale_shortside (the first one named, in that
 *   order) -> zoom -> crop -> patch -> trim -> multiple-of-4 resize -> random horizontal flip
 *   -> ToTensor + Normalize(0.5, 0.5)
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

/** A `--preprocess` value: keywords (`PREPROCESS_KEYWORDS`) joined by `_and_`, e.g. `resize_and_crop`. */
export type PreprocessMode = string;

/** The reference's keywords, in the order its `get_transform` applies them (`none`: only the multiple-of-4 step). */
export const PREPROCESS_KEYWORDS = ['fixsize', 'resize', 'scale_width', 'scale_shortside', 'zoom', 'crop', 'patch', 'trim', 'none'] as const;
export type PreprocessKeyword = (typeof PREPROCESS_KEYWORDS)[number];

/** The values the reference's help names (any combination of keywords is accepted). */
export const PREPROCESS_MODES: readonly PreprocessMode[] = ['resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop', 'none'];

/** Which steps a `--preprocess` value turns on, as the reference's `get_transform` reads it. */
export interface PreprocessSteps {
  fixsize: boolean;
  /** At most one of resize, scaleWidth, scaleShortside (the reference's if / elif / elif). */
  resize: boolean;
  scaleWidth: boolean;
  scaleShortside: boolean;
  zoom: boolean;
  crop: boolean;
  patch: boolean;
  trim: boolean;
}

/**
 * Parses `--preprocess`: every `_and_`-separated word must be a keyword (so a typo is an error,
 * not silently ignored as the reference's substring test would), then the steps are the
 * reference's substring tests.
 */
export function parsePreprocess(value: string): PreprocessSteps {
  const words = value.split('_and_');
  const bad = words.filter((w) => !(PREPROCESS_KEYWORDS as readonly string[]).includes(w));
  if (value === '' || bad.length > 0) {
    throw new Error(
      `preprocess '${value}' is not a combination of the reference's keywords joined by _and_ ` +
        `(${PREPROCESS_KEYWORDS.join(', ')}; e.g. resize_and_crop, scale_shortside_and_crop, zoom_and_patch)` +
        (bad.length > 0 && value !== '' ? `: unknown ${bad.map((w) => `'${w}'`).join(', ')}` : ''),
    );
  }
  const has = (k: string) => value.includes(k);
  const resize = has('resize');
  const scaleWidth = !resize && has('scale_width');
  return {
    fixsize: has('fixsize'),
    resize,
    scaleWidth,
    scaleShortside: !resize && !scaleWidth && has('scale_shortside'),
    zoom: has('zoom'),
    crop: has('crop'),
    patch: has('patch'),
    trim: has('trim'),
  };
}

/** Which implementation resizes: Pillow-exact bicubic in JS (default) or libvips's cubic (off the main thread, not Pillow's grid). */
export type Resampler = 'pil' | 'sharp';

export interface TransformOptions {
  preprocess: PreprocessMode;
  /** Resize target (reference `--load_size`, 286 for training). */
  loadSize: number;
  /** Crop size (reference `--crop_size`, 256); also the patch size and the trim size. */
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
  /**
   * `fixsize`'s `[width, height]` (the reference's `params["size"]`, which none of its datasets
   * supplies); default: the square `load_size`.
   */
  fixSize?: [number, number];
  /** The reference's special case for a dataroot containing "gta2cityscapes": `resize` makes the height load_size // 2. */
  halfHeight?: boolean;
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

/**
 * The random numbers one image's transform consumes, each uniform in [0, 1). `zoom`, `patch`
 * and `trim` are there only when the preprocess has that step.
 */
export interface ImageDraws {
  cropY: number;
  cropX: number;
  flip: number;
  /** zoom: the two factors' uniforms (width, height), as numpy's `uniform(0.8, 1.0, size=2)`. */
  zoom?: [number, number];
  /** patch: the patch index (over the grid of whole patches), then the grid's x and y offsets. */
  patch?: [number, number, number];
  /** trim: the window's x and y starts. */
  trim?: [number, number];
  /**
   * The reference's `get_params` result, for datasets that pass params (the aligned dataset): the
   * crop is then `__crop` at this position (cut at the image, filled with black beyond it) and
   * the flip is this one; `cropX`, `cropY` and `flip` are unused.
   */
  params?: { cropPos: [number, number]; flip: boolean };
}

/**
 * Draws for one image, in a fixed order: zoom's two (only with zoom), crop y, crop x
 * (torchvision's order), patch's three (only with patch), trim's two (only with trim), flip.
 * The five classic modes draw exactly crop y, crop x and flip.
 */
export function drawImageParams(rng: SeededRng, preprocess: PreprocessMode | PreprocessSteps = 'resize_and_crop'): ImageDraws {
  const steps = typeof preprocess === 'string' ? parsePreprocess(preprocess) : preprocess;
  const zoom: [number, number] | undefined = steps.zoom ? [rng.random(), rng.random()] : undefined;
  const cropY = rng.random();
  const cropX = rng.random();
  const patch: [number, number, number] | undefined = steps.patch ? [rng.random(), rng.random(), rng.random()] : undefined;
  const trim: [number, number] | undefined = steps.trim ? [rng.random(), rng.random()] : undefined;
  const flip = rng.random();
  return { cropY, cropX, flip, ...(zoom && { zoom }), ...(patch && { patch }), ...(trim && { trim }) };
}

/**
 * An integer uniform in [0, range] from a uniform u in [0, 1): how every integer draw of the
 * reference (torch.randint(0, range + 1), np.random.randint(range + 1), random.randint(0, range))
 * is made from our draws.
 */
export function uniformInt(u: number, range: number): number {
  return Math.min(range, Math.floor(u * (range + 1)));
}

/** Python's `round` (half to even), which `__make_power_2`, `__random_zoom` and `__scale_shortside` use. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Nearest multiple of `base` (the reference's `__make_power_2`, base 4). */
export function multipleOf(size: number, base = 4): number {
  return roundHalfEven(size / base) * base;
}

/** numpy's `uniform(0.8, 1.0)` from a uniform u: low + (high - low) * u, in float64 as numpy computes it. */
export function zoomFactor(u: number): number {
  return 0.8 + (1.0 - 0.8) * u;
}

type SizeOptions = Pick<TransformOptions, 'preprocess' | 'loadSize' | 'cropSize' | 'finetune' | 'fixSize' | 'halfHeight'>;

/** load_size as the transform uses it: crop_size in the fine-tuning phase. */
const loadOf = (opts: Pick<TransformOptions, 'loadSize' | 'cropSize' | 'finetune'>) => (opts.finetune ? opts.cropSize : opts.loadSize);

/** The size after the fixsize and resize / scale_width / scale_shortside steps. */
export function resizedSize(width: number, height: number, opts: SizeOptions): [number, number] {
  const steps = parsePreprocess(opts.preprocess);
  const load = loadOf(opts);
  let w = width;
  let h = height;
  if (steps.fixsize) [w, h] = opts.fixSize ?? [load, load];
  if (steps.resize) return [load, opts.halfHeight ? Math.floor(load / 2) : load];
  if (steps.scaleWidth) {
    // `__scale_width`: unchanged when already load_size wide and tall enough.
    if (w === load && h >= opts.cropSize) return [w, h];
    return [load, Math.trunc(Math.max((load * h) / w, opts.cropSize))];
  }
  if (steps.scaleShortside) {
    // `__scale_shortside`: only enlarges, so that the short side is load_size.
    const short = Math.min(w, h);
    if (short >= load) return [w, h];
    const scale = load / short;
    return [roundHalfEven(w * scale), roundHalfEven(h * scale)];
  }
  return [w, h];
}

/** `__random_zoom`: each side times its factor, at least crop_size, rounded. */
function zoomedSize(width: number, height: number, cropSize: number, factors: [number, number]): [number, number] {
  return [roundHalfEven(Math.max(cropSize, width * factors[0])), roundHalfEven(Math.max(cropSize, height * factors[1]))];
}

/** The smallest zoom numpy's `uniform(0.8, 1.0)` gives: sizes with it are the smallest a zoom can make. */
const SMALLEST_ZOOM: [number, number] = [0.8, 0.8];

/**
 * The final `[width, height]` for an input of `width x height`, and the size the crop or patch
 * step gets (`beforeCrop`). With zoom the sizes depend on the draw: `zoom` gives the factors
 * (default the smallest, 0.8, which gives the smallest sizes). Inputs too small to crop throw
 * in `transformImage`; here the sizes are computed as if they could be cropped.
 */
export function plannedSizes(
  width: number,
  height: number,
  opts: SizeOptions,
  zoom: [number, number] = SMALLEST_ZOOM,
): { beforeCrop: [number, number]; final: [number, number] } {
  const steps = parsePreprocess(opts.preprocess);
  let [w, h] = resizedSize(width, height, opts);
  if (steps.zoom) [w, h] = zoomedSize(w, h, opts.cropSize, zoom);
  const beforeCrop: [number, number] = [w, h];
  if (steps.crop || steps.patch) {
    w = opts.cropSize;
    h = opts.cropSize;
  }
  if (steps.trim) {
    w = Math.min(w, opts.cropSize);
    h = Math.min(h, opts.cropSize);
  }
  return { beforeCrop, final: [multipleOf(w), multipleOf(h)] };
}

/** The final `[width, height]` for an input of `width x height` (with zoom: the smallest). */
export function outputSize(width: number, height: number, opts: SizeOptions): [number, number] {
  return plannedSizes(width, height, opts).final;
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

/** PIL's `crop` for any box: the parts outside the image are black (the reference's `__crop` with a position past the edge). */
function cropPadded(img: RawImage, left: number, top: number, width: number, height: number): RawImage {
  if (left >= 0 && top >= 0 && left + width <= img.width && top + height <= img.height) return cropImage(img, left, top, width, height);
  const c = img.channels;
  const out = img.bitDepth === 8 ? new Uint8Array(width * height * c) : new Uint16Array(width * height * c);
  const x0 = Math.max(0, left);
  const x1 = Math.min(img.width, left + width);
  for (let y = Math.max(0, top); y < Math.min(img.height, top + height); y++) {
    if (x1 <= x0) break;
    const from = (y * img.width + x0) * c;
    out.set(img.data.subarray(from, from + (x1 - x0) * c), ((y - top) * width + (x0 - left)) * c);
  }
  return { data: out, width, height, channels: c, bitDepth: img.bitDepth };
}

/**
 * Applies the transform to decoded pixels. `name` (the file) is used in error messages.
 * Returns the image after all geometric steps, still integer-valued.
 */
export async function transformImage(src: RawImage, opts: TransformOptions, draws: ImageDraws, name = 'image'): Promise<RawImage> {
  const { preprocess, cropSize } = opts;
  const steps = parsePreprocess(preprocess);
  const resize = (i: RawImage, w: number, h: number) => resizeImage(i, w, h, opts.resampler);
  let img = toChannels(src, opts.channels);
  const [rw, rh] = resizedSize(img.width, img.height, opts);
  if (steps.fixsize) {
    const [fw, fh] = opts.fixSize ?? [loadOf(opts), loadOf(opts)];
    img = await resize(img, fw, fh);
  }
  img = await resize(img, rw, rh);
  const sizeNote = () => (rw !== src.width || rh !== src.height ? ` (${src.width}x${src.height} resized to ${rw}x${rh})` : '');
  if (steps.zoom) {
    if (!draws.zoom) throw new Error(`${name}: preprocess '${preprocess}' needs zoom draws (drawImageParams with this preprocess)`);
    const [zw, zh] = zoomedSize(img.width, img.height, cropSize, [zoomFactor(draws.zoom[0]), zoomFactor(draws.zoom[1])]);
    img = await resize(img, zw, zh);
  }
  if (steps.crop) {
    if (draws.params) {
      // `__crop`: only when the image is larger than the crop on some side; PIL fills past the edge with black.
      const [x, y] = draws.params.cropPos;
      if (img.width > cropSize || img.height > cropSize) img = cropPadded(img, x, y, cropSize, cropSize);
    } else {
      // torchvision's RandomCrop.
      if (img.width < cropSize || img.height < cropSize) {
        throw new Error(
          `${name}: image is ${img.width}x${img.height}${sizeNote()}, smaller than crop_size ${cropSize}x${cropSize} (preprocess '${preprocess}')`,
        );
      }
      const top = uniformInt(draws.cropY, img.height - cropSize);
      const left = uniformInt(draws.cropX, img.width - cropSize);
      img = cropImage(img, left, top, cropSize, cropSize);
    }
  }
  if (steps.patch) {
    // `__patch`: one crop_size cell of the grid of whole cells, the grid shifted by a random start.
    if (!draws.patch) throw new Error(`${name}: preprocess '${preprocess}' needs patch draws (drawImageParams with this preprocess)`);
    const nw = Math.floor(img.width / cropSize);
    const nh = Math.floor(img.height / cropSize);
    if (nw * nh === 0) {
      throw new Error(
        `${name}: image is ${img.width}x${img.height}${sizeNote()}, smaller than the patch size crop_size ${cropSize}x${cropSize} (preprocess '${preprocess}')`,
      );
    }
    const startX = uniformInt(draws.patch[1], img.width - nw * cropSize);
    const startY = uniformInt(draws.patch[2], img.height - nh * cropSize);
    const index = uniformInt(draws.patch[0], nw * nh - 1);
    const ix = Math.floor(index / nh);
    const iy = index % nh;
    img = cropImage(img, startX + ix * cropSize, startY + iy * cropSize, cropSize, cropSize);
  }
  if (steps.trim) {
    // `__trim`: a crop_size window where the image is larger; numpy's randint(size - crop_size) never reaches the last start.
    if (!draws.trim) throw new Error(`${name}: preprocess '${preprocess}' needs trim draws (drawImageParams with this preprocess)`);
    const [x, w] = img.width > cropSize ? [uniformInt(draws.trim[0], img.width - cropSize - 1), cropSize] : [0, img.width];
    const [y, h] = img.height > cropSize ? [uniformInt(draws.trim[1], img.height - cropSize - 1), cropSize] : [0, img.height];
    img = cropImage(img, x, y, w, h);
  }
  const w4 = multipleOf(img.width);
  const h4 = multipleOf(img.height);
  if (w4 < 1 || h4 < 1) throw new Error(`${name}: image is ${img.width}x${img.height}, too small to round to a multiple of 4`);
  img = await resize(img, w4, h4);
  // torchvision's RandomHorizontalFlip flips when rand < 0.5; get_params' flip is random() > 0.5.
  const flip = draws.params ? draws.params.flip : draws.flip < 0.5;
  if (!opts.noFlip && flip) img = flipHorizontal(img);
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
