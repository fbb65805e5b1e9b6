// The reference's `G_Resnet` (netG `resnet_cat`): one file, one line in registry.ts.
import * as tf from '@tensorflow/tfjs-core';
import { instanceNorm, pad2d, SeededRng, type InitOptions } from '@cut/core-tensors';
import {
  DEFAULT_INIT,
  type BuildOptions,
  type DefineGeneratorArgs,
  type Generator,
  type GeneratorArchitecture,
  type GeneratorSizing,
  type LayerInfo,
  type LayerRef,
} from '../contract.js';
import { ParamBuilder, conv2d, onnxChain, type Module } from '../modules.js';
import type { OnnxGraph } from '../onnx/graph.js';
import { SequentialGenerator, type GeneratorPass } from '../network.js';
import type { StateDictMetadata } from '../pth/index.js';
import { conv, reflectPad, sideSizing, type Step } from '../sizing.js';

export interface ResnetCatGeneratorConfig {
  readonly architecture: 'resnet_cat';
  /** Input channels (reference `--input_nc`, default 3). */
  readonly inputNc: number;
  /** Output channels (reference `--output_nc`, default 3). */
  readonly outputNc: number;
  /** Filters in the first conv layer (reference `--ngf`, default 64). */
  readonly ngf: number;
  /** Weight initialisation (reference `--init_type xavier --init_gain 0.02`). */
  readonly init: InitOptions;
}

const CLASS = 'G_Resnet';

/** define_G's `resnet_cat`: G_Resnet(num_downs=2, n_res=8 - 4). */
const DOWNS = 2;
const RES_BLOCKS = 4;
/** The encoder's modules (`enc_content.model`): the layers `encode` can return. */
const ENCODER_LAYERS = DOWNS + 2;

type BlockNorm = 'inst' | 'ln' | 'none';
type Activation = 'relu' | 'tanh' | 'none';

/** The reference's custom `LayerNorm`: per sample over C, H, W, `(x - mean) / (std + eps)` with the unbiased std, then per-channel gamma and beta. */
function layerNorm(p: ParamBuilder, prefix: string, channels: number): (x: tf.Tensor4D) => tf.Tensor4D {
  const gamma = p.uniform(`${prefix}.gamma`, channels);
  const beta = p.bias(`${prefix}.beta`, channels);
  return (x) =>
    tf.tidy(() => {
      const [, h, w, c] = x.shape;
      const n = h * w * c;
      const mean = tf.mean(x, [1, 2, 3], true);
      const centered = tf.sub(x, mean);
      const std = tf.sqrt(tf.div(tf.sum(tf.square(centered), [1, 2, 3], true), n - 1));
      return tf.add(tf.mul(tf.div(centered, tf.add(std, 1e-5)), gamma), beta) as tf.Tensor4D;
    });
}

/** The reference's LayerNorm as ONNX nodes: the sample's mean and unbiased std over C, H and W (n - 1 from the input's shape). */
function onnxLayerNorm(g: OnnxGraph, x: string, prefix: string, hint: string): string {
  const mean = g.reduce('ReduceMean', x, [1, 2, 3], `${hint}.mean`);
  const centered = g.op('Sub', [x, mean], `${hint}.centered`);
  const sumSq = g.reduce('ReduceSum', g.op('Mul', [centered, centered], `${hint}.sq`), [1, 2, 3], `${hint}.sum_sq`);
  const n = g.reduce('ReduceProd', g.op('Shape', [x], `${hint}.chw`, { start: 1 }), [0], `${hint}.n`);
  const nMinus1 = g.op('Sub', [g.op('Cast', [n], `${hint}.n_float`, { to: 1 }), g.constant('float32', [1], [1])], `${hint}.n_minus_1`);
  const std = g.op('Sqrt', [g.op('Div', [sumSq, nMinus1], `${hint}.var`)], `${hint}.std`);
  const normed = g.op('Div', [centered, g.op('Add', [std, g.constant('float32', [], [1e-5])], `${hint}.std_eps`)], `${hint}.normed`);
  const perChannel = (key: string) => g.op('Reshape', [g.weight(`${prefix}.${key}`), g.ints([1, -1, 1, 1])], `${hint}.${key}`);
  return g.op('Add', [g.op('Mul', [normed, perChannel('gamma')], `${hint}.scaled`), perChannel('beta')], hint);
}

/**
 * The reference's `Conv2dBlock(cin, cout, k, stride, pad, norm, activation, pad_type='reflect')`:
 * reflect pad, conv (with bias), norm, activation. Its state_dict holds `norm.*` before `conv.*`
 * (the order its __init__ registers them).
 */
function conv2dBlock(
  p: ParamBuilder,
  prefix: string,
  name: string,
  o: { cin: number; cout: number; k: number; stride: number; pad: number; norm: BlockNorm; act: Activation },
): Module {
  const normFn: (x: tf.Tensor4D) => tf.Tensor4D =
    o.norm === 'ln' ? layerNorm(p, `${prefix}.norm`, o.cout) : o.norm === 'inst' ? (x) => instanceNorm(x) : (x) => x;
  const conv = conv2d(p, `${prefix}.conv`, `${name}.conv`, o.cin, o.cout, o.k, o.stride, 'valid');
  const act = (x: tf.Tensor4D): tf.Tensor4D => (o.act === 'relu' ? tf.relu(x) : o.act === 'tanh' ? tf.tanh(x) : x);
  return {
    type: 'Conv2dBlock',
    name,
    inplace: false,
    reach: (o.k - 1) / 2,
    scale: 1 / o.stride,
    apply: (x, training) => tf.tidy(() => act(normFn(conv.apply(pad2d(x, o.pad, 'reflect'), training)))),
    onnx: (g, x) => {
      let h = onnxChain(g, [conv], g.pad(x, o.pad, 'reflect', `${name}.pad`));
      if (o.norm === 'inst') h = g.instanceNorm(h, o.cout, `${name}.norm`);
      if (o.norm === 'ln') h = onnxLayerNorm(g, h, `${prefix}.norm`, `${name}.norm`);
      if (o.act === 'relu') h = g.op('Relu', [h], `${name}.relu`);
      if (o.act === 'tanh') h = g.op('Tanh', [h], `${name}.tanh`);
      return h;
    },
  };
}

/** `ResBlocks(n, dim, 'inst', 'relu', 'reflect')`: n times x + [Conv2dBlock(relu), Conv2dBlock(no activation)]. */
function resBlocks(p: ParamBuilder, prefix: string, name: string, dim: number): Module {
  const blocks = Array.from({ length: RES_BLOCKS }, (_, i) => {
    const at = `${prefix}.model.${i}.model`;
    const c = { cin: dim, cout: dim, k: 3, stride: 1, pad: 1, norm: 'inst' as const };
    return [
      conv2dBlock(p, `${at}.0`, `${name}.${i}.0`, { ...c, act: 'relu' }),
      conv2dBlock(p, `${at}.1`, `${name}.${i}.1`, { ...c, act: 'none' }),
    ] as const;
  });
  return {
    type: 'ResBlocks',
    name,
    inplace: false,
    reach: 2 * RES_BLOCKS,
    scale: 1,
    apply: (x, training) => tf.tidy(() => blocks.reduce((h, [a, b]) => tf.add(h, b.apply(a.apply(h, training), training)) as tf.Tensor4D, x)),
    onnx: (g, x) => blocks.reduce((h, block, i) => g.op('Add', [h, onnxChain(g, block, h)], `${name}.${i}`), x),
  };
}

function upsample2(name: string): Module {
  return {
    type: 'Upsample2',
    name,
    inplace: false,
    reach: 0,
    scale: 2,
    apply: (x) => tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]),
    // F.interpolate(scale_factor=2, mode='nearest'), as torch.onnx.export writes it.
    onnx: (g, x) =>
      g.op('Resize', [x, '', g.constant('float32', [4], [1, 1, 2, 2])], name, {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      }),
  };
}

/**
 * The reference's `G_Resnet` as define_G builds it for netG `resnet_cat`: a content encoder
 * (`enc_content`: reflect-padded 7x7 conv block, two 4x4 stride-2 conv blocks, 4 residual blocks,
 * instance norm, ReLU) and a decoder (`dec`: 4 residual blocks, then twice nearest x2 upsampling
 * and a 5x5 conv block with the reference's LayerNorm, then a 7x7 conv block with tanh).
 *
 * The reference reads its style size from `opt.nz`, which CUT's option parser does not define;
 * this is its `nz = 0` network (the `Decoder`; with nz > 0 its forward without a style returns
 * nothing). NHWC in and out; H and W multiples of 4.
 *
 * define_G builds it with instance norm whatever `--normG` says (and without dropout); so does this.
 *
 * `encode` layers are the encoder's modules, as the reference's `ContentEncoder` numbers them:
 * 0 the 7x7 block (ngf channels), 1 and 2 the stride-2 blocks, 3 the residual blocks' output
 * (`--nce_layers 0,1,2,3`; the reference's default 0,4,8,12,16 would only find layer 0 there).
 */
export class ResnetCatGenerator extends SequentialGenerator implements Generator {
  readonly role = 'generator';
  readonly architecture = 'resnet_cat';
  readonly className = CLASS;
  readonly config: ResnetCatGeneratorConfig;
  readonly sizing: GeneratorSizing;
  readonly layers: readonly LayerInfo[];

  constructor(config: ResnetCatGeneratorConfig, build: BuildOptions = {}) {
    const o = configure(config);
    const p = new ParamBuilder(o.init, build.rng ?? new SeededRng(build.seed ?? 0), build.skipInit ?? false);
    const m: Module[] = [];
    let dim = o.ngf;
    const enc = (i: number) => `enc_content.model.${i}`;
    m.push(conv2dBlock(p, enc(0), 'enc.0', { cin: o.inputNc, cout: dim, k: 7, stride: 1, pad: 3, norm: 'inst', act: 'relu' }));
    for (let i = 0; i < DOWNS; i++) {
      m.push(conv2dBlock(p, enc(m.length), `enc.${m.length}`, { cin: dim, cout: dim * 2, k: 4, stride: 2, pad: 1, norm: 'inst', act: 'relu' }));
      dim *= 2;
    }
    m.push(resBlocks(p, enc(m.length), `enc.${m.length}`, dim));
    const dec = (i: number) => `dec.model.${i}`;
    m.push(resBlocks(p, dec(0), 'dec.0', dim));
    for (let i = 0; i < DOWNS; i++) {
      const at = m.length - ENCODER_LAYERS;
      m.push(upsample2(`dec.${at}`));
      m.push(conv2dBlock(p, dec(at + 1), `dec.${at + 1}`, { cin: dim, cout: dim / 2, k: 5, stride: 1, pad: 2, norm: 'ln', act: 'relu' }));
      dim /= 2;
    }
    const last = m.length - ENCODER_LAYERS;
    m.push(conv2dBlock(p, dec(last), `dec.${last}`, { cin: dim, cout: o.outputNc, k: 7, stride: 1, pad: 3, norm: 'none', act: 'tanh' }));
    super({ modules: m, params: p });
    this.config = o;
    this.sizing = sizing();
    this.layers = m.slice(0, ENCODER_LAYERS).map((mod, index) => ({ index, name: mod.name, type: mod.type }));
  }

  referenceOptions(): Map<string, string> {
    const c = this.config;
    return new Map([
      ['netG', 'resnet_cat'],
      ['input_nc', String(c.inputNc)],
      ['output_nc', String(c.outputNc)],
      ['ngf', String(c.ngf)],
    ]);
  }

  /** No in-place op after an encoder layer: a full forward gives the same features. */
  featuresMatchEncode(): boolean {
    return true;
  }

  /** The layer index (0..3, or its name `enc.<i>`), checked. */
  layerIndex(ref: LayerRef): number {
    const index = typeof ref === 'number' ? ref : this.layers.findIndex((l) => l.name === ref);
    if (!Number.isInteger(index) || index < 0 || index >= ENCODER_LAYERS) {
      const names = this.layers.map((l) => `${l.index}:${l.name}`).join(' ');
      throw new Error(`${CLASS}: no layer '${ref}' (layers: ${names}, the content encoder's modules; e.g. --nce_layers 0,1,2,3)`);
    }
    return index;
  }

  protected pass(x: tf.Tensor4D, layers: readonly LayerRef[], encodeOnly: boolean, training: boolean): GeneratorPass {
    if (x.shape[1] % 4 !== 0 || x.shape[2] % 4 !== 0) {
      throw new Error(`${CLASS}: the input's height and width must be multiples of 4, got ${x.shape[1]}x${x.shape[2]}`);
    }
    const wanted = layers.map((ref) => this.layerIndex(ref));
    const last = encodeOnly ? Math.max(...wanted) : this.modules.length - 1;
    return tf.tidy(() => {
      const kept = new Map<number, tf.Tensor4D>();
      let h = x;
      for (let i = 0; i <= last; i++) {
        h = this.modules[i]!.apply(h, training);
        if (wanted.includes(i)) kept.set(i, h);
      }
      return { output: encodeOnly ? undefined : h, features: wanted.map((i) => kept.get(i)!) };
    });
  }

  /** `_metadata`: G_Resnet, its encoder and decoder Sequentials and every block inside, in torch's traversal order. */
  override stateDictMetadata(): StateDictMetadata {
    const out = new Map<string, { version: number }>([['', { version: 1 }]]);
    const v = (path: string, version = 1) => out.set(path, { version });
    const block = (path: string, norm: BlockNorm, act: Activation) => {
      v(path);
      v(`${path}.pad`);
      if (norm !== 'none') v(`${path}.norm`, norm === 'inst' ? 2 : 1);
      if (act !== 'none') v(`${path}.activation`);
      v(`${path}.conv`);
    };
    const res = (path: string) => {
      v(path);
      v(`${path}.model`);
      for (let i = 0; i < RES_BLOCKS; i++) {
        v(`${path}.model.${i}`);
        v(`${path}.model.${i}.model`);
        block(`${path}.model.${i}.model.0`, 'inst', 'relu');
        block(`${path}.model.${i}.model.1`, 'inst', 'none');
      }
    };
    v('enc_content');
    v('enc_content.model');
    block('enc_content.model.0', 'inst', 'relu');
    for (let i = 1; i <= DOWNS; i++) block(`enc_content.model.${i}`, 'inst', 'relu');
    res(`enc_content.model.${DOWNS + 1}`);
    v('dec');
    v('dec.model');
    res('dec.model.0');
    for (let i = 0; i < DOWNS; i++) {
      v(`dec.model.${2 * i + 1}`);
      block(`dec.model.${2 * i + 2}`, 'ln', 'relu');
    }
    block(`dec.model.${2 * DOWNS + 1}`, 'none', 'tanh');
    return out;
  }
}

/** The full config: the reference's defaults under `partial`, checked. */
function configure(partial: Partial<ResnetCatGeneratorConfig>): ResnetCatGeneratorConfig {
  const o: ResnetCatGeneratorConfig = {
    architecture: 'resnet_cat',
    inputNc: partial.inputNc ?? 3,
    outputNc: partial.outputNc ?? 3,
    ngf: partial.ngf ?? 64,
    init: partial.init ?? DEFAULT_INIT,
  };
  for (const key of ['inputNc', 'outputNc', 'ngf'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`${CLASS}: ${key} must be a positive integer, got ${o[key]}`);
  }
  return o;
}

/** Sides: multiples of 4 (two stride-2 blocks, then two x2 upsamplings). Not tiled: LayerNorm sees the whole image. */
function sizing(): GeneratorSizing {
  const steps: Step[] = [(s) => reflectPad(s, 3, 'its first block'), (s) => conv(s, 7, 1, 0, 'its first block')];
  for (let d = 1; d <= DOWNS; d++)
    steps.push(
      (s) => reflectPad(s, 1, `down block ${d}`),
      (s) => conv(s, 4, 2, 0, `down block ${d}`),
    );
  steps.push((s) => reflectPad(s, 1, 'its residual blocks'));
  // Reach in input pixels: 7x7 stem 3; 4x4 stride-2 blocks 1.5 and 3; 16 3x3 convs at stride 4;
  // 5x5 convs after each upsampling at strides 2 and 1; the 7x7 head 3.
  const reach = 3 + 1.5 + 3 + 16 * 4 + 4 + 2 + 3;
  return { ...sideSizing(4, steps), reach, tiled: false };
}

export const resnetCatGenerator: GeneratorArchitecture<ResnetCatGeneratorConfig> = {
  role: 'generator',
  architecture: 'resnet_cat',
  className: CLASS,
  names: ['resnet_cat'],
  accepts: (netG) => netG === 'resnet_cat',
  // define_G's resnet_cat branch passes neither norm (always 'inst') nor dropout.
  fromDefine: (a: DefineGeneratorArgs) => configure({ inputNc: a.inputNc, outputNc: a.outputNc, ngf: a.ngf, init: a.init }),
  configure,
  sizing: () => sizing(),
  create: (config, build) => new ResnetCatGenerator(config, build),
};
