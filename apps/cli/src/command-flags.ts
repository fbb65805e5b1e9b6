// The flags of each command: the reference's options (from @cut/trainer's option table, under
// their own names and defaults) plus the few that only the CLI has.
import { GENERATOR_OPTION_NAMES, NETWORK_OPTION_NAMES } from '@cut/networks';
import { CUT_MODE_PRESETS, OPTION_NAMES, OPTION_SPECS, defaultOptions, pythonString, type CUTOptions, type OptionName } from '@cut/trainer';
import { BACKENDS } from '@cut/backends';
import { FlagTable, type FlagDef } from './flags.js';

/** The reference's `util.str2bool` flags (`nargs='?', const=True`); its other booleans are store_true switches. */
export const OPTIONAL_BOOL_FLAGS: readonly OptionName[] = ['no_dropout', 'nce_idt', 'nce_includes_all_negatives_from_minibatch', 'flip_equivariance'];

/** Options that decide the generator's shape (@cut/networks' list): read from a checkpoint's train_opt.txt, overridable by flags. */
export const GENERATOR_FLAGS: readonly OptionName[] = GENERATOR_OPTION_NAMES;

/** The generator options that `given` names, as the reference prints them ('True', '16'): what overrides a checkpoint's train_opt.txt. */
export function generatorOverrides(options: CUTOptions, given: (name: OptionName) => boolean): Map<string, string> {
  return new Map(GENERATOR_FLAGS.filter(given).map((name) => [name, pythonString(name, options[name])]));
}

/** Every option of the networks in train_opt.txt (G, D, F; @cut/networks' list): test takes these from the checkpoint. */
export const NETWORK_FLAGS: readonly OptionName[] = NETWORK_OPTION_NAMES;

const GROUP_TITLES = {
  base: "Base options (as the reference's train.py and test.py)",
  train: 'Training options',
  cut: 'CUT model options',
  ours: 'cutjs options',
} as const;

/** The default as --help shows it, with the FastCUT preset's where it differs. */
function defaultText(name: OptionName, override?: string): string {
  if (override !== undefined) return override;
  const cut = pythonString(name, defaultOptions('CUT')[name]) || "''";
  const fast = (CUT_MODE_PRESETS.FastCUT as Record<string, unknown>)[name];
  return fast === undefined || pythonString(name, fast) === cut ? cut : `${cut}; FastCUT: ${pythonString(name, fast)}`;
}

function optionFlag(name: OptionName, overrides: { default?: string; help?: string; group?: string } = {}): FlagDef {
  const spec = OPTION_SPECS[name];
  let help = overrides.help ?? spec.help;
  if (spec.choices && !help.includes(spec.choices[0]!)) help += ` (${spec.choices.join(', ')})`;
  return {
    name,
    kind: spec.kind,
    boolStyle: spec.kind === 'bool' ? (OPTIONAL_BOOL_FLAGS.includes(name) ? 'optional' : 'switch') : undefined,
    default: defaultText(name, overrides.default),
    help,
    group: overrides.group ?? GROUP_TITLES[spec.group],
  };
}

const backendFlag: FlagDef = {
  name: 'backend',
  kind: 'str',
  default: 'auto',
  help: `TensorFlow.js backend: ${BACKENDS.join(', ')} (auto: tensorflow, then a hardware WebGPU adapter, then wasm)`,
  group: GROUP_TITLES.ours,
};

/** For the commands without the reference's --verbose (train, test and demo have it, and it does this there too). */
const verboseFlag: FlagDef = {
  name: 'verbose',
  kind: 'bool',
  boolStyle: 'switch',
  default: 'False',
  help: "print more: why each faster backend was skipped, Dawn's own messages",
  group: GROUP_TITLES.ours,
};

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
  const defs = OPTION_NAMES.filter((n) => OPTION_SPECS[n].group !== 'train').map((n) =>
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

/** `cutjs translate`: a checkpoint, images in, PNGs out; generator flags override the checkpoint's train_opt.txt. */
export function translateFlags(): FlagTable {
  const group = 'Translate options';
  return new FlagTable([
    {
      name: 'checkpoint',
      kind: 'str',
      default: '<checkpoints_dir>/<name>',
      help: 'a run folder (train_opt.txt + <epoch>_net_G.pth), a _net_G.pth file, or a tfjs model folder / model.json',
      group,
    },
    {
      name: 'pretrained',
      kind: 'str',
      default: '',
      help: "a pretrained generator by name, downloaded once into the cache (see 'cutjs pretrained list')",
      group,
    },
    { name: 'out', kind: 'str', default: './results/translated', help: 'folder for the translated PNGs (one per input, same base name)', group },
    {
      name: 'tile',
      kind: 'str',
      default: 'auto',
      help: 'translate in tiles of this many pixels (a multiple of 4, at least 16; same result as the whole image); 0: whole images; auto: 512-pixel tiles for images above 1024x1024 pixels at ngf 64 (scaled by ngf; on WebGPU above 512 pixels a side)',
      group,
    },
    optionFlag('epoch'),
    optionFlag('name', { help: 'run name: with --checkpoints_dir, where the checkpoint is when --checkpoint is not given' }),
    optionFlag('checkpoints_dir'),
    ...GENERATOR_FLAGS.map((n) => optionFlag(n, { default: 'from train_opt.txt' })),
    backendFlag,
    verboseFlag,
    {
      name: 'threads',
      kind: 'str',
      default: 'auto',
      help: 'images translated at a time on the wasm and cpu backends: 1, 2, or auto (2 when the machine has 2+ cores and there are 2+ images)',
      group: GROUP_TITLES.ours,
    },
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
