import { describe, expect, it } from 'vitest';
import { loadFixture } from '../../../test-utils/golden';
import { defaultOptions, lastEpoch, learningRateAt, lrFactor, type ScheduleOptions } from './index.js';
import { plateauAt, ReduceLROnPlateau, type PlateauSettings, type PlateauState } from './schedule.js';

interface LrRun {
  options: ScheduleOptions;
  lr_per_epoch: Array<[number, number]>;
}

describe('learning-rate schedules vs torch.optim.lr_scheduler', () => {
  const runs = loadFixture<{ lr: LrRun[] }>('golden/gan_loss_and_lr.json').lr;

  for (const run of runs) {
    const o = run.options;
    it(`${o.lr_policy}: lr ${o.lr}, n_epochs ${o.n_epochs}, n_epochs_decay ${o.n_epochs_decay}, epoch_count ${o.epoch_count}`, () => {
      expect(run.lr_per_epoch.map(([e]) => e)).toEqual(Array.from({ length: lastEpoch(o) - o.epoch_count + 1 }, (_, i) => o.epoch_count + i));
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

  it('rejects epochs before epoch_count and unknown policies', () => {
    const o = defaultOptions();
    expect(() => lrFactor(o, 0)).toThrow('epoch must be an integer >= epoch_count (1), got 0');
    expect(() => learningRateAt({ ...o, lr_policy: 'plateau' }, 0)).toThrow('epoch must be an integer >= epoch_count (1), got 0');
    expect(() => lrFactor({ ...o, lr_policy: 'exponential' as never }, 1)).toThrow(
      "lr_policy 'exponential' is not supported (linear, step, plateau or cosine)",
    );
  });
});

interface GoldenState {
  best: number | 'inf' | '-inf';
  num_bad_epochs: number;
  cooldown_counter: number;
  last_epoch: number;
  lr: number;
}
const toOurs = (g: GoldenState): PlateauState => ({
  policy: 'plateau',
  lr: g.lr,
  best: g.best,
  numBadEpochs: g.num_bad_epochs,
  cooldownCounter: g.cooldown_counter,
  lastEpoch: g.last_epoch,
});

describe('lr_policy plateau vs torch.optim.lr_scheduler.ReduceLROnPlateau (tools/golden/lr_plateau.py)', () => {
  const golden = loadFixture<{
    cut: Array<LrRun & { states: GoldenState[] }>;
    metrics: Array<{ lr: number; settings: Record<string, number | string>; metrics: number[]; states: GoldenState[] }>;
  }>('golden/lr_plateau.json');

  for (const run of golden.cut) {
    const o = run.options;
    it(`CUT's metric 0: lr ${o.lr}, epochs ${o.epoch_count}..${lastEpoch(o)}: every epoch's rate and the state after each step, exactly`, () => {
      for (const [epoch, lr] of run.lr_per_epoch) expect(learningRateAt(o, epoch), `epoch ${epoch}`).toBe(lr);
      run.states.forEach((g, k) => expect(plateauAt(o, o.epoch_count + k + 1).state(), `after step ${k + 1}`).toEqual(toOurs(g)));
    });
  }

  golden.metrics.forEach((run, n) => {
    it(`metric sequence ${n + 1} (${Object.keys(run.settings).length ? JSON.stringify(run.settings) : "the reference's settings"}): states after each step`, () => {
      const s = run.settings;
      const settings: Partial<PlateauSettings> = {
        ...(s.cooldown !== undefined && { cooldown: s.cooldown as number }),
        ...(s.min_lr !== undefined && { minLr: s.min_lr as number }),
        ...(s.threshold_mode !== undefined && { thresholdMode: s.threshold_mode as 'abs' }),
        ...(s.threshold !== undefined && { threshold: s.threshold as number }),
        ...(s.patience !== undefined && { patience: s.patience as number }),
      };
      const sched = new ReduceLROnPlateau(run.lr, settings);
      run.metrics.forEach((m, k) => {
        sched.step(m);
        expect(sched.state(), `after metric ${k + 1} (${m})`).toEqual(toOurs(run.states[k]!));
        // A scheduler restored from its state continues identically (what a resume relies on).
        const restored = ReduceLROnPlateau.fromState(JSON.parse(JSON.stringify(sched.state())) as PlateauState, settings);
        expect(restored.state()).toEqual(sched.state());
      });
    });
  });

  it('the first drop comes after 7 epochs, then every 6, as the reference runs it', () => {
    const o = { ...defaultOptions(), lr_policy: 'plateau' as const };
    expect([1, 7, 8, 13, 14].map((e) => learningRateAt(o, e) / o.lr)).toEqual([1, 1, 0.2, 0.2, 0.2 * 0.2]);
    expect(() => ReduceLROnPlateau.fromState({ policy: 'linear' } as never)).toThrow('not a plateau scheduler state');
  });
});
