import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type InitOptions } from '@cut/core-tensors';
import { ParamBuilder, conv2d, leakyRelu, norm, type Module } from '../modules.js';
import { SequentialNetwork } from '../network.js';

export interface PixelDiscriminatorOptions {
  /** Input channels (reference `--output_nc` for netD, default 3). */
  inputNc?: number;
  /** Filters of the first 1x1 conv (reference `--ndf`, default 64). */
  ndf?: number;
  init?: InitOptions;
  rng?: SeededRng;
  seed?: number;
  /** Zero weights instead of random draws, for a network whose weights are loaded next. */
  skipInit?: boolean;
}

/**
 * The reference's `PixelDiscriminator` (netD `pixel`, a 1x1 PatchGAN) with instance norm:
 * Conv1x1(C, ndf) → LeakyReLU 0.2 → Conv1x1(ndf, 2ndf) → IN → LeakyReLU 0.2 → Conv1x1(2ndf, 1),
 * every conv with a bias (the reference drops the biases only for batch norm). One raw logit per
 * pixel: NHWC `[B, H, W, C]` in, `[B, H, W, 1]` out. Its Sequential is called `net`, so the
 * state_dict keys are `net.0.weight`, `net.0.bias`, `net.2.*`, `net.5.*`.
 */
export class PixelDiscriminator extends SequentialNetwork {
  readonly options: Required<Omit<PixelDiscriminatorOptions, 'rng' | 'seed' | 'skipInit'>>;

  constructor(options: PixelDiscriminatorOptions = {}) {
    const o = {
      inputNc: options.inputNc ?? 3,
      ndf: options.ndf ?? 64,
      init: options.init ?? { type: 'xavier' as const, gain: 0.02 },
    };
    for (const key of ['inputNc', 'ndf'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`PixelDiscriminator: ${key} must be a positive integer, got ${o[key]}`);
    }
    const p = new ParamBuilder(o.init, options.rng ?? new SeededRng(options.seed ?? 0), options.skipInit ?? false);
    const m: Module[] = [];
    const at = () => `net.${m.length}`;
    m.push(conv2d(p, at(), 'conv1', o.inputNc, o.ndf, 1, 1, 0), leakyRelu('lrelu1'));
    m.push(conv2d(p, at(), 'conv2', o.ndf, 2 * o.ndf, 1, 1, 0), norm('norm2'), leakyRelu('lrelu2'));
    m.push(conv2d(p, at(), 'conv_out', 2 * o.ndf, 1, 1, 1, 0));
    super({ modules: m, params: p, container: 'net' });
    this.options = o;
  }

  /** Pixel logits (no sigmoid), NHWC `[B, H, W, 1]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.options.inputNc) {
      throw new Error(`PixelDiscriminator: expected an NHWC input with ${this.options.inputNc} channels, got shape [${x.shape}]`);
    }
    return tf.tidy(() => this.modules.reduce((h, mod) => mod.apply(h, true), x));
  }
}
