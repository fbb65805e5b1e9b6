// Running a generator on whole images of any size, or tile by tile for images too large for memory.
import * as tf from '@tensorflow/tfjs-core';
import { pad2d } from '@cut/core-tensors';

/** An image in host memory: HWC float32 in [-1, 1]. */
export interface HostImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/** What translation needs of a generator (`ResnetGenerator` fits). */
export interface ImageGenerator {
  forward(x: tf.Tensor4D, training?: boolean): tf.Tensor4D;
}

export interface TranslateImageOptions {
  /** Tile size in pixels (a multiple of 4); 0 or absent: the whole image at once. */
  tile?: number;
  /** Overlap of neighbouring tiles in pixels (< tile). Default 32. */
  overlap?: number;
  /** Run the generator in training mode (only dropout differs). Default false. */
  training?: boolean;
}

/**
 * The generator needs sides that are multiples of 4 (two stride-2 stages that must be undone
 * exactly) and at least 8 (reflection padding in the residual blocks at a quarter of the size).
 */
export function paddedSize(size: number): number {
  return Math.max(8, Math.ceil(size / 4) * 4);
}

/** The smallest side `translateImage` accepts: reflection padding must stay within the image. */
export const MIN_IMAGE_SIDE = 5;

/**
 * G(image) at the image's own size: reflect-padded at the bottom and right to a size the
 * generator takes, translated, and cropped back. Fully convolutional, so any size works; note
 * that instance normalisation makes the result depend on the whole image, not only on each pixel's
 * neighbourhood.
 */
export async function translateWhole(G: ImageGenerator, img: HostImage, training = false): Promise<HostImage> {
  const { width: w, height: h, channels: c } = img;
  if (Math.min(w, h) < MIN_IMAGE_SIDE) throw new Error(`image is ${w}x${h}, too small to translate (at least ${MIN_IMAGE_SIDE}x${MIN_IMAGE_SIDE})`);
  const ph = paddedSize(h) - h;
  const pw = paddedSize(w) - w;
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

/** Where tiles of `tile` pixels start along a side of `length`, neighbours overlapping by at least `overlap`. */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const starts: number[] = [];
  for (let s = 0; s + tile < length; s += stride) starts.push(s);
  starts.push(length - tile);
  return starts;
}

/**
 * Blending weights along one side of a tile: 1 inside, ramping linearly towards 0 across the band
 * shared with the previous tile (`before` pixels) and the next one (`after`). The neighbour's ramp
 * runs over the same pixels the other way, so the two add up to 1 across the band. Sides on the
 * image's border keep weight 1.
 */
export function rampWeights(length: number, before: number, after: number): Float32Array {
  const w = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const up = i < before ? (i + 1) / (before + 1) : 1;
    const down = i >= length - after ? (length - i) / (after + 1) : 1;
    w[i] = Math.min(up, down);
  }
  return w;
}

/** Copies rows [y0, y0+h) and columns [x0, x0+w) of an image. */
function cropHost(img: HostImage, x0: number, y0: number, w: number, h: number): HostImage {
  const c = img.channels;
  const data = new Float32Array(w * h * c);
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * img.width + x0) * c;
    data.set(img.data.subarray(from, from + w * c), y * w * c);
  }
  return { data, width: w, height: h, channels: c };
}

/**
 * G(image), whole or in overlapping tiles blended with linear ramps. Tiles are independent
 * forwards, so peak memory is that of one tile; but each tile's instance normalisation sees only
 * that tile, so tiled results differ from whole-image ones (more with smaller tiles).
 */
export async function translateImage(G: ImageGenerator, img: HostImage, options: TranslateImageOptions = {}): Promise<HostImage> {
  const tile = options.tile ?? 0;
  const training = options.training ?? false;
  if (!tile || (img.width <= tile && img.height <= tile)) return translateWhole(G, img, training);
  const overlap = options.overlap ?? 32;
  if (!Number.isInteger(tile) || tile % 4 !== 0 || tile < 8) throw new Error(`tile must be a multiple of 4 and at least 8, got ${tile}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= tile) throw new Error(`tile overlap must be an integer in [0, ${tile}), got ${overlap}`);
  const ys = tileStarts(img.height, tile, overlap);
  const xs = tileStarts(img.width, tile, overlap);
  let acc: Float32Array | undefined;
  let channels = 0;
  const weight = new Float32Array(img.width * img.height);
  for (const [iy, y0] of ys.entries()) {
    const th = Math.min(tile, img.height);
    const wy = rampWeights(th, iy > 0 ? ys[iy - 1]! + th - y0 : 0, iy < ys.length - 1 ? y0 + th - ys[iy + 1]! : 0);
    for (const [ix, x0] of xs.entries()) {
      const tw = Math.min(tile, img.width);
      const wx = rampWeights(tw, ix > 0 ? xs[ix - 1]! + tw - x0 : 0, ix < xs.length - 1 ? x0 + tw - xs[ix + 1]! : 0);
      const out = await translateWhole(G, cropHost(img, x0, y0, tw, th), training);
      channels = out.channels;
      acc ??= new Float32Array(img.width * img.height * channels);
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw; x++) {
          const wgt = wy[y]! * wx[x]!;
          const p = (y0 + y) * img.width + (x0 + x);
          weight[p]! += wgt;
          for (let c = 0; c < channels; c++) acc[p * channels + c]! += wgt * out.data[(y * tw + x) * channels + c]!;
        }
      }
    }
  }
  for (let p = 0; p < weight.length; p++) {
    for (let c = 0; c < channels; c++) acc![p * channels + c]! /= weight[p]!;
  }
  return { data: acc!, width: img.width, height: img.height, channels };
}
