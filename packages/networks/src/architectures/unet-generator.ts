// The reference's `UnetGenerator` (netG `unet_128`, `unet_256`): one file, one line in registry.ts.
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
  NORM_TYPES,
  ParamBuilder,
  conv2d,
  convBias,
  convTranspose,
  dropout,
  leakyRelu,
  normLayer,
  onnxChain,
  relu,
  tanh,
  type Module,
} from '../modules.js';
import type { OnnxGraph } from '../onnx/graph.js';
import { SequentialGenerator, type GeneratorPass } from '../network.js';
import type { StateDictMetadata } from '../pth/index.js';
import { conv, sideSizing, type Step } from '../sizing.js';

export interface UnetGeneratorConfig {
  readonly architecture: 'unet';
  /** Input channels (reference `--input_nc`, default 3). */
  readonly inputNc: number;
  /** Output channels (reference `--output_nc`, default 3). */
  readonly outputNc: number;
  /** Filters in the outermost conv layer (reference `--ngf`, default 64). */
  readonly ngf: number;
  /** Downsamplings: 7 for `unet_128`, 8 for `unet_256` (default). */
  readonly numDowns: 7 | 8;
  /** Normalisation (reference `--normG`): instance, batch or none (batch and none drop the convs' biases, as the reference does). */
  readonly norm: NormType;
  /** Dropout 0.5 in the ngf*8 intermediate blocks (reference: `not --no_dropout`; CUT default false). */
  readonly useDropout: boolean;
  /** Weight initialisation (reference `--init_type xavier --init_gain 0.02`). */
  readonly init: InitOptions;
}

const CLASS = 'UnetGenerator';

/** One UnetSkipConnectionBlock, outermost first: what its Sequential holds besides the submodule. */
interface Level {
  downconv: Module;
  /** After the down conv: none for the outermost and the innermost block. */
  downnorm?: Module;
  upconv: Module;
  /** After the up conv: none for the outermost block (it ends in tanh). */
  upnorm?: Module;
  drop?: Module;
}

const lrelu = leakyRelu('downrelu');
const uprelu = relu('uprelu');
const tanhOut = tanh('tanh');

/**
 * The reference's `UnetGenerator` (netG `unet_128` / `unet_256`): `numDowns` blocks of 4x4
 * stride-2 convolutions down to 1x1 at H = 2^numDowns, 4x4 stride-2 transposed convolutions back
 * up, each level's input concatenated to its output (skip connections). NHWC in and out; H and W
 * must be multiples of 2^numDowns.
 *
 * As in the reference, a block's LeakyReLU works in place on its input, so its skip connection
 * carries LeakyReLU(input), not the input.
 *
 * `encode` (which the reference's UnetGenerator lacks, so CUT fails with it there): layer 0 is
 * the input image, layer k (1..numDowns) the output of the k-th down step (its conv, then its
 * norm where it has one; before the next block's LeakyReLU), at 1/2^k of the input's size.
 */
export class UnetGenerator extends SequentialGenerator implements Generator {
  readonly role = 'generator';
  readonly architecture = 'unet';
  readonly className = CLASS;
  readonly config: UnetGeneratorConfig;
  readonly sizing: GeneratorSizing;
  readonly layers: readonly LayerInfo[];
  private readonly levels: Level[];

  constructor(config: UnetGeneratorConfig, build: BuildOptions = {}) {
    const o = configure(config);
    const p = new ParamBuilder(o.init, build.rng ?? new SeededRng(build.seed ?? 0), build.skipInit ?? false);
    const { ngf, numDowns } = o;
    const bias = convBias(o.norm);
    // (outer_nc, inner_nc) of each block, outermost first, as UnetGenerator.__init__ nests them.
    const widths: Array<[number, number]> = [
      [o.outputNc, ngf],
      [ngf, ngf * 2],
      [ngf * 2, ngf * 4],
      [ngf * 4, ngf * 8],
    ];
    for (let i = 0; i < numDowns - 5; i++) widths.push([ngf * 8, ngf * 8]);
    widths.push([ngf * 8, ngf * 8]);

    // Parameters in state_dict order: each block's Sequential entries in order, the submodule's
    // (at its index) before the block's up path.
    const levels: Level[] = [];
    const ups: Array<() => void> = [];
    widths.forEach(([outer, inner], d) => {
      const prefix = blockPrefix(d);
      const outermost = d === 0;
      const innermost = d === widths.length - 1;
      const level = {} as Level;
      if (outermost) {
        level.downconv = conv2d(p, `${prefix}.0`, `down${d + 1}.conv`, o.inputNc, inner, 4, 2, 1, bias);
        ups.unshift(() => {
          level.upconv = convTranspose(p, `${prefix}.3`, `up${d + 1}.conv`, inner * 2, outer, { k: 4, padding: 1, outputPadding: 0, bias: true });
        });
      } else if (innermost) {
        level.downconv = conv2d(p, `${prefix}.1`, `down${d + 1}.conv`, outer, inner, 4, 2, 1, bias);
        level.upconv = convTranspose(p, `${prefix}.3`, `up${d + 1}.conv`, inner, outer, { k: 4, padding: 1, outputPadding: 0, bias });
        level.upnorm = normLayer(p, `${prefix}.4`, `up${d + 1}.norm`, o.norm, outer);
      } else {
        level.downconv = conv2d(p, `${prefix}.1`, `down${d + 1}.conv`, outer, inner, 4, 2, 1, bias);
        level.downnorm = normLayer(p, `${prefix}.2`, `down${d + 1}.norm`, o.norm, inner);
        const dropoutHere = o.useDropout && d >= 4;
        ups.unshift(() => {
          level.upconv = convTranspose(p, `${prefix}.5`, `up${d + 1}.conv`, inner * 2, outer, { k: 4, padding: 1, outputPadding: 0, bias });
          level.upnorm = normLayer(p, `${prefix}.6`, `up${d + 1}.norm`, o.norm, outer);
          if (dropoutHere) level.drop = dropout(`up${d + 1}.dropout`);
        });
      }
      levels.push(level);
    });
    for (const up of ups) up();

    const block = (d: number): Module => ({
      type: 'UnetSkipConnectionBlock',
      name: `block${d + 1}`,
      inplace: false,
      reach: 0,
      scale: 1,
      apply: (x, training) => this.block(d, x, training, null)!,
      onnx: (g, x) => this.onnxBlock(g, d, x),
    });
    const top = levels[0]!;
    const modules: Module[] = [top.downconv, block(1), uprelu, top.upconv, tanhOut];
    super({ modules, params: p });
    this.config = o;
    this.sizing = sizing(o);
    this.levels = levels;
    this.layers = [
      { index: 0, name: 'input', type: 'Input' },
      ...levels.map((level, d) => ({ index: d + 1, name: `down${d + 1}`, type: (level.downnorm ?? level.downconv).type })),
    ];
  }

  referenceOptions(): Map<string, string> {
    const c = this.config;
    return new Map([
      ['netG', `unet_${2 ** c.numDowns}`],
      ['input_nc', String(c.inputNc)],
      ['output_nc', String(c.outputNc)],
      ['ngf', String(c.ngf)],
      ['normG', c.norm],
      ['no_dropout', c.useDropout ? 'False' : 'True'],
    ]);
  }

  /** The features are kept apart from the in-place LeakyReLU that follows them: a full forward gives the same. */
  featuresMatchEncode(): boolean {
    return true;
  }

  /** The layer index (0 = `input`, k = `down<k>`), checked. */
  layerIndex(ref: LayerRef): number {
    const index = typeof ref === 'number' ? ref : this.layers.findIndex((l) => l.name === ref);
    if (!Number.isInteger(index) || index < 0 || index > this.config.numDowns) {
      const names = this.layers.map((l) => `${l.index}:${l.name}`).join(' ');
      throw new Error(`${CLASS}: no layer '${ref}' (layers: ${names}; 0 is the input, k the k-th down step's output; e.g. --nce_layers 0,1,2,3,4)`);
    }
    return index;
  }

  protected pass(x: tf.Tensor4D, layers: readonly LayerRef[], encodeOnly: boolean, training: boolean): GeneratorPass {
    const side = 2 ** this.config.numDowns;
    if (x.shape[1] % side !== 0 || x.shape[2] % side !== 0) {
      throw new Error(
        `${CLASS}: with ${this.config.numDowns} downsamplings the input's height and width must be multiples of ${side}, got ${x.shape[1]}x${x.shape[2]}`,
      );
    }
    const wanted = layers.map((ref) => this.layerIndex(ref));
    return tf.tidy(() => {
      const sink = new Map<number, tf.Tensor4D>();
      if (wanted.includes(0)) sink.set(0, x);
      const stopAt = encodeOnly ? Math.max(...wanted) : null;
      const top = this.levels[0]!;
      const h = top.downconv.apply(x, training);
      sink.set(1, h);
      let output: tf.Tensor4D | undefined;
      if (stopAt === null || stopAt > 1) {
        const s = this.block(1, h, training, { sink, stopAt });
        if (s && stopAt === null) output = tanhOut.apply(top.upconv.apply(uprelu.apply(s, training), training), training);
      }
      return { output, features: wanted.map((i) => sink.get(i)!) };
    });
  }

  /**
   * Block d (1 = the one inside the outermost): cat([LeakyReLU(x), up(sub(down(LeakyReLU(x))))]).
   * With `record`, its down output is kept as layer d + 1, and it returns null once layer `stopAt` is reached.
   */
  private block(
    d: number,
    x: tf.Tensor4D,
    training: boolean,
    record: { sink: Map<number, tf.Tensor4D>; stopAt: number | null } | null,
  ): tf.Tensor4D | null {
    const level = this.levels[d]!;
    const innermost = d === this.levels.length - 1;
    const skip = lrelu.apply(x, training);
    let h = level.downconv.apply(skip, training);
    if (level.downnorm) h = level.downnorm.apply(h, training);
    if (record) {
      record.sink.set(d + 1, h);
      if (record.stopAt === d + 1) return null;
    }
    if (!innermost) {
      const inner = this.block(d + 1, h, training, record);
      if (inner === null) return null;
      h = inner;
    }
    let u = level.upconv.apply(uprelu.apply(h, training), training);
    u = level.upnorm!.apply(u, training);
    if (level.drop) u = level.drop.apply(u, training);
    return tf.concat([skip, u], 3) as tf.Tensor4D;
  }

  /** Block d as ONNX nodes: Concat([LeakyReLU(x), up(sub(down(LeakyReLU(x))))]) on the channel axis (eval mode: no dropout). */
  private onnxBlock(g: OnnxGraph, d: number, x: string): string {
    const level = this.levels[d]!;
    const skip = onnxChain(g, [lrelu], x);
    let h = onnxChain(g, level.downnorm ? [level.downconv, level.downnorm] : [level.downconv], skip);
    if (d < this.levels.length - 1) h = this.onnxBlock(g, d + 1, h);
    const u = onnxChain(g, [uprelu, level.upconv, level.upnorm!], h);
    return g.op('Concat', [skip, u], `block${d + 1}.cat`, { axis: 1 });
  }

  /** `_metadata`: every module in torch's traversal order (a block, its Sequential, its entries, a submodule's at its index). */
  override stateDictMetadata(): StateDictMetadata {
    const out = new Map<string, { version: number }>([['', { version: 1 }]]);
    const normVersion = this.config.norm === 'none' ? 1 : 2;
    const last = this.levels.length - 1;
    const visit = (d: number) => {
      const seq = blockPrefix(d);
      out.set(seq.slice(0, -'.model'.length), { version: 1 });
      out.set(seq, { version: 1 });
      // Entry kinds per index: c = conv/relu/tanh/dropout (version 1), n = norm, s = the submodule.
      const kinds = d === 0 ? 'csccc' : d === last ? 'ccccn' : this.levels[d]!.drop ? 'ccnsccnc' : 'ccnsccn';
      [...kinds].forEach((kind, i) => {
        if (kind === 's') visit(d + 1);
        else out.set(`${seq}.${i}`, { version: kind === 'n' ? normVersion : 1 });
      });
    };
    visit(0);
    return out;
  }
}

/** The state_dict prefix of block d's Sequential: `model.model`, then `.1.model` for the first submodule, `.3.model` for each deeper one. */
function blockPrefix(d: number): string {
  if (d === 0) return 'model.model';
  return `model.model.1.model${'.3.model'.repeat(d - 1)}`;
}

/** The full config: the reference's defaults under `partial`, checked. */
function configure(partial: Partial<UnetGeneratorConfig>): UnetGeneratorConfig {
  const o: UnetGeneratorConfig = {
    architecture: 'unet',
    inputNc: partial.inputNc ?? 3,
    outputNc: partial.outputNc ?? 3,
    ngf: partial.ngf ?? 64,
    numDowns: partial.numDowns ?? 8,
    norm: partial.norm ?? 'instance',
    useDropout: partial.useDropout ?? false,
    init: partial.init ?? DEFAULT_INIT,
  };
  for (const key of ['inputNc', 'outputNc', 'ngf'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`${CLASS}: ${key} must be a positive integer, got ${o[key]}`);
  }
  if (o.numDowns !== 7 && o.numDowns !== 8) throw new Error(`${CLASS}: numDowns must be 7 (unet_128) or 8 (unet_256), got ${o.numDowns}`);
  if (!NORM_TYPES.includes(o.norm)) throw new Error(`${CLASS}: norm '${o.norm}' is not one of ${NORM_TYPES.join(', ')}`);
  return o;
}

/**
 * Sides: multiples of 2^numDowns (each level halves, and the skip connections need the halves to
 * double back exactly). Not tiled: the bottleneck sees the whole image.
 */
function sizing(c: UnetGeneratorConfig): GeneratorSizing {
  const steps: Step[] = Array.from({ length: c.numDowns }, (_, d) => (s: number) => conv(s, 4, 2, 1, `down step ${d + 1}`));
  // A 4x4 conv at stride 2^d reaches 1.5 * 2^d input pixels, on the way down and up.
  return { ...sideSizing(2 ** c.numDowns, steps), reach: 3 * (2 ** c.numDowns - 1), tiled: false };
}

export const unetGenerator: GeneratorArchitecture<UnetGeneratorConfig> = {
  role: 'generator',
  architecture: 'unet',
  className: CLASS,
  names: ['unet_128', 'unet_256'],
  accepts: (netG) => netG === 'unet_128' || netG === 'unet_256',
  fromDefine: (a: DefineGeneratorArgs) =>
    configure({
      inputNc: a.inputNc,
      outputNc: a.outputNc,
      ngf: a.ngf,
      numDowns: a.netG === 'unet_128' ? 7 : 8,
      norm: a.norm,
      useDropout: a.useDropout,
      init: a.init,
    }),
  configure,
  sizing,
  create: (config, build) => new UnetGenerator(config, build),
};
