import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';

/** The reference's image extensions (`data/image_folder.py`), compared case-insensitively. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff', '.webp'];

/** Image files under `dir`, recursively, sorted; a clear error when the folder is missing or empty. */
export async function listImages(dir: string): Promise<string[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`${dir}: no such folder`);
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) found.push(p);
    }
  };
  await walk(dir);
  if (found.length === 0) throw new Error(`${dir}: no images (${IMAGE_EXTENSIONS.join(' ')}) in this folder`);
  return found.sort();
}

/**
 * Decodes an image to RGB floats in [-1, 1], HWC row-major, resized to size x size
 * (bicubic). Grayscale, palette, 16-bit and alpha images become 3-channel RGB.
 */
export async function readImageRGB(file: string, size: number): Promise<Float32Array> {
  let raw: Buffer;
  try {
    raw = await sharp(file)
      .toColourspace('srgb')
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel: 'cubic' })
      .raw({ depth: 'uchar' })
      .toBuffer();
  } catch (e) {
    throw new Error(`${file}: cannot decode image (${(e as Error).message})`);
  }
  if (raw.length !== size * size * 3) throw new Error(`${file}: decoded to ${raw.length} bytes, expected ${size * size * 3}`);
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]! / 127.5 - 1;
  return out;
}
