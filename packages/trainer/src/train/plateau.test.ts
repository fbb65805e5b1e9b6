// lr_policy plateau in a training run: the rates PyTorch's ReduceLROnPlateau gives with the
// reference's metric (0), its state in every checkpoint, and an exact resume from that state.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '../../../../test-utils/backends';
import { loadFixture } from '../../../../test-utils/golden';
import type { CUTOptions } from '../options.js';
import type { TrainState } from './checkpoint.js';
import { runTraining, type IterationInfo } from './run.js';
import { tinyRunOptions } from './tiny-run.test-helper.js';

const root = mkdtempSync(join(tmpdir(), 'cut-plateau-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface GoldenRun {
  lr_per_epoch: Array<[number, number]>;
  states: Array<{ best: number; num_bad_epochs: number; cooldown_counter: number; last_epoch: number; lr: number }>;
}
// lr 0.0002 from epoch 1, metric 0: PyTorch's rates and states (tools/golden/lr_plateau.py).
const golden = loadFixture<{ cut: GoldenRun[] }>('golden/lr_plateau.json').cut[0]!;

/** One image per epoch, 8 epochs: the plateau's first drop (after epoch 7) falls inside the run. */
const tiny = (name: string, extra: Partial<CUTOptions> = {}): CUTOptions =>
  tinyRunOptions(root, name, {
    max_dataset_size: 1,
    n_epochs: 4,
    n_epochs_decay: 4,
    lr_policy: 'plateau',
    seed: 3,
    save_latest_freq: 100,
    save_epoch_freq: 100,
    no_html: true,
    ...extra,
  });

const state = (name: string) => JSON.parse(readFileSync(join(root, name, 'train_state.json'), 'utf8')) as TrainState;

describeBackends(
  'lr_policy plateau in runTraining',
  () => {
    const straight: IterationInfo[] = [];

    it("trains each epoch with PyTorch's rate and saves the scheduler's state", async () => {
      const log: string[] = [];
      await runTraining(tiny('straight'), { onIteration: (i) => straight.push(i), log: (l) => log.push(l) });
      expect(straight.map((i) => [i.epoch, i.lr])).toEqual(golden.lr_per_epoch.slice(0, 8));
      expect(log).toContain('learning rate = 0.0000400');
      const g = golden.states[7]!;
      expect(state('straight').schedule).toEqual({
        policy: 'plateau',
        lr: g.lr,
        best: g.best,
        numBadEpochs: g.num_bad_epochs,
        cooldownCounter: g.cooldown_counter,
        lastEpoch: 8,
      });
    });

    it('stopped after epoch 7 and resumed: the same rates, losses and weights as straight; the resume continues from the saved state', async () => {
      const controller = new AbortController();
      const seen: IterationInfo[] = [];
      await runTraining(tiny('resumed'), {
        signal: controller.signal,
        onIteration: (i) => {
          seen.push(i);
          if (i.totalIters === 7) controller.abort();
        },
      });
      // Saved at the end of epoch 7, after that epoch's scheduler step: the drop is in the state.
      const saved = state('resumed');
      expect([saved.epoch, saved.epochIter]).toEqual([8, 0]);
      expect(saved.schedule).toMatchObject({ lr: golden.states[6]!.lr, numBadEpochs: 0, lastEpoch: 7 });
      cpSync(join(root, 'resumed'), join(root, 'edited'), { recursive: true });
      await runTraining(tiny('resumed', { continue_train: true }), { onIteration: (i) => seen.push(i) });
      expect(seen.map((i) => [i.epoch, i.lr, i.losses])).toEqual(straight.map((i) => [i.epoch, i.lr, i.losses]));
      for (const net of ['G', 'D', 'F']) {
        const a = readFileSync(join(root, 'straight', `latest_net_${net}.pth`));
        const b = readFileSync(join(root, 'resumed', `latest_net_${net}.pth`));
        expect(Buffer.compare(a, b), net).toBe(0);
      }
      expect(state('resumed').schedule).toEqual(state('straight').schedule);

      // The state is what a resume reads: edited, it changes the next epoch's rate.
      const file = join(root, 'edited', 'train_state.json');
      const edited = state('edited');
      writeFileSync(file, JSON.stringify({ ...edited, schedule: { ...edited.schedule, lr: 1e-5 } }));
      const after: IterationInfo[] = [];
      await runTraining(tiny('edited', { continue_train: true }), { onIteration: (i) => after.push(i) });
      expect(after.map((i) => [i.epoch, i.lr])).toEqual([[8, 1e-5]]);
    });
  },
  { backends: ['wasm'] },
);
