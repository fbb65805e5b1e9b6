/**
 * Decoding image files (with sharp, on libuv's thread pool) into plain pixel arrays, and the
 * channel conversions the reference applies: `Image.open(p).convert('RGB')`, then for a
 * 1-channel network `transforms.Grayscale(1)` (= `convert('L')`).
 */

import { readFile } from 'node:fs/promises';
import { decode as decodeBmp } from 'bmp-ts';
import sharp from 'sharp';
import { decodeNetpbm, isNetpbm } from './netpbm.js';

/** Pixels, HWC row-major. 8-bit data is 0..255, 16-bit data 0..65535. */
export interface RawImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  bitDepth: 8 | 16;
}

/**
 * Reads and decodes an image file to RGB (3 channels) at its own size, to the bytes of the
 * reference's `PIL.Image.open(file).convert('RGB')`: embedded ICC profiles are ignored (PIL returns
 * the stored values), grey is replicated, palettes are expanded, alpha is dropped (not
 * composited), EXIF orientation is ignored, CMYK goes through PIL's own formula. JPEG, PNG and
 * TIFF are decoded by sharp, BMP by bmp-ts, PBM/PGM/PPM by `netpbm.ts`.
 * One deliberate difference: 16-bit files keep their 16 bits (scaled, not clipped as PIL does;
 * see `README.md`), with a one-line notice on stderr the first time such a file is met.
 * Errors name the file.
 */
export async function decodeImage(file: string): Promise<RawImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read image file (${(e as Error).message})`);
  }
  let img: DecodedPixels;
  try {
    if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) img = decodeBmpPixels(bytes);
    else if (isNetpbm(bytes)) img = decodeNetpbm(bytes);
    else img = await decodeWithSharp(bytes);
  } catch (e) {
    throw new Error(`${file}: not a readable image (${oneLine(e)})`);
  }
  if (img.bitDepth === 16) noticeSixteenBit(file);
  return toRgb(img, file);
}

/**
 * Checks that `file` decodes, cheaply where the format allows (JPEG, PNG and TIFF are decoded by
 * sharp at a reduced size, which still reads the whole compressed stream, so a truncated file
 * fails), and returns its size. Errors name the file, as `decodeImage`'s do.
 */
export async function probeImage(file: string): Promise<{ width: number; height: number }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read image file (${(e as Error).message})`);
  }
  try {
    if ((bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) || isNetpbm(bytes)) {
      const img = bytes[0] === 0x42 ? decodeBmpPixels(bytes) : decodeNetpbm(bytes);
      return { width: img.width, height: img.height };
    }
    return await withStrayBytesAllowed(async (input) => {
      const meta = await sharp(bytes, input).metadata();
      await sharp(bytes, input).resize(16, 16, { fit: 'inside' }).raw().toBuffer();
      if (!meta.width || !meta.height) throw new Error('no image size in the file');
      return { width: meta.width, height: meta.height };
    });
  } catch (e) {
    throw new Error(`${file}: not a readable image (${oneLine(e)})`);
  }
}

/** An error's message on one line: libvips can report several lines, the cause not always first. */
function oneLine(e: unknown): string {
  const lines = [...new Set((e as Error).message.split('\n').map((l) => l.trim()).filter((l) => l.length > 0))];
  // libvips keeps one error buffer for all its threads: with several files decoding at once the
  // decoder's own line can be gone, leaving only the generic failOn line. Say what that means.
  if (lines.length === 1 && /failOn/.test(lines[0]!)) return 'damaged or truncated image data: the decoder warned (failOn)';
  return lines.join('; ');
}

/** Decoded samples before the conversion to RGB. */
interface DecodedPixels {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  bitDepth: 8 | 16;
}

/** ignoreIcc: PIL does no colour management, it returns the stored values. */
type SharpInput = { ignoreIcc: true; failOn: 'warning' | 'truncated' };

/**
 * Runs a sharp decode that refuses anything libjpeg warns about (a corrupt entropy stream, a
 * truncated file: PIL refuses these too), except stray bytes between a JPEG's segments
 * ("extraneous bytes before marker"): libjpeg skips them and the pixels are intact, PIL reads
 * such files (ImageNet has some), so for those alone the decode is run again tolerating warnings.
 */
async function withStrayBytesAllowed<T>(decode: (input: SharpInput) => Promise<T>): Promise<T> {
  try {
    return await decode({ ignoreIcc: true, failOn: 'warning' });
  } catch (e) {
    const lines = (e as Error).message.split('\n').filter((l) => l.trim() && !l.includes('failOn'));
    const strayBytesOnly = lines.length > 0 && lines.every((l) => /extraneous bytes before marker/.test(l));
    if (!strayBytesOnly) throw e;
    return await decode({ ignoreIcc: true, failOn: 'truncated' });
  }
}

let sixteenBitNoticed = false;

/** Once per process: the reference (PIL) would clip this file's values, we scale them. */
function noticeSixteenBit(file: string): void {
  if (sixteenBitNoticed) return;
  sixteenBitNoticed = true;
  console.warn(
    `note: ${file} has 16-bit samples; cutjs scales them to the 0..1 range, while the reference (PIL convert('RGB')) clips them to 255 (further 16-bit files are not reported)`,
  );
}

async function decodeWithSharp(bytes: Buffer): Promise<DecodedPixels> {
  return withStrayBytesAllowed((input) => decodeSharpInput(bytes, input));
}

async function decodeSharpInput(bytes: Buffer, input: SharpInput): Promise<DecodedPixels> {
  const meta = await sharp(bytes, input).metadata();
  if (meta.space === 'cmyk') {
    // Raw CMYK samples (libvips inverts Adobe JPEG CMYK exactly as PIL does: every CMYK JPEG),
    // then PIL's CMYK -> RGB formula rather than a colour-managed conversion.
    const { data, info } = await sharp(bytes, input)
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`CMYK image decoded to ${info.channels} channels`);
    return { data: cmykToRgb(data), width: info.width, height: info.height, channels: 3, bitDepth: 8 };
  }
  const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
  let pipeline = sharp(bytes, input);
  // Without an explicit 16-bit colourspace sharp would reduce to 8 bits before the cast.
  if (sixteen) pipeline = pipeline.toColourspace((meta.channels ?? 3) <= 2 ? 'grey16' : 'rgb16');
  const { data, info } = await pipeline.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
  // sharp reports the raw depth at run time; its typings omit it.
  const depth = (info as { depth?: string }).depth ?? 'uchar';
  if (depth !== 'ushort' && depth !== 'uchar') throw new Error(`unsupported pixel depth '${depth}'`);
  const src =
    depth === 'ushort'
      ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: src, width: info.width, height: info.height, channels: info.channels, bitDepth: depth === 'ushort' ? 16 : 8 };
}

/**
 * PIL's CMYK -> RGB (Pillow's `Convert.c`, no colour management): with k' = 255 - K, each of
 * R, G, B is k' - C*k'/255, the product divided by 255 with PIL's rounding ((t + (t >> 8)) >> 8,
 * t = C*k' + 128).
 */
export function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const n = cmyk.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[4 * i + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = cmyk[4 * i + c]! * nk + 128;
      out[3 * i + c] = nk - ((t + (t >> 8)) >> 8);
    }
  }
  return out;
}

/**
 * BMP through bmp-ts (sharp has no BMP loader); palettes expanded, rows top to bottom. Read in
 * bmp-ts's default A,B,G,R byte order: its `toRGBA` option overwrites colour bytes of 1-, 4- and
 * 8-bit images (bmp-ts 1.0.9).
 */
function decodeBmpPixels(bytes: Buffer): DecodedPixels {
  const bmp = decodeBmp(bytes);
  const { width, height, data: abgr } = bmp;
  const n = width * height;
  if (!(width > 0 && height > 0) || abgr.length !== n * 4) {
    throw new Error(`BMP decoded to ${abgr.length} bytes for ${width}x${height}`);
  }
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[3 * i] = abgr[4 * i + 3]!;
    rgb[3 * i + 1] = abgr[4 * i + 2]!;
    rgb[3 * i + 2] = abgr[4 * i + 1]!;
  }
  return { data: rgb, width, height, channels: 3, bitDepth: 8 };
}

/** Grey, grey+alpha, RGB or RGBA samples to RGB: grey replicated, alpha dropped (PIL's convert('RGB')). */
function toRgb(img: DecodedPixels, file: string): RawImage {
  const { width, height, channels: c, data: src } = img;
  const n = width * height;
  if (src.length !== n * c) throw new Error(`${file}: decoded ${src.length} samples for ${width}x${height}x${c}`);
  const sixteen = img.bitDepth === 16;
  if (c === 3) return { data: src, width, height, channels: 3, bitDepth: img.bitDepth };
  const rgb = sixteen ? new Uint16Array(n * 3) : new Uint8Array(n * 3);
  if (c === 4) {
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
  return { data: rgb, width, height, channels: 3, bitDepth: img.bitDepth };
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
