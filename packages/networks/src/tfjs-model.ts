// Our own model format for TensorFlow.js users: `model.json` (tf.io's ModelJSON shape: the
// network class and options as `modelTopology`, a `weightsManifest`) plus `weights.bin` (float32,
// in our NHWC layout, under the reference's parameter names). A browser can fetch the two files
// (or use `tf.io.http(url).load()`) and build the network without reading PyTorch's format.
// No file system here (it runs in a browser): @cut/trainer reads and writes the files.
import * as tf from '@tensorflow/tfjs-core';
import { NLayerDiscriminator, type NLayerDiscriminatorOptions } from './discriminator.js';
import { ResnetGenerator, type ResnetGeneratorOptions } from './generator.js';

export const TFJS_MODEL_FORMAT = 'cut-networks';
export const TFJS_MODEL_FORMAT_VERSION = 1;
export const TFJS_MODEL_FILE = 'model.json';
export const TFJS_WEIGHTS_FILE = 'weights.bin';

/** The networks this format holds. */
export type CutNetwork = ResnetGenerator | NLayerDiscriminator;

const LAYOUT =
  'NHWC activations; Conv2d weights HWIO [kh, kw, in, out]; ConvTranspose2d weights HWOI [kh, kw, out, in]; ' +
  'names and order of the PyTorch state_dict, blur-filter buffers left out (constants)';

export type CutModelTopology =
  | { formatVersion: number; network: 'ResnetGenerator'; options: Required<Omit<ResnetGeneratorOptions, 'rng' | 'seed' | 'skipInit'>>; layout: string }
  | { formatVersion: number; network: 'NLayerDiscriminator'; options: Required<Omit<NLayerDiscriminatorOptions, 'rng' | 'seed' | 'skipInit'>>; layout: string };

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
  const { data, specs } = await tf.io.encodeWeights(names.map((name, i) => ({ name, tensor: variables[i]! })));
  const modelTopology: CutModelTopology =
    net instanceof ResnetGenerator
      ? { formatVersion: TFJS_MODEL_FORMAT_VERSION, network: 'ResnetGenerator', options: { ...net.options }, layout: LAYOUT }
      : { formatVersion: TFJS_MODEL_FORMAT_VERSION, network: 'NLayerDiscriminator', options: { ...net.options }, layout: LAYOUT };
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
export async function loadTfjsGenerator(source: TfjsModelSource): Promise<ResnetGenerator> {
  const net = await loadTfjsModel(source);
  if (net instanceof ResnetGenerator) return net;
  net.dispose();
  throw new Error(`${'modelJson' in source ? (source.name ?? TFJS_MODEL_FILE) : 'model'}: holds a ${net.constructor.name}, not a ResnetGenerator`);
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
export function tfjsWeightFiles(modelJson: CutModelJson | string, name: string = TFJS_MODEL_FILE): { modelJson: CutModelJson; groups: TfjsWeightGroup[] } {
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
  if (typeof path !== 'string' || path === '') throw new Error(`${name}: a weight path is ${path === '' ? 'empty' : `not a string (${typeof path})`}`);
  const shown = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}...` : path);
  const refuse = (why: string) => new Error(`${name}: weight path ${shown} ${why}; only files inside the model's folder are read`);
  if (path.startsWith('/')) throw refuse('is absolute');
  if (path.includes('\\') || path.includes(':') || path.includes('\0')) throw refuse('has a backslash, colon or NUL (a drive, URL or another folder)');
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
export function minimumWeights(network: string, options: object | null | undefined): number {
  const o = (options ?? {}) as Record<string, unknown>;
  const n = (k: string, fallback: number) => (typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) > 0 ? (o[k] as number) : fallback);
  if (network === 'ResnetGenerator') {
    const ngf = n('ngf', 1);
    // The 7x7 convolutions in and out, and two 3x3 convolutions of 4 ngf channels per block.
    return 49 * ngf * (n('inputNc', 1) + n('outputNc', 1)) + n('nBlocks', 0) * 18 * (4 * ngf) ** 2;
  }
  if (network === 'NLayerDiscriminator') {
    const ndf = n('ndf', 1);
    return 16 * ndf * n('inputNc', 1) + n('nLayers', 0) * 16 * ndf * ndf;
  }
  return 0;
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
  const topology = artifacts.modelTopology as CutModelTopology | undefined;
  if (!topology || topology instanceof ArrayBuffer || typeof topology !== 'object') throw new Error(`${where}: no modelTopology`);
  if (topology.formatVersion !== TFJS_MODEL_FORMAT_VERSION) {
    throw new Error(`${where}: format version ${String(topology.formatVersion)} is not supported (this reader knows ${TFJS_MODEL_FORMAT_VERSION})`);
  }
  const specs = artifacts.weightSpecs ?? [];
  if (!artifacts.weightData) throw new Error(`${where}: no weight data`);
  const bytes = Array.isArray(artifacts.weightData)
    ? artifacts.weightData.reduce((n, b) => n + b.byteLength, 0)
    : artifacts.weightData.byteLength;
  if (!Array.isArray(specs)) throw new Error(`${where}: the weight specs are not a list`);
  const want = specBytes(specs, where);
  if (bytes !== want) throw new Error(`${where}: the weights hold ${bytes} bytes, the manifest describes ${want}`);
  const least = minimumWeights(String(topology.network), topology.options);
  if (least * 4 > want) {
    throw new Error(`${where}: a ${String(topology.network)} with these options has at least ${least} weights, the manifest holds ${want / 4}`);
  }

  let net: CutNetwork;
  try {
    if (topology.network === 'ResnetGenerator') net = new ResnetGenerator({ ...topology.options, skipInit: true });
    else if (topology.network === 'NLayerDiscriminator') net = new NLayerDiscriminator({ ...topology.options, skipInit: true });
    else throw new Error(`unknown network '${String((topology as { network?: unknown }).network)}'`);
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

/** Strict: exactly the network's parameters, each with its shape in our layout. */
function assignWeights(net: CutNetwork, specs: tf.io.WeightsManifestEntry[], data: tf.io.WeightData, where: string): void {
  const names = net.parameterNames();
  const variables = net.trainableVariables();
  const byName = new Map(specs.map((s) => [s.name, s]));
  const unexpected = specs.find((s) => !names.includes(s.name));
  if (unexpected) throw new Error(`${where}: unexpected weight '${unexpected.name}' for this ${net.constructor.name}`);
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
