// Test helpers (not exported by the package): temporary folders of sharp-made images.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** A fresh temporary folder; `cleanup()` removes it. */
export async function tempDir(prefix = 'cut-data-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Pixel value of the synthetic pattern at (x, y, channel): distinct, known values. */
export const pattern = (x: number, y: number, c: number) => (x * 7 + y * 13 + c * 50) % 256;

/** 8-bit RGB pixels of `pattern` (or of `value(x, y, c)`), HWC. */
export function patternPixels(width: number, height: number, channels = 3, value = pattern): Uint8Array {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = value(x, y, c);
  }
  return data;
}

/** Writes raw pixels as a lossless PNG (or JPEG, by extension) at `file`, creating folders. */
export async function writeImage(
  file: string,
  data: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  let img = sharp(data, { raw: { width, height, channels } });
  if (data instanceof Uint16Array) img = img.toColourspace(channels <= 2 ? 'grey16' : 'rgb16');
  else if (channels <= 2) img = img.toColourspace('b-w');
  if (/\.jpe?g$/i.test(file)) await img.jpeg({ quality: 95 }).toFile(file);
  else await img.png().toFile(file);
  return file;
}

/** A `width x height` pattern image at `file` (PNG or JPEG by extension). */
export function writePattern(file: string, width: number, height: number): Promise<string> {
  return writeImage(file, patternPixels(width, height), width, height, 3);
}

/** Writes a text file (e.g. a "photo" that is not one). */
export async function writeText(file: string, text: string): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

/** Draws that make the crop land at exactly (left, top) for a crop range of (rangeX, rangeY), and flip or not. */
export function drawsAt(left: number, top: number, rangeX: number, rangeY: number, flip: boolean) {
  return { cropX: (left + 0.5) / (rangeX + 1), cropY: (top + 0.5) / (rangeY + 1), flip: flip ? 0.25 : 0.75 };
}
