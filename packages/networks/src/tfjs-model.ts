// Our own model format for TensorFlow.js users: `model.json` (tf.io's ModelJSON shape: the
// registry's architecture and its config as `modelTopology`, a `weightsManifest`) plus `weights.bin` (float32,
// in our NHWC layout, under the reference's parameter names). A browser can fetch the two files
// (or use `tf.io.http(url).load()`) and build the network without reading PyTorch's format.
// No file system here (it runs in a browser): @cut/files reads and writes the files.
import * as tf from '@tensorflow/tfjs-core';
import type { Discriminator, Generator } from './contract.js';
import { SequentialNetwork } from './network.js';
import {
  architectureClassName,
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

/** One group of the manifest: its files (in order) hold its weights' bytes, concatenated. */
export interface TfjsWeightGroup {
  /** Relative to the model's folder: plain names, `/` between folders, each checked (no `..`, not absolute). */
  paths: string[];
  /** The bytes all of `paths` together must hold: what the group's float32 weights need. */
  bytes: number;
}

/**
 * The weight files `model.json` names, each checked to stay inside the model's folder, and the
 * bytes each group of them must hold. A model folder may come from a stranger: call this before
 * opening any weight file, then check each group's total size against `bytes` before reading
 * (as @cut/trainer's `readTfjsModelDir` and the web page do). Errors name `name` and the path.
 */
export function tfjsWeightFiles(
  modelJson: CutModelJson | string,
  name: string = TFJS_MODEL_FILE,
): { modelJson: CutModelJson; groups: TfjsWeightGroup[] } {
  const json = typeof modelJson === 'string' ? parseModelJson(modelJson, name) : modelJson;
  if (json?.format !== TFJS_MODEL_FORMAT) {
    throw new Error(`${name}: format '${String(json?.format)}' is not '${TFJS_MODEL_FORMAT}' (a model saved by @cut/networks)`);
  }
  const manifest: unknown = json.weightsManifest;
  if (!Array.isArray(manifest)) throw new Error(`${name}: no weightsManifest`);
  const groups = manifest.map((group: unknown, i): TfjsWeightGroup => {
    const g = group as { paths?: unknown; weights?: unknown } | null;
    if (!g || typeof g !== 'object' || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`${name}: weightsManifest[${i}] is not a group of paths and weights`);
    }
    const paths = g.paths.map((p: unknown) => checkWeightPath(p, name));
    if (paths.length === 0 && g.weights.length > 0) throw new Error(`${name}: weightsManifest[${i}] has weights but no files`);
    return { paths, bytes: specBytes(g.weights as tf.io.WeightsManifestEntry[], name) };
  });
  return { modelJson: json, groups };
}

/** A manifest path as a folder-relative path: no `..` or `.`, not absolute, no drive, scheme or backslash. */
function checkWeightPath(path: unknown, name: string): string {
  if (typeof path !== 'string' || path === '')
    throw new Error(`${name}: a weight path is ${path === '' ? 'empty' : `not a string (${typeof path})`}`);
  const shown = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}...` : path);
  const refuse = (why: string) => new Error(`${name}: weight path ${shown} ${why}; only files inside the model's folder are read`);
  if (path.startsWith('/')) throw refuse('is absolute');
  if (path.includes('\\') || path.includes(':') || path.includes('\0'))
    throw refuse('has a backslash, colon or NUL (a drive, URL or another folder)');
  const parts = path.split('/');
  if (parts.includes('..')) throw refuse("leads out of the model's folder ('..')");
  if (parts.some((p) => p === '' || p === '.')) throw refuse("has an empty or '.' part");
  return path;
}

/** The bytes a list of weight specs needs; every spec checked (float32, unquantized, a shape of non-negative integers). */
function specBytes(specs: tf.io.WeightsManifestEntry[], where: string): number {
  let bytes = 0;
  for (const spec of specs) {
    const label = `weight '${String(spec?.name)}'`;
    if (!spec || typeof spec !== 'object' || typeof spec.name !== 'string') throw new Error(`${where}: a weight spec has no name`);
    if (spec.dtype !== 'float32' || spec.quantization) {
      throw new Error(`${where}: ${label} is ${spec.quantization ? 'quantized' : String(spec.dtype)}, expected float32`);
    }
    if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: ${label} has a bad shape ${JSON.stringify(spec.shape)?.slice(0, 100)}`);
    }
    bytes += 4 * spec.shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(bytes)) throw new Error(`${where}: ${label} makes the weights too large to be real`);
  }
  return bytes;
}

/**
 * The fewest weights a network of these options can have (its largest layers only): a file that
 * holds fewer cannot be this network, and is refused before the network is built (so that
 * `ngf: 100000` beside a small file does not allocate gigabytes). Options left out count as 1 or 0.
 */
export function minimumWeights(config: object | null | undefined): number {
  const o = (config ?? {}) as Record<string, unknown>;
  const n = (k: string, fallback: number) =>
    typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) > 0 ? (o[k] as number) : fallback;
  if (o.architecture === 'resnet') {
    const ngf = n('ngf', 1);
    // The 7x7 convolutions in and out, and two 3x3 convolutions of 4 ngf channels per block.
    return 49 * ngf * (n('inputNc', 1) + n('outputNc', 1)) + n('nBlocks', 0) * 18 * (4 * ngf) ** 2;
  }
  if (o.architecture === 'n_layers') {
    const ndf = n('ndf', 1);
    return 16 * ndf * n('inputNc', 1) + n('nLayers', 0) * 16 * ndf * ndf;
  }
  // Any other architecture: its first convolution maps inputNc channels to ngf (or ndf), 1x1 at least.
  return n('inputNc', 1) * Math.max(n('ngf', 0), n('ndf', 0));
}

function parseModelJson(text: string, where: string): CutModelJson {
  try {
    return JSON.parse(text) as CutModelJson;
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`, { cause: e });
  }
}

function fromFiles(files: TfjsModelFiles, where: string): CutNetwork {
  const { modelJson: json, groups } = tfjsWeightFiles(files.modelJson, where);
  const w = files.weights;
  const paths = groups.flatMap((g) => g.paths);
  if (Array.isArray(w) && w.length !== paths.length) {
    throw new Error(`${where}: ${w.length} weight buffers given for the manifest's ${paths.length} files (${paths.join(', ')})`);
  }
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
    throw new Error(
      `${where}: format version ${String(topology.formatVersion)} is not supported (this reader knows 1 and ${TFJS_MODEL_FORMAT_VERSION})`,
    );
  }
  const specs = artifacts.weightSpecs ?? [];
  if (!artifacts.weightData) throw new Error(`${where}: no weight data`);
  const bytes = Array.isArray(artifacts.weightData) ? artifacts.weightData.reduce((n, b) => n + b.byteLength, 0) : artifacts.weightData.byteLength;
  if (!Array.isArray(specs)) throw new Error(`${where}: the weight specs are not a list`);
  const want = specBytes(specs, where);
  if (bytes !== want) throw new Error(`${where}: the weights hold ${bytes} bytes, the manifest describes ${want}`);
  let found: NetworkConfig;
  try {
    found = topologyConfig(topology);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
  const least = minimumWeights(found.config);
  if (least * 4 > want) {
    const name = architectureClassName(found.config.architecture) ?? found.config.architecture;
    throw new Error(`${where}: a ${name} with these options has at least ${least} weights, the manifest holds ${want / 4}`);
  }

  let net: CutNetwork;
  try {
    net = buildNetwork(found);
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
type NetworkConfig = { role: 'generator'; config: GeneratorConfig } | { role: 'discriminator'; config: DiscriminatorConfig };

/** The role and typed config a topology describes (format 1 named the reference's class and its options). */
function topologyConfig(topology: CutModelTopology | FormatOneTopology): NetworkConfig {
  if (topology.formatVersion === 1) {
    const old = topology as FormatOneTopology;
    const found = configFromClassName(old.network, { ...old.options });
    if (!found) throw new Error(`unknown network '${String(old.network)}'`);
    return found;
  }
  const t = topology as CutModelTopology;
  if (typeof t.config !== 'object' || t.config === null) throw new Error('no network config in modelTopology');
  if (t.network === 'generator') return { role: 'generator', config: t.config as GeneratorConfig };
  if (t.network === 'discriminator') return { role: 'discriminator', config: t.config as DiscriminatorConfig };
  throw new Error(`unknown network '${String((t as { network?: unknown }).network)}' (generator or discriminator)`);
}

function buildNetwork(found: NetworkConfig): CutNetwork {
  return found.role === 'generator' ? defineGenerator(found.config, { skipInit: true }) : defineDiscriminator(found.config, { skipInit: true });
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
