// Checkpoints in the reference's format: one `torch.save(net.state_dict())` file per network
// (`<epoch>_net_G.pth`, `_net_D.pth`, `_net_F.pth`) beside the run's `train_opt.txt`.
// Bytes in, bytes out: no file system here, so that this runs in a browser too. Reading and
// writing the files is @cut/files' job.
import * as tf from '@tensorflow/tfjs-core';
import type { InitType } from '@cut/core-tensors';
import type { Discriminator, Generator, Network, TorchStateDict } from './contract.js';
import { networkOptionsFrom, parseOptionsFile, type NetworkOptions } from './options.js';
import { architectureClassName, defineDiscriminator, defineGenerator } from './registry.js';
import { encodePth, readPth, stripModulePrefix, type ByteSource, type StateDict, type StateDictMetadata, type WritableTensor } from './pth/index.js';
import { minimumWeights } from './tfjs-model.js';

/** Where weights come from: the file's bytes, or random access to them (`name` is used in errors). */
export type CheckpointSource = Uint8Array | ByteSource;

export interface LoadWeightsOptions {
  /** Names the checkpoint (its file) in error messages. */
  name?: string;
}

export interface SaveWeightsOptions {
  /**
   * Prepended to every key. None by default: the keys the reference writes when it trains on a
   * GPU (`model.1.weight`), which its `test.py` loads as they are. `'module.'` gives the keys of its
   * CPU training (DataParallel wrapper).
   */
  prefix?: string;
}

const sourceName = (options: LoadWeightsOptions) => options.name ?? '<in-memory checkpoint>';

/**
 * A checkpoint's tensors as float32 arrays in PyTorch layout. Every tensor must be floating point
 * (float16/64 and bfloat16 are converted); anything else is an error naming the file and key.
 */
export function floatStateDict(dict: StateDict, source: string): TorchStateDict {
  const out: TorchStateDict = new Map();
  for (const [key, t] of dict) {
    // BatchNorm2d's batch counter is torch's only integer entry (int64): read as a float count.
    if (key.endsWith('.num_batches_tracked') && t.dtype === 'int64' && t.data.length === 1) {
      out.set(key, { shape: t.shape, data: Float32Array.of(Number(t.data[0])) });
      continue;
    }
    if (!(t.data instanceof Float32Array)) {
      throw new Error(`${source}: '${key}' holds ${t.dtype} values (shape [${t.shape}]), expected a floating-point weight`);
    }
    out.set(key, { shape: t.shape, data: t.data });
  }
  return out;
}

/**
 * Loads a state_dict checkpoint into a generator or discriminator built with the matching options.
 * Strict like `load_state_dict(strict=True)`; a `module.` prefix is accepted. Errors name the
 * file, the first offending key and both shapes, and leave the network unchanged.
 */
export function loadNetworkWeights(net: Network, source: CheckpointSource, options: LoadWeightsOptions = {}): void {
  const file = sourceName(options);
  const dict = readPth(source, {
    name: file,
    // Names and shapes are checked against the network before any tensor is read, and the file
    // may hold no more than the network's values (as float64, the widest type read).
    expect: (shapes) => {
      const problem = net.stateDictMismatch(shapes);
      if (problem) throw new Error(problem);
    },
    maxBytes: 8 * net.stateDictSize(),
  });
  net.loadStateDict(floatStateDict(dict, file), file);
}

/**
 * The bytes of the reference's `<epoch>_net_G.pth` / `_net_D.pth` for the network: the state_dict
 * in its key order, blur-filter buffers included, with the reference's `_metadata` (module
 * versions), so that `torch.load` + `load_state_dict(strict=True)` take it.
 */
export async function encodeNetworkWeights(net: Network, options: SaveWeightsOptions = {}): Promise<Uint8Array> {
  const state = await net.stateDict();
  const entries = [...state].map(([key, t]): [string, WritableTensor] =>
    key.endsWith('.num_batches_tracked') ? [key, { shape: t.shape, data: BigInt64Array.from(t.data, (v) => BigInt(v)) }] : [key, t],
  );
  return encodePth(entries, { prefix: options.prefix, metadata: networkMetadata(net) });
}

/** The `_metadata` PyTorch stores with the network's state_dict (every submodule path with its class version). */
export function networkMetadata(net: Network): StateDictMetadata {
  return net.stateDictMetadata();
}

/**
 * What a checkpoint needs of netF (`PatchSampleF` of @cut/patch-sampler fits): its weights under
 * the reference's names (`mlp_<i>.0.weight` [nc, C], `mlp_<i>.0.bias`, `mlp_<i>.2.weight`,
 * `mlp_<i>.2.bias`) in PyTorch layout.
 */
export interface PatchSamplerWeights {
  /** Its `--netF` name (`mlp_sample` when absent), which decides the file's `_metadata`. */
  readonly netF?: string;
  /** New tensors, in state_dict order; the caller disposes them. */
  getWeights(): Record<string, tf.Tensor>;
  /** Strict; copies the given tensors. */
  setWeights(weights: Record<string, tf.Tensor>): void;
}

/** Loads a `<epoch>_net_F.pth` (keys with or without `module.`) into netF. Errors name the file. */
export function loadPatchSamplerWeights(f: PatchSamplerWeights, source: CheckpointSource, options: LoadWeightsOptions = {}): void {
  const file = sourceName(options);
  const state = stripModulePrefix(floatStateDict(readPth(source, { name: file }), file));
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const [key, t] of state) tensors[key] = tf.tensor(t.data, t.shape, 'float32');
    f.setWeights(tensors);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * The bytes of the reference's `<epoch>_net_F.pth` for netF (`mlp_<i>.*` keys, `_metadata` included).
 * Before its MLPs exist (or with netF `sample`) the state_dict is empty, as the reference's is.
 */
export async function encodePatchSamplerWeights(f: PatchSamplerWeights, options: SaveWeightsOptions = {}): Promise<Uint8Array> {
  const weights = f.getWeights();
  const entries: Array<[string, { shape: number[]; data: Float32Array }]> = [];
  try {
    for (const [key, t] of Object.entries(weights)) {
      entries.push([key, { shape: [...t.shape], data: Float32Array.from((await t.data()) as Float32Array) }]);
    }
  } finally {
    tf.dispose(Object.values(weights));
  }
  return encodePth(entries, {
    prefix: options.prefix,
    metadata: patchSamplerMetadata(
      entries.map(([k]) => k),
      f.netF,
    ),
  });
}

/**
 * netF's `_metadata`. PatchSampleF: the root, its `l2norm` and each level's `mlp_<i>` Sequential
 * (Linear, ReLU, Linear). ReshapeF / PoolingF: the root, `model` (one pooling layer) and `l2norm`.
 * StridedConvF: the root, `l2_norm` and each `child_<C>_<H>` Sequential (convs with ReLUs between).
 */
function patchSamplerMetadata(keys: string[], netF = 'mlp_sample'): StateDictMetadata {
  const v1 = { version: 1 };
  if (netF === 'reshape' || netF === 'global_pool') {
    return new Map([
      ['', v1],
      ['model', v1],
      ['model.0', v1],
      ['l2norm', v1],
    ]);
  }
  if (netF === 'strided_conv') {
    const out = new Map<string, { version: number }>([
      ['', v1],
      ['l2_norm', v1],
    ]);
    const last = new Map<string, number>();
    for (const k of keys) {
      const m = /^(child_\d+_\d+)\.(\d+)\./.exec(k);
      if (m) last.set(m[1]!, Math.max(last.get(m[1]!) ?? 0, Number(m[2])));
    }
    for (const [child, n] of last) {
      out.set(child, v1);
      for (let j = 0; j <= n; j++) out.set(`${child}.${j}`, v1);
    }
    return out;
  }
  const out = new Map<string, { version: number }>([
    ['', { version: 1 }],
    ['l2norm', { version: 1 }],
  ]);
  const levels = new Set(keys.map((k) => /^mlp_(\d+)\./.exec(k)?.[1]).filter((l): l is string => l !== undefined));
  for (const level of [...levels].sort((a, b) => Number(a) - Number(b))) {
    out.set(`mlp_${level}`, { version: 1 });
    for (const j of [0, 1, 2]) out.set(`mlp_${level}.${j}`, { version: 1 });
  }
  return out;
}

/** netF's construction options, as the reference derives them from its options (PatchSampleFOptions-compatible). */
export interface PatchSamplerConfig {
  /** The `--netF` head (`mlp_sample`, `sample`, `reshape`, `global_pool`, `strided_conv`). */
  netF: string;
  useMlp: boolean;
  nc: number;
  initType: InitType;
  initGain: number;
}

/** A checkpoint's files, read by the caller (from disk, a file picker, a download). */
export interface CheckpointFiles {
  /** `<epoch>_net_G.pth` (required). */
  G: CheckpointSource;
  /** `<epoch>_net_D.pth`, when there is one. */
  D?: CheckpointSource;
  /** `<epoch>_net_F.pth`, when there is one (read only with `createPatchSampler`). */
  F?: CheckpointSource;
  /**
   * The run's options: `train_opt.txt`'s text, or a parsed map. Without them the reference's
   * defaults (what its test.py does: it never reads train_opt.txt).
   */
  options?: string | ReadonlyMap<string, string>;
  /** The files' names, for messages. */
  names?: { G?: string; D?: string; F?: string; options?: string };
}

export interface LoadCheckpointOptions<F extends PatchSamplerWeights> {
  /** Options on top of the files' (e.g. netG, ngf, no_antialias), as the reference writes them ('True', '16'). */
  overrides?: ReadonlyMap<string, string>;
  /** Where `overrides` came from, for messages (default 'the caller'). */
  overridesFrom?: string;
  /** Builds netF, e.g. `(c) => createFeatureHead(c.netF, c)` (@cut/patch-sampler); without it the F file is left unread. */
  createPatchSampler?: (config: PatchSamplerConfig) => F;
}

export interface ReferenceCheckpoint<F extends PatchSamplerWeights = PatchSamplerWeights> {
  /** The network configuration the run was trained with. */
  options: NetworkOptions;
  /** What that configuration came from (the options file, defaults, overrides), for messages. */
  configuredBy: string;
  G: Generator;
  /** Present when `<epoch>_net_D.pth` is. */
  D?: Discriminator;
  /** Present when `<epoch>_net_F.pth` is and `createPatchSampler` was given. */
  F?: F;
  /** The files' names (F: the file given, read or not). */
  files: { options?: string; G: string; D?: string; F?: string };
  /** Frees every loaded network. */
  dispose(): void;
}

/**
 * The one checkpoint loader (the CLI, the trainer and the web page use it): builds G (required),
 * D and F (when their files are given) as the run's options (with `overrides` on top) describe,
 * and loads their weights strictly. A G that does not match says which configuration it was built from.
 */
export function loadCheckpoint<F extends PatchSamplerWeights = PatchSamplerWeights>(
  checkpoint: CheckpointFiles,
  options: LoadCheckpointOptions<F> = {},
): ReferenceCheckpoint<F> {
  const names = {
    G: checkpoint.names?.G ?? 'net_G.pth',
    D: checkpoint.names?.D ?? 'net_D.pth',
    F: checkpoint.names?.F ?? 'net_F.pth',
    options: checkpoint.names?.options ?? (typeof checkpoint.options === 'string' ? 'train_opt.txt' : 'the given options'),
  };
  const raw = new Map(typeof checkpoint.options === 'string' ? parseOptionsFile(checkpoint.options) : (checkpoint.options ?? []));
  let configuredBy = checkpoint.options === undefined ? 'the default options' : names.options;
  const overrides = options.overrides ?? new Map<string, string>();
  for (const [k, v] of overrides) raw.set(k, v);
  if (overrides.size) configuredBy += ` with --${[...overrides.keys()].join(', --')} from ${options.overridesFrom ?? 'the caller'}`;
  const net = networkOptionsFrom(raw, configuredBy);
  const files: ReferenceCheckpoint<F>['files'] = { options: checkpoint.options === undefined ? undefined : names.options, G: names.G };
  // Each value takes 2 bytes at least (float16): options for a large network (over 64 MiB of
  // float32 weights) that its file cannot hold are refused before the network is built (a
  // stranger's train_opt.txt with ngf 100000); a small one is built, for the key-by-key message.
  const fits = (which: 'G' | 'D', config: { architecture: string }) => {
    const source = checkpoint[which];
    const least = source === undefined ? 0 : minimumWeights(config);
    const bytes = source instanceof Uint8Array ? source.byteLength : (source?.size ?? 0);
    if (2 * least > bytes && 4 * least > 64 * 2 ** 20) {
      const name = architectureClassName(config.architecture) ?? config.architecture;
      const what = Object.entries(config)
        .filter(([, v]) => typeof v === 'number')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      throw new Error(`${names[which]}: ${bytes} bytes cannot hold the ${least}+ weights of a ${name} configured by ${configuredBy} (${what})`);
    }
  };
  fits('G', net.generator);
  fits('D', net.discriminator);
  const built: Array<{ dispose(): void }> = [];
  try {
    // Weights are replaced right away: no random draws.
    const G = defineGenerator(net.generator, { skipInit: true });
    built.push(G);
    try {
      loadNetworkWeights(G, checkpoint.G, { name: names.G });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n  (network built from ${configuredBy}: ${describeGenerator(G)})`, { cause: e });
    }
    let D: Discriminator | undefined;
    if (checkpoint.D !== undefined) {
      files.D = names.D;
      D = defineDiscriminator(net.discriminator, { skipInit: true });
      built.push(D);
      loadNetworkWeights(D, checkpoint.D, { name: names.D });
    }
    let F: F | undefined;
    if (checkpoint.F !== undefined) {
      files.F = names.F;
      if (options.createPatchSampler) {
        const init = net.generator.init;
        F = options.createPatchSampler({ ...net.patchSampler, initType: init.type, initGain: init.gain ?? 0.02 });
        if ('dispose' in F && typeof F.dispose === 'function') built.push(F as unknown as { dispose(): void });
        loadPatchSamplerWeights(F, checkpoint.F, { name: names.F });
      }
    }
    return { options: net, configuredBy, G, D, F, files, dispose: () => built.forEach((n) => n.dispose()) };
  } catch (e) {
    built.forEach((n) => n.dispose());
    throw e;
  }
}

/** The options that shaped a generator, for messages: `netG resnet_6blocks, ngf 8, input_nc 3, output_nc 3, no_antialias`. */
function describeGenerator(G: Generator): string {
  const o = G.referenceOptions();
  const shown = ['netG', 'ngf', 'input_nc', 'output_nc', 'normG'].filter((k) => o.has(k) && !(k === 'normG' && o.get(k) === 'instance'));
  const flags = ['no_antialias', 'no_antialias_up'].filter((k) => o.get(k) === 'True');
  return [...shown.map((k) => `${k} ${o.get(k)}`), ...flags].join(', ');
}
