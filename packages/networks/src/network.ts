import * as tf from '@tensorflow/tfjs-core';
import {
  hwioToOihwArray,
  hwoiToIohwArray,
  iohwToHwoiArray,
  oihwToHwioArray,
  type HostArray,
} from '@cut/core-tensors';
import type { Buffer, Module, Param, ParamBuilder, ParamKind } from './modules.js';

/** A tensor in PyTorch's layout, as a state_dict holds it. */
export interface TorchArray {
  shape: number[];
  data: Float32Array;
}

/** name -> tensor in PyTorch layout, in the reference's state_dict order. */
export type TorchStateDict = Map<string, TorchArray>;

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
 * A network built like the reference's: an `nn.Sequential` called `model`, whose entries
 * keep the reference's indices, and parameters under the reference's state_dict names.
 */
export abstract class SequentialNetwork {
  readonly modules: readonly Module[];
  private readonly params: readonly Param[];
  private readonly buffers: readonly Buffer[];
  private readonly order: readonly string[];

  protected constructor(built: { modules: Module[]; params: ParamBuilder }) {
    this.modules = built.modules;
    this.params = built.params.params;
    this.buffers = built.params.buffers;
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
    return this.parameterCount() + this.buffers.reduce((n, b) => n + b.data.length, 0);
  }

  /** Parameter names (no buffers), in state_dict order. */
  parameterNames(): string[] {
    return this.params.map((p) => p.name);
  }

  /** The weights and blur-filter buffers in PyTorch layout, keyed and ordered as the reference's `state_dict()`. */
  async stateDict(): Promise<TorchStateDict> {
    const byName = new Map<string, TorchArray>();
    for (const p of this.params) {
      const data = (await p.variable.data()) as Float32Array;
      byName.set(p.name, toTorch[p.kind]({ data: Float32Array.from(data), shape: [...p.variable.shape] }));
    }
    for (const b of this.buffers) byName.set(b.name, { shape: [...b.shape], data: Float32Array.from(b.data) });
    return new Map(this.order.map((name) => [name, byName.get(name)!]));
  }

  /**
   * Loads a reference state_dict (PyTorch layout; a `module.` prefix from CPU/DataParallel
   * training is accepted). Strict: every key must be present with the right shape and no
   * other key may appear; the blur filters must be the reference's constants. `source`
   * names the file in errors.
   */
  loadStateDict(state: Map<string, TorchArray>, source = 'state_dict'): void {
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
    for (const [p, value] of assignments) {
      const ours = fromTorch[p.kind]({ data: value.data, shape: value.shape });
      tf.tidy(() => p.variable.assign(tf.tensor(ours.data, ours.shape, 'float32')));
    }
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
      if (!expected.has(key)) return `unexpected key '${key}' (this ${this.constructor.name} has ${this.describeKeys()})`;
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
    return undefined;
  }

  /** Frees the weights. */
  dispose(): void {
    for (const p of this.params) p.variable.dispose();
  }

  private describeKeys(): string {
    const first = this.order.slice(0, 3).join(', ');
    return `${this.order.length} keys: ${first}, ...`;
  }
}
