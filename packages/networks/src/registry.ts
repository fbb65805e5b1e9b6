// Networks by name, as the reference's `define_G` / `define_D` pick them: every architecture
// registers here with one line, and the rest of the project builds networks only through
// `defineGenerator` / `defineDiscriminator` and uses them through the contract (contract.ts).
// Adding an architecture: one file in architectures/ exporting its `GeneratorArchitecture` (or
// `DiscriminatorArchitecture`), and its line in GENERATORS (or DISCRIMINATORS) below.
import type {
  BuildOptions,
  DefineDiscriminatorArgs,
  DefineGeneratorArgs,
  Discriminator,
  DiscriminatorArchitecture,
  Generator,
  GeneratorArchitecture,
  GeneratorSizing,
  SideSizing,
} from './contract.js';
import { REFERENCE_DEFAULTS, defineDiscriminatorArgs, defineGeneratorArgs } from './define-args.js';
import { nLayerDiscriminator } from './architectures/nlayer-discriminator.js';
import { pixelDiscriminator } from './architectures/pixel-discriminator.js';
import { resnetCatGenerator } from './architectures/resnet-cat-generator.js';
import { resnetGenerator } from './architectures/resnet-generator.js';
import { unetGenerator } from './architectures/unet-generator.js';

export type { NLayerDiscriminatorConfig } from './architectures/nlayer-discriminator.js';
export type { PixelDiscriminatorConfig } from './architectures/pixel-discriminator.js';
export type { ResnetGeneratorConfig } from './architectures/resnet-generator.js';
export type { UnetGeneratorConfig } from './architectures/unet-generator.js';
export type { ResnetCatGeneratorConfig } from './architectures/resnet-cat-generator.js';
export { MAX_RESNET_BLOCKS } from './architectures/resnet-generator.js';

/** Every generator architecture, in the order `--netG` names are matched. */
const GENERATORS = [resnetGenerator, unetGenerator, resnetCatGenerator] as const;

/** Every discriminator architecture, in the order `--netD` names are matched. */
const DISCRIMINATORS = [nLayerDiscriminator, pixelDiscriminator] as const;

type ConfigOf<A> = A extends GeneratorArchitecture<infer C> ? C : A extends DiscriminatorArchitecture<infer C> ? C : never;
/** A config with only `architecture` required: the rest takes the reference's defaults. */
type PartialConfig<C> = C extends { architecture: infer N } ? { architecture: N } & Partial<C> : never;

/** One typed config per generator architecture (`{ architecture: 'resnet', ngf, nBlocks, ... }`). */
export type GeneratorConfig = ConfigOf<(typeof GENERATORS)[number]>;
/** One typed config per discriminator architecture (`{ architecture: 'n_layers', ndf, nLayers, ... }`). */
export type DiscriminatorConfig = ConfigOf<(typeof DISCRIMINATORS)[number]>;
/** A generator config of which only `architecture` is required. */
export type GeneratorConfigInput = PartialConfig<GeneratorConfig>;
/** A discriminator config of which only `architecture` is required. */
export type DiscriminatorConfigInput = PartialConfig<DiscriminatorConfig>;
/** The registry names of the architectures (`resnet`, `n_layers`). */
export type GeneratorArchitectureName = GeneratorConfig['architecture'];
export type DiscriminatorArchitectureName = DiscriminatorConfig['architecture'];

// The registries hold architectures of different config types; each is only ever given its own.
type AnyGenerator = GeneratorArchitecture<GeneratorConfig>;
type AnyDiscriminator = DiscriminatorArchitecture<DiscriminatorConfig>;
const generators = GENERATORS as unknown as readonly AnyGenerator[];
const discriminators = DISCRIMINATORS as unknown as readonly AnyDiscriminator[];

/** The `--netG` names the registered generators answer to (`resnet_<n>blocks` for a family). */
export function generatorNames(): string[] {
  return generators.flatMap((a) => a.names);
}

/** The `--netD` names the registered discriminators answer to. */
export function discriminatorNames(): string[] {
  return discriminators.flatMap((a) => a.names);
}

/** Why a `--netG` name is refused (unknown, or out of an architecture's range), or null when some architecture takes it. */
export function generatorNameProblem(netG: string): string | null {
  return nameProblem(generators, netG, 'generator', generatorNames());
}

/** Why a `--netD` name is refused, or null. */
export function discriminatorNameProblem(netD: string): string | null {
  return nameProblem(discriminators, netD, 'discriminator', discriminatorNames());
}

type Named = { accepts(name: string): boolean | string };

/** The architecture that takes `name`, or why none does: `unknown` (no architecture has it) or its own reason. */
function match<A extends Named>(list: readonly A[], name: string): A | { refused: string } | { unknown: true } {
  for (const a of list) {
    const answer = a.accepts(name);
    if (answer === true) return a;
    if (typeof answer === 'string') return { refused: answer };
  }
  return { unknown: true };
}

function nameProblem(list: readonly Named[], name: string, what: string, names: string[]): string | null {
  const m = match(list, name);
  if ('refused' in m) return m.refused;
  return 'unknown' in m ? `'${name}' is not a ${what} here (${names.join(', ')})` : null;
}

/** The architecture for a `--netG` / `--netD` name; an error naming the option otherwise. */
function byName<A extends Named>(list: readonly A[], name: string, option: string, what: string, names: string[]): A {
  const m = match(list, name);
  if ('refused' in m) throw new Error(`--${option} ${name}: ${m.refused}`);
  if ('unknown' in m) throw new Error(`--${option}: '${name}' is not a ${what} here (${names.join(', ')})`);
  return m;
}

function byArchitecture<A extends { architecture: string }>(list: readonly A[], name: unknown, what: string): A {
  const a = list.find((x) => x.architecture === name);
  if (!a) throw new Error(`no ${what} architecture '${String(name)}' (${list.map((x) => x.architecture).join(', ')})`);
  return a;
}

/** The reference's `define_G`: the config of the generator `args.netG` names, built from define_G's arguments. */
export function generatorConfigFromDefine(args: DefineGeneratorArgs): GeneratorConfig {
  return byName(generators, args.netG, 'netG', 'generator', generatorNames()).fromDefine(args);
}

/** The reference's `define_D`: the config of the discriminator `args.netD` names. */
export function discriminatorConfigFromDefine(args: DefineDiscriminatorArgs): DiscriminatorConfig {
  return byName(discriminators, args.netD, 'netD', 'discriminator', discriminatorNames()).fromDefine(args);
}

/** The full config (the architecture's defaults under the given fields), checked. */
export function generatorConfig(config: GeneratorConfigInput): GeneratorConfig {
  return byArchitecture(generators, config.architecture, 'generator').configure(config as Partial<GeneratorConfig>);
}

export function discriminatorConfig(config: DiscriminatorConfigInput): DiscriminatorConfig {
  return byArchitecture(discriminators, config.architecture, 'discriminator').configure(config as Partial<DiscriminatorConfig>);
}

/** A generator config from a `--netG` name (other options at the reference's defaults) or a config. */
function resolveGenerator(spec: string | GeneratorConfigInput): GeneratorConfig {
  if (typeof spec !== 'string') return generatorConfig(spec);
  const a = byName(generators, spec, 'netG', 'generator', generatorNames());
  return a.fromDefine(defineGeneratorArgs({ ...REFERENCE_DEFAULTS, netG: spec }));
}

function resolveDiscriminator(spec: string | DiscriminatorConfigInput): DiscriminatorConfig {
  if (typeof spec !== 'string') return discriminatorConfig(spec);
  const a = byName(discriminators, spec, 'netD', 'discriminator', discriminatorNames());
  return a.fromDefine(defineDiscriminatorArgs({ ...REFERENCE_DEFAULTS, netD: spec }));
}

/**
 * A new generator: by `--netG` name with the reference's defaults (`defineGenerator('resnet_6blocks')`),
 * or from a typed config (`defineGenerator({ architecture: 'resnet', ngf: 16, nBlocks: 2 })`).
 * Weights are drawn as the reference's `init_net` does, from `build.rng` (or `build.seed`).
 */
export function defineGenerator(spec: string | GeneratorConfigInput, build: BuildOptions = {}): Generator {
  const config = resolveGenerator(spec);
  return byArchitecture(generators, config.architecture, 'generator').create(config, build);
}

/** A new discriminator: by `--netD` name (`defineDiscriminator('basic')`) or from a typed config. */
export function defineDiscriminator(spec: string | DiscriminatorConfigInput, build: BuildOptions = {}): Discriminator {
  const config = resolveDiscriminator(spec);
  return byArchitecture(discriminators, config.architecture, 'discriminator').create(config, build);
}

/** A generator config's side facts, without building weights (the trainer's crop-size check). */
export function generatorSizing(spec: string | GeneratorConfigInput): GeneratorSizing {
  const config = resolveGenerator(spec);
  return byArchitecture(generators, config.architecture, 'generator').sizing(config);
}

/** A discriminator config's side facts, without building weights. */
export function discriminatorSizing(spec: string | DiscriminatorConfigInput): SideSizing {
  const config = resolveDiscriminator(spec);
  return byArchitecture(discriminators, config.architecture, 'discriminator').sizing(config);
}

/** The reference's class name of an architecture (`resnet` -> `ResnetGenerator`), for messages. */
export function architectureClassName(architecture: string): string | undefined {
  return [...generators, ...discriminators].find((a) => a.architecture === architecture)?.className;
}

/**
 * The architecture whose reference class is `className` (format-1 tfjs model files name the class
 * and give its options), with that config: how files written before the registry are read.
 */
export function configFromClassName(
  className: string,
  options: Record<string, unknown>,
): { role: 'generator'; config: GeneratorConfig } | { role: 'discriminator'; config: DiscriminatorConfig } | null {
  const g = generators.find((a) => a.className === className);
  if (g) return { role: 'generator', config: g.configure(options as Partial<GeneratorConfig>) };
  const d = discriminators.find((a) => a.className === className);
  if (d) return { role: 'discriminator', config: d.configure(options as Partial<DiscriminatorConfig>) };
  return null;
}
