// Crash-safe file writes: a reader (or a resumed run) sees either the old file or the whole new
// one, never a torn one, even when the process is killed or the machine loses power mid-write.
import { closeSync, constants, copyFileSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A name beside `path` that no other writer uses. */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not created
  }
}

/** Makes renames and new links in `dir` durable (a no-op where directories cannot be opened, e.g. Windows). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not supported here
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes `data` to a temporary file beside `path`, flushes it to disk, then renames it over `path`. */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  const tmp = tempName(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    for (const c of chunks) {
      let done = 0;
      while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(tmp);
    throw new Error(`${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
  fsyncDir(dirname(path));
}

/**
 * Makes `target` a complete copy of `source` (a finished file), replacing any old `target` in
 * one rename. Never a hard link: a tool that rewrites `target` in place (cp, the reference's
 * torch.save) must not change any other file. Where the file system can share blocks
 * copy-on-write (btrfs, XFS, APFS), the copy takes no extra space.
 */
export function copyFileAtomic(source: string, target: string): void {
  const tmp = tempName(target);
  try {
    copyFileSync(source, tmp, constants.COPYFILE_FICLONE);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    removeQuietly(tmp);
    throw new Error(`${target}: cannot write (${(e as Error).message})`, { cause: e });
  }
}
