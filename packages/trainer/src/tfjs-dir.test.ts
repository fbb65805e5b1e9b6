// Hostile tfjs model folders (issue 22): a model.json from a stranger must not make the reader read
// files outside its folder, block on a FIFO, or stream a device; every refusal names model.json and
// the bad path, before any weight byte is read.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { defineDiscriminator, loadTfjsModel } from '@cut/networks';
import { loadReferenceCheckpoint, readPthFile, readTfjsModelDir, saveTfjsModel } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'cut-tfjs-dir-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let modelJson: { weightsManifest: { paths: string[] }[] } & Record<string, unknown>;
let weights: Buffer;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const D = defineDiscriminator({ architecture: 'n_layers', ndf: 2, nLayers: 1 }, { seed: 1 });
  const paths = await saveTfjsModel(D, join(work, 'good'));
  D.dispose();
  modelJson = JSON.parse(readFileSync(paths.modelJson, 'utf8')) as typeof modelJson;
  weights = readFileSync(paths.weights);
});

/** A model folder `<work>/<name>/model/` whose model.json names `paths` (a sibling folder `secret/` beside it). */
function folder(name: string, paths: string[]): { dir: string; json: string } {
  const dir = join(work, name, 'model');
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'model.json');
  writeFileSync(json, JSON.stringify({ ...modelJson, weightsManifest: [{ ...modelJson.weightsManifest[0], paths }] }));
  return { dir, json };
}

describe('readTfjsModelDir confines the manifest to the model folder', () => {
  it('refuses ../ paths, even to a file that would fit, without reading it', () => {
    // The exact size the manifest needs: before, it was read and used as weights (and the load succeeded).
    mkdirSync(join(work, 'up', 'secret'), { recursive: true });
    writeFileSync(join(work, 'up', 'secret', 'stolen.bin'), weights);
    const { dir, json } = folder('up', ['../secret/stolen.bin']);
    expect(() => readTfjsModelDir(dir)).toThrow(
      new RegExp(
        `^${escapeRegExp(json)}: weight path "\\.\\./secret/stolen\\.bin" leads out of the model's folder \\('\\.\\.'\\); only files inside the model's folder are read$`,
      ),
    );
  });

  it('refuses absolute paths and device paths, and no size of a foreign file shows in the error', () => {
    for (const p of [
      '/etc/passwd',
      '../../../../../../../../etc/passwd',
      '../../../../../../../../dev/zero',
      'C:\\Windows\\win.ini',
      'a\\..\\..\\b',
      'file:///etc/passwd',
      'x/./y',
      '',
    ]) {
      const { dir, json } = folder('abs', [p]);
      let message = '';
      try {
        readTfjsModelDir(dir);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, p).toMatch(new RegExp(`^${escapeRegExp(json)}: `));
      expect(message, p).toMatch(/weight path/);
      expect(message, p).not.toMatch(/\d+ bytes/);
    }
  });

  it('refuses a link that leads out of the folder (to a file, /dev/zero, a FIFO) before opening it', () => {
    const outside = join(work, 'links', 'secret');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'stolen.bin'), weights);
    execFileSync('mkfifo', [join(outside, 'pipe')]);
    for (const target of [join(outside, 'stolen.bin'), '/dev/zero', join(outside, 'pipe'), '../secret/stolen.bin']) {
      rmSync(join(work, 'links', 'model'), { recursive: true, force: true });
      const { dir, json } = folder('links', ['weights.bin']);
      symlinkSync(target, join(dir, 'weights.bin'));
      // A FIFO opened for reading would block this test forever; /dev/zero would be read without end.
      expect(() => readTfjsModelDir(dir), target).toThrow(
        new RegExp(
          `^${escapeRegExp(json)}: weight file 'weights\\.bin' is a link that leads out of the model's folder; only files inside it are read$`,
        ),
      );
    }
    // A link to a sub-folder's file stays inside: read.
    rmSync(join(work, 'links', 'model'), { recursive: true, force: true });
    const { dir } = folder('links', ['weights.bin']);
    mkdirSync(join(dir, 'shards'));
    writeFileSync(join(dir, 'shards', 'w.bin'), weights);
    symlinkSync('shards/w.bin', join(dir, 'weights.bin'));
    expect(Buffer.from((readTfjsModelDir(dir).weights as ArrayBuffer[])[0]!).equals(weights)).toBe(true);
  });

  it('refuses a FIFO or a folder inside the model folder without blocking, and a file of the wrong size before reading it', () => {
    let { dir, json } = folder('fifo', ['weights.bin']);
    execFileSync('mkfifo', [join(dir, 'weights.bin')]);
    expect(() => readTfjsModelDir(dir)).toThrow(new RegExp(`^${escapeRegExp(json)}: weight file 'weights\\.bin' is not a regular file$`));
    ({ dir, json } = folder('folder', ['weights.bin']));
    mkdirSync(join(dir, 'weights.bin'));
    expect(() => readTfjsModelDir(dir)).toThrow(/weight file 'weights\.bin' is not a regular file/);

    ({ dir, json } = folder('short', ['weights.bin']));
    writeFileSync(join(dir, 'weights.bin'), weights.subarray(0, weights.length - 4));
    expect(() => readTfjsModelDir(dir)).toThrow(
      new RegExp(
        `^${escapeRegExp(json)}: the weight file 'weights\\.bin' holds ${weights.length - 4} bytes, the manifest's weights need ${weights.length} \\(a damaged or partial download\\?\\)$`,
      ),
    );
    ({ dir, json } = folder('missing', ['weights.bin']));
    expect(() => readTfjsModelDir(dir)).toThrow(new RegExp(`^${escapeRegExp(json)}: weight file 'weights\\.bin' cannot be read \\(ENOENT\\)$`));
  });

  it('reads a manifest split over several files (in their order), inside sub-folders', async () => {
    const { dir } = folder('shards', ['a/part1.bin', 'a/part2.bin']);
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'part1.bin'), weights.subarray(0, 10));
    writeFileSync(join(dir, 'a', 'part2.bin'), weights.subarray(10));
    const net = await loadTfjsModel(readTfjsModelDir(dir));
    expect(net.className).toBe('NLayerDiscriminator');
    net.dispose();
  });
});

describe('checkpoint files must be regular files', () => {
  it('a FIFO or a link to /dev/zero as a .pth or train_opt.txt is refused at once, named', () => {
    const run = join(work, 'run');
    mkdirSync(run, { recursive: true });
    execFileSync('mkfifo', [join(run, 'latest_net_G.pth')]);
    writeFileSync(join(run, 'train_opt.txt'), '');
    expect(() => readPthFile(join(run, 'latest_net_G.pth'))).toThrow(
      new RegExp(`^${escapeRegExp(join(run, 'latest_net_G.pth'))}: cannot read the file \\(not a regular file\\)$`),
    );
    expect(() => loadReferenceCheckpoint(run)).toThrow(
      new RegExp(`^${escapeRegExp(join(run, 'latest_net_G.pth'))}: cannot read the file \\(not a regular file\\)$`),
    );
    rmSync(join(run, 'latest_net_G.pth'));
    symlinkSync('/dev/zero', join(run, 'latest_net_G.pth'));
    expect(() => loadReferenceCheckpoint(run)).toThrow(/latest_net_G\.pth: cannot read the file \(not a regular file\)$/);
    rmSync(join(run, 'train_opt.txt'));
    symlinkSync('/dev/zero', join(run, 'train_opt.txt'));
    expect(() => loadReferenceCheckpoint(run)).toThrow(
      new RegExp(`^${escapeRegExp(join(run, 'train_opt.txt'))}: cannot read the options \\(not a regular file\\)$`),
    );
  });
});
