// A generator as a standard ONNX model (bytes out): its modules write their nodes, its state_dict
// gives the initializers, protobufjs encodes the ModelProto with ONNX's own schema.
import protobuf from 'protobufjs';
import type { Generator, TorchStateDict } from '../contract.js';
import { onnxChain, type Module } from '../modules.js';
import { SequentialNetwork } from '../network.js';
import { floatToHalf } from '../pth/index.js';
import { OnnxGraph, type OnnxAttribute, type OnnxConstant } from './graph.js';
import { ONNX_PROTO } from './schema.js';

/** The opsets `generatorToOnnx` writes (17 is the default; Debian's python3-onnx 1.12 checks up to 17). */
export const ONNX_OPSETS: readonly number[] = [17, 18, 19, 20, 21];

export interface GeneratorToOnnxOptions {
  /** The default ONNX opset (`ai.onnx`) version, 17..21. */
  opset?: number;
  /**
   * 'float32' (default), or 'float16': the weights stored in half precision (rounded to nearest even,
   * as torch's `.half()`), half the file, cast to float32 inside the graph; input and output stay float32.
   */
  dtype?: 'float32' | 'float16';
  /** The graph's doc_string (e.g. where the weights came from). */
  docString?: string;
}

/** The graph's input and output names (NCHW float32 tensors, `[batch, C, height, width]`). */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';

// ONNX TensorProto.DataType values.
const FLOAT = 1;
const INT64 = 7;
const FLOAT16 = 10;

/** The IR version each opset needs (onnx/helper.py's VERSION_TABLE). */
const irVersion = (opset: number) => (opset <= 18 ? 8 : opset <= 20 ? 9 : 10);

let modelProto: protobuf.Type | undefined;
function modelType(): protobuf.Type {
  modelProto ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelProto;
}

function attributeProto(name: string, value: OnnxAttribute): Record<string, unknown> {
  // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7.
  if (typeof value === 'string') return { name, type: 3, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: 2, i: value };
  if (Array.isArray(value)) return { name, type: 7, ints: value };
  return { name, type: 1, f: value.float };
}

function tensorProto(name: string, dims: readonly number[], dataType: number, raw: Uint8Array): Record<string, unknown> {
  return { name, dims: [...dims], data_type: dataType, raw_data: raw };
}

function constantProto(c: OnnxConstant): Record<string, unknown> {
  if (c.dtype === 'float32') return tensorProto(c.name, c.dims, FLOAT, new Uint8Array(littleEndianFloats(Float32Array.from(c.values))));
  const out = new DataView(new ArrayBuffer(8 * c.values.length));
  c.values.forEach((v, i) => out.setBigInt64(8 * i, BigInt(v), true));
  return tensorProto(c.name, c.dims, INT64, new Uint8Array(out.buffer));
}

function littleEndianFloats(a: Float32Array): ArrayBuffer {
  const out = new DataView(new ArrayBuffer(4 * a.length));
  a.forEach((v, i) => out.setFloat32(4 * i, v, true));
  return out.buffer;
}

function halfBits(a: Float32Array): ArrayBuffer {
  const out = new DataView(new ArrayBuffer(2 * a.length));
  a.forEach((v, i) => out.setUint16(2 * i, floatToHalf(v), true));
  return out.buffer;
}

function valueInfo(name: string, channels: number | string): Record<string, unknown> {
  const dim = (d: string | number) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d });
  return {
    name,
    type: { tensor_type: { elem_type: FLOAT, shape: { dim: ['batch', channels, 'height', 'width'].map(dim) } } },
  };
}

/**
 * The generator as an ONNX model (ModelProto bytes): eval mode (instance norm over each image;
 * batch norm with its running statistics; no dropout), NCHW float32 input `input` `[batch, C, height,
 * width]` in [-1, 1] and output `output` of the same layout, batch, height and width dynamic (height
 * and width the multiples the architecture needs, as `G.sizing` says), every weight an initializer
 * under its state_dict name (`model.1.weight`, the blur filters `model.7.filt`). Built by walking the
 * generator's modules, each of which knows its ONNX nodes; browser-safe.
 */
export async function generatorToOnnx(G: Generator, options: GeneratorToOnnxOptions = {}): Promise<Uint8Array> {
  if (!(G instanceof SequentialNetwork)) throw new Error(`generatorToOnnx: ${G.className} is not built from modules (no ONNX form)`);
  return modulesModel(G, G.modules, G.inputChannels, G.outputChannels, await G.stateDict(), options);
}

/**
 * A run of a generator's modules (e.g. one stage of `forwardTiled`, as `G.tiledModules` holds them)
 * as an ONNX model of the same form as `generatorToOnnx`'s, from `inputChannels` channels (the output's
 * channels left symbolic). `state`: `G.stateDict()`, read once for many stages.
 */
export function modulesToOnnx(
  G: Generator,
  modules: readonly Module[],
  inputChannels: number,
  state: TorchStateDict,
  options: GeneratorToOnnxOptions = {},
): Uint8Array {
  return modulesModel(G, modules, inputChannels, 'channels', state, options);
}

function modulesModel(
  G: Generator,
  modules: readonly Module[],
  inputChannels: number,
  outputChannels: number | string,
  state: TorchStateDict,
  options: GeneratorToOnnxOptions,
): Uint8Array {
  const opset = options.opset ?? 17;
  const dtype = options.dtype ?? 'float32';
  if (!ONNX_OPSETS.includes(opset)) throw new Error(`generatorToOnnx: opset ${opset} is not one of ${ONNX_OPSETS.join(', ')}`);
  if (dtype !== 'float32' && dtype !== 'float16') throw new Error(`generatorToOnnx: dtype '${String(dtype)}' is not float32 or float16`);

  const half = dtype === 'float16';
  const g = new OnnxGraph(opset, half ? (key) => `${key}/float32` : undefined);
  g.fresh(ONNX_INPUT);
  const last = onnxChain(g, modules, ONNX_INPUT);
  g.op('Identity', [last], ONNX_OUTPUT);

  const initializer: Record<string, unknown>[] = [];
  const casts: Record<string, unknown>[] = [];
  for (const key of g.weights) {
    const value = state.get(key);
    if (!value) throw new Error(`generatorToOnnx: ${G.className} has no state_dict entry '${key}'`);
    const data = Float32Array.from(value.data);
    if (half) {
      initializer.push(tensorProto(key, value.shape, FLOAT16, new Uint8Array(halfBits(data))));
      casts.push({ op_type: 'Cast', name: `${key}/Cast`, input: [key], output: [`${key}/float32`], attribute: [attributeProto('to', FLOAT)] });
    } else {
      initializer.push(tensorProto(key, value.shape, FLOAT, new Uint8Array(littleEndianFloats(data))));
    }
  }
  for (const c of g.constants.values()) initializer.push(constantProto(c));

  const nodes = g.nodes.map((n) => ({
    op_type: n.opType,
    name: n.name,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([name, value]) => attributeProto(name, value)),
  }));
  const Model = modelType();
  const model = {
    ir_version: irVersion(opset),
    opset_import: [{ domain: '', version: opset }],
    producer_name: '@cut/networks',
    producer_version: '0.1.0',
    doc_string: options.docString ?? `${G.className} (${[...G.referenceOptions()].map(([k, v]) => `${k}=${v}`).join(' ')})`,
    graph: {
      name: G.className,
      node: [...casts, ...nodes],
      initializer,
      input: [valueInfo(ONNX_INPUT, inputChannels)],
      output: [valueInfo(ONNX_OUTPUT, outputChannels)],
    },
  };
  const problem = Model.verify(model);
  if (problem) throw new Error(`generatorToOnnx: ${problem}`);
  return Model.encode(Model.fromObject(model)).finish();
}

/** The ModelProto of ONNX bytes as a plain object (protobufjs' `toObject`, longs as numbers), for inspection and tests. */
export function readOnnxModel(bytes: Uint8Array): Record<string, unknown> {
  const Model = modelType();
  return Model.toObject(Model.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
