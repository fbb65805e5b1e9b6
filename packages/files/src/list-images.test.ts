import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listImages } from './list-images.js';

let tmp: { dir: string };
beforeAll(async () => {
  tmp = { dir: await mkdtemp(join(tmpdir(), 'cut-list-')) };
});
afterAll(() => rm(tmp.dir, { recursive: true, force: true }));

/** Writes a text file (listing reads names only), creating folders. */
async function writeText(file: string, text: string): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

describe('listImages', () => {
  it("finds the reference's extensions in any case, recursively and through links, sorted", async () => {
    const root = join(tmp.dir, 'listing');
    for (const name of ['b.png', 'a.JPG', 'c.Jpeg', 'sub/d.tif', 'sub/deeper/e.TIFF', 'f.bmp', 'g.ppm', 'h.PNG']) {
      await writeText(join(root, name), 'x');
    }
    for (const name of ['notes.txt', 'i.gif', 'j.webp', 'k.jpg.bak', 'sub/readme.md']) await writeText(join(root, name), 'x');
    await writeText(join(tmp.dir, 'outside/l.png'), 'x');
    await symlink(join(tmp.dir, 'outside'), join(root, 'linked'));
    // A link back to the root must not loop for ever.
    await symlink(root, join(root, 'sub', 'loop'));
    const files = await listImages(root);
    expect(files.map((f) => f.slice(root.length + 1))).toEqual([
      'a.JPG',
      'b.png',
      'c.Jpeg',
      'f.bmp',
      'g.ppm',
      'h.PNG',
      'linked/l.png',
      'sub/d.tif',
      'sub/deeper/e.TIFF',
    ]);
    expect(await listImages(root, 3)).toEqual(files.slice(0, 3));
  });

  it('only regular files (after following links) are images: a FIFO, a folder or a dangling link named .jpg are skipped (reading a FIFO would hang)', async () => {
    const root = join(tmp.dir, 'special');
    await writeText(join(root, 'a.png'), 'x');
    await writeText(join(tmp.dir, 'special-target/b.png'), 'x');
    await symlink(join(tmp.dir, 'special-target/b.png'), join(root, 'b-link.png'));
    execFileSync('mkfifo', [join(root, 'pipe.jpg')]);
    await mkdir(join(root, 'folder.jpg'));
    await symlink(join(tmp.dir, 'special-target'), join(root, 'dirlink.jpg'));
    await symlink(join(tmp.dir, 'no-such-file.png'), join(root, 'dangling.png'));
    const files = await listImages(root);
    expect(files.map((f) => f.slice(root.length + 1))).toEqual(['a.png', 'b-link.png', 'dirlink.jpg/b.png']);
  });

  it('follows no link that leads back to the folder or one above it (trainA/up -> ..): the sibling folders stay out', async () => {
    const dataroot = join(tmp.dir, 'loops');
    await writeText(join(dataroot, 'trainA/a.png'), 'x');
    await writeText(join(dataroot, 'trainB/b.png'), 'x');
    await writeText(join(dataroot, 'extra/e.png'), 'x');
    await symlink('..', join(dataroot, 'trainA/up'));
    await symlink('.', join(dataroot, 'trainA/self'));
    await symlink(join(dataroot, 'extra'), join(dataroot, 'trainA/extra'));
    const files = await listImages(join(dataroot, 'trainA'));
    expect(files.map((f) => f.slice(dataroot.length + 1))).toEqual(['trainA/a.png', 'trainA/extra/e.png']);
  });

  it('errors name a missing folder or a file given as folder', async () => {
    await expect(listImages(join(tmp.dir, 'nope'))).rejects.toThrow(`${join(tmp.dir, 'nope')}: no such folder`);
    const file = await writeText(join(tmp.dir, 'plain.txt'), 'x');
    await expect(listImages(file)).rejects.toThrow(`${file}: not a folder`);
  });
});
