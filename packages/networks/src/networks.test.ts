import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, loadFixture, maxAbsDiffTensor, type GoldenTensor } from '../../../test-utils/golden';
import { defineDiscriminator, defineGenerator, type Network, type TorchStateDict } from './index.js';
import type { SequentialNetwork } from './network.js';

interface GoldenWeight extends GoldenTensor {
  name: string;
}

const stateDict = (weights: GoldenWeight[]): TorchStateDict =>
  new Map(weights.map((w) => [w.name, { shape: w.shape, data: Float32Array.from(w.data) }]));

/** max |ours (NHWC) - golden (NCHW)| */
async function diffNCHW(ours: tf.Tensor4D, golden: GoldenTensor): Promise<number> {
  expect(nhwcShape(golden.shape)).toEqual(ours.shape);
  const nchw = nhwcToNchw(ours);
  const d = await maxAbsDiffTensor(nchw, golden.data);
  nchw.dispose();
  return d;
}
const nhwcShape = (s: number[]) => [s[0], s[2], s[3], s[1]];
/** The module classes of a network built as one nn.Sequential (both architectures here are). */
const moduleTypes = (net: Network) => (net as unknown as SequentialNetwork).modules.map((m) => m.type);

const generators = [
  { file: 'resnet_generator_tiny_antialias.json', noAntialias: false },
  { file: 'resnet_generator_tiny_no_antialias.json', noAntialias: true },
];
const discriminators = [
  { file: 'nlayer_discriminator_antialias.json', noAntialias: false },
  { file: 'nlayer_discriminator_no_antialias.json', noAntialias: true },
];

describeBackends('resnet generator vs PyTorch', () => {
  for (const { file, noAntialias } of generators) {
    const g = loadFixture(`golden/${file}`);
    it(`${file}: output and encoder features within 1e-4`, async () => {
      const net = defineGenerator({ architecture: 'resnet', ngf: 8, nBlocks: 2, noAntialias, noAntialiasUp: noAntialias });
      expect(net.layers.map((l) => l.type)).toEqual(g.module_list.map((m: { class: string }) => m.class));
      expect(moduleTypes(net)).toEqual(g.module_list.map((m: { class: string }) => m.class));
      net.loadStateDict(stateDict(g.weights), file);
      const x = goldenNHWC(g.input);
      const before = tf.memory().numTensors;
      const y = net.forward(x);
      expect(await diffNCHW(y, g.output)).toBeLessThan(1e-4);
      const feats = net.encode(x, g.nce_layers);
      for (const [i, f] of g.encode_only_features.entries()) {
        expect(f.layer).toBe(g.nce_layers[i]);
        expect(await diffNCHW(feats[i]!, f), `layer ${f.layer}`).toBeLessThan(1e-4);
      }
      tf.dispose([y, ...feats]);
      expect(tf.memory().numTensors).toBe(before);
      const xs = goldenNHWC(g.extra_nonsquare.input);
      const ys = net.forward(xs);
      expect(await diffNCHW(ys, g.extra_nonsquare.output)).toBeLessThan(1e-4);
      tf.dispose([x, xs, ys]);
      net.dispose();
    });
  }
});

describeBackends('n_layers discriminator vs PyTorch', () => {
  for (const { file, noAntialias } of discriminators) {
    const d = loadFixture(`golden/${file}`);
    it(`${file}: logits within 1e-4`, async () => {
      const net = defineDiscriminator({ architecture: 'n_layers', ndf: 8, nLayers: 3, noAntialias });
      expect(moduleTypes(net)).toEqual(d.module_list.map((m: { class: string }) => m.class));
      net.loadStateDict(stateDict(d.weights), file);
      const x = goldenNHWC(d.input);
      const y = net.forward(x);
      expect(await diffNCHW(y, d.output)).toBeLessThan(1e-4);
      tf.dispose([x, y]);
      net.dispose();
    });
  }
});

describe('networks: structure and state_dict', () => {
  it('the default 9-block generator has the reference parameter count and nce layers', () => {
    const g = defineGenerator('resnet_9blocks');
    expect(g.parameterCount()).toBe(11378179);
    expect([0, 4, 8, 12, 16].map((i) => g.layers[i]!.name)).toEqual(['pad_in', 'down1.conv', 'down2.conv', 'block1', 'block5']);
    expect(g.layerIndex('block5')).toBe(16);
    expect(() => g.layerIndex('nope')).toThrow(/no layer 'nope'/);
    g.dispose();
    const d = defineDiscriminator('basic');
    expect(d.parameterCount()).toBe(2764737);
    d.dispose();
  });

  it('state_dict keys and order are the reference keys, and a mismatch names the key and file', async () => {
    const file = 'resnet_generator_tiny_antialias.json';
    const golden = loadFixture(`golden/${file}`);
    const net = defineGenerator({ architecture: 'resnet', ngf: 8, nBlocks: 2 });
    const sd = await net.stateDict();
    expect([...sd.keys()]).toEqual(golden.weights.map((w: GoldenWeight) => w.name));
    const bad = stateDict(golden.weights);
    bad.set('model.4.weight', { shape: [16, 8, 3, 4], data: new Float32Array(16 * 8 * 12) });
    expect(() => net.loadStateDict(bad, 'ckpt.pth')).toThrow(/ckpt.pth: 'model.4.weight' has shape \[16,8,3,4\]/);
    const prefixed = new Map([...stateDict(golden.weights)].map(([k, v]) => [`module.${k}`, v]));
    net.loadStateDict(prefixed, 'cpu.pth');
    const missing = stateDict(golden.weights);
    missing.delete('model.1.bias');
    expect(() => net.loadStateDict(missing, 'm.pth')).toThrow(/m.pth: missing key 'model.1.bias'/);
    net.dispose();
  });
});
