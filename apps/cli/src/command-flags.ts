// The flags of the training-side commands (train, test, demo): the reference's options (from
// @cut/trainer's option table, under their own names and defaults) plus the few that only the
// CLI has. Translate's are in translate-flags.ts, without the trainer.
import { GENERATOR_OPTION_NAMES, NETWORK_OPTION_NAMES } from '@cut/networks';
import {
  CUT_MODE_PRESETS,
  OPTION_NAMES,
  OPTION_SPECS,
  OptionError,
  defaultOptions,
  parseOptionValue,
  pythonString,
  validateOptions,
  type CUTOptions,
  type OptionName,
} from '@cut/trainer';
import { backendFlag, declaredFlag, GROUP_TITLES, verboseFlag } from './common-flags.js';
import { FlagTable, UsageError, type FlagDef, type ParsedFlags, type RawValue } from './flags.js';

/** Options that decide the generator's shape (@cut/networks' list): read from a checkpoint's train_opt.txt, overridable by flags. */
export const GENERATOR_FLAGS: readonly OptionName[] = GENERATOR_OPTION_NAMES;

/** The generator options that `given` names, as the reference prints them ('True', '16'): what overrides a checkpoint's train_opt.txt. */
export function generatorOverrides(options: CUTOptions, given: (name: OptionName) => boolean): Map<string, string> {
  return new Map(GENERATOR_FLAGS.filter(given).map((name) => [name, pythonString(name, options[name])]));
}

/** Every option of the networks in train_opt.txt (G, D, F; @cut/networks' list): test takes these from the checkpoint. */
export const NETWORK_FLAGS: readonly OptionName[] = NETWORK_OPTION_NAMES;

/** The default as --help shows it, with the FastCUT preset's where it differs. */
function defaultText(name: OptionName, override?: string): string {
  if (override !== undefined) return override;
  const cut = pythonString(name, defaultOptions('CUT')[name]) || "''";
  const fast = (CUT_MODE_PRESETS.FastCUT as Record<string, unknown>)[name];
  return fast === undefined || pythonString(name, fast) === cut ? cut : `${cut}; FastCUT: ${pythonString(name, fast)}`;
}

function optionFlag(name: OptionName, overrides: { default?: string; help?: string; group?: string } = {}): FlagDef {
  const spec = OPTION_SPECS[name];
  return declaredFlag(name, spec, { ...overrides, default: defaultText(name, overrides.default) });
}

const threadsFlag: FlagDef = {
  name: 'threads',
  kind: 'str',
  default: 'auto',
  help:
    'training threads on the wasm and cpu backends: 1, 2, or auto (2 when the machine has 2+ cores). ' +
    "With 2, CUT's identity half (G on real_B) runs in a worker thread; same numbers as 1. FastCUT has no second half. " +
    "With the native convolutions (@cut/native-kernels, on wasm) the threads are oneDNN's and JavaScript runs on one thread",
  group: GROUP_TITLES.ours,
};

const resultsDirFlag: FlagDef = { name: 'results_dir', kind: 'str', default: './results/', help: 'saves results here', group: 'Test options' };

/** `cutjs train`: every option of the reference's train.py, plus --backend. */
export function trainFlags(): FlagTable {
  return new FlagTable([...OPTION_NAMES.map((n) => optionFlag(n)), backendFlag, threadsFlag]);
}

/**
 * `cutjs test`: the reference's test.py options (base and CUT options, not the training ones),
 * its test options, and --backend.
 */
export function testFlags(): FlagTable {
  // --eval_freq and its options are training's (FID during training), not test.py's.
  const defs = OPTION_NAMES.filter((n) => OPTION_SPECS[n].group !== 'train' && !n.startsWith('eval_')).map((n) =>
    n === 'load_size'
      ? optionFlag(n, { default: '256', help: 'images are resized to this size first (test.py: the default crop_size, 256)' })
      : optionFlag(n),
  );
  return new FlagTable([
    ...defs,
    optionFlag('phase', { default: 'test', group: 'Test options' }),
    resultsDirFlag,
    { name: 'num_test', kind: 'int', default: '50', help: 'how many test images to translate (a negative number: all)', group: 'Test options' },
    {
      name: 'eval',
      kind: 'bool',
      boolStyle: 'switch',
      default: 'False',
      help: 'run the generator in eval mode (only matters with dropout)',
      group: 'Test options',
    },
    backendFlag,
  ]);
}

/** `cutjs demo`: the training flags (with the demo's preset as defaults) and --results_dir. */
export function demoFlags(preset: Readonly<Record<string, string>>): FlagTable {
  return new FlagTable([
    ...OPTION_NAMES.map((n) => (preset[n] !== undefined ? optionFlag(n, { default: `${preset[n]} (demo)` }) : optionFlag(n))),
    resultsDirFlag,
    backendFlag,
  ]);
}

/** `cutjs info`. */
export function infoFlags(): FlagTable {
  return new FlagTable([backendFlag, { ...verboseFlag, help: 'accepted for symmetry: info always prints everything' }]);
}

const isOptionName = (name: string): name is OptionName => Object.hasOwn(OPTION_SPECS, name);

/**
 * The CUT options the flags give, over `base` (a command's own defaults, e.g. test's load_size
 * 256 or the demo's preset). Every value is checked with the trainer's option table; errors name
 * the flag and where it came from, and are usage errors.
 */
export function cutOptionsFrom(parsed: ParsedFlags, base: Readonly<Record<string, RawValue>> = {}): CUTOptions {
  try {
    const partial: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(base)) partial[name] = parseOptionValue(name, value, 'defaults');
    for (const [name, value] of parsed.values) {
      if (isOptionName(name)) partial[name] = parseOptionValue(name, value, parsed.sources.get(name) ?? 'command line');
    }
    return validateOptions(partial, parsed.config ? `command line and ${parsed.config}` : 'command line');
  } catch (e) {
    if (e instanceof OptionError) throw new UsageError(e.message);
    throw e;
  }
}
