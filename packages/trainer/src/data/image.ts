/**
 * Decoding image files (with sharp, on libuv's thread pool) into plain pixel arrays, and the
 * channel conversions the reference applies: `Image.open(p).convert('RGB')`, then for a
 * 1-channel network `transforms.Grayscale(1)` (= `convert('L')`).
 */

import { readFile } from 'node:fs/promises';
import sharp from 'sharp';

/** Pixels, HWC row-major. 8-bit data is 0..255, 16-bit data 0..65535. */
export interface RawImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  bitDepth: 8 | 16;
}

/**
 * Reads and decodes an image file to RGB (3 channels) at its own size, without any
 * colour or orientation change beyond what `PIL.Image.convert('RGB')` does:
 * grey is replicated, palettes are expanded, alpha is dropped (not composited), EXIF
 * orientation is ignored. 16-bit files keep their 16 bits (see `README.md`).
 * Errors name the file.
 */
export async function decodeImage(file: string): Promise<RawImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read image file (${(e as Error).message})`);
  }
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    const meta = await sharp(bytes).metadata();
    const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
    let pipeline = sharp(bytes);
    // Without an explicit 16-bit colourspace sharp would reduce to 8 bits before the cast.
    if (sixteen) pipeline = pipeline.toColourspace((meta.channels ?? 3) <= 2 ? 'grey16' : 'rgb16');
    decoded = await pipeline.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`${file}: not a readable image (${(e as Error).message})`);
  }
  const { data, info } = decoded;
  // sharp reports the raw depth at run time; its typings omit it.
  const depth = (info as { depth?: string }).depth ?? 'uchar';
  const sixteen = depth === 'ushort';
  if (!sixteen && depth !== 'uchar') throw new Error(`${file}: unsupported pixel depth '${depth}'`);
  const width = info.width;
  const height = info.height;
  const n = width * height;
  const src = sixteen
    ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (src.length !== n * info.channels) {
    throw new Error(`${file}: decoded ${src.length} samples for ${width}x${height}x${info.channels}`);
  }
  const rgb = sixteen ? new Uint16Array(n * 3) : new Uint8Array(n * 3);
  const c = info.channels;
  if (c === 3) {
    rgb.set(src);
  } else if (c === 4) {
    // RGBA: alpha dropped, as PIL's convert('RGB') does.
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = src[4 * i]!;
      rgb[3 * i + 1] = src[4 * i + 1]!;
      rgb[3 * i + 2] = src[4 * i + 2]!;
    }
  } else if (c === 1 || c === 2) {
    // Grey (+ alpha): replicated into R, G, B.
    for (let i = 0; i < n; i++) {
      const v = src[c * i]!;
      rgb[3 * i] = v;
      rgb[3 * i + 1] = v;
      rgb[3 * i + 2] = v;
    }
  } else {
    throw new Error(`${file}: unsupported channel count ${c}`);
  }
  return { data: rgb, width, height, channels: 3, bitDepth: sixteen ? 16 : 8 };
}

/**
 * RGB to one luminance channel, PIL's `convert('L')`: ITU-R 601-2 luma
 * (0.299, 0.587, 0.114) in 16-bit fixed point, rounded. The same integer formula on
 * 16-bit samples keeps 16 bits. Grey stored as RGB comes back unchanged.
 */
export function rgbToLuma(img: RawImage): RawImage {
  if (img.channels !== 3) throw new Error(`rgbToLuma: expected 3 channels, got ${img.channels}`);
  const n = img.width * img.height;
  const out = img.bitDepth === 8 ? new Uint8Array(n) : new Uint16Array(n);
  const s = img.data;
  for (let i = 0; i < n; i++) {
    const acc = s[3 * i]! * 19595 + s[3 * i + 1]! * 38470 + s[3 * i + 2]! * 7471 + 0x8000;
    out[i] = Math.floor(acc / 65536);
  }
  return { data: out, width: img.width, height: img.height, channels: 1, bitDepth: img.bitDepth };
}

/** The image with `nc` channels: 3 = RGB, 1 = luminance. */
export function toChannels(img: RawImage, nc: number): RawImage {
  if (nc === img.channels) return img;
  if (nc === 1 && img.channels === 3) return rgbToLuma(img);
  throw new Error(`cannot convert a ${img.channels}-channel image to ${nc} channels (input_nc/output_nc must be 1 or 3)`);
}

/** Rows [top, top+height) and columns [left, left+width), like PIL's `crop` inside the image. */
export function cropImage(img: RawImage, left: number, top: number, width: number, height: number): RawImage {
  if (left < 0 || top < 0 || left + width > img.width || top + height > img.height) {
    throw new Error(`cropImage: ${width}x${height}+${left}+${top} is outside the ${img.width}x${img.height} image`);
  }
  if (left === 0 && top === 0 && width === img.width && height === img.height) return img;
  const c = img.channels;
  const out = img.bitDepth === 8 ? new Uint8Array(width * height * c) : new Uint16Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * c;
    out.set(img.data.subarray(from, from + width * c), y * width * c);
  }
  return { data: out, width, height, channels: c, bitDepth: img.bitDepth };
}

/** Mirror left-right (PIL's `FLIP_LEFT_RIGHT`). */
export function flipHorizontal(img: RawImage): RawImage {
  const { width: w, height: h, channels: c } = img;
  const out = img.bitDepth === 8 ? new Uint8Array(img.data.length) : new Uint16Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + x) * c;
      const to = (y * w + (w - 1 - x)) * c;
      for (let ch = 0; ch < c; ch++) out[to + ch] = img.data[from + ch]!;
    }
  }
  return { ...img, data: out };
}

/**
 * torchvision's `ToTensor()` + `Normalize(0.5, 0.5)` for 8-bit values, in float32 steps
 * exactly as torch computes them: `(v / 255 - 0.5) / 0.5`.
 */
const NORMALIZED_8BIT = Float32Array.from({ length: 256 }, (_, v) => {
  const unit = Math.fround(v / 255);
  return Math.fround(Math.fround(unit - 0.5) / 0.5);
});

/** Pixels to float32 in [-1, 1], HWC (NHWC with N = 1). 16-bit samples scale by 65535. */
export function normalizeImage(img: RawImage, out?: Float32Array, offset = 0): Float32Array {
  const n = img.data.length;
  const dst = out ?? new Float32Array(n);
  if (img.bitDepth === 8) {
    for (let i = 0; i < n; i++) dst[offset + i] = NORMALIZED_8BIT[img.data[i]!]!;
  } else {
    for (let i = 0; i < n; i++) dst[offset + i] = Math.fround(Math.fround(img.data[i]! / 65535) - 0.5) / 0.5;
  }
  return dst;
}
