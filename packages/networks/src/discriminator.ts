import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type InitOptions } from '@cut/core-tensors';
import { ParamBuilder, conv2d, convBias, downsample, leakyRelu, normLayer, type Module, type NormType } from './modules.js';
import { SequentialNetwork } from './network.js';

export interface NLayerDiscriminatorOptions {
  /** Input channels (reference `--output_nc` for netD, default 3). */
  inputNc?: number;
  /** Filters in the first conv layer (reference `--ndf`, default 64). */
  ndf?: number;
  /** Conv layers (reference `--n_layers_D`; `basic` = 3). */
  nLayers?: number;
  /** Strided convolutions instead of blur downsampling (reference `--no_antialias`). */
  noAntialias?: boolean;
  /** Normalisation layers (reference `--normD`, default instance; batch and none drop the convs' biases as it does). */
  norm?: NormType;
  init?: InitOptions;
  rng?: SeededRng;
  seed?: number;
  /** Zero weights instead of random draws, for a network whose weights are loaded next (saves the draws' time). */
  skipInit?: boolean;
}

/**
 * The reference's `NLayerDiscriminator` (PatchGAN, netD `basic` / `n_layers`) with instance
 * norm: 4x4 convolutions, LeakyReLU 0.2, blur downsampling (or stride 2 with `noAntialias`),
 * raw logits, one per patch. NHWC: `[B, H, W, C]` in, `[B, h, w, 1]` out.
 */
export class NLayerDiscriminator extends SequentialNetwork {
  readonly options: Required<Omit<NLayerDiscriminatorOptions, 'rng' | 'seed' | 'skipInit'>>;

  constructor(options: NLayerDiscriminatorOptions = {}) {
    const o = {
      inputNc: options.inputNc ?? 3,
      ndf: options.ndf ?? 64,
      nLayers: options.nLayers ?? 3,
      noAntialias: options.noAntialias ?? false,
      norm: options.norm ?? ('instance' as NormType),
      init: options.init ?? { type: 'xavier' as const, gain: 0.02 },
    };
    for (const key of ['inputNc', 'ndf', 'nLayers'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`NLayerDiscriminator: ${key} must be a positive integer, got ${o[key]}`);
    }
    const p = new ParamBuilder(o.init, options.rng ?? new SeededRng(options.seed ?? 0), options.skipInit ?? false);
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
    this.options = o;
  }

  /** Patch logits (no sigmoid), NHWC `[B, h, w, 1]`. Training mode by default (batch norm: batch statistics, running ones updated). */
  forward(x: tf.Tensor4D, training = true): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.options.inputNc) {
      throw new Error(`NLayerDiscriminator: expected an NHWC input with ${this.options.inputNc} channels, got shape [${x.shape}]`);
    }
    return tf.tidy(() => this.modules.reduce((h, mod) => mod.apply(h, training), x));
  }
}
