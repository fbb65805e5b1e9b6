// The reference's network options (netG, ngf, no_antialias, ...): declared once here (names,
// kinds, allowed values; their defaults are REFERENCE_DEFAULTS in define-args.ts), and mapped in
// one place (define-args.ts, as define_G / define_D do) to the registry's typed configs.
// @cut/trainer's option table, the CLI's flags, the run-defining list and the web page take
// these from here.
import type { NormType } from './contract.js';
import { REFERENCE_DEFAULTS as D, defineDiscriminatorArgs, defineGeneratorArgs, type NetworkOptionValues } from './define-args.js';
import {
  discriminatorConfigFromDefine,
  discriminatorNameProblem,
  discriminatorNames,
  generatorConfigFromDefine,
  generatorNameProblem,
  generatorNames,
  type DiscriminatorConfig,
  type GeneratorConfig,
} from './registry.js';

/**
 * Parses the reference's `train_opt.txt` / `test_opt.txt` (`name: value [default: ...]` lines
 * between dashed rulers) into name -> value strings.
 */
export function parseOptionsFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*):\s*(.*?)\s*(?:\[default:.*\])?\s*$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** One network option, as the reference's argparse declares it. */
export interface NetworkOptionSpec {
  kind: 'str' | 'int' | 'float' | 'bool';
  /** The reference's default. */
  default: string | number | boolean;
  /** One line for `--help`. */
  help: string;
  /** Where the reference declares it (base_options.py or the CUT model's options). */
  group: 'base' | 'cut';
  /** The networks whose shape or weights it decides. */
  nets: readonly ('G' | 'D' | 'F')[];
  /** Accepted values (strings), for help; `check` decides when given. */
  choices?: readonly string[];
  /** Reference values not supported here (a clear error instead of "invalid"). */
  unsupported?: readonly string[];
  /** Why a string value is refused, or null (decides instead of `choices`). */
  check?: (value: string) => string | null;
  /** Lower bound (numbers), inclusive. */
  min?: number;
}

/** Every `--netG` the reference's define_G knows. */
const REFERENCE_NETG = ['resnet_9blocks', 'resnet_6blocks', 'resnet_4blocks', 'unet_128', 'unet_256', 'stylegan2', 'smallstylegan2', 'resnet_cat'];
/** Every `--netD` the reference's define_D knows. */
const REFERENCE_NETD = ['basic', 'n_layers', 'pixel', 'patch', 'tilestylegan2', 'stylegan2'];
/** `--normG` / `--normD`: the reference's, and those the architectures here build. */
const REFERENCE_NORMS: readonly NormType[] = ['instance', 'batch', 'none'];
const SUPPORTED_NORMS: readonly NormType[] = ['instance', 'batch', 'none'];
/** `--netF`: the reference's heads, and those @cut/patch-sampler has. */
const REFERENCE_NETF = ['mlp_sample', 'sample', 'reshape', 'global_pool', 'strided_conv'];
const SUPPORTED_NETF = REFERENCE_NETF;

/** The reference values a name check accepts (the literal names, not families like `resnet_<n>blocks`). */
const literal = (names: string[]) => names.filter((n) => !n.includes('<'));
const missing = (reference: readonly string[], accepted: (name: string) => boolean) => reference.filter((n) => !accepted(n));

const netGNames = generatorNames();
const netDNames = discriminatorNames();
const norm = (net: 'G' | 'D'): NetworkOptionSpec => ({
  kind: 'str',
  default: net === 'G' ? D.normG : D.normD,
  help: `${net === 'G' ? 'generator' : 'discriminator'} normalisation`,
  group: 'base',
  nets: [net],
  choices: SUPPORTED_NORMS,
  unsupported: REFERENCE_NORMS.filter((n) => !SUPPORTED_NORMS.includes(n)),
});

/** The network options: one declaration that the trainer's option table, the CLI and the page derive from. */
export const NETWORK_OPTION_SPECS = {
  input_nc: { kind: 'int', default: D.input_nc, help: 'channels of the input images (3 RGB, 1 grayscale)', group: 'base', nets: ['G'], min: 1 },
  output_nc: { kind: 'int', default: D.output_nc, help: 'channels of the output images', group: 'base', nets: ['G', 'D'], min: 1 },
  ngf: { kind: 'int', default: D.ngf, help: "filters in the generator's first conv layer", group: 'base', nets: ['G'], min: 1 },
  ndf: { kind: 'int', default: D.ndf, help: "filters in the discriminator's first conv layer", group: 'base', nets: ['D'], min: 1 },
  netD: {
    kind: 'str',
    default: D.netD,
    help: 'discriminator: basic (70x70 PatchGAN, 3 layers), n_layers (n_layers_D layers) or pixel (1x1 PatchGAN)',
    group: 'base',
    nets: ['D'],
    choices: literal(netDNames),
    unsupported: missing(REFERENCE_NETD, (n) => discriminatorNameProblem(n) === null),
    check: discriminatorNameProblem,
  },
  netG: {
    kind: 'str',
    default: D.netG,
    help: `generator: ${netGNames.join(', ')}`,
    group: 'base',
    nets: ['G'],
    choices: literal(netGNames),
    unsupported: missing(REFERENCE_NETG, (n) => generatorNameProblem(n) === null),
    check: generatorNameProblem,
  },
  n_layers_D: {
    kind: 'int',
    default: D.n_layers_D,
    help: 'conv layers of the discriminator when netD is n_layers',
    group: 'base',
    nets: ['D'],
    min: 1,
  },
  normG: norm('G'),
  normD: norm('D'),
  init_type: {
    kind: 'str',
    default: D.init_type,
    help: 'weight initialisation',
    group: 'base',
    nets: ['G', 'D', 'F'],
    choices: ['normal', 'xavier', 'kaiming', 'orthogonal'],
  },
  init_gain: {
    kind: 'float',
    default: D.init_gain,
    help: 'scale of the normal / xavier / orthogonal initialisation',
    group: 'base',
    nets: ['G', 'D', 'F'],
    min: 0,
  },
  no_dropout: { kind: 'bool', default: D.no_dropout, help: "no dropout in the generator's residual blocks", group: 'base', nets: ['G'] },
  no_antialias: {
    kind: 'bool',
    default: D.no_antialias,
    help: 'strided convolutions instead of blur + downsample (generator and discriminator)',
    group: 'base',
    nets: ['G', 'D'],
  },
  no_antialias_up: {
    kind: 'bool',
    default: D.no_antialias_up,
    help: 'transposed convolutions instead of upsample + conv in the generator',
    group: 'base',
    nets: ['G'],
  },
  netF: {
    kind: 'str',
    default: D.netF,
    help: 'patch feature head: mlp_sample (2-layer MLP), sample (none), reshape (4x4 average grid), global_pool (one max-pooled vector per image), strided_conv (conv stack per feature size, one vector per position)',
    group: 'cut',
    nets: ['F'],
    choices: SUPPORTED_NETF,
    unsupported: REFERENCE_NETF.filter((n) => !SUPPORTED_NETF.includes(n)),
  },
  netF_nc: { kind: 'int', default: D.netF_nc, help: 'width of the patch MLP', group: 'cut', nets: ['F'], min: 1 },
  nce_layers: { kind: 'str', default: D.nce_layers, help: 'generator layers whose features enter the PatchNCE loss', group: 'cut', nets: ['F'] },
} as const satisfies Record<string, NetworkOptionSpec>;

export type NetworkOptionName = keyof typeof NETWORK_OPTION_SPECS;

/** Every network option, in declaration order (train_opt.txt's network lines; what `cutjs test` takes from a checkpoint). */
export const NETWORK_OPTION_NAMES = Object.keys(NETWORK_OPTION_SPECS) as NetworkOptionName[];

/** The options that decide the generator (`nets` has G): read from a checkpoint's options, overridable by `cutjs translate`'s flags. */
export const GENERATOR_OPTION_NAMES: readonly NetworkOptionName[] = NETWORK_OPTION_NAMES.filter((name) =>
  (NETWORK_OPTION_SPECS[name].nets as readonly string[]).includes('G'),
);

export type { NetworkOptionValues } from './define-args.js';

/** The reference's defaults of every network option. */
export function defaultNetworkOptions(): NetworkOptionValues {
  return { ...D };
}

/** A network option's value as the reference's train_opt.txt writes it (True, 0.02, resnet_9blocks). */
export function networkOptionString(name: NetworkOptionName, value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' && NETWORK_OPTION_SPECS[name].kind === 'float' && Number.isInteger(value)) return `${value}.0`;
  return String(value);
}

/**
 * A network option's value from the command line or a config file (strings; numbers from JSON),
 * typed and checked against its declaration: kind, lower bound, choices and name checks. Errors
 * read `<source>: --<name>: <why>`, as the trainer's option table words them.
 */
export function parseNetworkOption(name: NetworkOptionName, raw: string | number | boolean, source = 'options'): string | number | boolean {
  const spec: NetworkOptionSpec = NETWORK_OPTION_SPECS[name];
  const fail = (why: string): never => {
    throw new Error(`${source}: --${name}: ${why}, got '${String(raw)}'`);
  };
  if (spec.kind === 'bool') {
    // The flag parser has already read the reference's str2bool words; files say True / False.
    if (typeof raw === 'boolean') return raw;
    if (raw === 'True' || raw === 'False') return raw === 'True';
    return fail('must be True or False');
  }
  if (spec.kind === 'int' || spec.kind === 'float') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(n)) return fail('must be a finite number');
    if (spec.kind === 'int' && !Number.isInteger(n)) return fail('must be an integer');
    if (spec.min !== undefined && n < spec.min) return fail(`must be >= ${spec.min}`);
    return n;
  }
  const s = String(raw);
  if (spec.unsupported?.includes(s)) {
    throw new Error(`${source}: --${name}: '${s}' is a reference choice that is not supported here (supported: ${(spec.choices ?? []).join(', ')})`);
  }
  const problem = spec.check ? spec.check(s) : spec.choices && !spec.choices.includes(s) ? `must be one of ${spec.choices.join(', ')}` : null;
  if (problem) throw new Error(`${source}: --${name}: ${problem}`);
  return s;
}

/** The configs of a run's networks. */
export interface NetworkOptions {
  generator: GeneratorConfig;
  discriminator: DiscriminatorConfig;
  /** netF by its `--netF` name (`mlp_sample`: the MLP head, with `netF_nc` units). */
  patchSampler: { netF: string; useMlp: boolean; nc: number };
  /** The reference's `nce_layers`, as indices of the generator's layers. */
  nceLayers: number[];
}

/**
 * The one mapping from the reference's option names to the networks' typed configs, as its
 * `define_G` / `define_D` / `define_F` calls do it. Errors name the option and `source`.
 */
export function networkConfigs(o: NetworkOptionValues, source = 'options'): NetworkOptions {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  for (const key of ['normG', 'normD', 'netF', 'init_type'] as const) {
    const choices: readonly string[] = NETWORK_OPTION_SPECS[key].choices ?? [];
    if (!choices.includes(o[key])) fail(`${key} '${o[key]}' is not supported (${choices.join(', ')})`);
  }
  const nceLayers = o.nce_layers.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(n) || n < 0) fail(`nce_layers must list layer indices, got '${o.nce_layers}'`);
    return n;
  });
  const named = <T>(build: () => T): T => {
    try {
      return build();
    } catch (e) {
      return fail((e as Error).message);
    }
  };
  return {
    generator: named(() => generatorConfigFromDefine(defineGeneratorArgs(o))),
    discriminator: named(() => discriminatorConfigFromDefine(defineDiscriminatorArgs(o))),
    patchSampler: { netF: o.netF, useMlp: o.netF === 'mlp_sample', nc: o.netF_nc },
    nceLayers,
  };
}

/**
 * The network configuration a reference checkpoint was trained with, from its options file
 * (strings as train_opt.txt writes them; absent ones at the reference's defaults), so that the
 * checkpoint can be loaded into identical networks. `source` names the file in errors.
 */
export function networkOptionsFrom(opts: ReadonlyMap<string, string>, source = 'options'): NetworkOptions {
  const values: Record<string, unknown> = {};
  for (const key of NETWORK_OPTION_NAMES) {
    const spec: NetworkOptionSpec = NETWORK_OPTION_SPECS[key];
    const raw = opts.get(key);
    if (raw === undefined) {
      values[key] = spec.default;
    } else if (spec.kind === 'bool') {
      if (raw !== 'True' && raw !== 'False') throw new Error(`${source}: ${key} must be True or False, got '${raw}'`);
      values[key] = raw === 'True';
    } else if (spec.kind === 'int') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`${source}: ${key} must be a non-negative integer, got '${raw}'`);
      values[key] = n;
    } else if (spec.kind === 'float') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`${source}: ${key} must be a number, got '${raw}'`);
      values[key] = n;
    } else {
      values[key] = raw;
    }
  }
  return networkConfigs(values as unknown as NetworkOptionValues, source);
}
