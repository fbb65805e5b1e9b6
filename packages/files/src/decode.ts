/**
 * Decoding image files (with sharp, on libuv's thread pool) into plain pixel arrays, as the
 * reference's `Image.open(p).convert('RGB')` does; the conversions themselves (and netpbm) are
 * @cut/images', which the web page shares.
 */

import { readFile } from 'node:fs/promises';
import { decode as decodeBmp } from 'bmp-ts';
import sharp from 'sharp';
import { cmykToRgb, decodeNetpbm, isNetpbm, toRgb, type RawImage } from '@cut/images';

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
  let img: RawImage;
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
  const lines = [
    ...new Set(
      (e as Error).message
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0),
    ),
  ];
  // libvips keeps one error buffer for all its threads: with several files decoding at once the
  // decoder's own line can be gone, leaving only the generic failOn line. Say what that means.
  if (lines.length === 1 && /failOn/.test(lines[0]!)) return 'damaged or truncated image data: the decoder warned (failOn)';
  return lines.join('; ');
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

async function decodeWithSharp(bytes: Buffer): Promise<RawImage> {
  return withStrayBytesAllowed((input) => decodeSharpInput(bytes, input));
}

async function decodeSharpInput(bytes: Buffer, input: SharpInput): Promise<RawImage> {
  const meta = await sharp(bytes, input).metadata();
  if (meta.space === 'cmyk') {
    // Raw CMYK samples (libvips inverts Adobe JPEG CMYK exactly as PIL does: every CMYK JPEG),
    // then PIL's CMYK -> RGB formula rather than a colour-managed conversion.
    const { data, info } = await sharp(bytes, input).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
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
 * BMP through bmp-ts (sharp has no BMP loader); palettes expanded, rows top to bottom. Read in
 * bmp-ts's default A,B,G,R byte order: its `toRGBA` option overwrites colour bytes of 1-, 4- and
 * 8-bit images (bmp-ts 1.0.9).
 */
function decodeBmpPixels(bytes: Buffer): RawImage {
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
