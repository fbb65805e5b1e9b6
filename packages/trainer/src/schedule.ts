// Learning-rate policies of the reference's `get_scheduler`, as pure functions of the epoch.
// The reference steps its scheduler once at the end of every epoch, starting from step 0 in
// the first epoch it trains (`epoch_count`), so epoch k trains with step e = k - epoch_count.
import type { CUTOptions } from './options.js';

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
 *   like PyTorch's CosineAnnealingLR).
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
      throw new Error("lr_policy 'plateau' is not supported (the reference steps it with a constant metric of 0); use linear, step or cosine");
    default:
      throw new Error(`lr_policy '${opts.lr_policy}' is not supported (linear, step or cosine)`);
  }
}

/** The learning rate of all three optimisers while training epoch `epoch`. */
export function learningRateAt(opts: ScheduleOptions, epoch: number): number {
  return opts.lr * lrFactor(opts, epoch);
}
