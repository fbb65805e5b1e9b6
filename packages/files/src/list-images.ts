// Listing a folder's image files as the reference's `make_dataset` (`data/image_folder.py`) does.
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

/** The reference's image extensions (`data/image_folder.py`); matched case-insensitively here. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff'];

/**
 * Recursively lists image files under `dir` (following links), sorted; `max` first ones. Only
 * regular files are images (a FIFO named .jpg would block its reader for ever), and no link that
 * leads back to a folder being walked or one above it is followed (it would pull in the folders
 * beside it, e.g. trainB through trainA/up -> ..).
 */
export async function listImages(dir: string, max = Infinity): Promise<string[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new Error(`${dir}: no such folder`);
  if (!info.isDirectory()) throw new Error(`${dir}: not a folder`);
  const found: string[] = [];
  const visited = new Set<string>();
  /** `real`: the folder's path with every link resolved. */
  const walk = async (d: string, real: string): Promise<void> => {
    if (visited.has(real)) return; // two links to one folder: its images once
    visited.add(real);
    const entries = await readdir(d, { withFileTypes: true });
    for (const entry of entries) {
      const p = join(d, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let target = join(real, entry.name);
      if (entry.isSymbolicLink()) {
        const to = await stat(p).catch(() => undefined); // a dangling link is no image
        isDir = to?.isDirectory() ?? false;
        isFile = to?.isFile() ?? false;
        if (isDir) {
          target = await realpath(p);
          if (real === target || real.startsWith(target.endsWith(sep) ? target : target + sep)) continue;
        }
      }
      if (isDir) await walk(p, target);
      else if (isFile && IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) found.push(p);
    }
  };
  await walk(dir, await realpath(dir));
  // Sort by code point like Python's sorted(); the cap applies to the sorted list (see README).
  found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Number.isFinite(max) ? found.slice(0, Math.max(0, Math.floor(max))) : found;
}
