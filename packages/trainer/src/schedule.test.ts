import { describe, expect, it } from 'vitest';
import { loadFixture } from '../../../test-utils/golden';
import { defaultOptions, lastEpoch, learningRateAt, lrFactor, type ScheduleOptions } from './index.js';

interface LrRun {
  options: ScheduleOptions;
  lr_per_epoch: Array<[number, number]>;
}

describe('learning-rate schedules vs torch.optim.lr_scheduler', () => {
  const runs = loadFixture<{ lr: LrRun[] }>('golden/gan_loss_and_lr.json').lr;

  for (const run of runs) {
    const o = run.options;
    it(`${o.lr_policy}: lr ${o.lr}, n_epochs ${o.n_epochs}, n_epochs_decay ${o.n_epochs_decay}, epoch_count ${o.epoch_count}`, () => {
      expect(run.lr_per_epoch.map(([e]) => e)).toEqual(
        Array.from({ length: lastEpoch(o) - o.epoch_count + 1 }, (_, i) => o.epoch_count + i),
      );
      for (const [epoch, lr] of run.lr_per_epoch) {
        expect(Math.abs(learningRateAt(o, epoch) - lr), `epoch ${epoch}`).toBeLessThanOrEqual(1e-12 * o.lr);
      }
    });
  }

  it('CUT: constant for 200 epochs, then linear; the last epoch trains with lr/201', () => {
    const o = defaultOptions('CUT');
    expect(learningRateAt(o, 1)).toBe(0.0002);
    expect(learningRateAt(o, 200)).toBe(0.0002);
    expect(learningRateAt(o, 201)).toBeCloseTo(0.0002 * (200 / 201), 15);
    expect(learningRateAt(o, 400)).toBeCloseTo(0.0002 / 201, 15);
    expect(lrFactor(defaultOptions('FastCUT'), 200)).toBeCloseTo(1 / 51, 15);
  });

  it('rejects epochs before epoch_count and the plateau policy', () => {
    const o = defaultOptions();
    expect(() => lrFactor(o, 0)).toThrow('epoch must be an integer >= epoch_count (1), got 0');
    expect(() => lrFactor({ ...o, lr_policy: 'plateau' as never }, 1)).toThrow("lr_policy 'plateau' is not supported");
  });
});
