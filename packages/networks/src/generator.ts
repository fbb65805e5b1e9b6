import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type InitOptions } from '@cut/core-tensors';
import {
  ParamBuilder,
  conv2d,
  convBias,
  convTranspose2d,
  downsample,
  normLayer,
  reflectionPad,
  relu,
  resnetBlock,
  tanh,
  upsample,
  type Module,
  type NormType,
} from './modules.js';
import { SequentialNetwork } from './network.js';

export interface ResnetGeneratorOptions {
  /** Input channels (reference `--input_nc`, default 3). */
  inputNc?: number;
  /** Output channels (reference `--output_nc`, default 3). */
  outputNc?: number;
  /** Filters in the first conv layer (reference `--ngf`, default 64). */
  ngf?: number;
  /** Residual blocks: 9 for `resnet_9blocks` (default), 6 for `resnet_6blocks`. */
  nBlocks?: number;
  /** Strided convolutions instead of blur downsampling (reference `--no_antialias`). */
  noAntialias?: boolean;
  /** Transposed convolutions instead of blur upsampling (reference `--no_antialias_up`). */
  noAntialiasUp?: boolean;
  /** Dropout 0.5 in the residual blocks (reference: `not --no_dropout`; CUT default false). */
  useDropout?: boolean;
  /** Normalisation layers (reference `--normG`, default instance; batch and none drop the convs' biases as it does). */
  norm?: NormType;
  /** Weight initialisation (reference `--init_type xavier --init_gain 0.02`). */
  init?: InitOptions;
  /** Random source for initialisation; `seed` is used when absent. */
  rng?: SeededRng;
  seed?: number;
  /** Zero weights instead of random draws, for a network whose weights are loaded next (saves the draws' time). */
  skipInit?: boolean;
}

/** A layer by its index in the reference's `G.model` or by its name here (`down1.conv`, `block5`). */
export type LayerRef = number | string;

/**
 * The reference's `ResnetGenerator`: reflect-padded 7x7 stem, two down stages, residual
 * blocks, two up stages, reflect-padded 7x7 head, tanh. NHWC in and out.
 */
export class ResnetGenerator extends SequentialNetwork {
  readonly options: Required<Omit<ResnetGeneratorOptions, 'rng' | 'seed' | 'skipInit'>>;

  constructor(options: ResnetGeneratorOptions = {}) {
    const o = {
      inputNc: options.inputNc ?? 3,
      outputNc: options.outputNc ?? 3,
      ngf: options.ngf ?? 64,
      nBlocks: options.nBlocks ?? 9,
      noAntialias: options.noAntialias ?? false,
      noAntialiasUp: options.noAntialiasUp ?? false,
      useDropout: options.useDropout ?? false,
      norm: options.norm ?? ('instance' as NormType),
      init: options.init ?? { type: 'xavier' as const, gain: 0.02 },
    };
    for (const key of ['inputNc', 'outputNc', 'ngf'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`ResnetGenerator: ${key} must be a positive integer, got ${o[key]}`);
    }
    if (!Number.isInteger(o.nBlocks) || o.nBlocks < 0) throw new Error(`ResnetGenerator: nBlocks must be >= 0, got ${o.nBlocks}`);
    const p = new ParamBuilder(o.init, options.rng ?? new SeededRng(options.seed ?? 0), options.skipInit ?? false);
    const m: Module[] = [];
    const at = () => `model.${m.length}`;
    const { ngf } = o;
    const bias = convBias(o.norm);
    const norm = (name: string, channels: number) => normLayer(p, at(), name, o.norm, channels);

    m.push(reflectionPad('pad_in', 3));
    m.push(conv2d(p, at(), 'conv_in', o.inputNc, ngf, 7, 1, 'valid', bias));
    m.push(norm('norm_in', ngf));
    m.push(relu('relu_in'));
    for (let d = 0; d < 2; d++) {
      const cin = ngf * 2 ** d;
      const s = `down${d + 1}`;
      m.push(conv2d(p, at(), `${s}.conv`, cin, cin * 2, 3, o.noAntialias ? 2 : 1, 1, bias));
      m.push(norm(`${s}.norm`, cin * 2));
      m.push(relu(`${s}.relu`));
      if (!o.noAntialias) m.push(downsample(p, at(), `${s}.blur`, cin * 2));
    }
    for (let b = 0; b < o.nBlocks; b++) m.push(resnetBlock(p, at(), `block${b + 1}`, ngf * 4, o.useDropout, o.norm));
    for (let u = 0; u < 2; u++) {
      const cin = ngf * 2 ** (2 - u);
      const s = `up${u + 1}`;
      if (o.noAntialiasUp) {
        m.push(convTranspose2d(p, at(), `${s}.conv`, cin, cin / 2, bias));
      } else {
        m.push(upsample(p, at(), `${s}.blur`, cin));
        m.push(conv2d(p, at(), `${s}.conv`, cin, cin / 2, 3, 1, 1, bias));
      }
      m.push(norm(`${s}.norm`, cin / 2));
      m.push(relu(`${s}.relu`));
    }
    m.push(reflectionPad('pad_out', 3));
    m.push(conv2d(p, at(), 'conv_out', ngf, o.outputNc, 7, 1, 'valid'));
    m.push(tanh('tanh'));

    super({ modules: m, params: p });
    this.options = o;
  }

  /** Index in `G.model` of a layer given by index or name. */
  layerIndex(ref: LayerRef): number {
    const index = typeof ref === 'number' ? ref : this.modules.findIndex((mod) => mod.name === ref);
    if (!Number.isInteger(index) || index < 0 || index >= this.modules.length) {
      const names = this.modules.map((mod, i) => `${i}:${mod.name}`).join(' ');
      throw new Error(`ResnetGenerator: no layer '${ref}' (layers: ${names})`);
    }
    return index;
  }

  /** The translated image (NHWC, values in [-1, 1]). */
  forward(x: tf.Tensor4D, training = false): tf.Tensor4D {
    return this.run(x, [], false, training).output!;
  }

  /**
   * The reference's `G(x, nce_layers, encode_only=True)`: the outputs of the listed layers
   * (in the order listed), stopping after the last one. As in the reference, a layer followed
   * by an in-place ReLU that also runs returns the ReLU'd values (e.g. layer 8 of the
   * no_antialias layout).
   */
  encode(x: tf.Tensor4D, layers: readonly LayerRef[], training = false): tf.Tensor4D[] {
    return this.run(x, layers, true, training).features;
  }

  /** The full forward and the listed layers' features from the same pass (the in-place quirk as in a full forward). */
  forwardWithFeatures(x: tf.Tensor4D, layers: readonly LayerRef[], training = false): { output: tf.Tensor4D; features: tf.Tensor4D[] } {
    const r = this.run(x, layers, false, training);
    return { output: r.output!, features: r.features };
  }

  private run(x: tf.Tensor4D, layers: readonly LayerRef[], encodeOnly: boolean, training: boolean) {
    if (x.rank !== 4 || x.shape[3] !== this.options.inputNc) {
      throw new Error(`ResnetGenerator: expected an NHWC input with ${this.options.inputNc} channels, got shape [${x.shape}]`);
    }
    const wanted = layers.map((ref) => this.layerIndex(ref));
    const last = encodeOnly ? Math.max(...wanted) : this.modules.length - 1;
    return tf.tidy(() => {
      const kept = new Map<number, tf.Tensor4D>();
      let h = x;
      for (let i = 0; i <= last; i++) {
        const mod = this.modules[i]!;
        const prev = h;
        h = tf.tidy(() => mod.apply(prev, training));
        // An in-place ReLU overwrites the stored output it receives: the module before it's, or
        // an earlier one's passed on by an Identity (norm 'none' returns its very input).
        if (mod.inplace) for (const [k, t] of kept) if (t === prev) kept.set(k, h);
        if (wanted.includes(i)) kept.set(i, h);
        // Free each output once the next module has used it, so a large image holds two
        // activations at a time, not all of them (a gradient tape keeps its own copies).
        if (prev !== x && prev !== h && ![...kept.values()].includes(prev)) prev.dispose();
      }
      return { output: encodeOnly ? undefined : h, features: wanted.map((i) => kept.get(i)!) };
    });
  }
}
