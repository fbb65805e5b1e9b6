// The ONNX graph a network's modules write themselves into (NCHW, as ONNX and PyTorch have it):
// nodes, constants, and the state_dict entries they read as weights.

/** An attribute value: ints, floats (written as FLOAT/FLOATS when `float` is set), a string. */
export type OnnxAttribute = number | number[] | string | { float: number };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

/** A constant the graph needs that is no state_dict entry (pads, shapes, instance norm's unit scale). */
export interface OnnxConstant {
  name: string;
  dtype: 'float32' | 'int64';
  dims: number[];
  values: readonly number[];
}

/**
 * The graph being written. A module's `onnx(g, x)` adds the nodes that compute its output from the
 * tensor named `x` and returns the output's name; weights are asked for by their state_dict name
 * (`g.weight('model.1.weight')`, PyTorch layout, which is ONNX's: OIHW, and IOHW for transposed
 * convolutions) and become initializers under that name.
 */
export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly constants = new Map<string, OnnxConstant>();
  /** State_dict keys used as weights, in first-use order. */
  readonly weights: string[] = [];
  private readonly used = new Set<string>();
  private readonly weightNames = new Map<string, string>();

  constructor(
    readonly opset: number,
    /** The tensor name under which a weight's float32 values are read (a Cast's output for float16 weights). */
    private readonly weightValue: (key: string) => string = (key) => key,
  ) {}

  /** A name not used yet, from `hint` (module names such as `down1.conv`). */
  fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output, named after `hint`; returns the output's name. */
  op(opType: string, inputs: string[], hint: string, attributes: Record<string, OnnxAttribute> = {}): string {
    const output = this.fresh(hint);
    this.nodes.push({ opType, name: `${output}/${opType}`, inputs, outputs: [output], attributes });
    return output;
  }

  /** A state_dict entry as a float32 input of a node. */
  weight(key: string): string {
    let name = this.weightNames.get(key);
    if (name === undefined) {
      this.weights.push(key);
      this.used.add(key);
      name = this.weightValue(key);
      if (name !== key) this.used.add(name);
      this.weightNames.set(key, name);
    }
    return name;
  }

  /** A constant initializer (shared when the same one is asked for again). */
  constant(dtype: OnnxConstant['dtype'], dims: number[], values: readonly number[]): string {
    const name = `const_${dtype}_${dims.join('x') || 'scalar'}_${values.join('_').replace(/[^0-9a-z_]/gi, (c) => (c === '-' ? 'm' : 'p'))}`;
    if (!this.constants.has(name)) {
      this.used.add(name);
      this.constants.set(name, { name, dtype, dims, values });
    }
    return name;
  }

  /** int64 vector constant. */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  // Operators the modules share.

  /** torch's 2-D padding of `pad` on every side: mode 'reflect' (ReflectionPad2d) or 'edge' (ReplicationPad2d). */
  pad(x: string, pad: number, mode: 'reflect' | 'edge', hint: string): string {
    if (pad === 0) return x;
    return this.op('Pad', [x, this.ints([0, 0, pad, pad, 0, 0, pad, pad])], hint, { mode });
  }

  /** torch's Conv2d (`weight` OIHW, optional bias), zero padding `pad` on every side. */
  conv(x: string, o: { weight: string; bias?: string; k: number; stride: number; pad: number; group?: number }, hint: string): string {
    const inputs = [x, this.weight(o.weight), ...(o.bias ? [this.weight(o.bias)] : [])];
    return this.op('Conv', inputs, hint, {
      kernel_shape: [o.k, o.k],
      strides: [o.stride, o.stride],
      pads: [o.pad, o.pad, o.pad, o.pad],
      dilations: [1, 1],
      group: o.group ?? 1,
    });
  }

  /** torch's ConvTranspose2d (`weight` IOHW): output side (in - 1) * stride - 2 * pad + k + outputPadding. */
  convTranspose(
    x: string,
    o: { weight: string; bias?: string; k: number; stride: number; pad: number; outputPadding: number; group?: number },
    hint: string,
  ): string {
    const inputs = [x, this.weight(o.weight), ...(o.bias ? [this.weight(o.bias)] : [])];
    return this.op('ConvTranspose', inputs, hint, {
      kernel_shape: [o.k, o.k],
      strides: [o.stride, o.stride],
      pads: [o.pad, o.pad, o.pad, o.pad],
      output_padding: [o.outputPadding, o.outputPadding],
      dilations: [1, 1],
      group: o.group ?? 1,
    });
  }

  /** InstanceNorm2d(affine=False, eps 1e-5): ONNX's InstanceNormalization with a unit scale and zero bias. */
  instanceNorm(x: string, channels: number, hint: string): string {
    const ones = this.constant('float32', [channels], new Array<number>(channels).fill(1));
    const zeros = this.constant('float32', [channels], new Array<number>(channels).fill(0));
    return this.op('InstanceNormalization', [x, ones, zeros], hint, { epsilon: { float: 1e-5 } });
  }

  /** A reduction over `axes` keeping them (axes an attribute before opset 18, an input from 18 on; ReduceSum's an input since 13). */
  reduce(op: 'ReduceMean' | 'ReduceSum' | 'ReduceProd', x: string, axes: number[], hint: string): string {
    if (op === 'ReduceSum' || this.opset >= 18) return this.op(op, [x, this.ints(axes)], hint, { keepdims: 1 });
    return this.op(op, [x], hint, { axes, keepdims: 1 });
  }
}

/** How a module writes itself into an ONNX graph: nodes from the tensor named `x` (eval mode); returns its output's name. */
export type OnnxEmitter = (g: OnnxGraph, x: string) => string;
