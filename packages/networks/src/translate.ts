// Running a generator on whole images of any size, or tile by tile for images too large for memory
// (`cutjs translate` and the web page use this).
import * as tf from '@tensorflow/tfjs-core';
import { pad2d } from '@cut/core-tensors';
import type { Generator, SideSizing } from './contract.js';
import { forwardTiled, type StageRunner } from './tiled.js';

/** An image in host memory: HWC float32 in [-1, 1]. */
export interface HostImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/** What translation needs of a generator: its forward, its side facts, and (for tiles) its module chain. */
export type ImageGenerator = Pick<Generator, 'forward' | 'sizing' | 'tiledModules' | 'className'>;

export interface TranslateImageOptions {
  /** Tile size in pixels (a multiple of 4, at least 16); 0 or absent: the whole image at once. */
  tile?: number;
  /** Progress of a tiled translation: stages done of all. */
  onStage?: (done: number, total: number) => void;
  /** Run the generator in training mode (only dropout differs). Default false. */
  training?: boolean;
  /** Tiles only: another runtime for each stage's tiles (`forwardTiled`'s `runStage`; e.g. ONNX Runtime). */
  runStage?: StageRunner;
}

/** The default generator's side facts (resnet_9blocks: multiples of 4, at least 8). */
const RESNET_SIDES: Pick<SideSizing, 'multiple' | 'minimumSide'> = { multiple: 4, minimumSide: 8 };

/**
 * The side a generator takes for an image side of `size`: the next multiple of its `multiple`
 * (stride-2 stages must be undone exactly), at least its `minimumSide`. Without `sizing`, the
 * ResNet's: multiples of 4, at least 8 (reflection padding in the residual blocks at a quarter of the size).
 */
export function paddedSize(size: number, sizing: Pick<SideSizing, 'multiple' | 'minimumSide'> = RESNET_SIDES): number {
  return Math.max(sizing.minimumSide, Math.ceil(size / sizing.multiple) * sizing.multiple);
}

/**
 * The smallest image side translation accepts for a generator: the image is reflect-padded up to
 * `paddedSize`, and reflection padding must stay within the image (a pad smaller than the side).
 */
export function minimumImageSide(sizing: Pick<SideSizing, 'multiple' | 'minimumSide'> = RESNET_SIDES): number {
  let s = 1;
  while (paddedSize(s, sizing) - s >= s) s++;
  return s;
}

/** The smallest side `translateImage` accepts for the ResNet generators. */
export const MIN_IMAGE_SIDE = minimumImageSide();

function checkSide(G: ImageGenerator, w: number, h: number): void {
  const min = minimumImageSide(G.sizing);
  if (Math.min(w, h) < min) throw new Error(`image is ${w}x${h}, too small to translate (at least ${min}x${min} for this ${G.className})`);
}

/**
 * G(image) at the image's own size: reflect-padded at the bottom and right to a size the
 * generator takes, translated, and cropped back. Fully convolutional, so any size works; note
 * that instance normalisation makes the result depend on the whole image, not only on each pixel's
 * neighbourhood.
 */
export async function translateWhole(G: ImageGenerator, img: HostImage, training = false): Promise<HostImage> {
  const { width: w, height: h, channels: c } = img;
  checkSide(G, w, h);
  const ph = paddedSize(h, G.sizing) - h;
  const pw = paddedSize(w, G.sizing) - w;
  const y = tf.tidy(() => {
    let x = tf.tensor4d(img.data, [1, h, w, c]);
    if (ph || pw) x = pad2d(x, [0, ph, 0, pw], 'reflect');
    const out = G.forward(x, training);
    return ph || pw ? tf.slice(out, [0, 0, 0, 0], [1, h, w, -1]) : out;
  });
  try {
    const data = (await y.data()) as Float32Array;
    return { data, width: w, height: h, channels: y.shape[3] };
  } finally {
    y.dispose();
  }
}

/** Reflect-pads a host image at the bottom and right to `h` x `w`, as `translateWhole` pads its tensor. */
async function padHost(img: HostImage, h: number, w: number): Promise<HostImage> {
  const padded = tf.tidy(() =>
    pad2d(tf.tensor4d(img.data, [1, img.height, img.width, img.channels]), [0, h - img.height, 0, w - img.width], 'reflect'),
  );
  try {
    return { data: (await padded.data()) as Float32Array, width: w, height: h, channels: img.channels };
  } finally {
    padded.dispose();
  }
}

/** Copies rows [0, h) and columns [0, w) of an image. */
function cropHost(img: HostImage, w: number, h: number): HostImage {
  const c = img.channels;
  const data = new Float32Array(w * h * c);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(y * img.width * c, (y * img.width + w) * c), y * w * c);
  return { data, width: w, height: h, channels: c };
}

/**
 * G(image), whole or in tiles of `options.tile` pixels (for generators whose `sizing.tiled` says
 * so; others refuse tiles). Tiles give the whole-image result (up to
 * float rounding): the generator runs stage by stage, each stage tile by tile with a halo, and
 * every instance norm takes its statistics over the whole image (`forwardTiled`). Backend memory
 * is that of one tile; host memory holds a few of the image's full feature maps.
 */
export async function translateImage(G: ImageGenerator, img: HostImage, options: TranslateImageOptions = {}): Promise<HostImage> {
  const tile = options.tile ?? 0;
  const training = options.training ?? false;
  if (!tile || (img.width <= tile && img.height <= tile)) return translateWhole(G, img, training);
  const { width: w, height: h } = img;
  checkSide(G, w, h);
  if (!G.sizing.tiled) throw new Error(`this ${G.className} does not translate in tiles: use whole images (tile 0)`);
  const ph = paddedSize(h, G.sizing);
  const pw = paddedSize(w, G.sizing);
  const padded = ph === h && pw === w ? img : await padHost(img, ph, pw);
  const out = await forwardTiled(G, padded, { tile, training, onStage: options.onStage, runStage: options.runStage });
  return ph === h && pw === w ? out : cropHost(out, w, h);
}

/** The tile side `tileFor` picks when tiles are chosen automatically. */
export const AUTO_TILE = 512;

/**
 * Bytes a whole forward may hold before `tileFor`'s 'auto' tiles: `node`, wasm's 4 GiB heap in
 * Node holds a whole 1024x1024 forward of the default generator (~2.8 GB); `browser`, Chromium's
 * wasm runs out of memory there, 1 GB is safe.
 */
export const WHOLE_IMAGE_BUDGET = { node: 2.8e9, browser: 1e9 } as const;

/** Activation bytes of a whole forward per pixel per ngf: ~2.8 GB for ngf 64 at 1024x1024 (measured on wasm). */
const BYTES_PER_PIXEL_NGF = 2.8e9 / (1024 * 1024 * 64);

export interface TileRuleOptions {
  /** The generator's base width (memory grows with it). Default 64, the reference's. */
  ngf?: number;
  /** The backend's name: on 'webgpu', 'auto' tiles every image with a side above AUTO_TILE. */
  backend?: string;
  /** Bytes a whole forward may take (WHOLE_IMAGE_BUDGET). Default: WHOLE_IMAGE_BUDGET.node. */
  budget?: number;
  /** Whether the generator runs in tiles (`Generator.sizing.tiled`); 'auto' never tiles one that does not. Default true. */
  tiled?: boolean;
}

/** What the tile rule weighs of a generator: its base width (ngf; 64 where it has none) and whether it runs in tiles. */
export function generatorTileFacts(G: Pick<Generator, 'referenceOptions' | 'sizing'>): Pick<TileRuleOptions, 'ngf' | 'tiled'> {
  return { ngf: Number(G.referenceOptions().get('ngf') ?? 64), tiled: G.sizing.tiled };
}

/**
 * The tile side to translate a `width` x `height` image with (0: whole), for a requested tile
 * side or 'auto'; `cutjs translate` and the web page both ask this. 'auto' tiles (AUTO_TILE
 * pixels) when a whole forward would take more than the budget, and on WebGPU above AUTO_TILE
 * pixels a side (tfjs's WebGPU convolutions dispatch more workgroups than WebGPU allows for a
 * whole 1024x1024 map). An image that fits in one tile is translated whole.
 */
export function tileFor(width: number, height: number, requested: number | 'auto', options: TileRuleOptions = {}): number {
  let tile = requested;
  if (tile === 'auto') {
    const { ngf = 64, backend, budget = WHOLE_IMAGE_BUDGET.node, tiled = true } = options;
    if (!tiled) return 0;
    if (backend === 'webgpu' && Math.max(width, height) > AUTO_TILE) tile = AUTO_TILE;
    else tile = width * height * ngf * BYTES_PER_PIXEL_NGF > budget ? AUTO_TILE : 0;
  }
  return tile && (width > tile || height > tile) ? tile : 0;
}
