// PNG files: 8-bit pixels encoded by sharp (libpng), and the network's [-1, 1] images saved as the
// reference's `tensor2im` + `save_image` do.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { tensorToRgb8 } from '@cut/images';
import { writeFileAtomic } from './atomic.js';

/** An 8-bit image, interleaved channels (1, 3 or 4). */
export interface ImageU8 {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** PNG bytes of an 8-bit image. */
export async function encodePng(image: ImageU8): Promise<Uint8Array> {
  const { data, width, height, channels } = image;
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new Error(`encodePng: 1, 3 or 4 channels expected, got ${channels}`);
  if (data.length !== width * height * channels) throw new Error(`encodePng: ${data.length} bytes for ${width}x${height}x${channels}`);
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels } })
    .png()
    .toBuffer();
}

/** Writes an 8-bit image as a PNG, creating the folder; atomically, so a failure leaves no partial file. */
export async function writePng(file: string, image: ImageU8): Promise<void> {
  try {
    const png = await encodePng(image);
    await mkdir(dirname(file), { recursive: true });
    writeFileAtomic(file, png);
  } catch (e) {
    throw new Error(`${file}: cannot write PNG (${(e as Error).message})`, { cause: e });
  }
}

/** A network image (HWC floats in [-1, 1], 1 or 3 channels) to an RGB PNG: `tensorToRgb8` + `writePng`. */
export async function saveImage(file: string, data: Float32Array, width: number, height: number, channels: number): Promise<void> {
  await writePng(file, tensorToRgb8(data, width, height, channels));
}
