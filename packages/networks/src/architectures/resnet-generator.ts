// The reference's `ResnetGenerator` (netG `resnet_9blocks`, `resnet_6blocks`, `resnet_4blocks`;
// `resnet_<n>blocks` for other block counts up to 32): one file, one line in registry.ts.
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type InitOptions } from '@cut/core-tensors';
import {
  DEFAULT_INIT,
  type BuildOptions,
  type DefineGeneratorArgs,
  type Generator,
  type GeneratorArchitecture,
  type GeneratorSizing,
  type LayerInfo,
  type LayerRef,
  type NormType,
} from '../contract.js';
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
  NORM_TYPES,
  type Module,
} from '../modules.js';
import { SequentialGenerator, type GeneratorPass } from '../network.js';
import { blurDown, conv, reflectPad, sideSizing, type Step } from '../sizing.js';

export interface ResnetGeneratorConfig {
  readonly architecture: 'resnet';
  /** Input channels (reference `--input_nc`, default 3). */
  readonly inputNc: number;
  /** Output channels (reference `--output_nc`, default 3). */
  readonly outputNc: number;
  /** Filters in the first conv layer (reference `--ngf`, default 64). */
  readonly ngf: number;
  /** Residual blocks: 9 for `resnet_9blocks` (default), 6 for `resnet_6blocks`, 4 for `resnet_4blocks`. */
  readonly nBlocks: number;
  /** Normalisation (reference `--normG`): instance, batch or none (batch and none drop the convs' biases, as the reference does). */
  readonly norm: NormType;
  /** Strided convolutions instead of blur downsampling (reference `--no_antialias`). */
  readonly noAntialias: boolean;
  /** Transposed convolutions instead of blur upsampling (reference `--no_antialias_up`). */
  readonly noAntialiasUp: boolean;
  /** Dropout 0.5 in the residual blocks (reference: `not --no_dropout`; CUT default false). */
  readonly useDropout: boolean;
  /** Weight initialisation (reference `--init_type xavier --init_gain 0.02`). */
  readonly init: InitOptions;
}

/** `resnet_<n>blocks` accepts at most this many blocks (the reference itself only 9, 6 and 4). */
export const MAX_RESNET_BLOCKS = 32;

const CLASS = 'ResnetGenerator';

/**
 * The reference's `ResnetGenerator`: reflect-padded 7x7 stem, two down stages, residual
 * blocks, two up stages, reflect-padded 7x7 head, tanh. NHWC in and out.
 */
export class ResnetGenerator extends SequentialGenerator implements Generator {
  readonly role = 'generator';
  readonly architecture = 'resnet';
  readonly className = CLASS;
  readonly config: ResnetGeneratorConfig;
  readonly sizing: GeneratorSizing;
  readonly layers: readonly LayerInfo[];

  constructor(config: ResnetGeneratorConfig, build: BuildOptions = {}) {
    const o = configure(config);
    const p = new ParamBuilder(o.init, build.rng ?? new SeededRng(build.seed ?? 0), build.skipInit ?? false);
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
    this.config = o;
    this.sizing = sizing(o);
    this.layers = m.map((mod, index) => ({ index, name: mod.name, type: mod.type }));
  }

  /** Tiles work on the module chain: every instance norm's statistics are gathered over the whole image. */
  get tiledModules(): readonly Module[] | undefined {
    return this.sizing.tiled ? this.modules : undefined;
  }

  referenceOptions(): Map<string, string> {
    const c = this.config;
    const py = (b: boolean) => (b ? 'True' : 'False');
    return new Map([
      ['netG', `resnet_${c.nBlocks}blocks`],
      ['input_nc', String(c.inputNc)],
      ['output_nc', String(c.outputNc)],
      ['ngf', String(c.ngf)],
      ['normG', c.norm],
      ['no_dropout', py(!c.useDropout)],
      ['no_antialias', py(c.noAntialias)],
      ['no_antialias_up', py(c.noAntialiasUp)],
    ]);
  }

  featuresMatchEncode(layers: readonly LayerRef[]): boolean {
    if (layers.length === 0) return true;
    // An in-place ReLU right after the last requested layer (or after the Identity norms that
    // pass it on) overwrites it in a full forward.
    let i = Math.max(...layers.map((l) => this.layerIndex(l))) + 1;
    while (this.modules[i]?.type === 'Identity') i++;
    return !this.modules[i]?.inplace;
  }

  /** Index in `G.model` of a layer given by index or name. */
  layerIndex(ref: LayerRef): number {
    const index = typeof ref === 'number' ? ref : this.modules.findIndex((mod) => mod.name === ref);
    if (!Number.isInteger(index) || index < 0 || index >= this.modules.length) {
      const names = this.modules.map((mod, i) => `${i}:${mod.name}`).join(' ');
      throw new Error(`${CLASS}: no layer '${ref}' (layers: ${names})`);
    }
    return index;
  }

  /**
   * The modules in order, keeping the listed layers' outputs. As in the reference, a layer followed
   * by an in-place ReLU that also runs returns the ReLU'd values (e.g. layer 8 of the no_antialias
   * layout): in `encode` only when the ReLU runs before the last wanted layer.
   */
  protected pass(x: tf.Tensor4D, layers: readonly LayerRef[], encodeOnly: boolean, training: boolean): GeneratorPass {
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

/** The full config: the reference's defaults under `partial`, checked. */
function configure(partial: Partial<ResnetGeneratorConfig>): ResnetGeneratorConfig {
  const o: ResnetGeneratorConfig = {
    architecture: 'resnet',
    inputNc: partial.inputNc ?? 3,
    outputNc: partial.outputNc ?? 3,
    ngf: partial.ngf ?? 64,
    nBlocks: partial.nBlocks ?? 9,
    norm: partial.norm ?? 'instance',
    noAntialias: partial.noAntialias ?? false,
    noAntialiasUp: partial.noAntialiasUp ?? false,
    useDropout: partial.useDropout ?? false,
    init: partial.init ?? DEFAULT_INIT,
  };
  for (const key of ['inputNc', 'outputNc', 'ngf'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`${CLASS}: ${key} must be a positive integer, got ${o[key]}`);
  }
  if (!Number.isInteger(o.nBlocks) || o.nBlocks < 0 || o.nBlocks > MAX_RESNET_BLOCKS) {
    throw new Error(`${CLASS}: nBlocks must be an integer from 0 to ${MAX_RESNET_BLOCKS}, got ${o.nBlocks}`);
  }
  if (!NORM_TYPES.includes(o.norm)) throw new Error(`${CLASS}: norm '${o.norm}' is not one of ${NORM_TYPES.join(', ')}`);
  return o;
}

/** The encoder's effect on a side (the decoder only doubles it back). */
function sizing(c: ResnetGeneratorConfig): GeneratorSizing {
  const steps: Step[] = [(s) => reflectPad(s, 3, 'its first layer'), (s) => conv(s, 7, 1, 0, 'its first convolution')];
  for (let d = 1; d <= 2; d++) {
    if (c.noAntialias) steps.push((s) => conv(s, 3, 2, 1, `downsampling ${d}`));
    else
      steps.push(
        (s) => conv(s, 3, 1, 1, `downsampling ${d}`),
        (s) => blurDown(s, `downsampling ${d}`),
      );
  }
  if (c.nBlocks > 0) steps.push((s) => reflectPad(s, 1, 'its residual blocks'));
  // Reach in input pixels: each module's reach times its stage's stride. Stem and head 7x7: 3 each;
  // downsampling conv (+ blur) at strides 1 and 2; two 3x3 convs per block at stride 4;
  // upsampling: transposed conv at strides 4 and 2, or blur (stride 4, 2) + conv (stride 2, 1).
  const reach = 3 + (c.noAntialias ? 1 + 2 : 2 + 4) + c.nBlocks * 8 + (c.noAntialiasUp ? 4 + 2 : 4 + 2 + 2 + 1) + 3;
  // Batch norm is tiled in eval mode only (running statistics); simpler to translate it whole.
  return { ...sideSizing(4, steps), reach, tiled: c.norm !== 'batch' };
}

/** `resnet_<n>blocks` -> n, or null for another name. */
function blocksOf(netG: string): number | null {
  const m = /^resnet_(\d+)blocks$/.exec(netG);
  return m ? Number(m[1]) : null;
}

export const resnetGenerator: GeneratorArchitecture<ResnetGeneratorConfig> = {
  role: 'generator',
  architecture: 'resnet',
  className: CLASS,
  names: ['resnet_9blocks', 'resnet_6blocks', 'resnet_4blocks', `resnet_<n>blocks (n <= ${MAX_RESNET_BLOCKS})`],
  accepts(netG) {
    const n = blocksOf(netG);
    if (n === null) return false;
    return (
      n <= MAX_RESNET_BLOCKS ||
      `'${netG}' has more than ${MAX_RESNET_BLOCKS} residual blocks (the reference offers resnet_9blocks, resnet_6blocks and resnet_4blocks)`
    );
  },
  fromDefine: (a: DefineGeneratorArgs) =>
    configure({
      inputNc: a.inputNc,
      outputNc: a.outputNc,
      ngf: a.ngf,
      nBlocks: blocksOf(a.netG) ?? 9,
      norm: a.norm,
      useDropout: a.useDropout,
      noAntialias: a.noAntialias,
      noAntialiasUp: a.noAntialiasUp,
      init: a.init,
    }),
  configure,
  sizing,
  create: (config, build) => new ResnetGenerator(config, build),
};
