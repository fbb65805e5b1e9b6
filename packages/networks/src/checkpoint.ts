// Checkpoints in the reference's format: one `torch.save(net.state_dict())` file per network
// (`<epoch>_net_G.pth`, `_net_D.pth`, `_net_F.pth`) beside the run's `train_opt.txt`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { InitType } from '@cut/core-tensors';
import { NLayerDiscriminator } from './discriminator.js';
import { ResnetGenerator } from './generator.js';
import type { SequentialNetwork, TorchStateDict } from './network.js';
import { networkOptionsFrom, parseOptionsFile, type NetworkOptions } from './options.js';
import { readPth, stripModulePrefix, writePth, type StateDict, type StateDictMetadata } from './pth/index.js';

/** Where weights come from: a file path, or the file's bytes (then `name` is used in errors). */
export type CheckpointSource = string | Uint8Array;

export interface LoadWeightsOptions {
  /** Names an in-memory checkpoint in error messages. */
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

const sourceName = (source: CheckpointSource, options: LoadWeightsOptions) =>
  typeof source === 'string' ? source : (options.name ?? '<in-memory checkpoint>');

/**
 * A checkpoint's tensors as float32 arrays in PyTorch layout. Every tensor must be floating point
 * (float16/64 and bfloat16 are converted); anything else is an error naming the file and key.
 */
export function floatStateDict(dict: StateDict, source: string): TorchStateDict {
  const out: TorchStateDict = new Map();
  for (const [key, t] of dict) {
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
export function loadNetworkWeights(net: SequentialNetwork, source: CheckpointSource, options: LoadWeightsOptions = {}): void {
  const file = sourceName(source, options);
  net.loadStateDict(floatStateDict(readPth(source, { name: file }), file), file);
}

/**
 * Writes the network as the reference's `<epoch>_net_G.pth` / `_net_D.pth`: the state_dict in its
 * key order, blur-filter buffers included, with the reference's `_metadata` (module versions), so
 * that `torch.load` + `load_state_dict(strict=True)` take it. Atomic (written beside, then renamed).
 */
export async function saveNetworkWeights(net: SequentialNetwork, pthPath: string, options: SaveWeightsOptions = {}): Promise<void> {
  const state = await net.stateDict();
  writePth(pthPath, state, { prefix: options.prefix, metadata: networkMetadata(net) });
}

/**
 * The `_metadata` PyTorch stores with the network's state_dict: every submodule path with its
 * class version (InstanceNorm2d is version 2, every other module used here 1).
 */
export function networkMetadata(net: SequentialNetwork): StateDictMetadata {
  const version = (v: number) => ({ version: v });
  const out = new Map<string, { version: number }>([
    ['', version(1)],
    ['model', version(1)],
  ]);
  const dropout = net instanceof ResnetGenerator && net.options.useDropout;
  // ResnetBlock.conv_block: pad, conv, norm, relu, [dropout], pad, conv, norm.
  const block = dropout ? ['pad', 'conv', 'norm', 'relu', 'dropout', 'pad', 'conv', 'norm'] : ['pad', 'conv', 'norm', 'relu', 'pad', 'conv', 'norm'];
  net.modules.forEach((m, i) => {
    const path = `model.${i}`;
    out.set(path, version(m.type === 'InstanceNorm2d' ? 2 : 1));
    if (m.type === 'Downsample' || m.type === 'Upsample') out.set(`${path}.pad`, version(1));
    if (m.type === 'ResnetBlock') {
      out.set(`${path}.conv_block`, version(1));
      block.forEach((kind, j) => out.set(`${path}.conv_block.${j}`, version(kind === 'norm' ? 2 : 1)));
    }
  });
  return out;
}

/**
 * What a checkpoint needs of netF (`PatchSampleF` of @cut/patch-sampler fits): its weights under
 * the reference's names (`mlp_<i>.0.weight` [nc, C], `mlp_<i>.0.bias`, `mlp_<i>.2.weight`,
 * `mlp_<i>.2.bias`) in PyTorch layout.
 */
export interface PatchSamplerWeights {
  /** New tensors, in state_dict order; the caller disposes them. */
  getWeights(): Record<string, tf.Tensor>;
  /** Strict; copies the given tensors. */
  setWeights(weights: Record<string, tf.Tensor>): void;
}

/** Loads a `<epoch>_net_F.pth` (keys with or without `module.`) into netF. Errors name the file. */
export function loadPatchSamplerWeights(f: PatchSamplerWeights, source: CheckpointSource, options: LoadWeightsOptions = {}): void {
  const file = sourceName(source, options);
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
 * Writes netF as the reference's `<epoch>_net_F.pth` (`mlp_<i>.*` keys, `_metadata` included).
 * Before its MLPs exist (or with netF `sample`) the state_dict is empty, as the reference's is.
 */
export async function savePatchSamplerWeights(f: PatchSamplerWeights, pthPath: string, options: SaveWeightsOptions = {}): Promise<void> {
  const weights = f.getWeights();
  const entries: Array<[string, { shape: number[]; data: Float32Array }]> = [];
  try {
    for (const [key, t] of Object.entries(weights)) {
      entries.push([key, { shape: [...t.shape], data: Float32Array.from((await t.data()) as Float32Array) }]);
    }
  } finally {
    tf.dispose(Object.values(weights));
  }
  writePth(pthPath, entries, { prefix: options.prefix, metadata: patchSamplerMetadata(entries.map(([k]) => k)) });
}

/** PatchSampleF's `_metadata`: the root, its `l2norm` and each level's `mlp_<i>` Sequential (Linear, ReLU, Linear). */
function patchSamplerMetadata(keys: string[]): StateDictMetadata {
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
  useMlp: boolean;
  nc: number;
  initType: InitType;
  initGain: number;
}

export interface LoadReferenceCheckpointOptions<F extends PatchSamplerWeights> {
  /** Which checkpoint: `latest` (default), an epoch number, or `iter_<n>`: files `<epoch>_net_<G|D|F>.pth`. */
  epoch?: string | number;
  /** The run's options (a parsed map, or an options file's text) instead of `<dir>/train_opt.txt`. */
  options?: ReadonlyMap<string, string> | string;
  /** Builds netF, e.g. `(c) => new PatchSampleF(c)`; without it the F file is left unread. */
  createPatchSampler?: (config: PatchSamplerConfig) => F;
}

export interface ReferenceCheckpoint<F extends PatchSamplerWeights = PatchSamplerWeights> {
  /** The network configuration the run was trained with. */
  options: NetworkOptions;
  G: ResnetGenerator;
  /** Present when `<epoch>_net_D.pth` is. */
  D?: NLayerDiscriminator;
  /** Present when `<epoch>_net_F.pth` is and `createPatchSampler` was given. */
  F?: F;
  /** The files read (F: the file found, read or not). */
  files: { options?: string; G: string; D?: string; F?: string };
  /** Frees every loaded network. */
  dispose(): void;
}

/**
 * Loads a run directory written by the reference (`checkpoints/<name>/`, or ours in the same
 * format): builds G (required), D and F (when their files exist) as its options describe, and
 * loads their weights strictly.
 */
export function loadReferenceCheckpoint<F extends PatchSamplerWeights = PatchSamplerWeights>(
  dir: string,
  options: LoadReferenceCheckpointOptions<F> = {},
): ReferenceCheckpoint<F> {
  const epoch = String(options.epoch ?? 'latest');
  let raw: ReadonlyMap<string, string>;
  let optionsSource: string;
  let optionsFile: string | undefined;
  if (options.options === undefined) {
    optionsFile = join(dir, 'train_opt.txt');
    if (!existsSync(optionsFile)) {
      throw new Error(`${dir}: no train_opt.txt, so the network configuration is unknown (pass it as the 'options' option)`);
    }
    raw = parseOptionsFile(readFileSync(optionsFile, 'utf8'));
    optionsSource = optionsFile;
  } else {
    raw = typeof options.options === 'string' ? parseOptionsFile(options.options) : options.options;
    optionsSource = `options given for ${dir}`;
  }
  const net = networkOptionsFrom(new Map(raw), optionsSource);
  const file = (which: 'G' | 'D' | 'F') => join(dir, `${epoch}_net_${which}.pth`);
  const files: ReferenceCheckpoint<F>['files'] = { options: optionsFile, G: file('G') };
  if (!existsSync(files.G)) throw new Error(`${files.G}: no such checkpoint (epoch '${epoch}')`);
  const built: Array<{ dispose(): void }> = [];
  try {
    const G = new ResnetGenerator(net.generator);
    built.push(G);
    loadNetworkWeights(G, files.G);
    let D: NLayerDiscriminator | undefined;
    if (existsSync(file('D'))) {
      files.D = file('D');
      D = new NLayerDiscriminator(net.discriminator);
      built.push(D);
      loadNetworkWeights(D, files.D);
    }
    let F: F | undefined;
    if (existsSync(file('F'))) {
      files.F = file('F');
      if (options.createPatchSampler) {
        const init = net.generator.init ?? { type: 'xavier' as const, gain: 0.02 };
        F = options.createPatchSampler({ ...net.patchSampler, initType: init.type, initGain: init.gain ?? 0.02 });
        if ('dispose' in F && typeof F.dispose === 'function') built.push(F as unknown as { dispose(): void });
        loadPatchSamplerWeights(F, files.F);
      }
    }
    return { options: net, G, D, F, files, dispose: () => built.forEach((n) => n.dispose()) };
  } catch (e) {
    built.forEach((n) => n.dispose());
    throw e;
  }
}
