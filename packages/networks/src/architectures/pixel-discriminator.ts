// The reference's `PixelDiscriminator` (netD `pixel`): one file, one line in registry.ts.
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
import { NORM_TYPES, ParamBuilder, conv2d, convBias, leakyRelu, normLayer, type Module } from '../modules.js';
import { SequentialNetwork } from '../network.js';
import { sideSizing } from '../sizing.js';

export interface PixelDiscriminatorConfig {
  readonly architecture: 'pixel';
  /** Input channels (reference `--output_nc` for netD, default 3). */
  readonly inputNc: number;
  /** Filters of the first 1x1 conv (reference `--ndf`, default 64). */
  readonly ndf: number;
  /** Normalisation (reference `--normD`): instance, batch or none. */
  readonly norm: NormType;
  readonly init: InitOptions;
}

const CLASS = 'PixelDiscriminator';

/**
 * The reference's `PixelDiscriminator` (a 1x1 PatchGAN): Conv1x1(C, ndf) → LeakyReLU 0.2 →
 * Conv1x1(ndf, 2ndf) → norm → LeakyReLU 0.2 → Conv1x1(2ndf, 1). The last two convs have a bias
 * only with instance norm (the reference's `use_bias`; batch and none drop it, the output conv's
 * too). One raw logit per pixel: NHWC `[B, H, W, C]` in, `[B, H, W, 1]` out. Its Sequential is
 * called `net`, so the state_dict keys are `net.0.*`, `net.2.*`, (`net.3.*` for batch norm), `net.5.*`.
 */
export class PixelDiscriminator extends SequentialNetwork implements Discriminator {
  readonly role = 'discriminator';
  readonly architecture = 'pixel';
  readonly className = CLASS;
  readonly config: PixelDiscriminatorConfig;
  readonly sizing: SideSizing;
  readonly outputChannels = 1;

  constructor(config: PixelDiscriminatorConfig, build: BuildOptions = {}) {
    const o = configure(config);
    const p = new ParamBuilder(o.init, build.rng ?? new SeededRng(build.seed ?? 0), build.skipInit ?? false);
    const m: Module[] = [];
    const at = () => `net.${m.length}`;
    const bias = convBias(o.norm);
    m.push(conv2d(p, at(), 'conv1', o.inputNc, o.ndf, 1, 1, 0), leakyRelu('lrelu1'));
    m.push(conv2d(p, at(), 'conv2', o.ndf, 2 * o.ndf, 1, 1, 0, bias));
    m.push(normLayer(p, at(), 'norm2', o.norm, 2 * o.ndf), leakyRelu('lrelu2'));
    m.push(conv2d(p, at(), 'conv_out', 2 * o.ndf, 1, 1, 1, 0, bias));
    super({ modules: m, params: p, container: 'net' });
    this.config = o;
    this.sizing = sizing(o);
  }

  get inputChannels(): number {
    return this.config.inputNc;
  }

  referenceOptions(): Map<string, string> {
    const c = this.config;
    return new Map([
      ['netD', 'pixel'],
      ['output_nc', String(c.inputNc)],
      ['ndf', String(c.ndf)],
      ['normD', c.norm],
    ]);
  }

  /** Pixel logits (no sigmoid), NHWC `[B, H, W, 1]`. `training`: batch norm's batch statistics (else its running ones). */
  forward(x: tf.Tensor4D, training = true): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.config.inputNc) {
      throw new Error(`${CLASS}: expected an NHWC input with ${this.config.inputNc} channels, got shape [${x.shape}]`);
    }
    return tf.tidy(() => this.modules.reduce((h, mod) => mod.apply(h, training), x));
  }
}

/** The full config: the reference's defaults under `partial`, checked. */
function configure(partial: Partial<PixelDiscriminatorConfig>): PixelDiscriminatorConfig {
  const o: PixelDiscriminatorConfig = {
    architecture: 'pixel',
    inputNc: partial.inputNc ?? 3,
    ndf: partial.ndf ?? 64,
    norm: partial.norm ?? 'instance',
    init: partial.init ?? DEFAULT_INIT,
  };
  for (const key of ['inputNc', 'ndf'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`${CLASS}: ${key} must be a positive integer, got ${o[key]}`);
  }
  if (!NORM_TYPES.includes(o.norm)) throw new Error(`${CLASS}: norm '${o.norm}' is not one of ${NORM_TYPES.join(', ')}`);
  return o;
}

/** 1x1 convolutions take any side (instance norm needs more than one pixel in all: 2 is the least). */
function sizing(c: PixelDiscriminatorConfig): SideSizing {
  if (c.norm !== 'instance') return sideSizing(1, []);
  return sideSizing(1, [(s) => (s >= 2 ? { size: s } : { fails: 'its instance norm needs more than one pixel' })]);
}

export const pixelDiscriminator: DiscriminatorArchitecture<PixelDiscriminatorConfig> = {
  role: 'discriminator',
  architecture: 'pixel',
  className: CLASS,
  names: ['pixel'],
  accepts: (netD) => netD === 'pixel',
  fromDefine: (a: DefineDiscriminatorArgs) => configure({ inputNc: a.inputNc, ndf: a.ndf, norm: a.norm, init: a.init }),
  configure,
  sizing,
  create: (config, build) => new PixelDiscriminator(config, build),
};
