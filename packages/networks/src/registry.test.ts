// The registry: networks by the reference's names, one typed config per architecture, the one
// mapping of the reference's options to those configs, and the contract's side facts checked
// against real forwards.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import {
  GENERATOR_OPTION_NAMES,
  NETWORK_OPTION_NAMES,
  NETWORK_OPTION_SPECS,
  defaultNetworkOptions,
  defineDiscriminator,
  defineGenerator,
  discriminatorSizing,
  generatorConfig,
  generatorNameProblem,
  generatorSizing,
  minimumImageSide,
  networkConfigs,
  networkOptionsFrom,
  paddedSize,
  type Generator,
  type Module,
} from './index.js';

describeBackends(
  'registry: networks by name',
  () => {
    it('netG resnet_9blocks / 6 / 4 and resnet_<n>blocks up to 32; larger n and unknown names are refused naming --netG', () => {
      for (const [name, blocks] of [
        ['resnet_9blocks', 9],
        ['resnet_6blocks', 6],
        ['resnet_4blocks', 4],
        ['resnet_2blocks', 2],
        ['resnet_32blocks', 32],
      ] as const) {
        const g = defineGenerator(name, { skipInit: true });
        expect(g.config).toMatchObject({ architecture: 'resnet', nBlocks: blocks, ngf: 64, inputNc: 3, outputNc: 3 });
        expect(g.referenceOptions().get('netG')).toBe(name);
        g.dispose();
      }
      expect(() => defineGenerator('resnet_33blocks')).toThrow(
        "--netG resnet_33blocks: 'resnet_33blocks' has more than 32 residual blocks (the reference offers resnet_9blocks, resnet_6blocks and resnet_4blocks)",
      );
      expect(() => defineGenerator('resnet_1000000blocks')).toThrow(/^--netG resnet_1000000blocks: .* more than 32 residual blocks/);
      expect(() => defineGenerator('unet_999')).toThrow(
        "--netG: 'unet_999' is not a generator here (resnet_9blocks, resnet_6blocks, resnet_4blocks, resnet_<n>blocks (n <= 32), unet_128, unet_256, resnet_cat)",
      );
      expect(generatorNameProblem('resnet_6blocks')).toBeNull();
      expect(generatorNameProblem('resnet_40blocks')).toMatch(/more than 32 residual blocks/);
      expect(() => defineDiscriminator('patch')).toThrow("--netD: 'patch' is not a discriminator here (basic, n_layers, pixel)");
      expect(defineDiscriminator('basic', { skipInit: true }).config).toMatchObject({ architecture: 'n_layers', nLayers: 3, ndf: 64 });
    });

    it('a typed config takes the reference defaults for what it leaves out, and checks what it gives', () => {
      expect(generatorConfig({ architecture: 'resnet', ngf: 8 })).toEqual({
        architecture: 'resnet',
        inputNc: 3,
        outputNc: 3,
        ngf: 8,
        nBlocks: 9,
        norm: 'instance',
        noAntialias: false,
        noAntialiasUp: false,
        useDropout: false,
        init: { type: 'xavier', gain: 0.02 },
      });
      expect(() => generatorConfig({ architecture: 'resnet', ngf: 0 })).toThrow('ResnetGenerator: ngf must be a positive integer, got 0');
      expect(() => generatorConfig({ architecture: 'resnet', nBlocks: 33 })).toThrow(
        'ResnetGenerator: nBlocks must be an integer from 0 to 32, got 33',
      );
      expect(() => defineGenerator({ architecture: 'nope' } as never)).toThrow("no generator architecture 'nope' (resnet, unet, resnet_cat)");
    });

    it("maps the reference's option names to the configs (define_G / define_D): D gets output_nc, netD basic is 3 layers", () => {
      const o = {
        ...defaultNetworkOptions(),
        netG: 'resnet_6blocks',
        ngf: 16,
        input_nc: 1,
        output_nc: 2,
        no_dropout: false,
        no_antialias: true,
        netD: 'n_layers',
        n_layers_D: 5,
        ndf: 8,
        init_type: 'normal',
        init_gain: 0.5,
        nce_layers: '0, 3',
      };
      const c = networkConfigs(o, 'test');
      expect(c.generator).toEqual({
        architecture: 'resnet',
        inputNc: 1,
        outputNc: 2,
        ngf: 16,
        nBlocks: 6,
        norm: 'instance',
        noAntialias: true,
        noAntialiasUp: false,
        useDropout: true,
        init: { type: 'normal', gain: 0.5 },
      });
      expect(c.discriminator).toEqual({
        architecture: 'n_layers',
        inputNc: 2,
        ndf: 8,
        nLayers: 5,
        norm: 'instance',
        noAntialias: true,
        init: { type: 'normal', gain: 0.5 },
      });
      expect(c.nceLayers).toEqual([0, 3]);
      expect(networkConfigs({ ...o, netD: 'basic' }).discriminator).toMatchObject({ nLayers: 3 });
      expect(() => networkConfigs({ ...o, netG: 'resnet_64blocks' }, 'train_opt.txt')).toThrow(
        /^train_opt\.txt: --netG resnet_64blocks: .*more than 32/,
      );
      expect(() => networkConfigs({ ...o, normG: 'group' }, 'x')).toThrow("x: normG 'group' is not supported (instance, batch, none)");
      expect(networkConfigs({ ...o, normG: 'batch', normD: 'none' }).generator).toMatchObject({ norm: 'batch' });
      expect(networkConfigs({ ...o, normG: 'batch', normD: 'none' }).discriminator).toMatchObject({ norm: 'none' });
      expect(networkConfigs({ ...o, netG: 'unet_128', normG: 'none' }).generator).toEqual({
        architecture: 'unet',
        inputNc: 1,
        outputNc: 2,
        ngf: 16,
        numDowns: 7,
        norm: 'none',
        useDropout: true,
        init: { type: 'normal', gain: 0.5 },
      });
      // define_G's resnet_cat branch ignores normG and dropout.
      expect(networkConfigs({ ...o, netG: 'resnet_cat', normG: 'batch' }).generator).toEqual({
        architecture: 'resnet_cat',
        inputNc: 1,
        outputNc: 2,
        ngf: 16,
        init: { type: 'normal', gain: 0.5 },
      });
      // train_opt.txt's strings give the same configs as the typed values.
      const strings = new Map(NETWORK_OPTION_NAMES.map((k) => [k, typeof o[k] === 'boolean' ? (o[k] ? 'True' : 'False') : String(o[k])]));
      expect(networkOptionsFrom(strings)).toEqual(c);
      expect(() => networkOptionsFrom(new Map([['ngf', 'x']]), 'opt.txt')).toThrow("opt.txt: ngf must be a non-negative integer, got 'x'");
    });

    it('a network names the options that rebuild it; the option table derives from the registry', () => {
      const g = defineGenerator({ architecture: 'resnet', ngf: 4, nBlocks: 3, noAntialiasUp: true, inputNc: 1 }, { skipInit: true });
      const again = networkOptionsFrom(g.referenceOptions()).generator;
      expect(again).toEqual(g.config);
      g.dispose();
      expect(NETWORK_OPTION_SPECS.netG.choices).toEqual(['resnet_9blocks', 'resnet_6blocks', 'resnet_4blocks', 'unet_128', 'unet_256', 'resnet_cat']);
      expect(NETWORK_OPTION_SPECS.netG.unsupported).toEqual(['stylegan2', 'smallstylegan2']);
      expect(NETWORK_OPTION_SPECS.normG.unsupported).toEqual([]);
      for (const spec of [
        { architecture: 'unet', numDowns: 7, norm: 'batch', ngf: 2 },
        { architecture: 'resnet_cat', ngf: 2, inputNc: 1 },
      ] as const) {
        const net = defineGenerator(spec, { skipInit: true });
        expect(networkOptionsFrom(net.referenceOptions()).generator).toEqual(net.config);
        net.dispose();
      }
      expect(NETWORK_OPTION_SPECS.netD.unsupported).toEqual(['patch', 'tilestylegan2', 'stylegan2']);
      expect(GENERATOR_OPTION_NAMES).toEqual([
        'input_nc',
        'output_nc',
        'ngf',
        'netG',
        'normG',
        'init_type',
        'init_gain',
        'no_dropout',
        'no_antialias',
        'no_antialias_up',
      ]);
    });

    it("translation pads to the generator's multiple and refuses images the padding cannot reach", () => {
      const s = generatorSizing('resnet_9blocks');
      expect(s).toMatchObject({ multiple: 4, minimumSide: 8, tiled: true });
      expect([5, 8, 9, 190, 250, 256].map((n) => paddedSize(n, s))).toEqual([8, 8, 12, 192, 252, 256]);
      expect(minimumImageSide(s)).toBe(5);
      expect(minimumImageSide({ multiple: 256, minimumSide: 256 })).toBe(129);
    });

    it("the generator's reach is its modules' reach (each times its stage's stride, residual branches included)", () => {
      const reachOf = (modules: readonly Module[], stride = 1): { reach: number; stride: number } => {
        let reach = 0;
        for (const m of modules) {
          if (m.residual) reach += reachOf(m.residual, stride).reach;
          reach += m.reach * stride;
          stride /= m.scale;
        }
        return { reach, stride };
      };
      for (const noAntialias of [false, true]) {
        for (const noAntialiasUp of [false, true]) {
          const G = defineGenerator({ architecture: 'resnet', ngf: 1, nBlocks: 3, noAntialias, noAntialiasUp }, { skipInit: true });
          expect(G.sizing.reach, `${noAntialias} ${noAntialiasUp}`).toBe(reachOf(G.tiledModules!).reach);
          G.dispose();
        }
      }
    });
  },
  { backends: ['cpu'] },
);

describeBackends(
  'sizing: unet and resnet_cat',
  () => {
    for (const netG of ['unet_128', 'resnet_cat'] as const) {
      it(`${netG}: sides are multiples of its multiple from the minimum up; the output has the input's size`, () => {
        const config =
          netG === 'unet_128'
            ? ({ architecture: 'unet', numDowns: 7, inputNc: 1, outputNc: 1, ngf: 1 } as const)
            : ({ architecture: 'resnet_cat', inputNc: 1, outputNc: 1, ngf: 1 } as const);
        const G = defineGenerator(config, { seed: 1 });
        const s = generatorSizing(config);
        expect(s).toMatchObject(
          netG === 'unet_128' ? { multiple: 128, minimumSide: 128, tiled: false } : { multiple: 4, minimumSide: 8, tiled: false },
        );
        expect(runs(G, s.minimumSide)).toBe(true);
        expect(runs(G, s.minimumSide - s.multiple)).toBe(false);
        const y = tf.tidy(() => G.forward(tf.zeros([1, s.minimumSide, 2 * s.minimumSide, 1])));
        expect(y.shape).toEqual([1, s.minimumSide, 2 * s.minimumSide, 1]);
        y.dispose();
        G.dispose();
      });
    }
  },
  { backends: ['cpu'] },
);

/** Whether a forward pass on a side x side input gives a non-empty output. */
function runs(net: { forward(x: tf.Tensor4D): tf.Tensor4D }, side: number): boolean {
  try {
    return tf.tidy(() =>
      net
        .forward(tf.zeros([1, side, side, 1]) as tf.Tensor4D)
        .shape.slice(1, 3)
        .every((d) => d > 0),
    );
  } catch {
    return false;
  }
}

describeBackends(
  'sizing: the side facts against real forwards',
  () => {
    for (const noAntialias of [false, true]) {
      for (const nBlocks of [0, 1]) {
        it(`resnet ${nBlocks} blocks${noAntialias ? ', no_antialias' : ''}: the minimum side runs, 4 less fails; the output has the input's size`, () => {
          const config = { architecture: 'resnet', inputNc: 1, outputNc: 1, ngf: 1, nBlocks, noAntialias } as const;
          const G: Generator = defineGenerator(config, { seed: 1 });
          const m = generatorSizing(config).minimumSide;
          expect(G.sizing.minimumSide).toBe(m);
          expect(runs(G, m)).toBe(true);
          if (m > 4) expect(runs(G, m - 4)).toBe(false);
          expect(G.sizing.sideProblem(m - 4)).not.toBeNull();
          G.dispose();
        });
      }
      for (const nLayers of [1, 3, 4]) {
        if (nLayers === 1) {
          for (const norm of ['batch', 'none'] as const) {
            it(`n_layers with norm ${norm}: the minimum side runs, 1 less fails`, () => {
              const config = { architecture: 'n_layers', inputNc: 1, ndf: 1, nLayers: 3, noAntialias, norm } as const;
              const D = defineDiscriminator(config, { seed: 1 });
              const m = discriminatorSizing(config).minimumSide;
              expect(runs(D, m)).toBe(true);
              expect(runs(D, m - 1)).toBe(false);
              D.dispose();
            });
          }
        }
        it(`n_layers ${nLayers}${noAntialias ? ', no_antialias' : ''}: the minimum side runs, 1 less fails`, () => {
          const config = { architecture: 'n_layers', inputNc: 1, ndf: 1, nLayers, noAntialias } as const;
          const D = defineDiscriminator(config, { seed: 1 });
          const m = discriminatorSizing(config).minimumSide;
          expect(runs(D, m)).toBe(true);
          expect(runs(D, m - 1)).toBe(false);
          D.dispose();
        });
      }
    }
  },
  { backends: ['cpu'] },
);
