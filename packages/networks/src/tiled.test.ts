import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '../../../test-utils/backends';
import { loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { defineGenerator, forwardTiled, type Generator, type HostMap, type TorchStateDict } from './index.js';

const stateDict = (weights: Array<GoldenTensor & { name: string }>): TorchStateDict =>
  new Map(weights.map((w) => [w.name, { shape: w.shape, data: Float32Array.from(w.data) }]));

/** An NCHW golden tensor of one sample as an HWC host map. */
function goldenMap(g: GoldenTensor): HostMap {
  const [, c, h, w] = g.shape as [number, number, number, number];
  const data = new Float32Array(h * w * c);
  for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) data[i * c + k] = g.data[k * h * w + i]!;
  return { data, height: h, width: w, channels: c };
}

async function wholeForward(G: Generator, m: HostMap): Promise<Float32Array> {
  const y = tf.tidy(() => G.forward(tf.tensor4d(m.data, [1, m.height, m.width, m.channels])));
  const data = (await y.data()) as Float32Array;
  y.dispose();
  return data;
}

/** A smooth test image with detail at every scale (values in [-1, 1]). */
function testImage(h: number, w: number): HostMap {
  const data = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.sin(0.37 * x * (c + 1) + 0.11 * y * y) * Math.cos(0.05 * (x + 2 * y) + c);
    }
  }
  return { data, height: h, width: w, channels: 3 };
}

const layouts = [
  { file: 'resnet_generator_tiny_antialias.json', noAntialias: false },
  { file: 'resnet_generator_tiny_no_antialias.json', noAntialias: true },
];

describeBackends('forwardTiled: tiles give the whole-image result', () => {
  for (const { file, noAntialias } of layouts) {
    const g = loadFixture(`golden/${file}`);
    const load = () => {
      const G = defineGenerator({ architecture: 'resnet', ngf: 8, nBlocks: 2, noAntialias, noAntialiasUp: noAntialias });
      G.loadStateDict(stateDict(g.weights), file);
      return G;
    };

    it(`${file}: PyTorch's whole-image outputs from 16-pixel tiles (32x32 and 28x20 inputs)`, async () => {
      const G = load();
      const before = tf.memory().numTensors;
      for (const [input, output] of [
        [g.input, g.output],
        [g.extra_nonsquare.input, g.extra_nonsquare.output],
      ] as Array<[GoldenTensor, GoldenTensor]>) {
        const stages: number[] = [];
        const y = await forwardTiled(G, goldenMap(input), { tile: 16, onStage: (done) => stages.push(done) });
        const want = goldenMap(output);
        expect([y.height, y.width, y.channels]).toEqual([want.height, want.width, want.channels]);
        expect(maxAbsDiff(y.data, want.data)).toBeLessThan(1e-4);
        // stem, down1, down2, then per block its two convolutions (+1 stage: the block input), up1, up2, head
        expect(stages.length).toBeGreaterThan(8);
      }
      expect(tf.memory().numTensors).toBe(before);
      G.dispose();
    });

    it(`${file}: 16, 20 and 36-pixel tiles of a 76x100 image match the whole forward; a tile as large as the image too`, async () => {
      const G = load();
      const img = testImage(76, 100);
      const whole = await wholeForward(G, img);
      let spread = 0;
      for (let i = 0; i < whole.length; i++) spread = Math.max(spread, Math.abs(whole[i]!));
      expect(spread).toBeGreaterThan(0.5); // the comparison below means something
      for (const tile of [16, 20, 36, 100]) {
        const y = await forwardTiled(G, img, { tile });
        // float rounding only (the norms sum in float64 here): measured 2.7e-6 to 3.4e-6
        expect(maxAbsDiff(y.data, whole), `tile ${tile}`).toBeLessThan(2e-5);
      }
      G.dispose();
    });
  }

  it('normG none (Identity norms): 16 and 36-pixel tiles match the whole forward; batch norm, unet and resnet_cat are not tiled', async () => {
    const G = defineGenerator({ architecture: 'resnet', ngf: 4, nBlocks: 2, norm: 'none', init: { type: 'normal', gain: 0.3 } }, { seed: 2 });
    expect(G.sizing.tiled).toBe(true);
    const img = testImage(44, 60);
    const whole = await wholeForward(G, img);
    let spread = 0;
    for (let i = 0; i < whole.length; i++) spread = Math.max(spread, Math.abs(whole[i]!));
    expect(spread).toBeGreaterThan(0.05);
    for (const tile of [16, 36]) expect(maxAbsDiff((await forwardTiled(G, img, { tile })).data, whole), `tile ${tile}`).toBeLessThan(2e-5);
    G.dispose();
    for (const spec of [
      { architecture: 'resnet', ngf: 2, nBlocks: 1, norm: 'batch' },
      { architecture: 'unet', ngf: 1, numDowns: 7 },
      { architecture: 'resnet_cat', ngf: 1 },
    ] as const) {
      const N = defineGenerator(spec, { skipInit: true });
      expect(N.sizing.tiled, spec.architecture).toBe(false);
      expect(N.tiledModules).toBeUndefined();
      N.dispose();
    }
  });

  it('refuses tiles that are not multiples of 4 or below 16, and sides that are not multiples of 4', async () => {
    const G = defineGenerator({ architecture: 'resnet', ngf: 4, nBlocks: 1 });
    const img = testImage(32, 32);
    await expect(forwardTiled(G, img, { tile: 18 })).rejects.toThrow('tile must be a multiple of 4 and at least 16, got 18');
    await expect(forwardTiled(G, img, { tile: 12 })).rejects.toThrow('at least 16, got 12');
    await expect(forwardTiled(G, testImage(30, 32), { tile: 16 })).rejects.toThrow('image sides must be multiples of 4, got 32x30');
    G.dispose();
  });
});
