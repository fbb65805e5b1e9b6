// What every generator and discriminator offers, whatever its architecture (a sequential ResNet,
// a recursive UNet): the trainer, the checkpoint formats, translation and the apps use only this,
// never a concrete class. Architectures are built by name through the registry (registry.ts).
import type * as tf from '@tensorflow/tfjs-core';
import type { HostArray, InitOptions, SeededRng } from '@cut/core-tensors';
import type { Module } from './modules.js';
import type { StateDictMetadata } from './pth/index.js';

/** A tensor in PyTorch's layout, as a state_dict holds it. */
export interface TorchArray {
  shape: number[];
  data: Float32Array;
}

/** name -> tensor in PyTorch layout, in the reference's state_dict order. */
export type TorchStateDict = Map<string, TorchArray>;

/** A layer by its index (the reference's, e.g. in `G.model`) or by its name here (`down1.conv`, `block5`). */
export type LayerRef = number | string;

/** The reference's `--normG` / `--normD` values (`get_norm_layer`). */
export type NormType = 'instance' | 'batch' | 'none';

/** One layer whose output `encode` can return (for CUT's `--nce_layers`). */
export interface LayerInfo {
  /** Its index in `--nce_layers` (for a sequential network, its index in the reference's `model`). */
  index: number;
  /** A readable name, usable instead of the index. */
  name: string;
  /** The reference's module class (`Conv2d`, `ResnetBlock`, ...). */
  type: string;
}

/** How to make the weights of a new network. */
export interface BuildOptions {
  /** Random source for initialisation; `seed` is used when absent. */
  rng?: SeededRng;
  seed?: number;
  /** Zero weights instead of random draws, for a network whose weights are loaded next (saves the draws' time). */
  skipInit?: boolean;
}

/** What the image side must be for a network, known from its config alone (no weights built). */
export interface SideSizing {
  /** Every side the network takes is a multiple of this (translation pads images up to one). */
  readonly multiple: number;
  /** The smallest side, a multiple of `multiple`, the network takes. */
  readonly minimumSide: number;
  /** Why a side of `size` pixels cannot go through the network (a phrase naming the layer), or null. */
  sideProblem(size: number): string | null;
}

/** A generator's sizing, plus what tiled translation needs. */
export interface GeneratorSizing extends SideSizing {
  /**
   * How many input pixels away an output pixel's value reaches through the convolutions
   * (normalisation statistics aside): the halo a tile needs.
   */
  readonly reach: number;
  /** Whether `forwardTiled` runs this generator tile by tile with the whole-image result. */
  readonly tiled: boolean;
}

/** What generators and discriminators share: weights, the reference's state_dict, the config they were built from. */
export interface Network {
  /** The registry name of the architecture (`resnet`, `n_layers`). */
  readonly architecture: string;
  /** The reference's class name (as its networks.py spells it), for messages. */
  readonly className: string;
  /** The full config the network was built from (the architecture's typed config, JSON-serialisable). */
  readonly config: { readonly architecture: string; readonly inputNc: number };
  readonly inputChannels: number;
  readonly outputChannels: number;

  /** Trainable variables, for an optimiser, in `parameterNames` order. */
  trainableVariables(): tf.Variable[];
  /** Parameter names (no buffers), in state_dict order. */
  parameterNames(): string[];
  /** Number of trainable scalars (the reference prints it as "Total number of parameters"). */
  parameterCount(): number;
  /** A tensor shaped like parameter `name` (e.g. its gradient), from our layout to PyTorch's. */
  parameterToTorch(name: string, value: HostArray): HostArray;

  /** The weights (and constant buffers) in PyTorch layout, keyed and ordered as the reference's `state_dict()`. */
  stateDict(): Promise<TorchStateDict>;
  /**
   * Loads a reference state_dict (PyTorch layout; a `module.` prefix is accepted). Strict like
   * `load_state_dict(strict=True)`; checks everything before assigning anything. `source` names the file in errors.
   */
  loadStateDict(state: ReadonlyMap<string, TorchArray>, source?: string): void;
  /** Why a state_dict with these keys and shapes would not load strictly (checked before any tensor is read), or undefined. */
  stateDictMismatch(shapes: ReadonlyMap<string, readonly number[]>): string | undefined;
  /** The number of values the state_dict holds (weights, buffers, running statistics): what a file may be expected to hold at most. */
  stateDictSize(): number;
  /** The `_metadata` PyTorch stores with this network's state_dict (submodule paths and versions). */
  stateDictMetadata(): StateDictMetadata;
  /** The reference's options that build this network (`netG`, `ngf`, ...), as train_opt.txt writes them. */
  referenceOptions(): Map<string, string>;

  /** Frees the weights. */
  dispose(): void;
}

/** A generator: image in, image out (NHWC, [-1, 1]), with features at named layers for PatchNCE. */
export interface Generator extends Network {
  readonly role: 'generator';
  readonly sizing: GeneratorSizing;
  /** The layers `encode` can return, by index. */
  readonly layers: readonly LayerInfo[];

  /** The translated image. */
  forward(x: tf.Tensor4D, training?: boolean): tf.Tensor4D;
  /** The reference's `G(x, nce_layers, encode_only=True)`: the listed layers' outputs, in the order listed. */
  encode(x: tf.Tensor4D, layers: readonly LayerRef[], training?: boolean): tf.Tensor4D[];
  /** The full forward and the listed layers' features from one pass. */
  forwardWithFeatures(x: tf.Tensor4D, layers: readonly LayerRef[], training?: boolean): { output: tf.Tensor4D; features: tf.Tensor4D[] };
  /**
   * Whether `forwardWithFeatures` gives the same features as `encode` for these layers (not when
   * a later in-place op of the full forward overwrites one, as the reference's ReLU(inplace) does).
   */
  featuresMatchEncode(layers: readonly LayerRef[]): boolean;
  /** The index of a layer given by index or name; an error listing the layers when there is none. */
  layerIndex(ref: LayerRef): number;
  /** The module chain `forwardTiled` runs stage by stage: present exactly when `sizing.tiled`. */
  readonly tiledModules?: readonly Module[];
}

/** A discriminator: image in, logits out (NHWC `[B, h, w, 1]`, no sigmoid). */
export interface Discriminator extends Network {
  readonly role: 'discriminator';
  readonly sizing: SideSizing;
  forward(x: tf.Tensor4D, training?: boolean): tf.Tensor4D;
}

/** What every architecture's config has: its registry name, input channels and weight initialisation. */
export interface ArchitectureConfig {
  readonly architecture: string;
  /** Input channels (the reference's `--input_nc` for G, `--output_nc` for D). */
  readonly inputNc: number;
  /** Weight initialisation (the reference's `--init_type`, `--init_gain`). */
  readonly init: InitOptions;
}

/** The arguments the reference's `define_G` passes to the generator it picks by `netG`. */
export interface DefineGeneratorArgs {
  netG: string;
  inputNc: number;
  outputNc: number;
  ngf: number;
  norm: NormType;
  useDropout: boolean;
  init: InitOptions;
  noAntialias: boolean;
  noAntialiasUp: boolean;
}

/** The arguments the reference's `define_D` passes to the discriminator it picks by `netD`. */
export interface DefineDiscriminatorArgs {
  netD: string;
  inputNc: number;
  ndf: number;
  nLayersD: number;
  norm: NormType;
  init: InitOptions;
  noAntialias: boolean;
}

/** What a generator architecture registers (one file exports one of these; registry.ts lists it). */
export interface GeneratorArchitecture<C extends ArchitectureConfig & { readonly outputNc: number }> {
  readonly role: 'generator';
  /** The registry name, the `architecture` of its config. */
  readonly architecture: C['architecture'];
  /** The reference's class name (also the network name in format-1 tfjs model files). */
  readonly className: string;
  /** The `--netG` names it answers to, for help and messages (`resnet_<n>blocks` for a family). */
  readonly names: readonly string[];
  /** Whether a `--netG` name is this architecture's: true, false, or why that name is refused (e.g. out of range). */
  accepts(netG: string): boolean | string;
  /** `define_G`'s branch for an accepted name: the config it builds. */
  fromDefine(args: DefineGeneratorArgs): C;
  /** The full config from a partial one: the reference's defaults filled in, values checked (errors name the class). */
  configure(partial: Partial<C>): C;
  /** The side facts of a config, without building weights. */
  sizing(config: C): GeneratorSizing;
  /** A new network (weights drawn as the reference's `init_net` does, unless `skipInit`). */
  create(config: C, build?: BuildOptions): Generator;
}

/** What a discriminator architecture registers. */
export interface DiscriminatorArchitecture<C extends ArchitectureConfig> {
  readonly role: 'discriminator';
  readonly architecture: C['architecture'];
  readonly className: string;
  /** The `--netD` names it answers to. */
  readonly names: readonly string[];
  accepts(netD: string): boolean | string;
  fromDefine(args: DefineDiscriminatorArgs): C;
  configure(partial: Partial<C>): C;
  sizing(config: C): SideSizing;
  create(config: C, build?: BuildOptions): Discriminator;
}

/** The defaults every architecture's config starts from (the reference's `init_type xavier`, `init_gain 0.02`). */
export const DEFAULT_INIT: InitOptions = { type: 'xavier', gain: 0.02 };
