import * as tf from '@tensorflow/tfjs-core';
import { hwioToOihwArray, hwoiToIohwArray, iohwToHwoiArray, oihwToHwioArray, type HostArray } from '@cut/core-tensors';
import type { LayerRef, TorchArray, TorchStateDict } from './contract.js';
import type { Buffer, Module, Param, ParamBuilder, ParamKind, StatsBuffer } from './modules.js';
import type { StateDictMetadata } from './pth/index.js';

export type { TorchArray, TorchStateDict } from './contract.js';

const toTorch: Record<ParamKind, (a: HostArray) => HostArray> = {
  conv2d: hwioToOihwArray,
  conv2dTranspose: hwoiToIohwArray,
  linear: (a) => a,
  bias: (a) => a,
};
const fromTorch: Record<ParamKind, (a: HostArray) => HostArray> = {
  conv2d: oihwToHwioArray,
  conv2dTranspose: iohwToHwoiArray,
  linear: (a) => a,
  bias: (a) => a,
};

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * A network built like the reference's: an `nn.Sequential` (called `model`, or `container`), whose entries
 * keep the reference's indices, and parameters under the reference's state_dict names.
 * It implements the weight half of the `Network` contract for the architectures built this way.
 */
export abstract class SequentialNetwork {
  readonly modules: readonly Module[];
  /** The reference's class name, for messages. */
  abstract readonly className: string;
  /** The name of the reference's `nn.Sequential` (`model`; `net` in PixelDiscriminator): the first part of every key. */
  readonly container: string;
  private readonly params: readonly Param[];
  private readonly buffers: readonly Buffer[];
  private readonly stats: readonly StatsBuffer[];
  private readonly order: readonly string[];

  protected constructor(built: { modules: Module[]; params: ParamBuilder; container?: string }) {
    this.modules = built.modules;
    this.container = built.container ?? 'model';
    this.params = built.params.params;
    this.buffers = built.params.buffers;
    this.stats = built.params.stats;
    this.order = built.params.order;
  }

  /** Trainable variables, for an optimiser. */
  trainableVariables(): tf.Variable[] {
    return this.params.map((p) => p.variable);
  }

  /** Number of trainable scalars (the reference prints it as "Total number of parameters"). */
  parameterCount(): number {
    return this.params.reduce((n, p) => n + p.variable.size, 0);
  }

  /** Number of values in the state_dict: the parameters and the blur-filter buffers. */
  stateDictSize(): number {
    return (
      this.parameterCount() + this.buffers.reduce((n, b) => n + b.data.length, 0) + this.stats.reduce((n, s) => n + 2 * s.stats.mean.shape[0]! + 1, 0)
    );
  }

  /** Parameter names (no buffers), in state_dict order. */
  parameterNames(): string[] {
    return this.params.map((p) => p.name);
  }

  /** A tensor shaped like parameter `name` (e.g. its gradient), from our layout to PyTorch's. */
  parameterToTorch(name: string, value: HostArray): HostArray {
    const p = this.params.find((q) => q.name === name);
    if (!p) throw new Error(`${this.className}: no parameter '${name}'`);
    return toTorch[p.kind](value);
  }

  /** The weights and blur-filter buffers in PyTorch layout, keyed and ordered as the reference's `state_dict()`. */
  async stateDict(): Promise<TorchStateDict> {
    const byName = new Map<string, TorchArray>();
    for (const p of this.params) {
      const data = (await p.variable.data()) as Float32Array;
      byName.set(p.name, toTorch[p.kind]({ data: Float32Array.from(data), shape: [...p.variable.shape] }));
    }
    for (const b of this.buffers) byName.set(b.name, { shape: [...b.shape], data: Float32Array.from(b.data) });
    for (const { prefix, stats } of this.stats) {
      const size = stats.mean.shape[0]!;
      byName.set(`${prefix}.running_mean`, { shape: [size], data: Float32Array.from((await stats.mean.data()) as Float32Array) });
      byName.set(`${prefix}.running_var`, { shape: [size], data: Float32Array.from((await stats.variance.data()) as Float32Array) });
      // torch's int64 scalar; the .pth writer stores `*.num_batches_tracked` as int64.
      byName.set(`${prefix}.num_batches_tracked`, { shape: [], data: Float32Array.of(stats.batches) });
    }
    return new Map(this.order.map((name) => [name, byName.get(name)!]));
  }

  /**
   * Loads a reference state_dict (PyTorch layout; a `module.` prefix from CPU/DataParallel
   * training is accepted). Strict: every key must be present with the right shape and no
   * other key may appear; the blur filters must be the reference's constants. `source`
   * names the file in errors.
   */
  loadStateDict(state: ReadonlyMap<string, TorchArray>, source = 'state_dict'): void {
    const entries = new Map<string, TorchArray>();
    for (const [key, value] of state) entries.set(key.startsWith('module.') ? key.slice('module.'.length) : key, value);
    // Check everything before assigning anything, so a bad file leaves the network as it was.
    const problem = this.stateDictMismatch(new Map([...entries].map(([k, v]) => [k, v.shape])));
    if (problem) throw new Error(`${source}: ${problem}`);
    const assignments = this.params.map((p): [Param, TorchArray] => [p, entries.get(p.name)!]);
    for (const b of this.buffers) {
      const value = entries.get(b.name)!;
      for (let i = 0; i < b.data.length; i++) {
        if (Math.abs(value.data[i]! - b.data[i]!) > 1e-6) {
          throw new Error(`${source}: blur filter '${b.name}' differs from the reference's binomial filter`);
        }
      }
    }
    const statValues: Array<[StatsBuffer, TorchArray, TorchArray, number]> = [];
    for (const s of this.stats) {
      const size = s.stats.mean.shape[0]!;
      const get = (suffix: string, shape: number[]) => {
        const key = `${s.prefix}.${suffix}`;
        const value = entries.get(key);
        if (!value) throw new Error(`${source}: missing key '${key}'`);
        if (!sameShape(value.shape, shape)) {
          throw new Error(`${source}: '${key}' has shape [${value.shape}], the configured network needs [${shape}]`);
        }
        return value;
      };
      const batches = get('num_batches_tracked', []).data[0]!;
      if (!Number.isInteger(batches) || batches < 0) throw new Error(`${source}: '${s.prefix}.num_batches_tracked' must be a count, got ${batches}`);
      statValues.push([s, get('running_mean', [size]), get('running_var', [size]), batches]);
    }
    for (const [p, value] of assignments) {
      const ours = fromTorch[p.kind]({ data: value.data, shape: value.shape });
      tf.tidy(() => p.variable.assign(tf.tensor(ours.data, ours.shape, 'float32')));
    }
    for (const [s, mean, variance, batches] of statValues) {
      tf.tidy(() => {
        s.stats.mean.assign(tf.tensor1d(mean.data, 'float32'));
        s.stats.variance.assign(tf.tensor1d(variance.data, 'float32'));
      });
      s.stats.batches = batches;
    }
  }

  /**
   * The `_metadata` PyTorch stores with the state_dict: every submodule path with its class
   * version (InstanceNorm2d and BatchNorm2d are version 2, every other module used here 1).
   * A network that is not one `model` Sequential lists its own.
   */
  stateDictMetadata(): StateDictMetadata {
    const version = (v: number) => ({ version: v });
    const normVersion = (type: string) => (type === 'InstanceNorm2d' || type === 'BatchNorm2d' ? 2 : 1);
    const out = new Map<string, { version: number }>([
      ['', version(1)],
      [this.container, version(1)],
    ]);
    this.modules.forEach((m, i) => {
      const path = `${this.container}.${i}`;
      out.set(path, version(normVersion(m.type)));
      if (m.type === 'Downsample' || m.type === 'Upsample') out.set(`${path}.pad`, version(1));
      if (m.residual) {
        // ResnetBlock.conv_block: its Sequential's entries, in order.
        out.set(`${path}.conv_block`, version(1));
        m.residual.forEach((inner, j) => out.set(`${path}.conv_block.${j}`, version(normVersion(inner.type))));
      }
    });
    return out;
  }

  /** BatchNorm2d's running statistics by state_dict prefix (none without batch norm), for formats that carry them beside the parameters. */
  batchNormStats(): readonly StatsBuffer[] {
    return this.stats;
  }

  /**
   * Why a state_dict with these keys (a `module.` prefix is accepted) and PyTorch-layout shapes
   * cannot be loaded (strict, as `loadStateDict`), or undefined when it can. Needs no values, so a
   * checkpoint can be checked before its tensors are read.
   */
  stateDictMismatch(shapes: ReadonlyMap<string, readonly number[]>): string | undefined {
    const entries = new Map<string, readonly number[]>();
    for (const [key, shape] of shapes) entries.set(key.startsWith('module.') ? key.slice('module.'.length) : key, shape);
    const expected = new Set(this.order);
    for (const key of entries.keys()) {
      if (!expected.has(key)) return `unexpected key '${key}' (this ${this.className} has ${this.describeKeys()})`;
    }
    for (const p of this.params) {
      const shape = entries.get(p.name);
      if (!shape) return `missing key '${p.name}'`;
      const wantShape = toTorch[p.kind]({ data: new Float32Array(p.variable.size), shape: [...p.variable.shape] }).shape;
      if (!sameShape(shape, wantShape)) return `'${p.name}' has shape [${shape}], the configured network needs [${wantShape}]`;
    }
    for (const b of this.buffers) {
      const shape = entries.get(b.name);
      if (!shape) return `missing key '${b.name}'`;
      if (!sameShape(shape, b.shape)) return `'${b.name}' has shape [${shape}], the configured network needs [${b.shape}]`;
    }
    for (const s of this.stats) {
      const size = s.stats.mean.shape[0]!;
      for (const [suffix, want] of [
        ['running_mean', [size]],
        ['running_var', [size]],
        ['num_batches_tracked', []],
      ] as const) {
        const key = `${s.prefix}.${suffix}`;
        const shape = entries.get(key);
        if (!shape) return `missing key '${key}'`;
        if (!sameShape(shape, want)) return `'${key}' has shape [${shape}], the configured network needs [${want}]`;
      }
    }
    return undefined;
  }

  /** Frees the weights. */
  dispose(): void {
    for (const p of this.params) p.variable.dispose();
    for (const s of this.stats) tf.dispose([s.stats.mean, s.stats.variance]);
  }

  private describeKeys(): string {
    const first = this.order.slice(0, 3).join(', ');
    return `${this.order.length} keys: ${first}, ...`;
  }
}

/** One pass of a generator: the output (absent when it stopped early to encode) and the listed layers' features. */
export interface GeneratorPass {
  output?: tf.Tensor4D;
  features: tf.Tensor4D[];
}

/**
 * The generator half of the contract for networks built like the reference's: forward, encode and
 * forwardWithFeatures are one pass (`pass`) that stops after the last wanted layer or runs to the end.
 */
export abstract class SequentialGenerator extends SequentialNetwork {
  abstract readonly config: { readonly inputNc: number; readonly outputNc: number };

  get inputChannels(): number {
    return this.config.inputNc;
  }

  get outputChannels(): number {
    return this.config.outputNc;
  }

  /** The pass itself, on an input `checkInput` accepted. */
  protected abstract pass(x: tf.Tensor4D, layers: readonly LayerRef[], encodeOnly: boolean, training: boolean): GeneratorPass;

  /** Throws unless `x` is an NHWC batch with the network's input channels (architectures may check more). */
  protected checkInput(x: tf.Tensor4D): void {
    if (x.rank !== 4 || x.shape[3] !== this.config.inputNc) {
      throw new Error(`${this.className}: expected an NHWC input with ${this.config.inputNc} channels, got shape [${x.shape}]`);
    }
  }

  /** The translated image (NHWC, values in [-1, 1]). */
  forward(x: tf.Tensor4D, training = false): tf.Tensor4D {
    this.checkInput(x);
    return this.pass(x, [], false, training).output!;
  }

  /** The reference's `G(x, nce_layers, encode_only=True)`: the listed layers' outputs, in the order listed, stopping after the last one. */
  encode(x: tf.Tensor4D, layers: readonly LayerRef[], training = false): tf.Tensor4D[] {
    this.checkInput(x);
    return this.pass(x, layers, true, training).features;
  }

  /** The full forward and the listed layers' features from the same pass. */
  forwardWithFeatures(x: tf.Tensor4D, layers: readonly LayerRef[], training = false): { output: tf.Tensor4D; features: tf.Tensor4D[] } {
    this.checkInput(x);
    const r = this.pass(x, layers, false, training);
    return { output: r.output!, features: r.features };
  }
}
