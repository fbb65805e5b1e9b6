import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readPthFile as readPth } from '@cut/files';
import { describeBackends } from '../../../../test-utils/backends';
import { formatTrainOpt, type CUTOptions } from '../options.js';
import { decodeOptimizerStates } from '../optim/optimizer-state.js';
import { formatLossLine, pyFixed } from './loss-log.js';
import { readTrainState, type TrainState } from './checkpoint.js';
import { runTraining, type IterationInfo, type TrainLogRecord } from './run.js';
import { tinyRunOptions } from './tiny-run.test-helper.js';

const root = mkdtempSync(join(tmpdir(), 'cut-train-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A tiny CUT run: 4 images per epoch (batch 1), epochs 1 (constant lr) and 2 (decay, the
 * fine-tuning data phase), so 8 iterations that cross an epoch boundary and an lr change.
 */
const tiny = (name: string, extra: Partial<CUTOptions> = {}): CUTOptions =>
  tinyRunOptions(root, name, {
    max_dataset_size: 4,
    seed: 7,
    display_freq: 2,
    update_html_freq: 4,
    save_latest_freq: 3,
    save_epoch_freq: 1,
    keep_state_epochs: '1',
    ...extra,
  });

const bytes = (path: string) => readFileSync(path);
const NETS = ['G', 'D', 'F'] as const;

/** Every file of a finished run that must be identical between a straight and a resumed run. */
function finalFiles(dir: string) {
  const state = JSON.parse(readFileSync(join(dir, 'train_state.json'), 'utf8')) as TrainState;
  return {
    weights: NETS.map((n) => bytes(join(dir, `latest_net_${n}.pth`))),
    optimizers: bytes(join(dir, state.files.optimizers.path)),
    rng: state.rng,
    totalIters: state.totalIters,
    epoch: state.epoch,
  };
}

describeBackends(
  'runTraining',
  () => {
    const straight: { losses: IterationInfo['losses'][]; log: string[] } = { losses: [], log: [] };

    it('trains 8 iterations and writes the reference files, our state, loss logs and the results page', async () => {
      const start = performance.now();
      const result = await runTraining(tiny('straight'), {
        log: (l) => straight.log.push(l),
        onIteration: (info) => straight.losses.push(info.losses),
      });
      console.log(`straight run, 8 iterations: ${((performance.now() - start) / 1000).toFixed(2)} s`);
      expect(result).toEqual({ stoppedBy: 'done', epoch: 2, totalIters: 8, checkpointDir: join(root, 'straight') });
      const dir = result.checkpointDir;
      expect(straight.losses).toHaveLength(8);

      // The reference's files: latest and per-epoch weights, GPU key style (no 'module.').
      for (const label of ['latest', '1', '2']) {
        for (const n of NETS) {
          const dict = readPth(join(dir, `${label}_net_${n}.pth`));
          expect(dict.size).toBeGreaterThan(0);
          expect([...dict.keys()].some((k) => k.startsWith('module.'))).toBe(false);
        }
      }
      expect(readFileSync(join(dir, 'train_opt.txt'), 'utf8')).toBe(formatTrainOpt(tiny('straight')));

      // loss_log.txt: header, then one line per iteration in the reference's format.
      const lossLog = readFileSync(join(dir, 'loss_log.txt'), 'utf8').split('\n');
      expect(lossLog[0]).toMatch(/^================ Training Loss \(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\) ================$/);
      const lines = lossLog.slice(1).filter(Boolean);
      expect(lines).toHaveLength(8);
      expect(lines[4]).toMatch(
        /^\(epoch: 2, iters: 1, time: \d+\.\d{3}, data: \d+\.\d{3}\) G_GAN: -?\d+\.\d{3} D_real: \S+ D_fake: \S+ G: \S+ NCE: \S+ NCE_Y: \S+ $/,
      );
      expect(lines[4]).toContain(`G_GAN: ${pyFixed(straight.losses[4]!.G_GAN!, 3)} `);
      expect(straight.log).toContain(lines[4]);

      // log.jsonl: one record per logged iteration.
      const records = readFileSync(join(dir, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as TrainLogRecord);
      expect(records.map((r) => r.totalIters)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      for (const r of records) {
        expect(Object.keys(r.losses)).toEqual(['G_GAN', 'D_real', 'D_fake', 'G', 'NCE', 'NCE_Y']);
        expect(r.numTensors).toBeGreaterThan(0);
        expect(r.rss).toBeGreaterThan(0);
        expect(r.backend).toBe('wasm');
        expect(r.secondsPerIter).toBeGreaterThan(0);
        expect(r.imagesPerSecond).toBeGreaterThan(0);
      }
      expect(records[7]!.losses).toEqual(straight.losses[7]);
      // Epoch 2 is the decay epoch: lr · (1 − 1/2).
      expect(records.map((r) => r.lr)).toEqual([...Array(4).fill(0.0002), ...Array(4).fill(0.0001)]);

      // Console lines of the reference.
      expect(straight.log).toContain('The number of training images = 4');
      expect(straight.log).toContain('learning rate = 0.0001000');
      expect(straight.log).toContain('saving the latest model (epoch 1, total_iters 3)');
      expect(straight.log).toContain('saving the model at the end of epoch 2, iters 8');
      expect(straight.log.some((l) => /^End of epoch 1 \/ 2 \t Time Taken: \d+ sec$/.test(l))).toBe(true);

      // Results page: epoch images of every visual, newest first.
      const html = readFileSync(join(dir, 'web', 'index.html'), 'utf8');
      expect(html.indexOf('epoch [2]')).toBeLessThan(html.indexOf('epoch [1]'));
      for (const e of ['001', '002']) {
        for (const label of ['real_A', 'fake_B', 'real_B', 'idt_B'])
          expect(existsSync(join(dir, 'web', 'images', `epoch${e}_${label}.png`))).toBe(true);
      }
      // Full state for latest and the epoch asked for (keep_state_epochs 1); epoch 2 is weights only.
      const states = ['latest', '1'].map((label) => readTrainState(dir, label)!);
      expect(states.map((s) => [s.label, s.epoch, s.totalIters])).toEqual([
        ['latest', 3, 8],
        ['1', 2, 4],
      ]);
      expect(readTrainState(dir, '2')).toBeNull();
      // Only the snapshots the state files name are kept.
      const used = new Set(states.map((s) => s.files.G.path.split('/')[1]));
      expect(readdirSync(join(dir, 'snapshots')).sort()).toEqual([...used].sort());
    });

    it('N/2 iterations + resume + N/2 gives bit-identical weights, optimiser state and losses', async () => {
      const controller = new AbortController();
      const first: IterationInfo['losses'][] = [];
      const stopped = await runTraining(tiny('resumed'), {
        signal: controller.signal,
        onIteration: (info) => {
          first.push(info.losses);
          // Stop mid-epoch (iteration 3 of 4), after the optimiser has moments and F its MLPs.
          if (info.totalIters === 3) controller.abort();
        },
      });
      expect(stopped.stoppedBy).toBe('signal');
      expect(stopped.totalIters).toBe(3);
      const state = readTrainState(stopped.checkpointDir, 'latest')!;
      expect([state.epoch, state.epochIter, state.totalIters]).toEqual([1, 3, 3]);

      const second: IterationInfo['losses'][] = [];
      const log: string[] = [];
      const result = await runTraining(tiny('resumed', { continue_train: true }), {
        log: (l) => log.push(l),
        onIteration: (info) => second.push(info.losses),
      });
      expect(result).toMatchObject({ stoppedBy: 'done', epoch: 2, totalIters: 8 });
      expect(log).toContain('starting at epoch 1 (iteration 4 of 4), learning rate = 0.0002000');
      expect([...first, ...second]).toEqual(straight.losses);

      const a = finalFiles(join(root, 'straight'));
      const b = finalFiles(join(root, 'resumed'));
      NETS.forEach((n, i) => expect(Buffer.compare(a.weights[i]!, b.weights[i]!), `latest_net_${n}.pth`).toBe(0));
      expect(Buffer.compare(a.optimizers, b.optimizers)).toBe(0);
      expect(b.rng).toEqual(a.rng);
      expect([b.totalIters, b.epoch]).toEqual([8, 3]);
      // The moments are real: Adam stepped 8 times with non-zero moments.
      const adam = decodeOptimizerStates(b.optimizers, 'optimizers.bin');
      expect(adam.header.G!.iterations).toBe(8);
      expect(adam.header.F!.iterations).toBe(8);
      expect([...adam.moments.values()].some((m) => m.some((v) => v !== 0))).toBe(true);

      // Continuing a finished run trains nothing, rewrites no file, and says so with the way forward.
      const stateBytes = bytes(join(root, 'resumed', 'train_state.json'));
      const finished: string[] = [];
      expect(await runTraining(tiny('resumed', { continue_train: true }), { log: (l) => finished.push(l) })).toMatchObject({
        stoppedBy: 'done',
        epoch: 2,
        totalIters: 8,
      });
      expect(Buffer.compare(bytes(join(root, 'resumed', 'train_state.json')), stateBytes)).toBe(0);
      expect(finished).toEqual([
        `note: ${join(root, 'resumed', 'train_state.json')} is the end of a finished run (8 images, epochs 1..2); nothing to train. Raise --n_epochs or --n_epochs_decay to train longer`,
      ]);

      // loss_log.txt got a header per start that trained.
      const lossLog = readFileSync(join(root, 'resumed', 'loss_log.txt'), 'utf8');
      expect(lossLog.match(/Training Loss/g)).toHaveLength(2);
    });

    it('on two threads (the real_B half in a worker), stopped and resumed: the same files as one thread, straight', async () => {
      const workerBackend = { backend: 'wasm' } as const;
      const controller = new AbortController();
      const losses: IterationInfo['losses'][] = [];
      await runTraining(tiny('two-threads'), {
        workerBackend,
        signal: controller.signal,
        onIteration: (info) => {
          losses.push(info.losses);
          if (info.totalIters === 3) controller.abort();
        },
      });
      const result = await runTraining(tiny('two-threads', { continue_train: true }), {
        workerBackend,
        onIteration: (info) => losses.push(info.losses),
      });
      expect(result).toMatchObject({ stoppedBy: 'done', totalIters: 8 });
      expect(losses).toEqual(straight.losses);
      const a = finalFiles(join(root, 'straight'));
      const b = finalFiles(join(root, 'two-threads'));
      NETS.forEach((n, i) => expect(Buffer.compare(a.weights[i]!, b.weights[i]!), `latest_net_${n}.pth`).toBe(0));
      expect(Buffer.compare(a.optimizers, b.optimizers)).toBe(0);
      expect(b.rng).toEqual(a.rng);
    });

    it('resumes exactly from an epoch checkpoint (continue_train, epoch 1)', async () => {
      const losses: IterationInfo['losses'][] = [];
      // Copy only what the epoch-1 checkpoint needs: run into a fresh name from the straight run's files.
      const result = await runTraining(
        tiny('straight', { continue_train: true, epoch: '1', save_epoch_freq: 5, save_latest_freq: 100, name: 'straight' }),
        {
          onIteration: (info) => losses.push(info.losses),
        },
      );
      expect(result).toMatchObject({ stoppedBy: 'done', epoch: 2, totalIters: 8 });
      expect(losses).toEqual(straight.losses.slice(4));
    });

    it('continue_train without our state loads the weights alone (as from the reference): fresh optimisers, epoch_count', async () => {
      const dir = join(root, 'from-weights');
      mkdirSync(dir, { recursive: true });
      for (const n of NETS) copyFileSync(join(root, 'straight', `1_net_${n}.pth`), join(dir, `1_net_${n}.pth`));
      const log: string[] = [];
      const iters: IterationInfo[] = [];
      // With lr 1e-20 the weights move by ~1e-20 (exact zeros become ~1e-20; the rest keep their bits), so
      // what is saved at the end is what was loaded.
      const options = tiny('from-weights', {
        continue_train: true,
        epoch: '1',
        epoch_count: 2,
        lr: 1e-20,
        save_epoch_freq: 5,
        save_latest_freq: 100,
      });
      const result = await runTraining(options, { log: (l) => log.push(l), onIteration: (i) => iters.push(i) });
      expect(result).toMatchObject({ stoppedBy: 'done', epoch: 2, totalIters: 4 });
      expect(iters.map((i) => i.epoch)).toEqual([2, 2, 2, 2]);
      expect(log.some((l) => l.includes("loaded the weights of '1'") && l.includes('without a training state'))).toBe(true);
      for (const n of NETS) {
        const loaded = readPth(join(dir, `1_net_${n}.pth`));
        const saved = readPth(join(dir, `latest_net_${n}.pth`));
        expect([...saved.keys()]).toEqual([...loaded.keys()]);
        for (const [key, t] of loaded) {
          const a = saved.get(key)!.data as Float32Array;
          const diff = (t.data as Float32Array).map((v, i) => Math.abs(v - a[i]!));
          expect(Math.max(...diff), `${n} ${key}`).toBeLessThan(1e-18);
        }
      }
    });

    it('a save interrupted after replacing latest_net_*.pth leaves the previous state loadable', async () => {
      const dir = join(root, 'resumed');
      const before = readTrainState(dir, 'latest')!;
      // As if a later save had died between publishing the weights and renaming train_state.json:
      // a half-written snapshot folder, torn reference-named files, a temporary state file.
      const partial = join(dir, 'snapshots', '000000012-interrupted');
      mkdirSync(partial, { recursive: true });
      writeFileSync(join(partial, 'net_G.pth'), 'torn');
      // (saves replace files by renaming; the snapshot has its own copy anyway)
      writeFileSync(join(dir, 'torn.tmp'), 'torn');
      renameSync(join(dir, 'torn.tmp'), join(dir, 'latest_net_G.pth'));
      writeFileSync(join(dir, '.train_state.json.123.abc.tmp'), '{');
      expect(readTrainState(dir, 'latest')).toEqual(before);
      // Extend the run by one epoch from that state.
      const result = await runTraining(tiny('resumed', { continue_train: true, n_epochs_decay: 2 }), {});
      expect(result).toMatchObject({ stoppedBy: 'done', epoch: 3, totalIters: 12 });
      expect(readPth(join(dir, 'latest_net_G.pth')).size).toBeGreaterThan(0);
      expect(existsSync(partial)).toBe(false);
    });

    it('a non-finite loss stops the run with the iteration and the loss named, and keeps the last good checkpoint', async () => {
      const dir = join(root, 'diverges');
      const controller = new AbortController();
      await runTraining(tiny('diverges'), { signal: controller.signal, onIteration: (i) => i.totalIters === 2 && controller.abort() });
      const good = ['train_state.json', ...NETS.map((n) => `latest_net_${n}.pth`)].map((f) => bytes(join(dir, f)));
      // With lr 1e20, D's first step overflows, and the G_GAN of that same iteration is NaN.
      const error = await runTraining(tiny('diverges', { continue_train: true, lr: 1e20 }), {}).then(
        () => null,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(
        /^iteration 3 \(epoch 1\): loss G_GAN is NaN \(G_GAN NaN, .*\); training stopped, the last checkpoint \(iteration 2\) was kept \(a lower --lr may help\)$/,
      );
      const after = ['train_state.json', ...NETS.map((n) => `latest_net_${n}.pth`)].map((f) => bytes(join(dir, f)));
      after.forEach((b, i) => expect(Buffer.compare(b, good[i]!)).toBe(0));
      expect(readTrainState(dir, 'latest')!.steps).toBe(2);
    });

    it('refuses to save weights that are not finite (lr 1e12: finite losses, overflowing weights)', async () => {
      const error = await runTraining(tiny('overflows', { lr: 1e12, save_latest_freq: 1 }), {}).then(
        () => null,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(/^iteration 1 \(epoch 1\): weights are not finite \(G model\.1\.weight, .*\); checkpoint not written$/);
      expect(existsSync(join(root, 'overflows', 'train_state.json'))).toBe(false);
      expect(existsSync(join(root, 'overflows', 'latest_net_G.pth'))).toBe(false);
    });

    it('overwriting latest_net_G.pth in place (as torch.save or cp do: O_TRUNC, then write) changes no other file', async () => {
      const dir = join(root, 'overwrite');
      await runTraining(tiny('overwrite', { keep_state_epochs: '' }), {});
      const files = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]));
      const before = new Map(files(dir).map((f) => [f, bytes(f)]));
      const latest = join(dir, 'latest_net_G.pth');
      const other = bytes(join(dir, '1_net_G.pth'));
      expect(Buffer.compare(other, bytes(latest))).not.toBe(0);
      const fd = openSync(latest, 'w'); // O_WRONLY | O_CREAT | O_TRUNC, what Python's open(f, 'wb') does
      writeSync(fd, other);
      closeSync(fd);
      expect(Buffer.compare(bytes(latest), other)).toBe(0);
      for (const [f, b] of before) if (f !== latest) expect(Buffer.compare(bytes(f), b), f).toBe(0);
      // The exact resume state does not depend on the reference-named files.
      expect(readTrainState(dir, 'latest')?.totalIters).toBe(8);
      // Disk: epoch checkpoints are weights only by default; one snapshot (latest's) with optimizers.bin.
      expect(existsSync(join(dir, '1_train_state.json')) || existsSync(join(dir, '2_train_state.json'))).toBe(false);
      expect(readdirSync(join(dir, 'snapshots'))).toHaveLength(1);
      expect(files(dir).filter((f) => f.endsWith('optimizers.bin'))).toHaveLength(1);
    });

    it('keeps tf.memory().numTensors flat after the first iteration (steps, samples, logs and saves)', async () => {
      const counts: number[] = [];
      const before = tf.memory().numTensors;
      await runTraining(
        tiny('memory', { n_epochs: 2, n_epochs_decay: 0, max_dataset_size: 3, display_freq: 1, update_html_freq: 1, save_latest_freq: 2 }),
        {
          onIteration: () => counts.push(tf.memory().numTensors),
        },
      );
      expect(counts).toHaveLength(6);
      expect(new Set(counts.slice(1)).size, `numTensors per iteration: ${counts}`).toBe(1);
      expect(tf.memory().numTensors).toBe(before);
    });
  },
  { backends: ['wasm'] },
);

it('formats loss lines like the reference (Python %.3f, trailing space)', () => {
  expect(formatLossLine(1, 100, 0.6615, 0.0125, { G_GAN: 0.38349, D_real: 0.0625 })).toBe(
    '(epoch: 1, iters: 100, time: 0.661, data: 0.013) G_GAN: 0.383 D_real: 0.062 ',
  );
  expect(pyFixed(0.0625, 3)).toBe('0.062');
  expect(pyFixed(0.1875, 3)).toBe('0.188');
  expect(pyFixed(-2.5, 0)).toBe('-2');
  expect(pyFixed(2.675, 2)).toBe('2.67'); // the double below 2.675
  expect(pyFixed(0.0002, 7)).toBe('0.0002000');
});
