// The tfjs model reader on hostile model.json contents (issue 22): paths confined to the model's
// folder, weight specs checked, and a topology the weights cannot be refused before it is built.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { defineDiscriminator, defineGenerator } from './registry.js';
import { loadTfjsModel, tfjsModelArtifacts, tfjsWeightFiles, type CutModelJson } from './tfjs-model.js';

let D: { modelJson: CutModelJson; weights: ArrayBuffer };
let G: { modelJson: CutModelJson; weights: ArrayBuffer };
beforeAll(async () => {
  await tf.setBackend('cpu');
  const d = defineDiscriminator({ architecture: 'n_layers', ndf: 2, nLayers: 1 }, { seed: 1 });
  D = await tfjsModelArtifacts(d);
  d.dispose();
  const g = defineGenerator({ architecture: 'resnet', ngf: 2, nBlocks: 1 }, { seed: 1 });
  G = await tfjsModelArtifacts(g);
  g.dispose();
});

const clone = (j: CutModelJson): CutModelJson => JSON.parse(JSON.stringify(j)) as CutModelJson;

describe('tfjsWeightFiles', () => {
  it("gives each group's files and the bytes they must hold", () => {
    expect(tfjsWeightFiles(D.modelJson).groups).toEqual([{ paths: ['weights.bin'], bytes: D.weights.byteLength }]);
    expect(tfjsWeightFiles(JSON.stringify(D.modelJson), 'x/model.json').groups[0]!.paths).toEqual(['weights.bin']);
  });

  it('refuses paths that leave the folder, naming model.json and the path', () => {
    const bad: [unknown, RegExp][] = [
      ['../../secret/stolen.bin', /weight path "\.\.\/\.\.\/secret\/stolen\.bin" leads out of the model's folder/],
      ['a/../../b.bin', /leads out of the model's folder/],
      ['/etc/passwd', /weight path "\/etc\/passwd" is absolute/],
      ['C:\\w.bin', /has a backslash, colon or NUL/],
      ['..\\w.bin', /has a backslash, colon or NUL/],
      ['https://example.com/w.bin', /has a backslash, colon or NUL/],
      ['a//b.bin', /has an empty or '\.' part/],
      ['./w.bin', /has an empty or '\.' part/],
      ['', /a weight path is empty/],
      [42, /a weight path is not a string \(number\)/],
    ];
    for (const [path, pattern] of bad) {
      const j = clone(D.modelJson);
      (j.weightsManifest[0]!.paths as unknown[]) = [path];
      expect(() => tfjsWeightFiles(j, 'm/model.json'), String(path)).toThrow(new RegExp(`^m/model\\.json: .*${pattern.source}`));
    }
  });

  it('refuses bad weight specs and manifests', () => {
    const withSpec = (change: (s: Record<string, unknown>) => void) => {
      const j = clone(D.modelJson);
      change(j.weightsManifest[0]!.weights[0] as unknown as Record<string, unknown>);
      return j;
    };
    expect(() =>
      tfjsWeightFiles(
        withSpec((s) => (s.shape = [2, -1])),
        'm.json',
      ),
    ).toThrow(/^m\.json: weight 'model\.0\.weight' has a bad shape \[2,-1\]/);
    expect(() =>
      tfjsWeightFiles(
        withSpec((s) => (s.shape = [1e300, 1e300])),
        'm.json',
      ),
    ).toThrow(/has a bad shape/);
    expect(() =>
      tfjsWeightFiles(
        withSpec((s) => (s.shape = [2 ** 40, 2 ** 20])),
        'm.json',
      ),
    ).toThrow(/too large to be real/);
    expect(() =>
      tfjsWeightFiles(
        withSpec((s) => (s.dtype = 'int32')),
        'm.json',
      ),
    ).toThrow(/is int32, expected float32/);
    expect(() => tfjsWeightFiles({ ...clone(D.modelJson), weightsManifest: [null] } as unknown as CutModelJson, 'm.json')).toThrow(
      /weightsManifest\[0\] is not a group of paths and weights/,
    );
  });
});

describe('loadTfjsModel on hostile contents', () => {
  it('a topology far larger than its weights is refused before the network is built', async () => {
    for (const [options, what] of [
      [{ ngf: 100000 }, 'ResnetGenerator'],
      [{ nBlocks: 99999 }, 'ResnetGenerator'],
    ] as const) {
      const j = clone(G.modelJson);
      Object.assign(j.modelTopology.config, options);
      const before = process.memoryUsage().rss;
      await expect(loadTfjsModel({ modelJson: j, weights: G.weights, name: 'g.json' })).rejects.toThrow(
        new RegExp(`^g\\.json: a ${what} with these options has at least \\d+ weights, the manifest holds ${G.weights.byteLength / 4}$`),
      );
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    }
    const j = clone(D.modelJson);
    (j.modelTopology.config as { ndf: number }).ndf = 50000;
    await expect(loadTfjsModel({ modelJson: j, weights: D.weights, name: 'd.json' })).rejects.toThrow(
      /^d\.json: a NLayerDiscriminator with these options has at least/,
    );
  });

  it('weights of the wrong size, or not one buffer per file, are refused', async () => {
    await expect(loadTfjsModel({ modelJson: D.modelJson, weights: D.weights.slice(4), name: 'd.json' })).rejects.toThrow(
      `d.json: the weights hold ${D.weights.byteLength - 4} bytes, the manifest describes ${D.weights.byteLength}`,
    );
    await expect(loadTfjsModel({ modelJson: D.modelJson, weights: [D.weights, D.weights], name: 'd.json' })).rejects.toThrow(
      "d.json: 2 weight buffers given for the manifest's 1 files (weights.bin)",
    );
    const net = await loadTfjsModel({ modelJson: D.modelJson, weights: [D.weights], name: 'd.json' });
    expect(net.className).toBe('NLayerDiscriminator');
    net.dispose();
  });
});
