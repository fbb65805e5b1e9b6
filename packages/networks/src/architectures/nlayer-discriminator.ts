// The reference's `NLayerDiscriminator` (netD `basic` = 3 layers, `n_layers` = `--n_layers_D`):
// one file, one line in registry.ts.
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type InitOptions } from '@cut/core-tensors';
import {
  DEFAULT_INIT,
  type BuildOptions,
  type DefineDiscriminatorArgs,
  type Discriminator,
  type DiscriminatorArchitecture,
  type NormType,
  type SideSizing,
} from '../contract.js';
import { NORM_TYPES, ParamBuilder, conv2d, convBias, downsample, leakyRelu, normLayer, type Module } from '../modules.js';
import { SequentialNetwork } from '../network.js';
import { blurDown, conv, sideSizing, type Step } from '../sizing.js';

export interface NLayerDiscriminatorConfig {
  readonly architecture: 'n_layers';
  /** Input channels (reference `--output_nc` for netD, default 3). */
  readonly inputNc: number;
  /** Filters in the first conv layer (reference `--ndf`, default 64). */
  readonly ndf: number;
  /** Conv layers (reference `--n_layers_D`; `basic` = 3). */
  readonly nLayers: number;
  /** Normalisation (reference `--normD`): instance, batch or none (batch and none drop the convs' biases, as the reference does). */
  readonly norm: NormType;
  /** Strided convolutions instead of blur downsampling (reference `--no_antialias`). */
  readonly noAntialias: boolean;
  readonly init: InitOptions;
}

const CLASS = 'NLayerDiscriminator';

/**
 * The reference's `NLayerDiscriminator` (PatchGAN, netD `basic` / `n_layers`) with instance
 * norm: 4x4 convolutions, LeakyReLU 0.2, blur downsampling (or stride 2 with `noAntialias`),
 * raw logits, one per patch. NHWC: `[B, H, W, C]` in, `[B, h, w, 1]` out.
 */
export class NLayerDiscriminator extends SequentialNetwork implements Discriminator {
  readonly role = 'discriminator';
  readonly architecture = 'n_layers';
  readonly className = CLASS;
  readonly config: NLayerDiscriminatorConfig;
  readonly sizing: SideSizing;

  constructor(config: NLayerDiscriminatorConfig, build: BuildOptions = {}) {
    const o = configure(config);
    const p = new ParamBuilder(o.init, build.rng ?? new SeededRng(build.seed ?? 0), build.skipInit ?? false);
    const m: Module[] = [];
    const at = () => `model.${m.length}`;
    const { ndf } = o;
    const width = (n: number) => ndf * Math.min(2 ** n, 8);
    const bias = convBias(o.norm);
    const norm = (name: string, channels: number) => normLayer(p, at(), name, o.norm, channels);

    if (o.noAntialias) {
      m.push(conv2d(p, at(), 'conv1', o.inputNc, ndf, 4, 2, 1), leakyRelu('lrelu1'));
    } else {
      m.push(conv2d(p, at(), 'conv1', o.inputNc, ndf, 4, 1, 1), leakyRelu('lrelu1'));
      m.push(downsample(p, at(), 'blur1', ndf));
    }
    for (let n = 1; n < o.nLayers; n++) {
      const s = n + 1;
      m.push(conv2d(p, at(), `conv${s}`, width(n - 1), width(n), 4, o.noAntialias ? 2 : 1, 1, bias));
      m.push(norm(`norm${s}`, width(n)));
      m.push(leakyRelu(`lrelu${s}`));
      if (!o.noAntialias) m.push(downsample(p, at(), `blur${s}`, width(n)));
    }
    const s = o.nLayers + 1;
    m.push(conv2d(p, at(), `conv${s}`, width(o.nLayers - 1), width(o.nLayers), 4, 1, 1, bias));
    m.push(norm(`norm${s}`, width(o.nLayers)));
    m.push(leakyRelu(`lrelu${s}`));
    m.push(conv2d(p, at(), 'conv_out', width(o.nLayers), 1, 4, 1, 1));

    super({ modules: m, params: p });
    this.config = o;
    this.sizing = sizing(o);
  }

  get inputChannels(): number {
    return this.config.inputNc;
  }

  readonly outputChannels = 1;

  referenceOptions(): Map<string, string> {
    const c = this.config;
    return new Map([
      ['netD', c.nLayers === 3 ? 'basic' : 'n_layers'],
      ['n_layers_D', String(c.nLayers)],
      ['output_nc', String(c.inputNc)],
      ['ndf', String(c.ndf)],
      ['normD', c.norm],
      ['no_antialias', c.noAntialias ? 'True' : 'False'],
    ]);
  }

  /** Patch logits (no sigmoid), NHWC `[B, h, w, 1]`. Training mode matters to batch norm only (batch statistics, running ones updated). */
  forward(x: tf.Tensor4D, training = true): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.config.inputNc) {
      throw new Error(`${CLASS}: expected an NHWC input with ${this.config.inputNc} channels, got shape [${x.shape}]`);
    }
    return tf.tidy(() => this.modules.reduce((h, mod) => mod.apply(h, training), x));
  }
}

/** The full config: the reference's defaults under `partial`, checked. */
function configure(partial: Partial<NLayerDiscriminatorConfig>): NLayerDiscriminatorConfig {
  const o: NLayerDiscriminatorConfig = {
    architecture: 'n_layers',
    inputNc: partial.inputNc ?? 3,
    ndf: partial.ndf ?? 64,
    nLayers: partial.nLayers ?? 3,
    norm: partial.norm ?? 'instance',
    noAntialias: partial.noAntialias ?? false,
    init: partial.init ?? DEFAULT_INIT,
  };
  for (const key of ['inputNc', 'ndf', 'nLayers'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`${CLASS}: ${key} must be a positive integer, got ${o[key]}`);
  }
  if (!NORM_TYPES.includes(o.norm)) throw new Error(`${CLASS}: norm '${o.norm}' is not one of ${NORM_TYPES.join(', ')}`);
  return o;
}

/** The side of the output map (at least 1 pixel) through every layer. */
function sizing(c: NLayerDiscriminatorConfig): SideSizing {
  const steps: Step[] = [];
  for (let n = 1; n <= c.nLayers; n++) {
    if (c.noAntialias) steps.push((s) => conv(s, 4, 2, 1, `layer ${n}`));
    else
      steps.push(
        (s) => conv(s, 4, 1, 1, `layer ${n}`),
        (s) => blurDown(s, `layer ${n}`),
      );
  }
  steps.push(
    (s) => conv(s, 4, 1, 1, `layer ${c.nLayers + 1}`),
    (s) => conv(s, 4, 1, 1, 'its output layer'),
  );
  return sideSizing(1, steps);
}

export const nLayerDiscriminator: DiscriminatorArchitecture<NLayerDiscriminatorConfig> = {
  role: 'discriminator',
  architecture: 'n_layers',
  className: CLASS,
  names: ['basic', 'n_layers'],
  accepts: (netD) => netD === 'basic' || netD === 'n_layers',
  fromDefine: (a: DefineDiscriminatorArgs) =>
    configure({
      inputNc: a.inputNc,
      ndf: a.ndf,
      nLayers: a.netD === 'basic' ? 3 : a.nLayersD,
      norm: a.norm,
      noAntialias: a.noAntialias,
      init: a.init,
    }),
  configure,
  sizing,
  create: (config, build) => new NLayerDiscriminator(config, build),
};
