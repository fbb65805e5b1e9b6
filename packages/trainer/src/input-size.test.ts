// The size pre-check: the smallest side it computes from the options runs through the networks
// the options build (the registry's), 4 pixels less fails in one of them.
import * as tf from '@tensorflow/tfjs-core';
import { defineDiscriminator, defineGenerator, networkConfigs } from '@cut/networks';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { cropSizeProblem, minimumSide, sideProblem } from './input-size.js';
import { validateOptions } from './options.js';

/** Whether a forward pass on a side x side input gives a non-empty output. */
function runs(net: { forward(x: tf.Tensor4D): tf.Tensor4D }, side: number, channels: number): boolean {
  try {
    return tf.tidy(() =>
      net
        .forward(tf.zeros([1, side, side, channels]) as tf.Tensor4D)
        .shape.slice(1, 3)
        .every((d) => d > 0),
    );
  } catch {
    return false;
  }
}

describeBackends(
  'input size pre-check',
  () => {
    for (const no_antialias of [false, true]) {
      for (const [netG, netD, n_layers_D] of [
        ['resnet_0blocks', 'n_layers', 1],
        ['resnet_1blocks', 'basic', 3],
        ['resnet_1blocks', 'n_layers', 4],
      ] as const) {
        it(`${netG}, ${netD} ${n_layers_D}${no_antialias ? ', no_antialias' : ''}: the computed smallest side runs, 4 less fails`, () => {
          const o = validateOptions({ netG, netD, n_layers_D, no_antialias, ngf: 1, ndf: 1, input_nc: 1, output_nc: 1 });
          const nets = networkConfigs(o);
          const G = defineGenerator(nets.generator, { seed: 1 });
          const D = defineDiscriminator(nets.discriminator, { seed: 1 });
          const m = minimumSide(o);
          expect(sideProblem(m, o)).toBeNull();
          expect(runs(G, m, 1) && runs(D, m, 1)).toBe(true);
          expect(sideProblem(m - 4, o)).not.toBeNull();
          expect(runs(G, m - 4, 1) && runs(D, m - 4, 1)).toBe(false);
          G.dispose();
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
    '--crop_size 16 is too small for these networks: the discriminator (--netD basic): its output layer (4x4) gets 1 pixel and leaves none. They need at least 24 pixels a side: raise --crop_size (and --load_size)',
  );
  expect(cropSizeProblem(validateOptions({ netD: 'n_layers', n_layers_D: 9 }))).toMatch(
    /^--crop_size 256 is too small for these networks: the discriminator \(--netD n_layers --n_layers_D 9\): .*They need at least \d+ pixels a side: raise --crop_size \(and --load_size\), or lower --n_layers_D$/,
  );
  expect(cropSizeProblem(validateOptions({ load_size: 24, crop_size: 24 }))).toBeNull();
  expect(cropSizeProblem(validateOptions({ preprocess: 'none', crop_size: 16 }))).toBeNull(); // checked per image instead
});
