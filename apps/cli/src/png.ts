// Network images ([-1, 1] floats, HWC) to PNG files, as the reference's `tensor2im` + `save_image`.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { encodePng, writeFileAtomic } from '@cut/trainer';

/**
 * The reference's `tensor2im`: clamp to [-1, 1], `(x + 1) / 2 * 255` in float32, cast to uint8 by
 * truncation; one channel is repeated into RGB. `data` is HWC with `channels` 1 or 3.
 */
export function toRgb8(data: Float32Array, width: number, height: number, channels: number): Uint8Array {
  if (channels !== 1 && channels !== 3) throw new Error(`cannot save a ${channels}-channel image (1 or 3 channels)`);
  if (data.length !== width * height * channels) throw new Error(`image data has ${data.length} values, expected ${width}x${height}x${channels}`);
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[i * channels + (channels === 1 ? 0 : c)]!;
      const clamped = v < -1 ? -1 : v > 1 ? 1 : v; // NaN stays NaN and becomes 0 below
      out[i * 3 + c] = Math.trunc(Math.fround(Math.fround(Math.fround(clamped + 1) / 2) * 255)) || 0;
    }
  }
  return out;
}

/** Writes 8-bit RGB pixels as a PNG, creating the folder; atomically, so a failure leaves no partial file. */
export async function writePng(file: string, rgb: Uint8Array, width: number, height: number): Promise<void> {
  try {
    const png = await encodePng({ data: rgb, width, height, channels: 3 });
    await mkdir(dirname(file), { recursive: true });
    writeFileAtomic(file, png);
  } catch (e) {
    throw new Error(`${file}: cannot write PNG (${(e as Error).message})`, { cause: e });
  }
}

/** `toRgb8` + `writePng`. */
export async function saveImage(file: string, data: Float32Array, width: number, height: number, channels: number): Promise<void> {
  await writePng(file, toRgb8(data, width, height, channels), width, height);
}
