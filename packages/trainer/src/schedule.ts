// Learning-rate policies of the reference's `get_scheduler`, as pure functions of the epoch.
// The reference steps its scheduler once at the end of every epoch, starting from step 0 in
// the first epoch it trains (`epoch_count`), so epoch k trains with step e = k - epoch_count.
// `plateau` is PyTorch's ReduceLROnPlateau (a class with state, below); the reference steps it
// with a metric that is always 0, so its rates too follow from the epoch alone.
import type { CUTOptions } from './options.js';

/** ReduceLROnPlateau's settings (PyTorch's names); the reference's get_scheduler uses `REFERENCE_PLATEAU`. */
export interface PlateauSettings {
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  minLr: number;
  eps: number;
}

/** models/networks.py get_scheduler: mode='min', factor=0.2, threshold=0.01, patience=5, PyTorch's defaults otherwise. */
export const REFERENCE_PLATEAU: Readonly<PlateauSettings> = {
  mode: 'min',
  factor: 0.2,
  patience: 5,
  threshold: 0.01,
  thresholdMode: 'rel',
  cooldown: 0,
  minLr: 0,
  eps: 1e-8,
};

/**
 * The metric the reference steps its plateau scheduler with: `BaseModel.metric`, set to 0 in
 * `__init__` and never changed by CUT (models/base_model.py update_learning_rate). So the first
 * step sets best = 0, every later one is a bad epoch, and the rate drops by 0.2 every 6 epochs
 * (after epochs 7, 13, ... of the run) until a drop would be below eps (1e-8).
 */
export const CUT_PLATEAU_METRIC = 0;

/** What a checkpoint keeps of a plateau scheduler (PyTorch's state_dict fields, JSON-able: best may be ±Infinity as a string). */
export interface PlateauState {
  policy: 'plateau';
  /** Learning rate in force (the optimisers' lr). */
  lr: number;
  best: number | 'inf' | '-inf';
  numBadEpochs: number;
  cooldownCounter: number;
  /** Steps taken (PyTorch's last_epoch). */
  lastEpoch: number;
}

/**
 * torch.optim.lr_scheduler.ReduceLROnPlateau for one learning rate (all three optimisers share
 * it: the reference steps their schedulers with the same metric), with its arithmetic in float64
 * as Python's: best · (1 − threshold), lr · factor, and a drop only when it exceeds eps.
 */
export class ReduceLROnPlateau {
  readonly settings: Readonly<PlateauSettings>;
  lr: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(lr: number, settings: Partial<PlateauSettings> = {}) {
    this.settings = { ...REFERENCE_PLATEAU, ...settings };
    if (!(this.settings.factor < 1)) throw new Error('ReduceLROnPlateau: factor should be < 1.0');
    this.lr = lr;
    this.best = this.settings.mode === 'min' ? Infinity : -Infinity;
  }

  /** Restores a scheduler from `state()` (with the reference's settings unless given). */
  static fromState(state: PlateauState, settings: Partial<PlateauSettings> = {}): ReduceLROnPlateau {
    if (state?.policy !== 'plateau') throw new Error('ReduceLROnPlateau.fromState: not a plateau scheduler state');
    const s = new ReduceLROnPlateau(state.lr, settings);
    s.best = state.best === 'inf' ? Infinity : state.best === '-inf' ? -Infinity : state.best;
    s.numBadEpochs = state.numBadEpochs;
    s.cooldownCounter = state.cooldownCounter;
    s.lastEpoch = state.lastEpoch;
    return s;
  }

  state(): PlateauState {
    const best = this.best === Infinity ? 'inf' : this.best === -Infinity ? '-inf' : this.best;
    return {
      policy: 'plateau',
      lr: this.lr,
      best,
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
    };
  }

  private isBetter(a: number): boolean {
    const { mode, thresholdMode, threshold } = this.settings;
    if (mode === 'min') return thresholdMode === 'rel' ? a < this.best * (1 - threshold) : a < this.best - threshold;
    return thresholdMode === 'rel' ? a > this.best * (threshold + 1) : a > this.best + threshold;
  }

  /** One end-of-epoch step with `metric` (PyTorch's step(metrics)). */
  step(metric: number): void {
    this.lastEpoch += 1;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.settings.patience) {
      const next = Math.max(this.lr * this.settings.factor, this.settings.minLr);
      if (this.lr - next > this.settings.eps) this.lr = next;
      this.cooldownCounter = this.settings.cooldown;
      this.numBadEpochs = 0;
    }
  }
}

/** The reference's plateau scheduler as it stands when epoch `epoch` starts: created at epoch_count, stepped with metric 0 after each epoch. */
export function plateauAt(opts: Pick<CUTOptions, 'lr' | 'epoch_count'>, epoch: number): ReduceLROnPlateau {
  const s = new ReduceLROnPlateau(opts.lr);
  for (let e = opts.epoch_count; e < epoch; e++) s.step(CUT_PLATEAU_METRIC);
  return s;
}

export type ScheduleOptions = Pick<CUTOptions, 'lr' | 'lr_policy' | 'n_epochs' | 'n_epochs_decay' | 'epoch_count' | 'lr_decay_iters'>;

/** The last epoch of a run: n_epochs + n_epochs_decay. */
export function lastEpoch(opts: Pick<CUTOptions, 'n_epochs' | 'n_epochs_decay'>): number {
  return opts.n_epochs + opts.n_epochs_decay;
}

/**
 * Multiplier of the initial learning rate used while training epoch `epoch` (1-based, from
 * `epoch_count` on):
 * - linear: 1 − max(0, epoch − n_epochs) / (n_epochs_decay + 1) (constant for n_epochs epochs,
 *   then a linear decay; the last epoch uses 1/(n_epochs_decay + 1));
 * - step: 0.1^floor(e / lr_decay_iters) with e = epoch − epoch_count;
 * - cosine: (1 + cos(π·e / n_epochs)) / 2 (annealing to 0 over n_epochs steps, then periodic
 *   like PyTorch's CosineAnnealingLR);
 * - plateau: ReduceLROnPlateau stepped with the reference's metric 0 (`plateauAt`): 1 for the
 *   first 7 epochs, then 0.2 less every 6 (`learningRateAt` gives the rate PyTorch computes).
 */
export function lrFactor(opts: ScheduleOptions, epoch: number): number {
  if (!Number.isInteger(epoch) || epoch < opts.epoch_count) {
    throw new Error(`lrFactor: epoch must be an integer >= epoch_count (${opts.epoch_count}), got ${epoch}`);
  }
  const step = epoch - opts.epoch_count;
  switch (opts.lr_policy as string) {
    case 'linear':
      return 1 - Math.max(0, step + opts.epoch_count - opts.n_epochs) / (opts.n_epochs_decay + 1);
    case 'step':
      return 0.1 ** Math.floor(step / opts.lr_decay_iters);
    case 'cosine':
      if (opts.n_epochs < 1) throw new Error(`lrFactor: the cosine policy needs n_epochs >= 1, got ${opts.n_epochs}`);
      return (1 + Math.cos((Math.PI * step) / opts.n_epochs)) / 2;
    case 'plateau':
      return plateauAt(opts, epoch).lr / opts.lr;
    default:
      throw new Error(`lr_policy '${opts.lr_policy}' is not supported (linear, step, plateau or cosine)`);
  }
}

/** The learning rate of all three optimisers while training epoch `epoch`. */
export function learningRateAt(opts: ScheduleOptions, epoch: number): number {
  // ReduceLROnPlateau multiplies the rate in force (lr · 0.2 · 0.2 ...), not lr by a product.
  if (opts.lr_policy === 'plateau') {
    lrFactor(opts, epoch); // the epoch check
    return plateauAt(opts, epoch).lr;
  }
  return opts.lr * lrFactor(opts, epoch);
}
