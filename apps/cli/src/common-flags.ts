// Flags that several commands share and that need nothing of the trainer: translate, which
// must not load @cut/trainer, builds its table from these and @cut/networks' declarations.
import { BACKENDS } from '@cut/backends';
import type { FlagDef } from './flags.js';

export const GROUP_TITLES = {
  base: "Base options (as the reference's train.py and test.py)",
  train: 'Training options',
  cut: 'CUT model options',
  successors: "Options of CUT's successors (Hneg-SRC, MoNCE, QS-Attn: their flag names)",
  ours: 'cutjs options',
} as const;

/** The reference's `util.str2bool` flags (`nargs='?', const=True`); its other booleans are store_true switches. */
export const OPTIONAL_BOOL_FLAGS: readonly string[] = ['no_dropout', 'nce_idt', 'nce_includes_all_negatives_from_minibatch', 'flip_equivariance'];

/** A flag from an option declaration (the trainer's table or @cut/networks'), as --help shows it. */
export function declaredFlag(
  name: string,
  spec: { kind: FlagDef['kind']; help: string; group: keyof typeof GROUP_TITLES; choices?: readonly string[] },
  shown: { default: string; help?: string; group?: string },
): FlagDef {
  let help = shown.help ?? spec.help;
  if (spec.choices && !help.includes(spec.choices[0]!)) help += ` (${spec.choices.join(', ')})`;
  return {
    name,
    kind: spec.kind,
    boolStyle: spec.kind === 'bool' ? (OPTIONAL_BOOL_FLAGS.includes(name) ? 'optional' : 'switch') : undefined,
    default: shown.default,
    help,
    group: shown.group ?? GROUP_TITLES[spec.group],
  };
}

export const backendFlag: FlagDef = {
  name: 'backend',
  kind: 'str',
  default: 'auto',
  help: `TensorFlow.js backend: ${BACKENDS.join(', ')} (auto: tensorflow, then a hardware WebGPU adapter, then wasm)`,
  group: GROUP_TITLES.ours,
};

/** For the commands without the reference's --verbose (train, test and demo have it, and it does this there too). */
export const verboseFlag: FlagDef = {
  name: 'verbose',
  kind: 'bool',
  boolStyle: 'switch',
  default: 'False',
  help: "print more: why each faster backend was skipped, Dawn's own messages",
  group: GROUP_TITLES.ours,
};
