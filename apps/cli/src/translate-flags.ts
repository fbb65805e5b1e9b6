// `cutjs translate`'s flags and what they select. Inference needs only @cut/networks' option
// declarations, never the trainer's table: the generator flags, and the three options that say
// where a run's checkpoint is.
import { join } from 'node:path';
import { isPlainName } from '@cut/files';
import { GENERATOR_OPTION_NAMES, NETWORK_OPTION_SPECS, networkOptionString, parseNetworkOption } from '@cut/networks';
import { GROUP_TITLES, backendFlag, declaredFlag, verboseFlag } from './common-flags.js';
import { stringFlag } from './context.js';
import { FlagTable, UsageError, type ParsedFlags } from './flags.js';

const GROUP = 'Translate options';

/** `cutjs translate`: a checkpoint, images in, PNGs out; generator flags override the checkpoint's train_opt.txt. */
export function translateFlags(): FlagTable {
  return new FlagTable([
    {
      name: 'checkpoint',
      kind: 'str',
      default: '<checkpoints_dir>/<name>',
      help: 'a run folder (train_opt.txt + <epoch>_net_G.pth), a _net_G.pth file, or a tfjs model folder / model.json',
      group: GROUP,
    },
    {
      name: 'model',
      kind: 'str',
      default: '',
      help: "a model shipped with cutjs, by name (see 'cutjs pretrained list'): no download, no checkpoint path",
      group: GROUP,
    },
    {
      name: 'pretrained',
      kind: 'str',
      default: '',
      help: "a pretrained generator by name, downloaded once into the cache (see 'cutjs pretrained list')",
      group: GROUP,
    },
    {
      name: 'out',
      kind: 'str',
      default: './results/translated',
      help: 'folder for the translated PNGs (one per input, same base name)',
      group: GROUP,
    },
    {
      name: 'tile',
      kind: 'str',
      default: 'auto',
      help: 'translate in tiles of this many pixels (a multiple of 4, at least 16; same result as the whole image); 0: whole images; auto: 512-pixel tiles for images above 1024x1024 pixels at ngf 64 (scaled by ngf; on WebGPU above 512 pixels a side)',
      group: GROUP,
    },
    {
      name: 'runtime',
      kind: 'str',
      default: 'tfjs',
      help: 'what runs the generator: tfjs (the --backend; the default, measured faster on 2 cores: see cutjs info), or onnx (the generator exported as ONNX and run by onnxruntime-node, an optional dependency; the same tiles, the same PNGs within 1 grey level)',
      group: GROUP,
    },
    { name: 'epoch', kind: 'str', default: 'latest', help: 'which checkpoint to load: latest or an epoch number', group: GROUP_TITLES.base },
    {
      name: 'name',
      kind: 'str',
      default: 'experiment_name',
      help: 'run name: with --checkpoints_dir, where the checkpoint is when --checkpoint is not given',
      group: GROUP_TITLES.base,
    },
    { name: 'checkpoints_dir', kind: 'str', default: './checkpoints', help: 'where run folders are', group: GROUP_TITLES.base },
    ...GENERATOR_OPTION_NAMES.map((n) => declaredFlag(n, NETWORK_OPTION_SPECS[n], { default: 'from train_opt.txt' })),
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

export interface TranslateOptions {
  /** `latest` or an epoch: which `<epoch>_net_G.pth` of a run folder. */
  epoch: string;
  /** `<checkpoints_dir>/<name>` when --name is given, else ''. */
  runFolder: string;
  /** The generator flags given, as train_opt.txt writes them ('True', '16'): they override the checkpoint's. */
  overrides: Map<string, string>;
}

/** The checked values of translate's checkpoint and generator flags; problems are usage errors naming the flag. */
export function translateOptionsFrom(parsed: ParsedFlags): TranslateOptions {
  const source = (name: string) => parsed.sources.get(name) ?? 'command line';
  const plain = (name: string, fallback: string, why: string): string => {
    const value = stringFlag(parsed, name, fallback);
    if (!isPlainName(value)) throw new UsageError(`${source(name)}: --${name}: '${value}' is not a plain folder name (no '/', '\\' or '..'): ${why}`);
    return value;
  };
  const epoch = plain('epoch', 'latest', 'it names the files <epoch>_net_G.pth');
  const name = plain('name', 'experiment_name', 'the run is read from <checkpoints_dir>/<name>');
  const overrides = new Map<string, string>();
  for (const option of GENERATOR_OPTION_NAMES) {
    const raw = parsed.values.get(option);
    if (raw === undefined || raw === null) continue;
    try {
      overrides.set(option, networkOptionString(option, parseNetworkOption(option, raw, source(option))));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const runFolder = parsed.values.has('name') ? join(stringFlag(parsed, 'checkpoints_dir', './checkpoints'), name) : '';
  return { epoch, runFolder, overrides };
}
