import * as tf from '@tensorflow/tfjs-core';
import type { NormType } from './contract.js';
import {
  batchNorm,
  blurDownsample,
  blurUpsample,
  binomialFilter,
  conv2dTransposeTorch,
  initBias,
  initWeight,
  instanceNorm,
  pad2d,
  runningStats,
  type InitOptions,
  type LayerKind,
  type RunningStats,
  type SeededRng,
} from '@cut/core-tensors';
import type { OnnxEmitter, OnnxGraph } from './onnx/graph.js';

/** How a parameter is laid out in PyTorch, so it can be converted at the import/export boundary. */
export type ParamKind = LayerKind | 'bias';

/** A trainable parameter under its reference name (`model.1.weight`), held in our layout. */
export interface Param {
  name: string;
  kind: ParamKind;
  variable: tf.Variable;
}

/** A constant buffer the reference stores in its state_dict (the blur filters, `*.filt`). */
export interface Buffer {
  name: string;
  /** PyTorch shape, e.g. `[C, 1, 3, 3]`. */
  shape: number[];
  /** PyTorch-layout values. */
  data: Float32Array;
}

/** The reference's `nn.Module` class names, as they appear in its module listings. */
export type ModuleType =
  | 'ReflectionPad2d'
  | 'Conv2d'
  | 'ConvTranspose2d'
  | 'InstanceNorm2d'
  | 'BatchNorm2d'
  | 'Identity'
  | 'ReLU'
  | 'LeakyReLU'
  | 'Downsample'
  | 'Upsample'
  | 'ResnetBlock'
  | 'Dropout'
  | 'Tanh'
  | 'UnetSkipConnectionBlock'
  | 'Conv2dBlock'
  | 'ResBlocks'
  | 'Upsample2';

/** One entry of the reference's `nn.Sequential` `model`, at the same index. */
export interface Module {
  type: ModuleType;
  /** A readable name (`down1.conv`, `block3`), usable instead of the index. */
  name: string;
  /** ReLU / LeakyReLU with `inplace=True`: it overwrites the output of the module before it. */
  inplace: boolean;
  /**
   * How many input pixels away an output pixel looks: (k - 1) / 2 for a k x k convolution or
   * blur, 0 for pads and pointwise modules. Tiled inference sums these to size each tile's halo.
   */
  reach: number;
  /** Output side / input side: 0.5 for stride-2 modules, 2 for upsampling ones, else 1 (a pad and the valid convolution after it together keep the size). */
  scale: number;
  /** A residual block's branch (output = input + branch(input)), so tiled inference can look inside it. */
  residual?: readonly Module[];
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D;
  /** The module as ONNX nodes (eval mode, NCHW), for `generatorToOnnx`; absent where a module has no ONNX form. */
  onnx?: OnnxEmitter;
}

/** A module that neither looks at neighbours nor changes the size. */
const pointwise = { reach: 0, scale: 1 } as const;

/** A BatchNorm2d's running statistics under its state_dict prefix (`<prefix>.running_mean`, ...). */
export interface StatsBuffer {
  prefix: string;
  stats: RunningStats;
}

/** Collects parameters and buffers in the reference's state_dict order while a network is built. */
export class ParamBuilder {
  readonly params: Param[] = [];
  readonly buffers: Buffer[] = [];
  readonly stats: StatsBuffer[] = [];
  readonly order: string[] = [];

  constructor(
    private readonly init: InitOptions,
    private readonly rng: SeededRng,
    /** Zeros instead of random draws (the weights are loaded right after). */
    private readonly skipInit = false,
  ) {}

  /** A weight in our layout, initialised as the reference's `init_weights` does. */
  weight(name: string, shape: number[], kind: LayerKind): tf.Variable {
    const value = this.skipInit ? tf.zeros(shape) : initWeight(shape, kind, this.init, this.rng);
    return this.add(name, kind, value);
  }

  bias(name: string, size: number): tf.Variable {
    return this.add(name, 'bias', initBias(size));
  }

  /** A BatchNorm2d weight: `init_weights` draws it from normal(1, gain) whatever the init type. */
  normWeight(name: string, size: number): tf.Variable {
    const value = this.skipInit ? tf.ones([size]) : tf.tensor1d(this.rng.normalArray(size, 1, this.init.gain ?? 0.02));
    return this.add(name, 'bias', value);
  }

  /** A vector drawn from uniform [0, 1) (the reference's LayerNorm gamma, which `init_weights` leaves as `uniform_()` drew it). */
  uniform(name: string, size: number): tf.Variable {
    const value = this.skipInit ? tf.zeros([size]) : tf.tensor1d(this.rng.uniformArray(size, 0, 1));
    return this.add(name, 'bias', value);
  }

  /** A BatchNorm2d's running mean, variance and batch count (`<prefix>.running_mean`, `.running_var`, `.num_batches_tracked`). */
  runningStats(prefix: string, channels: number): RunningStats {
    const stats = runningStats(channels);
    this.stats.push({ prefix, stats });
    this.order.push(`${prefix}.running_mean`, `${prefix}.running_var`, `${prefix}.num_batches_tracked`);
    return stats;
  }

  buffer(name: string, shape: number[], data: Float32Array): void {
    this.buffers.push({ name, shape, data });
    this.order.push(name);
  }

  private add(name: string, kind: ParamKind, value: tf.Tensor): tf.Variable {
    const variable = tf.variable(value, true);
    value.dispose();
    this.params.push({ name, kind, variable });
    this.order.push(name);
    return variable;
  }
}

type Conv2dPadding = number | 'valid';

/** torch `Conv2d(cin, cout, k, stride, padding)` with bias, zero padding. Weight HWIO. */
export function conv2d(
  p: ParamBuilder,
  prefix: string,
  name: string,
  cin: number,
  cout: number,
  k: number,
  stride: number,
  padding: Conv2dPadding,
  bias = true,
): Module {
  const w = p.weight(`${prefix}.weight`, [k, k, cin, cout], 'conv2d');
  const b = bias ? p.bias(`${prefix}.bias`, cout) : null;
  const pad: 'valid' | [[number, number], [number, number], [number, number], [number, number]] =
    padding === 'valid' || padding === 0
      ? 'valid'
      : [
          [0, 0],
          [padding, padding],
          [padding, padding],
          [0, 0],
        ];
  return {
    type: 'Conv2d',
    name,
    inplace: false,
    reach: (k - 1) / 2,
    scale: 1 / stride,
    apply: (x) =>
      tf.tidy(() => {
        const y = tf.conv2d(x, w as tf.Tensor4D, stride, pad);
        return (b ? tf.add(y, b) : y) as tf.Tensor4D;
      }),
    onnx: (g, x) =>
      g.conv(x, { weight: `${prefix}.weight`, bias: b ? `${prefix}.bias` : undefined, k, stride, pad: padding === 'valid' ? 0 : padding }, name),
  };
}

/** torch `ConvTranspose2d(cin, cout, 3, stride 2, padding 1, output_padding 1)` with bias. Weight [kh, kw, out, in]. */
export function convTranspose2d(p: ParamBuilder, prefix: string, name: string, cin: number, cout: number, bias = true): Module {
  return convTranspose(p, prefix, name, cin, cout, { k: 3, padding: 1, outputPadding: 1, bias });
}

/** torch `ConvTranspose2d(cin, cout, k, stride 2, padding, output_padding)`, with or without bias. Weight [kh, kw, out, in]. */
export function convTranspose(
  p: ParamBuilder,
  prefix: string,
  name: string,
  cin: number,
  cout: number,
  o: { k: number; padding: number; outputPadding: number; bias: boolean },
): Module {
  const w = p.weight(`${prefix}.weight`, [o.k, o.k, cout, cin], 'conv2dTranspose');
  const b = o.bias ? (p.bias(`${prefix}.bias`, cout) as tf.Tensor1D) : undefined;
  return {
    type: 'ConvTranspose2d',
    name,
    inplace: false,
    reach: 1,
    scale: 2,
    apply: (x) => conv2dTransposeTorch(x, w as tf.Tensor4D, { stride: 2, padding: o.padding, outputPadding: o.outputPadding, bias: b }),
    onnx: (g, x) =>
      g.convTranspose(
        x,
        { weight: `${prefix}.weight`, bias: b ? `${prefix}.bias` : undefined, k: o.k, stride: 2, pad: o.padding, outputPadding: o.outputPadding },
        name,
      ),
  };
}

export function reflectionPad(name: string, pad: number): Module {
  return {
    type: 'ReflectionPad2d',
    name,
    inplace: false,
    ...pointwise,
    apply: (x) => pad2d(x, pad, 'reflect'),
    onnx: (g, x) => g.pad(x, pad, 'reflect', name),
  };
}

/** The reference's `--normG` / `--normD` choices (`get_norm_layer`). */
export const NORM_TYPES: readonly NormType[] = ['instance', 'batch', 'none'];

/**
 * Whether the reference gives a conv before a norm layer a bias: `use_bias = norm_layer.func ==
 * InstanceNorm2d` for a functools.partial, `norm_layer == InstanceNorm2d` otherwise; 'none' is a
 * plain function there, so it gets no bias, like 'batch'.
 */
export const convBias = (normType: NormType): boolean => normType === 'instance';

/** InstanceNorm2d(channels) (affine=False, eps 1e-5); `channels` is only needed by its ONNX form. */
export function norm(name: string, channels: number): Module {
  return {
    type: 'InstanceNorm2d',
    name,
    ...pointwise,
    inplace: false,
    apply: (x) => instanceNorm(x),
    onnx: (g, x) => g.instanceNorm(x, channels, name),
  };
}

/**
 * `get_norm_layer(normType)(channels)` at `prefix`: InstanceNorm2d (no parameters), BatchNorm2d
 * (weight, bias, running_mean, running_var, num_batches_tracked; batch statistics in training,
 * running ones in eval) or Identity (which still takes its index in the Sequential).
 */
export function normLayer(p: ParamBuilder, prefix: string, name: string, normType: NormType, channels: number): Module {
  if (normType === 'instance') return norm(name, channels);
  if (normType === 'none') return { type: 'Identity', name, ...pointwise, inplace: false, apply: (x) => x, onnx: (_g, x) => x };
  const weight = p.normWeight(`${prefix}.weight`, channels);
  const bias = p.bias(`${prefix}.bias`, channels);
  const stats = p.runningStats(prefix, channels);
  return {
    type: 'BatchNorm2d',
    name,
    ...pointwise,
    inplace: false,
    apply: (x, training) => tf.tidy(() => tf.add(tf.mul(batchNorm(x, { training, stats }), weight), bias) as tf.Tensor4D),
    // Eval mode: the running statistics (as torch.onnx.export writes a BatchNorm2d of a model in eval()).
    onnx: (g, x) =>
      g.op('BatchNormalization', [x, ...['weight', 'bias', 'running_mean', 'running_var'].map((k) => g.weight(`${prefix}.${k}`))], name, {
        epsilon: { float: 1e-5 },
      }),
  };
}

export function relu(name: string): Module {
  return { type: 'ReLU', name, ...pointwise, inplace: true, apply: (x) => tf.relu(x), onnx: (g, x) => g.op('Relu', [x], name) };
}

export function leakyRelu(name: string): Module {
  return {
    type: 'LeakyReLU',
    name,
    ...pointwise,
    inplace: true,
    apply: (x) => tf.leakyRelu(x, 0.2),
    onnx: (g, x) => g.op('LeakyRelu', [x], name, { alpha: { float: 0.2 } }),
  };
}

export function tanh(name: string): Module {
  return { type: 'Tanh', name, ...pointwise, inplace: false, apply: (x) => tf.tanh(x), onnx: (g, x) => g.op('Tanh', [x], name) };
}

/** The reference's `Downsample(C)`: reflect pad, 3x3 binomial blur, stride 2. Its filter is a state_dict buffer. */
export function downsample(p: ParamBuilder, prefix: string, name: string, channels: number): Module {
  p.buffer(`${prefix}.filt`, [channels, 1, 3, 3], filterBuffer(3, channels, 1));
  return {
    type: 'Downsample',
    name,
    inplace: false,
    reach: 1,
    scale: 0.5,
    apply: (x) => blurDownsample(x),
    // The reference's forward: F.conv2d(ReflectionPad2d(1)(x), filt, stride=2, groups=C).
    onnx: (g, x) => g.conv(g.pad(x, 1, 'reflect', `${name}.pad`), { weight: `${prefix}.filt`, k: 3, stride: 2, pad: 0, group: channels }, name),
  };
}

/** The reference's `Upsample(C)`: replicate pad, 4x4 binomial transposed blur, x2. Its filter (x4) is a buffer. */
export function upsample(p: ParamBuilder, prefix: string, name: string, channels: number): Module {
  p.buffer(`${prefix}.filt`, [channels, 1, 4, 4], filterBuffer(4, channels, 4));
  return {
    type: 'Upsample',
    name,
    inplace: false,
    reach: 1,
    scale: 2,
    apply: (x) => blurUpsample(x),
    // The reference's forward: F.conv_transpose2d(ReplicationPad2d(1)(x), filt, stride=2, padding=2,
    // groups=C)[:, :, 1:-1, 1:-1]; the crop is one more pixel of the transposed convolution's padding.
    onnx: (g, x) =>
      g.convTranspose(
        g.pad(x, 1, 'edge', `${name}.pad`),
        { weight: `${prefix}.filt`, k: 4, stride: 2, pad: 3, outputPadding: 0, group: channels },
        name,
      ),
  };
}

/** The reference's `filt` buffer `[C, 1, k, k]`: the normalised binomial filter times `scale`. */
export function filterBuffer(k: number, channels: number, scale: number): Float32Array {
  const f = binomialFilter(k);
  const out = new Float32Array(channels * k * k);
  for (let c = 0; c < channels; c++) for (let i = 0; i < k * k; i++) out[c * k * k + i] = f[i]! * scale;
  return out;
}

/** torch `Dropout(0.5)`: active only in training mode. */
export function dropout(name: string): Module {
  return {
    type: 'Dropout',
    name,
    inplace: false,
    ...pointwise,
    apply: (x, training) => (training ? (tf.dropout(x, 0.5) as tf.Tensor4D) : x),
    onnx: (_g, x) => x,
  };
}

/**
 * The reference's `ResnetBlock(dim)`: x + [reflect pad 1, conv 3x3, norm, ReLU, (Dropout 0.5),
 * reflect pad 1, conv 3x3, norm]. Parameter names follow its `conv_block` Sequential indices.
 */
export function resnetBlock(
  p: ParamBuilder,
  prefix: string,
  name: string,
  dim: number,
  useDropout: boolean,
  normType: NormType = 'instance',
): Module {
  const at = (i: number) => `${prefix}.conv_block.${i}`;
  const second = useDropout ? 5 : 4;
  const bias = convBias(normType);
  const branch: Module[] = [
    reflectionPad(`${name}.pad1`, 1),
    conv2d(p, at(1), `${name}.conv1`, dim, dim, 3, 1, 'valid', bias),
    normLayer(p, at(2), `${name}.norm1`, normType, dim),
    relu(`${name}.relu`),
    ...(useDropout ? [dropout(`${name}.dropout`)] : []),
    reflectionPad(`${name}.pad2`, 1),
    conv2d(p, at(second + 1), `${name}.conv2`, dim, dim, 3, 1, 'valid', bias),
    normLayer(p, at(second + 2), `${name}.norm2`, normType, dim),
  ];
  return {
    type: 'ResnetBlock',
    name,
    inplace: false,
    ...pointwise,
    residual: branch,
    apply: (x, training) =>
      tf.tidy(() => {
        let h = x;
        for (const mod of branch) h = mod.apply(h, training);
        return tf.add(x, h) as tf.Tensor4D;
      }),
    onnx: (g, x) => g.op('Add', [x, onnxChain(g, branch, x)], name),
  };
}

/** Modules one after the other as ONNX nodes, from the tensor named `x`; the last one's output name. */
export function onnxChain(g: OnnxGraph, modules: readonly Module[], x: string): string {
  return modules.reduce((h, m) => {
    if (!m.onnx) throw new Error(`${m.type} '${m.name}' has no ONNX form`);
    return m.onnx(g, h);
  }, x);
}
