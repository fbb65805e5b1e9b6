// Listing a folder's image files as the reference's `make_dataset` (`data/image_folder.py`) does.
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** The reference's image extensions (`data/image_folder.py`); matched case-insensitively here. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff'];

/** Recursively lists image files under `dir` (following links), sorted; `max` first ones. */
export async function listImages(dir: string, max = Infinity): Promise<string[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new Error(`${dir}: no such folder`);
  if (!info.isDirectory()) throw new Error(`${dir}: not a folder`);
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    // A link cycle would otherwise recurse for ever (os.walk does).
    const real = await realpath(d);
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await readdir(d, { withFileTypes: true });
    for (const entry of entries) {
      const p = join(d, entry.name);
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) isDir = (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
      if (isDir) await walk(p);
      else if (IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) found.push(p);
    }
  };
  await walk(dir);
  // Sort by code point like Python's sorted(); the cap applies to the sorted list (see README).
  found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Number.isFinite(max) ? found.slice(0, Math.max(0, Math.floor(max))) : found;
}
