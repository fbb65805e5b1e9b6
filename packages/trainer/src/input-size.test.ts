// The size pre-check against the real networks: the smallest side it computes runs, 4 pixels
// less fails (an error, or an empty output map), for generators and PatchGANs of every kind.
import * as tf from '@tensorflow/tfjs-core';
import { NLayerDiscriminator, ResnetGenerator } from '@cut/networks';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { cropSizeProblem, discriminatorSide, generatorSide, minimumSide } from './input-size.js';
import { validateOptions } from './options.js';

/** Whether a forward pass on a side x side input gives a non-empty output. */
function runs(net: { forward(x: tf.Tensor4D): tf.Tensor4D }, side: number): boolean {
  try {
    return tf.tidy(() => net.forward(tf.zeros([1, side, side, 1]) as tf.Tensor4D).shape.slice(1, 3).every((d) => d > 0));
  } catch {
    return false;
  }
}

/** The smallest multiple of 4 a walk accepts. */
function smallest(walk: (s: number) => { size: number } | { fails: string }): number {
  for (let s = 4; ; s += 4) if ('size' in walk(s)) return s;
}

describeBackends(
  'input size pre-check',
  () => {
    for (const noAntialias of [false, true]) {
      for (const blocks of [0, 1]) {
        it(`generator resnet_${blocks}blocks${noAntialias ? ', no_antialias' : ''}: the computed smallest side runs, 4 less fails`, () => {
          const o = { netG: `resnet_${blocks}blocks` as const, netD: 'basic' as const, n_layers_D: 3, no_antialias: noAntialias };
          const G = new ResnetGenerator({ inputNc: 1, outputNc: 1, ngf: 1, nBlocks: blocks, noAntialias, seed: 1 });
          const m = smallest((s) => generatorSide(s, o));
          expect(runs(G, m)).toBe(true);
          if (m > 4) expect(runs(G, m - 4)).toBe(false);
          G.dispose();
        });
      }
      for (const [netD, layers] of [['basic', 3], ['n_layers', 1], ['n_layers', 2], ['n_layers', 4]] as const) {
        it(`discriminator ${netD} ${layers}${noAntialias ? ', no_antialias' : ''}: the computed smallest side runs, 4 less fails`, () => {
          const o = { netG: 'resnet_9blocks' as const, netD, n_layers_D: layers, no_antialias: noAntialias };
          const D = new NLayerDiscriminator({ inputNc: 1, ndf: 1, nLayers: layers, noAntialias, seed: 1 });
          const m = smallest((s) => discriminatorSide(s, o));
          expect(runs(D, m)).toBe(true);
          expect(runs(D, m - 4)).toBe(false);
          D.dispose();
        });
      }
    }
  },
  { backends: ['cpu'] },
);

it('names the flags to change for a crop that is too small', () => {
  expect(minimumSide(validateOptions({}))).toBe(24);
  expect(cropSizeProblem(validateOptions({ load_size: 16, crop_size: 16 }))).toBe(
    "--crop_size 16 is too small for these networks: the discriminator (--netD basic): its output layer (4x4) gets 1 pixel and leaves none. They need at least 24 pixels a side: raise --crop_size (and --load_size)",
  );
  expect(cropSizeProblem(validateOptions({ netD: 'n_layers', n_layers_D: 9 }))).toMatch(
    /^--crop_size 256 is too small for these networks: the discriminator \(--netD n_layers --n_layers_D 9\): .*They need at least \d+ pixels a side: raise --crop_size \(and --load_size\), or lower --n_layers_D$/,
  );
  expect(cropSizeProblem(validateOptions({ load_size: 24, crop_size: 24 }))).toBeNull();
  expect(cropSizeProblem(validateOptions({ preprocess: 'none', crop_size: 16 }))).toBeNull(); // checked per image instead
});
