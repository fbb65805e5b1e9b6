import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PthError, loadTfjsGenerator, readPth } from '@cut/networks';
import { loadReferenceCheckpoint, readPthFile, readTfjsModelDir, saveTfjsModel, writePth } from './index.js';

const H2Z = fileURLToPath(new URL('../../../fixtures/checkpoints/h2z_tiny', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'cut-files-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("checkpoint files on disk (the bytes are @cut/networks')", () => {
  it('writePth replaces an existing file and refuses bad input with the file name; readPthFile names a missing file', () => {
    const path = join(work, 'replace.pth');
    writeFileSync(path, 'old');
    writePth(path, [['w', { shape: [1], data: new Float32Array([3]) }]]);
    expect(readPthFile(path).get('w')!.data).toEqual(new Float32Array([3]));
    expect(() => writePth(path, [['w', { shape: [2], data: new Float32Array([3]) }]])).toThrow(
      /replace\.pth: tensor 'w' has 1 values for shape \[2\]/,
    );
    expect(() => writePth(join(work, 'no-such-dir', 'x.pth'), [])).toThrow(/x\.pth: cannot write the checkpoint/);
    expect(readPthFile(path).get('w')!.data).toEqual(new Float32Array([3]));
    const missing = join(work, 'missing.pth');
    expect(() => readPthFile(missing)).toThrow(PthError);
    expect(() => readPthFile(missing)).toThrow(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read the file.*ENOENT`));
  });

  it('loadReferenceCheckpoint reads a run folder: the same tensors as its files, errors for a missing epoch or train_opt.txt', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const ck = loadReferenceCheckpoint(H2Z);
    expect(ck.files).toEqual({
      options: join(H2Z, 'train_opt.txt'),
      G: join(H2Z, 'latest_net_G.pth'),
      D: join(H2Z, 'latest_net_D.pth'),
      F: join(H2Z, 'latest_net_F.pth'),
    });
    expect(ck.options.generator).toMatchObject({ ngf: 8, nBlocks: 6 });
    // G's weights are the file's (the reference's model.1.weight is [8,3,7,7]; ours NHWC [7,7,3,8]).
    const theirs = readPth(readFileSync(join(H2Z, 'latest_net_G.pth')));
    const w = theirs.get('model.1.weight') ?? theirs.get('module.model.1.weight');
    const ours = (await ck.G.stateDict()).get('model.1.weight')!;
    expect(ours.shape).toEqual([8, 3, 7, 7]);
    expect(Array.from(ours.data as Float32Array)).toEqual(Array.from(w!.data as Float32Array));
    ck.dispose();
    expect(() => loadReferenceCheckpoint(H2Z, { epoch: 7 })).toThrow(/7_net_G\.pth: no such checkpoint \(epoch '7'\)/);
    expect(() => loadReferenceCheckpoint(work)).toThrow(/no train_opt\.txt/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saveTfjsModel / readTfjsModelDir round trip; a missing folder is named', async () => {
    await tf.setBackend('cpu');
    const ck = loadReferenceCheckpoint(H2Z);
    const dir = join(work, 'tfjs');
    await saveTfjsModel(ck.G, dir);
    const g = await loadTfjsGenerator(readTfjsModelDir(dir));
    expect(g.config).toEqual(ck.G.config);
    const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 3);
    const [a, b] = [ck.G.forward(x as tf.Tensor4D), g.forward(x as tf.Tensor4D)];
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([x, a, b]);
    g.dispose();
    ck.dispose();
    expect(() => readTfjsModelDir(join(work, 'none'))).toThrow(/model\.json: cannot read the model/);
  });
});
