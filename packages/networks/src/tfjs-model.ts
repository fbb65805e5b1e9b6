// Our own model format for TensorFlow.js users: `model.json` (tf.io's ModelJSON shape: the
// registry's architecture and its config as `modelTopology`, a `weightsManifest`) plus `weights.bin` (float32,
// in our NHWC layout, under the reference's parameter names). A browser can fetch the two files
// (or use `tf.io.http(url).load()`) and build the network without reading PyTorch's format.
// No file system here (it runs in a browser): @cut/trainer reads and writes the files.
import * as tf from '@tensorflow/tfjs-core';
import type { Discriminator, Generator } from './contract.js';
import { SequentialNetwork } from './network.js';
import {
  configFromClassName,
  defineDiscriminator,
  defineGenerator,
  type DiscriminatorConfig,
  type GeneratorConfig,
} from './registry.js';

export const TFJS_MODEL_FORMAT = 'cut-networks';
/** Written: 2 (the registry's role, architecture and config). Read: 1 too (the class name and its options). */
export const TFJS_MODEL_FORMAT_VERSION = 2;
export const TFJS_MODEL_FILE = 'model.json';
export const TFJS_WEIGHTS_FILE = 'weights.bin';

/** The networks this format holds: any registered generator or discriminator. */
export type CutNetwork = Generator | Discriminator;

const LAYOUT =
  'NHWC activations; Conv2d weights HWIO [kh, kw, in, out]; ConvTranspose2d weights HWOI [kh, kw, out, in]; ' +
  'names and order of the PyTorch state_dict, blur-filter buffers left out (constants); batch norm running statistics ' +
  '(running_mean, running_var, num_batches_tracked as float32) after the parameters';

/** `modelTopology`: which network, by the registry's role and config (the config names its architecture). */
export type CutModelTopology =
  | { formatVersion: number; network: 'generator'; architecture: string; config: GeneratorConfig; layout: string }
  | { formatVersion: number; network: 'discriminator'; architecture: string; config: DiscriminatorConfig; layout: string };

/** Format 1 (before the registry): the reference's class name and its options. */
interface FormatOneTopology {
  formatVersion: 1;
  network: string;
  options: Record<string, unknown>;
}

/** `model.json`: a tf.io ModelJSON whose topology names one of our networks. */
export interface CutModelJson {
  format: typeof TFJS_MODEL_FORMAT;
  generatedBy: string;
  convertedBy: null;
  modelTopology: CutModelTopology;
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** Both files in memory, e.g. after `fetch`: the JSON (parsed or text) and the weight bytes. */
export interface TfjsModelFiles {
  modelJson: CutModelJson | string;
  /** `weights.bin`'s bytes; several buffers are the manifest's paths in order. */
  weights: ArrayBuffer | ArrayBufferView | ArrayBuffer[];
  /** Names model.json in error messages (e.g. its path). */
  name?: string;
}

/** A saved model: anything `loadTfjsModel` reads. */
export type TfjsModelSource = TfjsModelFiles | tf.io.ModelArtifacts;

/** The network as `model.json` + `weights.bin` contents. */
export async function tfjsModelArtifacts(net: CutNetwork): Promise<{ modelJson: CutModelJson; weights: ArrayBuffer }> {
  const names = net.parameterNames();
  const variables = net.trainableVariables();
  const stats = statEntries(net);
  const counters = stats.filter((e) => e.counter !== undefined).map((e) => ({ name: e.name, tensor: tf.scalar(e.counter!()) }));
  const { data, specs } = await tf.io
    .encodeWeights([
      ...names.map((name, i) => ({ name, tensor: variables[i]! as tf.Tensor })),
      ...stats.map((e) => counters.find((c) => c.name === e.name) ?? { name: e.name, tensor: e.variable! as tf.Tensor }),
    ])
    .finally(() => tf.dispose(counters.map((c) => c.tensor)));
  const base = { formatVersion: TFJS_MODEL_FORMAT_VERSION, architecture: net.architecture, layout: LAYOUT };
  const modelTopology: CutModelTopology =
    net.role === 'generator'
      ? { ...base, network: 'generator', config: { ...(net.config as GeneratorConfig) } }
      : { ...base, network: 'discriminator', config: { ...(net.config as DiscriminatorConfig) } };
  return {
    modelJson: {
      format: TFJS_MODEL_FORMAT,
      generatedBy: '@cut/networks',
      convertedBy: null,
      modelTopology,
      weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: specs }],
    },
    weights: data,
  };
}

/**
 * Builds the network a saved model describes and loads its weights. `source`: both files'
 * contents (`{ modelJson, weights }`), or the
 * `ModelArtifacts` of a tf.io handler (`await tf.io.http(url).load()`, `tf.io.fromMemory`).
 */
export async function loadTfjsModel(source: TfjsModelSource): Promise<CutNetwork> {
  if ('modelJson' in source) return fromFiles(source, source.name ?? TFJS_MODEL_FILE);
  return fromArtifacts(source, source.format === TFJS_MODEL_FORMAT ? 'model artifacts' : `model artifacts (format '${source.format}')`);
}

/** `loadTfjsModel` for a generator: an error if the saved model is another network. */
export async function loadTfjsGenerator(source: TfjsModelSource): Promise<Generator> {
  const net = await loadTfjsModel(source);
  if (net.role === 'generator') return net;
  net.dispose();
  throw new Error(`${'modelJson' in source ? (source.name ?? TFJS_MODEL_FILE) : 'model'}: holds a discriminator (${net.className}), not a generator`);
}

function parseModelJson(text: string, where: string): CutModelJson {
  try {
    return JSON.parse(text) as CutModelJson;
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`, { cause: e });
  }
}

function fromFiles(files: TfjsModelFiles, where: string): CutNetwork {
  const json = typeof files.modelJson === 'string' ? parseModelJson(files.modelJson, where) : files.modelJson;
  if (json?.format !== TFJS_MODEL_FORMAT) {
    throw new Error(`${where}: format '${String(json?.format)}' is not '${TFJS_MODEL_FORMAT}' (a model saved by @cut/networks)`);
  }
  if (!Array.isArray(json.weightsManifest)) throw new Error(`${where}: no weightsManifest`);
  const w = files.weights;
  const weightData: tf.io.WeightData = Array.isArray(w)
    ? w
    : ArrayBuffer.isView(w)
      ? (w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer)
      : w;
  return fromArtifacts(
    {
      format: json.format,
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
      weightData,
    },
    where,
  );
}

function fromArtifacts(artifacts: tf.io.ModelArtifacts, where: string): CutNetwork {
  if (artifacts.format !== TFJS_MODEL_FORMAT) {
    throw new Error(`${where}: format '${String(artifacts.format)}' is not '${TFJS_MODEL_FORMAT}' (a model saved by @cut/networks)`);
  }
  const topology = artifacts.modelTopology as CutModelTopology | FormatOneTopology | undefined;
  if (!topology || topology instanceof ArrayBuffer || typeof topology !== 'object') throw new Error(`${where}: no modelTopology`);
  if (topology.formatVersion !== 1 && topology.formatVersion !== TFJS_MODEL_FORMAT_VERSION) {
    throw new Error(`${where}: format version ${String(topology.formatVersion)} is not supported (this reader knows 1 and ${TFJS_MODEL_FORMAT_VERSION})`);
  }
  const specs = artifacts.weightSpecs ?? [];
  if (!artifacts.weightData) throw new Error(`${where}: no weight data`);
  const bytes = Array.isArray(artifacts.weightData)
    ? artifacts.weightData.reduce((n, b) => n + b.byteLength, 0)
    : artifacts.weightData.byteLength;
  let want = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' || spec.quantization) {
      throw new Error(`${where}: weight '${spec.name}' is ${spec.quantization ? 'quantized' : spec.dtype}, expected float32`);
    }
    want += 4 * spec.shape.reduce((a, b) => a * b, 1);
  }
  if (bytes !== want) throw new Error(`${where}: the weights hold ${bytes} bytes, the manifest describes ${want}`);

  let net: CutNetwork;
  try {
    net = buildNetwork(topology);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
  try {
    assignWeights(net, specs, artifacts.weightData, where);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}

/** The network a topology describes, with zero weights (they are assigned next). */
function buildNetwork(topology: CutModelTopology | FormatOneTopology): CutNetwork {
  if (topology.formatVersion === 1) {
    const old = topology as FormatOneTopology;
    const found = configFromClassName(old.network, { ...old.options });
    if (!found) throw new Error(`unknown network '${String(old.network)}'`);
    return found.role === 'generator' ? defineGenerator(found.config, { skipInit: true }) : defineDiscriminator(found.config, { skipInit: true });
  }
  const t = topology as CutModelTopology;
  if (typeof t.config !== 'object' || t.config === null) throw new Error('no network config in modelTopology');
  if (t.network === 'generator') return defineGenerator(t.config, { skipInit: true });
  if (t.network === 'discriminator') return defineDiscriminator(t.config, { skipInit: true });
  throw new Error(`unknown network '${String((t as { network?: unknown }).network)}' (generator or discriminator)`);
}

/** A batch norm's running statistics: a variable each, and the batch counter (a number, stored as a float32 scalar). */
interface StatEntry {
  name: string;
  variable?: tf.Variable;
  counter?: () => number;
  setCounter?: (n: number) => void;
}

function statEntries(net: CutNetwork): StatEntry[] {
  if (!(net instanceof SequentialNetwork)) return [];
  return net.batchNormStats().flatMap(({ prefix, stats }) => [
    { name: `${prefix}.running_mean`, variable: stats.mean },
    { name: `${prefix}.running_var`, variable: stats.variance },
    { name: `${prefix}.num_batches_tracked`, counter: () => stats.batches, setCounter: (n: number) => (stats.batches = n) },
  ]);
}

/** The float32 scalar `name` read from the weight bytes (no backend read: WebGPU may not read synchronously). */
function floatAt(specs: tf.io.WeightsManifestEntry[], data: tf.io.WeightData, name: string): number {
  const bytes = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  let offset = 0;
  for (const spec of specs) {
    if (spec.name === name) return new DataView(bytes).getFloat32(offset, true);
    offset += 4 * spec.shape.reduce((a, b) => a * b, 1);
  }
  throw new Error(`no weight '${name}'`);
}

/** Strict: exactly the network's parameters (and batch norm statistics), each with its shape in our layout. */
function assignWeights(net: CutNetwork, specs: tf.io.WeightsManifestEntry[], data: tf.io.WeightData, where: string): void {
  const stats = statEntries(net);
  const names = [...net.parameterNames(), ...stats.map((e) => e.name)];
  const variables: Array<{ shape: number[]; assign(t: tf.Tensor): void }> = [
    ...net.trainableVariables(),
    ...stats.map((e) => e.variable ?? { shape: [], assign: () => e.setCounter!(floatAt(specs, data, e.name)) }),
  ];
  const byName = new Map(specs.map((s) => [s.name, s]));
  const unexpected = specs.find((s) => !names.includes(s.name));
  if (unexpected) throw new Error(`${where}: unexpected weight '${unexpected.name}' for this ${net.className}`);
  names.forEach((name, i) => {
    const spec = byName.get(name);
    if (!spec) throw new Error(`${where}: missing weight '${name}'`);
    const shape = variables[i]!.shape;
    if (spec.shape.length !== shape.length || spec.shape.some((d, k) => d !== shape[k])) {
      throw new Error(`${where}: '${name}' has shape [${spec.shape}], the network needs [${shape}]`);
    }
  });
  const decoded = tf.io.decodeWeights(data, specs);
  try {
    names.forEach((name, i) => variables[i]!.assign(decoded[name]!));
  } finally {
    tf.dispose(Object.values(decoded));
  }
}
