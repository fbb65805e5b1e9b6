// The reference's training options (base + train + CUT model options), one typed object with
// the reference's snake_case names, so train_opt.txt files and command-line flags map 1:1.
// The network options (netG, ngf, ...) are @cut/networks' declaration (NETWORK_OPTION_SPECS).
import { isPlainName } from '@cut/files';
import { NETWORK_OPTION_SPECS, type NormType } from '@cut/networks';
import { QUERY_SELECTIONS, type QuerySelection } from '@cut/patch-sampler';
import { parsePreprocess } from './data/transforms.js';

/** `--CUT_mode`: which preset of defaults applies. */
export type CUTMode = 'CUT' | 'FastCUT';
/** `--gan_mode`: the adversarial loss. */
export type GanMode = 'lsgan' | 'vanilla' | 'nonsaturating' | 'wgangp';
/** `--lr_policy`: the reference's four. */
export type LrPolicy = 'linear' | 'step' | 'plateau' | 'cosine';
export type InitTypeOption = 'normal' | 'xavier' | 'kaiming' | 'orthogonal';
/** `--nce_loss`: which contrastive loss (ours; the successors' repositories each hard-code theirs). */
export type NceLossName = 'patchnce' | 'hdce' | 'dce' | 'monce';
export const NCE_LOSSES: readonly NceLossName[] = ['patchnce', 'hdce', 'dce', 'monce'];

export interface CUTOptions {
  // --- base options ---
  dataroot: string;
  name: string;
  easy_label: string;
  gpu_ids: string;
  checkpoints_dir: string;
  model: 'cut';
  input_nc: number;
  output_nc: number;
  ngf: number;
  ndf: number;
  /** A registered discriminator's name (@cut/networks' registry): basic, n_layers, pixel. */
  netD: string;
  /** A registered generator's name: resnet_9blocks, resnet_6blocks, resnet_4blocks (resnet_<n>blocks, n <= 32, an extension). */
  netG: string;
  n_layers_D: number;
  normG: NormType;
  normD: NormType;
  init_type: InitTypeOption;
  init_gain: number;
  no_dropout: boolean;
  no_antialias: boolean;
  no_antialias_up: boolean;
  dataset_mode: 'unaligned' | 'aligned' | 'single';
  direction: 'AtoB' | 'BtoA';
  serial_batches: boolean;
  num_threads: number;
  batch_size: number;
  load_size: number;
  crop_size: number;
  /** `Infinity` is the reference's `inf` (no limit). */
  max_dataset_size: number;
  preprocess: string;
  no_flip: boolean;
  display_winsize: number;
  random_scale_max: number;
  epoch: string;
  verbose: boolean;
  suffix: string;
  stylegan2_G_num_downsampling: number;
  // --- train options ---
  display_freq: number;
  display_ncols: number;
  display_id: number | null;
  display_server: string;
  display_env: string;
  display_port: number;
  update_html_freq: number;
  print_freq: number;
  no_html: boolean;
  save_latest_freq: number;
  save_epoch_freq: number;
  evaluation_freq: number;
  save_by_iter: boolean;
  continue_train: boolean;
  epoch_count: number;
  phase: string;
  pretrained_name: string | null;
  n_epochs: number;
  n_epochs_decay: number;
  beta1: number;
  beta2: number;
  lr: number;
  gan_mode: GanMode;
  pool_size: number;
  lr_policy: LrPolicy;
  lr_decay_iters: number;
  // --- CUT model options ---
  CUT_mode: CUTMode;
  lambda_GAN: number;
  lambda_NCE: number;
  nce_idt: boolean;
  /** Comma-separated indices of the generator's `model` entries, e.g. '0,4,8,12,16'. */
  nce_layers: string;
  nce_includes_all_negatives_from_minibatch: boolean;
  netF: 'mlp_sample' | 'sample' | 'reshape' | 'global_pool' | 'strided_conv';
  netF_nc: number;
  nce_T: number;
  num_patches: number;
  flip_equivariance: boolean;
  // --- CUT's successors (their own flag names) ---
  /** Ours: the contrastive loss. patchnce (CUT), hdce / dce (Hneg-SRC: hDCE + SRC, DCE + SRC), monce (MoNCE). */
  nce_loss: NceLossName;
  /** Hneg-SRC: weight of hDCE (hdce, dce). */
  lambda_HDCE: number;
  /** Hneg-SRC: weight of SRC (hdce, dce). */
  lambda_SRC: number;
  /** Hneg-SRC: the identity term HDCE_Y on (real_B, G(real_B)) (hdce, dce; nce_idt is PatchNCE's and MoNCE's). */
  dce_idt: boolean;
  /** Hneg-SRC: γ of the hard-negative weights. */
  HDCE_gamma: number;
  /** Hneg-SRC: γ at the end of the curriculum. */
  HDCE_gamma_min: number;
  /** Hneg-SRC: γ linear from HDCE_gamma to HDCE_gamma_min over the epochs. */
  use_curriculum: boolean;
  /** Hneg-SRC: γ = 1 after step_gamma_epoch (with use_curriculum). */
  step_gamma: boolean;
  step_gamma_epoch: number;
  /** Hneg-SRC: hDCE without the SRC weights (plain DCE). */
  no_Hneg: boolean;
  /** MoNCE: ε of the entropic optimal transport. */
  eps: number;
  /** MoNCE: transport cost, hard or easy. */
  cost_type: 'hard' | 'easy';
  /** MoNCE: weight of the negative term. */
  neg_term_weight: number;
  /** QS-Attn: query selection of PatchSampleF (random: CUT's random patches). */
  QS_mode: QuerySelection;
  // --- ours ---
  /** Seed of every random draw (initialisation, patch ids, flips); null = a random seed. */
  seed: number | null;
  /**
   * Epoch checkpoints that keep the full resume state (optimizers, for an exact --continue_train
   * --epoch N): a comma list of epochs, `all`, or empty (weights only, like the reference).
   * `latest` always keeps it.
   */
  keep_state_epochs: string;
  /** Every this many epochs, FID and KID of the translated test set (0: never). */
  eval_freq: number;
  /** pytorch-fid's FID Inception weights (pt_inception-2015-12-05-6726825d.pth); needed when eval_freq > 0. */
  eval_inception: string | null;
  /** How many <phase=test>A images --eval_freq translates (`Infinity`: all). */
  eval_num_test: number;
}

export type OptionName = keyof CUTOptions;
export type OptionKind = 'str' | 'int' | 'float' | 'bool';

export interface OptionSpec {
  kind: OptionKind;
  /** Default before any CUT_mode preset. */
  default: string | number | boolean | null;
  /** One line for `--help`. */
  help: string;
  /** Where the reference declares it; 'ours' for options the reference does not have. */
  group: 'base' | 'train' | 'cut' | 'successors' | 'ours';
  /** Accepted values (strings). */
  choices?: readonly string[];
  /** Also accepted: strings matching this (netG's resnet_<n>blocks). */
  pattern?: RegExp;
  /** Reference values this implementation does not support (clear error instead of "invalid"). */
  unsupported?: readonly string[];
  /** Why a string value is refused, or null: decides instead of `choices` / `pattern` (netG, netD). */
  check?: (value: string) => string | null;
  /** `None` is allowed. */
  nullable?: boolean;
  /** Lower bound (numbers), inclusive unless `exclusiveMin`. */
  min?: number;
  exclusiveMin?: boolean;
  /** Upper bound (numbers), inclusive unless `exclusiveMax`. */
  max?: number;
  exclusiveMax?: boolean;
  /** `inf` is allowed (max_dataset_size). */
  infinite?: boolean;
  /**
   * How the declaring argparse prints the default when the flag is not given (an int default of
   * a float flag, e.g. Hneg-SRC's `--HDCE_gamma` default 1 prints as `1`, a given value as `1.0`).
   */
  defaultRepr?: string;
}

const str = (def: string | null, help: string, group: OptionSpec['group'], extra: Partial<OptionSpec> = {}): OptionSpec => ({
  kind: 'str',
  default: def,
  help,
  group,
  ...extra,
});
const int = (def: number | null, help: string, group: OptionSpec['group'], extra: Partial<OptionSpec> = {}): OptionSpec => ({
  kind: 'int',
  default: def,
  help,
  group,
  ...extra,
});
const float = (def: number, help: string, group: OptionSpec['group'], extra: Partial<OptionSpec> = {}): OptionSpec => ({
  kind: 'float',
  default: def,
  help,
  group,
  ...extra,
});
const bool = (def: boolean, help: string, group: OptionSpec['group']): OptionSpec => ({ kind: 'bool', default: def, help, group });

const freq = (def: number, help: string) => int(def, help, 'train', { min: 1 });

/** Every option: kind, reference default, help text, allowed values. */
export const OPTION_SPECS: { readonly [K in OptionName]: OptionSpec } = {
  dataroot: str('placeholder', 'dataset folder with trainA/ and trainB/ (testA/, testB/ for testing)', 'base'),
  name: str('experiment_name', 'run name: checkpoints and logs go to <checkpoints_dir>/<name>', 'base'),
  easy_label: str('experiment_name', 'free-form label (recorded, not used)', 'base'),
  gpu_ids: str('0', 'recorded for compatibility with the reference; the backend choice selects the device', 'base'),
  checkpoints_dir: str('./checkpoints', 'where run folders are written', 'base'),
  model: str('cut', 'model to train (cut covers CUT and FastCUT)', 'base', { choices: ['cut'], unsupported: ['sincut', 'cycle_gan', 'test'] }),
  input_nc: NETWORK_OPTION_SPECS.input_nc,
  output_nc: NETWORK_OPTION_SPECS.output_nc,
  ngf: NETWORK_OPTION_SPECS.ngf,
  ndf: NETWORK_OPTION_SPECS.ndf,
  netD: NETWORK_OPTION_SPECS.netD,
  netG: NETWORK_OPTION_SPECS.netG,
  n_layers_D: NETWORK_OPTION_SPECS.n_layers_D,
  normG: NETWORK_OPTION_SPECS.normG,
  normD: NETWORK_OPTION_SPECS.normD,
  init_type: NETWORK_OPTION_SPECS.init_type,
  init_gain: NETWORK_OPTION_SPECS.init_gain,
  no_dropout: NETWORK_OPTION_SPECS.no_dropout,
  no_antialias: NETWORK_OPTION_SPECS.no_antialias,
  no_antialias_up: NETWORK_OPTION_SPECS.no_antialias_up,
  dataset_mode: str(
    'unaligned',
    'how images are read: unaligned (trainA/, trainB/, random B for each A), aligned (train/ with A|B pairs side by side), single (the images of dataroot, for test)',
    'base',
    {
      choices: ['unaligned', 'aligned', 'single'],
      unsupported: ['singleimage', 'template', 'colorization'],
    },
  ),
  direction: str('AtoB', 'translation direction', 'base', { choices: ['AtoB', 'BtoA'] }),
  serial_batches: bool(false, 'take B images in order instead of at random', 'base'),
  num_threads: int(4, 'data-loading threads', 'base', { min: 0 }),
  batch_size: int(1, 'images per batch', 'base', { min: 1 }),
  load_size: int(286, 'images are resized to this size first', 'base', { min: 1 }),
  crop_size: int(256, 'then cropped to this size', 'base', { min: 1 }),
  max_dataset_size: int(Infinity, 'use at most this many images per domain (inf: all)', 'base', { min: 1, infinite: true }),
  preprocess: str(
    'resize_and_crop',
    'preprocessing at load time: keywords joined by _and_ (fixsize, resize, scale_width, scale_shortside, zoom, crop, patch, trim, none), e.g. resize_and_crop, scale_width, scale_shortside_and_crop, zoom_and_patch',
    'base',
  ),
  no_flip: bool(false, 'no random horizontal flips of the training images', 'base'),
  display_winsize: int(256, 'display size of images in the HTML page', 'base', { min: 1 }),
  random_scale_max: float(3.0, 'largest zoom of single-image training (recorded, unused by CUT)', 'base', { min: 0 }),
  epoch: str('latest', 'which checkpoint to load: latest or an epoch number', 'base'),
  verbose: bool(false, 'print more information', 'base'),
  suffix: str('', 'suffix appended to the run name (recorded, not applied)', 'base'),
  stylegan2_G_num_downsampling: int(1, 'StyleGAN2 generator downsampling (recorded, unused by CUT)', 'base', { min: 0 }),

  display_freq: freq(400, 'show training results every this many images'),
  display_ncols: int(4, 'images per row in the display', 'train', { min: 0 }),
  display_id: int(null, 'visdom window id (None: the reference picks one; 0 or -1: no visdom)', 'train', { nullable: true }),
  display_server: str('http://localhost', 'visdom server (recorded; no visdom here)', 'train'),
  display_env: str('main', 'visdom environment (recorded; no visdom here)', 'train'),
  display_port: int(8097, 'visdom port (recorded; no visdom here)', 'train', { min: 0 }),
  update_html_freq: freq(1000, 'save result images to the HTML page every this many images'),
  print_freq: freq(100, 'print losses every this many images'),
  no_html: bool(false, 'do not save result images as HTML', 'train'),
  save_latest_freq: freq(5000, 'save the latest checkpoint every this many images'),
  save_epoch_freq: freq(5, 'save a checkpoint every this many epochs'),
  evaluation_freq: freq(5000, 'evaluation interval in images (recorded, unused by CUT)'),
  save_by_iter: bool(false, 'name mid-epoch checkpoints by iteration instead of latest', 'train'),
  continue_train: bool(false, 'resume from the checkpoint named by --epoch', 'train'),
  epoch_count: int(1, 'number of the first epoch (for resuming)', 'train', { min: 1 }),
  phase: str('train', 'dataset split to use', 'train'),
  pretrained_name: str(null, 'run to load the checkpoint from when resuming (None: this run)', 'train', { nullable: true }),
  n_epochs: int(200, 'epochs at the initial learning rate', 'train', { min: 0 }),
  n_epochs_decay: int(200, 'epochs over which the learning rate decays to zero (linear policy)', 'train', { min: 0 }),
  beta1: float(0.5, 'Adam beta1', 'train', { min: 0, max: 1, exclusiveMax: true }),
  beta2: float(0.999, 'Adam beta2', 'train', { min: 0, max: 1, exclusiveMax: true }),
  lr: float(0.0002, 'initial learning rate of Adam (G, D and F)', 'train', { min: 0, exclusiveMin: true }),
  gan_mode: str('lsgan', 'adversarial loss: lsgan (least squares), vanilla (cross-entropy), nonsaturating, wgangp', 'train', {
    choices: ['lsgan', 'vanilla', 'nonsaturating', 'wgangp'],
  }),
  pool_size: int(0, 'image-pool size (CUT uses none)', 'train', { min: 0 }),
  lr_policy: str(
    'linear',
    "learning-rate schedule: linear, step, plateau (x0.2 after 6 epochs without a 1% gain in the reference's metric, which CUT keeps at 0) or cosine",
    'train',
    {
      choices: ['linear', 'step', 'plateau', 'cosine'],
    },
  ),
  lr_decay_iters: int(50, 'step policy: multiply the learning rate by 0.1 every this many epochs', 'train', { min: 1 }),

  CUT_mode: str('CUT', 'preset of defaults: CUT or FastCUT (case-insensitive)', 'cut', { choices: ['CUT', 'FastCUT'] }),
  lambda_GAN: float(1.0, 'weight of the adversarial loss', 'cut', { min: 0 }),
  lambda_NCE: float(1.0, 'weight of the PatchNCE loss', 'cut', { min: 0 }),
  nce_idt: bool(false, 'also apply PatchNCE to (real_B, G(real_B)) (identity term)', 'cut'),
  nce_layers: NETWORK_OPTION_SPECS.nce_layers,
  nce_includes_all_negatives_from_minibatch: bool(false, 'negatives from every image of the minibatch instead of the same image only', 'cut'),
  netF: NETWORK_OPTION_SPECS.netF,
  netF_nc: NETWORK_OPTION_SPECS.netF_nc,
  nce_T: float(0.07, 'temperature of the PatchNCE softmax', 'cut', { min: 0, exclusiveMin: true }),
  num_patches: int(256, 'patches sampled per image and layer', 'cut', { min: 1 }),
  flip_equivariance: bool(false, 'randomly flip the generator input horizontally and undo it on the query features (FastCUT)', 'cut'),

  nce_loss: str(
    'patchnce',
    "contrastive loss: patchnce (CUT), hdce (Hneg-SRC: G_GAN + hDCE + SRC, with --lambda_HDCE, --lambda_SRC, --dce_idt, --HDCE_gamma), dce (hdce without the SRC weights, their --no_Hneg), monce (MoNCE: PatchNCE's terms NCE, NCE_Y with --eps, --cost_type, --neg_term_weight)",
    'successors',
    { choices: NCE_LOSSES },
  ),
  lambda_HDCE: float(1.0, 'Hneg-SRC (nce_loss hdce, dce): weight of the hDCE loss HDCE(G(X), X)', 'successors', { min: 0 }),
  lambda_SRC: float(1.0, 'Hneg-SRC (nce_loss hdce, dce): weight of the SRC loss SRC(G(X), X)', 'successors', { min: 0 }),
  dce_idt: bool(false, 'Hneg-SRC (nce_loss hdce, dce): also hDCE on (real_B, G(real_B)) (HDCE_Y; their nce_idt)', 'successors'),
  HDCE_gamma: float(1, 'Hneg-SRC: gamma of the hard-negative weights (their runs: 50 or 200)', 'successors', {
    min: 0,
    exclusiveMin: true,
    defaultRepr: '1',
  }),
  HDCE_gamma_min: float(1, 'Hneg-SRC: gamma reached at the last epoch with --use_curriculum', 'successors', {
    min: 0,
    exclusiveMin: true,
    defaultRepr: '1',
  }),
  use_curriculum: bool(false, 'Hneg-SRC: gamma linear from --HDCE_gamma to --HDCE_gamma_min over n_epochs + n_epochs_decay', 'successors'),
  step_gamma: bool(false, 'Hneg-SRC: with --use_curriculum, gamma = 1 after --step_gamma_epoch', 'successors'),
  step_gamma_epoch: int(200, 'Hneg-SRC: the epoch after which --step_gamma sets gamma to 1', 'successors', { min: 0 }),
  no_Hneg: bool(false, 'Hneg-SRC: hDCE without the hard-negative weights (DCE; same as --nce_loss dce)', 'successors'),
  eps: float(1.0, 'MoNCE (nce_loss monce): epsilon of the optimal transport (their horse2zebra script: 0.1)', 'successors', {
    min: 0,
    exclusiveMin: true,
  }),
  cost_type: str('hard', 'MoNCE: transport cost, hard (weights hard negatives up) or easy', 'successors', { choices: ['hard', 'easy'] }),
  neg_term_weight: float(1.0, 'MoNCE: weight of the negative term', 'successors', { min: 0, exclusiveMin: true }),
  QS_mode: str(
    'random',
    "QS-Attn: patches of the deeper nce_layers (from the 4th) picked by attention entropy: global, local, local_global; random: CUT's random patches (QS-Attn's default is global)",
    'successors',
    { choices: QUERY_SELECTIONS },
  ),

  seed: int(null, 'seed of all random draws (None: a random seed)', 'ours', { nullable: true, min: 0 }),
  keep_state_epochs: str(
    '',
    "epoch checkpoints that keep the optimizer state for an exact resume: '5,10', 'all' or '' (weights only; latest always keeps it)",
    'ours',
  ),
  eval_freq: int(
    0,
    'every this many epochs (after the epoch checkpoint), FID and KID of testA translated (as cutjs test --eval would) against testB, logged and plotted; the best epoch is kept as best_net_G.pth (0: no evaluation)',
    'ours',
    { min: 0 },
  ),
  eval_inception: str(
    null,
    "pytorch-fid's FID Inception weights, pt_inception-2015-12-05-6726825d.pth (needed with --eval_freq; nothing downloads it)",
    'ours',
    { nullable: true },
  ),
  eval_num_test: int(Infinity, 'how many testA images --eval_freq translates, in order (inf: all; papers use the whole test set)', 'ours', {
    min: 2,
    infinite: true,
  }),
};

export const OPTION_NAMES = Object.keys(OPTION_SPECS) as OptionName[];

/** Options whose defaults the `--CUT_mode` presets change. */
export const CUT_MODE_PRESETS: { readonly [M in CUTMode]: Readonly<Partial<CUTOptions>> } = {
  CUT: { nce_idt: true, lambda_NCE: 1.0 },
  FastCUT: { nce_idt: false, lambda_NCE: 10.0, flip_equivariance: true, n_epochs: 150, n_epochs_decay: 50 },
};

/** Every option at the reference's default for a mode (CUT by default). */
export function defaultOptions(mode: CUTMode = 'CUT'): CUTOptions {
  const out: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) out[name] = OPTION_SPECS[name].default;
  return { ...(out as unknown as CUTOptions), ...CUT_MODE_PRESETS[mode], CUT_mode: mode };
}

/** Raised for an invalid option value; the message names the option. */
export class OptionError extends Error {
  constructor(
    message: string,
    readonly option?: string,
  ) {
    super(message);
    this.name = 'OptionError';
  }
}

const TRUE_WORDS = ['true', 't', 'yes', 'y', '1'];
const FALSE_WORDS = ['false', 'f', 'no', 'n', '0'];

/** The mode named by a `CUT_mode` value (matched case-insensitively, like the reference). */
export function parseCutMode(value: unknown, source = 'options'): CUTMode {
  const s = String(value).toLowerCase();
  if (s === 'cut') return 'CUT';
  if (s === 'fastcut') return 'FastCUT';
  throw new OptionError(`${source}: --CUT_mode: must be CUT or FastCUT, got '${String(value)}'`, 'CUT_mode');
}

/**
 * Converts one value (a string from the command line or a train_opt.txt file, or an already
 * typed value) to the option's type, and checks it against the option's range and choices.
 */
export function parseOptionValue(name: string, value: unknown, source = 'options'): CUTOptions[OptionName] {
  const spec = (OPTION_SPECS as Record<string, OptionSpec | undefined>)[name];
  if (!spec) throw new OptionError(`${source}: unknown option --${name}${suggest(name)}`, name);
  const fail = (why: string): never => {
    throw new OptionError(`${source}: --${name}: ${why}, got ${describe(value, spec.kind)}`, name);
  };
  if (value === null || value === undefined || value === 'None') {
    if (spec.nullable) return null;
    return fail(`must not be None`);
  }
  if (name === 'CUT_mode') return parseCutMode(value, source);
  switch (spec.kind) {
    case 'bool': {
      if (typeof value === 'boolean') return value;
      const s = String(value).toLowerCase();
      if (TRUE_WORDS.includes(s)) return true;
      if (FALSE_WORDS.includes(s)) return false;
      return fail('must be True or False');
    }
    case 'int':
    case 'float': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && value.trim() !== '') {
        const s = value.trim().toLowerCase();
        n = s === 'inf' || s === 'infinity' ? Infinity : Number(s);
      } else return fail(`must be a number`);
      if (Number.isNaN(n)) return fail(`must be a number`);
      if (!Number.isFinite(n)) {
        if (!(spec.infinite && n > 0)) return fail('must be finite');
      } else if (spec.kind === 'int' && !Number.isInteger(n)) return fail('must be an integer');
      if (spec.min !== undefined && (spec.exclusiveMin ? !(n > spec.min) : !(n >= spec.min))) {
        return fail(`must be ${spec.exclusiveMin ? '>' : '>='} ${spec.min}`);
      }
      if (spec.max !== undefined && (spec.exclusiveMax ? !(n < spec.max) : !(n <= spec.max))) {
        return fail(`must be ${spec.exclusiveMax ? '<' : '<='} ${spec.max}`);
      }
      return n;
    }
    case 'str': {
      if (typeof value !== 'string' && typeof value !== 'number') return fail('must be a string');
      const s = String(value);
      if (spec.unsupported?.includes(s)) {
        throw new OptionError(
          `${source}: --${name}: '${s}' is a reference choice that is not supported here (supported: ${spec.choices!.join(', ')})`,
          name,
        );
      }
      if (spec.check) {
        const why = spec.check(s);
        if (why) throw new OptionError(`${source}: --${name}: ${why}`, name);
        return s;
      }
      if (spec.choices && !spec.choices.includes(s) && !spec.pattern?.test(s)) {
        return fail(`must be one of ${spec.choices.join(', ')}${spec.pattern ? ` (or match ${spec.pattern.source})` : ''}`);
      }
      return s;
    }
  }
}

/** The generator layer indices of `nce_layers` ('0,4,8,12,16' → [0, 4, 8, 12, 16]). */
export function parseNceLayers(value: string, source = 'options'): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const layers = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (parts.length === 0 || layers.some((n) => Number.isNaN(n))) {
    throw new OptionError(`${source}: --nce_layers: must be comma-separated layer indices like 0,4,8,12,16, got '${value}'`, 'nce_layers');
  }
  return layers;
}

/**
 * The full, checked options: `partial` over the defaults of its `CUT_mode` preset (CUT when
 * absent). Values may be typed or strings (command line, train_opt.txt); `isTrain` (written
 * into train_opt.txt by the reference) is ignored. `source` prefixes every error message, e.g.
 * `command line: --lr: must be > 0, got -1`.
 */
export function validateOptions(partial: Readonly<Record<string, unknown>> = {}, source = 'options'): CUTOptions {
  const mode = partial.CUT_mode === undefined ? 'CUT' : parseCutMode(partial.CUT_mode, source);
  const out = defaultOptions(mode) as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(partial)) {
    if (name === 'isTrain' || value === undefined) continue;
    out[name] = parseOptionValue(name, value, source);
  }
  const opts = out as unknown as CUTOptions;
  checkCombination(opts, source);
  return opts;
}

/** Checks that involve several options. */
function checkCombination(o: CUTOptions, source: string): void {
  const fail = (name: string, why: string): never => {
    throw new OptionError(`${source}: --${name}: ${why}`, name);
  };
  parseNceLayers(o.nce_layers, source);
  try {
    parsePreprocess(o.preprocess);
  } catch (e) {
    fail('preprocess', (e as Error).message.replace(/^preprocess '[^']*' is/, `'${o.preprocess}' is`));
  }
  if (o.n_epochs + o.n_epochs_decay < o.epoch_count) {
    fail('epoch_count', `is ${o.epoch_count}, after the last epoch n_epochs + n_epochs_decay = ${o.n_epochs + o.n_epochs_decay}`);
  }
  if (o.seed !== null && o.seed > 0xffffffff) fail('seed', `must be below 2^32, got ${o.seed}`);
  if (o.QS_mode !== 'random' && o.netF !== 'mlp_sample' && o.netF !== 'sample') {
    fail('QS_mode', `'${o.QS_mode}' selects patches in PatchSampleF: it needs --netF mlp_sample or sample, got ${o.netF}`);
  }
  // Values that become a file or folder name must stay one: no '/', '\\' or '..' to leave the run folder.
  const PATH_PARTS: Array<[OptionName, string]> = [
    ['name', 'the run goes to <checkpoints_dir>/<name>'],
    ['pretrained_name', 'the checkpoint is read from <checkpoints_dir>/<pretrained_name>'],
    ['epoch', 'it names the files <epoch>_net_G.pth and the results folder <phase>_<epoch>'],
    ['phase', 'it names the data folders <dataroot>/<phase>A, <phase>B and the results folder <phase>_<epoch>'],
  ];
  for (const [key, why] of PATH_PARTS) {
    const v = o[key];
    if (v === null) continue;
    if (!isPlainName(String(v))) fail(key, `'${String(v)}' is not a plain folder name (no '/', '\\' or '..'): ${why}`);
  }
  keepStateEpochs(o, source);
}

/**
 * The epochs `keep_state_epochs` names ('all': every epoch; empty: none), checked.
 */
export function keepStateEpochs(o: Pick<CUTOptions, 'keep_state_epochs'>, source = 'options'): 'all' | number[] {
  const raw = o.keep_state_epochs.trim();
  if (raw === 'all') return 'all';
  if (raw === '') return [];
  return raw.split(',').map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n < 1 || part.trim() === '') {
      throw new OptionError(
        `${source}: --keep_state_epochs: expected epochs like '5,10', 'all' or '', got '${o.keep_state_epochs}'`,
        'keep_state_epochs',
      );
    }
    return n;
  });
}

/** The value as the reference's Python prints it (str()): True, None, 1.0, 2e-05, inf. */
export function pythonString(name: OptionName, value: unknown): string {
  if (value === null || value === undefined) return 'None';
  const spec = OPTION_SPECS[name];
  if (spec.defaultRepr !== undefined && value === spec.default) return spec.defaultRepr;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
    return OPTION_SPECS[name].kind === 'float' ? pythonFloat(value) : String(value);
  }
  return String(value);
}

/** Python's repr of a float: shortest round-trip digits, '.0' on integers, exponent outside [1e-4, 1e16). */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const fixed = String(x);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

/** Every option as the string the reference's train_opt.txt shows, for parsers of that format. */
export function optionStrings(opts: CUTOptions): Map<string, string> {
  return new Map(OPTION_NAMES.map((name) => [name, pythonString(name, opts[name])]));
}

/**
 * The reference's `<checkpoints_dir>/<name>/train_opt.txt`: options sorted by name, names
 * right-aligned to 25 characters, values left-aligned to 30, and `[default: x]` after every
 * value that differs from the default of its CUT_mode preset. Includes the `isTrain: True`
 * line the reference adds, and our own options (`seed`).
 */
export function formatTrainOpt(opts: CUTOptions): string {
  const defaults = defaultOptions(opts.CUT_mode) as unknown as Record<string, unknown>;
  const rows: Array<[string, string, string | null]> = OPTION_NAMES.map((name) => {
    const value = opts[name];
    const def = defaults[name];
    return [name, pythonString(name, value), sameValue(value, def) ? null : pythonString(name, def)];
  });
  rows.push(['isTrain', 'True', 'None']);
  rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let text = '----------------- Options ---------------\n';
  for (const [name, value, def] of rows) {
    text += `${name.padStart(25)}: ${value.padEnd(30)}${def === null ? '' : `\t[default: ${def}]`}\n`;
  }
  return `${text}----------------- End -------------------\n`;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

/** The offending value for an error message: numbers bare, other text quoted. */
function describe(value: unknown, kind: OptionKind): string {
  if (typeof value !== 'string') return String(value);
  const numeric = (kind === 'int' || kind === 'float') && value.trim() !== '' && !Number.isNaN(Number(value));
  return numeric ? value : `'${value}'`;
}

function suggest(name: string): string {
  const lower = name.toLowerCase().replace(/-/g, '_');
  const close = OPTION_NAMES.find((n) => n.toLowerCase() === lower);
  return close ? ` (did you mean --${close}?)` : '';
}
