// What a run does when things around it go wrong: a second run on the same folder, a stale
// lock, a changed dataset or a missing snapshot on resume, bad names, a full disk.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '../../../../test-utils/backends';
import { OptionError, validateOptions, type CUTOptions } from '../options.js';
import { readTrainState } from './checkpoint.js';
import { runTraining } from './run.js';
import { LOCK_FILE, appendLog, makeRunDir } from './run-files.js';
import { DEMO, tinyRunOptions } from './tiny-run.test-helper.js';

const root = mkdtempSync(join(tmpdir(), 'cut-run-safety-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Two iterations (2 images, batch 1, one epoch), FastCUT. */
const tiny = (name: string, extra: Partial<CUTOptions> = {}): CUTOptions =>
  tinyRunOptions(root, name, { CUT_mode: 'FastCUT', max_dataset_size: 2, n_epochs: 1, n_epochs_decay: 0, seed: 3, no_html: true, ...extra });

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describeBackends(
  'runTraining safety',
  () => {
    it('a second run on the same folder refuses, naming the pid of the run holding it (and does not say it replaces it); the first finishes', async () => {
      await runTraining(tiny('shared')); // an earlier run, finished: the next one replaces its checkpoints
      // The first run trains until the second one has given up, then stops (as on Ctrl-C).
      const stopFirst = new AbortController();
      let second: Promise<unknown> | null = null;
      const logs: { first: string[]; second: string[] } = { first: [], second: [] };
      const first = runTraining(tiny('shared', { n_epochs: 100 }), {
        signal: stopFirst.signal,
        log: (l) => logs.first.push(l),
        onIteration: () => {
          second ??= runTraining(tiny('shared'), { log: (l) => logs.second.push(l) })
            .then(
              () => 'finished',
              (e: Error) => e.message,
            )
            .finally(() => stopFirst.abort());
        },
      });
      await expect(first).resolves.toMatchObject({ stoppedBy: 'signal' });
      expect(await second).toMatch(
        new RegExp(
          `^${join(root, 'shared').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another training run \\(pid ${process.pid}, since .+\\); wait for it to finish or stop it, or choose another --name$`,
        ),
      );
      const replaces = `note: ${join(root, 'shared')} already holds a run; this new run replaces its checkpoints (the reference does too; --continue_train resumes it instead)`;
      expect(logs.first).toContain(replaces);
      expect(logs.second).toEqual([]);
      // Released at the end; the refused run touched nothing of it.
      expect(existsSync(join(root, 'shared', LOCK_FILE))).toBe(false);
      expect(readFileSync(join(root, 'shared', 'loss_log.txt'), 'utf8').match(/Training Loss/g)).toHaveLength(2);
    });

    it('a lock left by a process that is gone is taken over with a note', async () => {
      const dir = join(root, 'stale');
      mkdirSync(dir, { recursive: true });
      const pid = deadPid();
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
      const log: string[] = [];
      await expect(runTraining(tiny('stale'), { log: (l) => log.push(l) })).resolves.toMatchObject({ stoppedBy: 'done' });
      expect(log).toContain(`note: taking over ${join(dir, LOCK_FILE)}, left by pid ${pid} (no longer running)`);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    });

    it('resuming on a changed dataset names the state file and the ways forward', async () => {
      await runTraining(tiny('changed'));
      const data = join(root, 'changed-data');
      cpSync(DEMO, data, { recursive: true });
      const opts = tiny('changed', { dataroot: data, max_dataset_size: 3, continue_train: true, n_epochs: 2 });
      const state = join(root, 'changed', 'train_state.json');
      await expect(runTraining(opts)).rejects.toThrow(
        `${state}: the dataset is not the one this run was trained on (${join(data, 'trainA')}: 2 images then, 3 now, ${join(data, 'trainB')}: 2 images then, 3 now), so the exact resume cannot continue its data order. ` +
          `Put the data back as it was; or, to go on with this data from the weights alone (fresh optimizers and data order), delete or rename ${state}`,
      );
    });

    it('a longer run (n_epochs raised) continues without a false "will differ" note; a changed lr still gets one', async () => {
      const log: string[] = [];
      await runTraining(tiny('changed', { continue_train: true, n_epochs: 2 }), { log: (l) => log.push(l) });
      expect(log.filter((l) => l.startsWith('note:'))).toEqual([
        'note: n_epochs 1 -> 2: the epochs trained so far had the same learning rates under the new values, so this continues as a run started with them would',
      ]);
      const log2: string[] = [];
      await runTraining(tiny('changed', { continue_train: true, n_epochs: 3, lr: 0.0001 }), { log: (l) => log2.push(l) });
      expect(log2.filter((l) => l.startsWith('note:'))).toEqual([
        'note: resuming with options that differ from the saved run (lr 0.0002 -> 0.0001, n_epochs 2 -> 3); the result will differ from an uninterrupted run',
      ]);
    });

    it("under Hneg-SRC's gamma curriculum a raised n_epochs is reported (gamma follows it), not taken as schedule-only", async () => {
      const hneg = { nce_loss: 'hdce', use_curriculum: true, HDCE_gamma: 50, HDCE_gamma_min: 10 } as const;
      await runTraining(tiny('curriculum', hneg));
      const log: string[] = [];
      await runTraining(tiny('curriculum', { ...hneg, continue_train: true, n_epochs: 2 }), { log: (l) => log.push(l) });
      expect(log.filter((l) => l.startsWith('note:'))).toEqual([
        'note: resuming with options that differ from the saved run (n_epochs 1 -> 2); the result will differ from an uninterrupted run',
      ]);
    });

    it('a missing snapshots/ folder is named, with what to do', async () => {
      const dir = join(root, 'changed');
      const state = readTrainState(dir, 'latest')!;
      rmSync(join(dir, 'snapshots'), { recursive: true });
      expect(() => readTrainState(dir, 'latest')).toThrow(
        `${join(dir, 'train_state.json')}: ${join(dir, state.files.G.path)} is missing (the snapshots/ folder holds the exact resume state; was it deleted or moved?). ` +
          'Put it back, resume from another checkpoint (--epoch), or delete train_state.json to load the weights latest_net_{G,D,F}.pth alone (fresh optimizers).',
      );
    });

    it('a failed save (as on a full disk) names the epoch it ends and leaves no snapshot behind; stale partial snapshots go at start', async () => {
      const dir = join(root, 'full-disk');
      const snapshots = () => readdirSync(join(dir, 'snapshots')).sort();
      // The end-of-epoch-2 save fails: latest_net_G.pth cannot be replaced (a folder in its way), after the snapshot was written.
      const failing = runTraining(tiny('full-disk', { n_epochs: 2, save_epoch_freq: 1 }), {
        onIteration: (i) => {
          if (i.epoch === 2 && i.epochIter === i.itersPerEpoch) {
            rmSync(join(dir, 'latest_net_G.pth'));
            mkdirSync(join(dir, 'latest_net_G.pth', 'in-the-way'), { recursive: true });
          }
        },
      });
      await expect(failing).rejects.toThrow(/^iteration 4 \(epoch 2\): .*latest_net_G\.pth/);
      const kept = readTrainState(dir, 'latest')!;
      expect(kept.totalIters).toBe(2); // the end of epoch 1 stays the checkpoint to resume from
      expect(snapshots()).toEqual([kept.files.G.path.split('/')[1]]);
      // A snapshot folder cut short by an earlier crash or full disk: removed once the next run holds the folder.
      rmSync(join(dir, 'latest_net_G.pth'), { recursive: true });
      cpSync(join(dir, '1_net_G.pth'), join(dir, 'latest_net_G.pth'));
      mkdirSync(join(dir, 'snapshots', '000000003-partial'));
      writeFileSync(join(dir, 'snapshots', '000000003-partial', 'net_G.pth'), 'cut sh');
      let atFirstIteration: string[] = [];
      const resumed = await runTraining(tiny('full-disk', { n_epochs: 2, save_epoch_freq: 1, continue_train: true }), {
        onIteration: () => {
          if (atFirstIteration.length === 0) atFirstIteration = snapshots();
        },
      });
      expect(resumed).toMatchObject({ stoppedBy: 'done', totalIters: 4 });
      expect(atFirstIteration).toEqual([kept.files.G.path.split('/')[1]]);
    });

    it('a bad --nce_layers fails before the run folder is created', async () => {
      await expect(runTraining(tiny('nce', { nce_layers: '0,4,99' }))).rejects.toThrow(/--nce_layers: layer 99 does not exist/);
      expect(existsSync(join(root, 'nce'))).toBe(false);
    });

    it('a learning rate far above the usual is warned about up front', async () => {
      const controller = new AbortController();
      const log: string[] = [];
      await runTraining(tiny('high-lr', { lr: 1 }), { log: (l) => log.push(l), signal: controller.signal, onIteration: () => controller.abort() });
      expect(log).toContain('warning: --lr 1 is far above the usual 0.0002; training is likely to diverge');
    });
  },
  { backends: ['wasm'] },
);

it('--name must be a plain folder name (no path that leaves --checkpoints_dir)', () => {
  for (const name of ['../../x', 'a/b', '..', '']) {
    expect(() => validateOptions({ name }, 'command line')).toThrow(OptionError);
  }
  expect(() => validateOptions({ name: '../../x' }, 'command line')).toThrow(
    "command line: --name: '../../x' is not a plain folder name (no '/', '\\' or '..'): the run goes to <checkpoints_dir>/<name>",
  );
  expect(validateOptions({ name: 'horse2zebra_CUT' }).name).toBe('horse2zebra_CUT');
});

it('--epoch, --phase and --pretrained_name, which become file and folder names, get the same check', () => {
  expect(() => validateOptions({ epoch: 'q/../../../x/3' }, 'command line')).toThrow(
    "command line: --epoch: 'q/../../../x/3' is not a plain folder name (no '/', '\\' or '..'): it names the files <epoch>_net_G.pth and the results folder <phase>_<epoch>",
  );
  for (const [key, value] of [
    ['epoch', '..'],
    ['epoch', 'a\\b'],
    ['phase', '../train'],
    ['phase', ''],
    ['pretrained_name', '../other'],
  ] as const) {
    expect(() => validateOptions({ [key]: value }, 'command line'), `${key} ${value}`).toThrow(`--${key}: '${value}' is not a plain folder name`);
  }
  const ok = validateOptions({ epoch: 'iter_5000', phase: 'val', pretrained_name: 'h2z_CUT' });
  expect([ok.epoch, ok.phase, ok.pretrained_name]).toEqual(['iter_5000', 'val', 'h2z_CUT']);
  expect(validateOptions({}).pretrained_name).toBe(null);
});

it('--keep_state_epochs takes epochs, all or nothing', () => {
  expect(() => validateOptions({ keep_state_epochs: '5,x' }, 'command line')).toThrow(
    "command line: --keep_state_epochs: expected epochs like '5,10', 'all' or '', got '5,x'",
  );
});

it('a run folder that cannot be created names the file in the way', () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  expect(() => makeRunDir(join(file, 'ck', 'run'))).toThrow(
    `${join(file, 'ck', 'run')}: cannot create the run folder (${file} is a file, not a folder); choose another --checkpoints_dir or --name`,
  );
});

it.skipIf(!existsSync('/dev/full'))('a log write on a full disk names the log file', () => {
  expect(() => appendLog('/dev/full', 'line\n')).toThrow(/^\/dev\/full: cannot append to the log \(ENOSPC/);
});

// Root may write anywhere: the check only means something for an ordinary user.
it.skipIf(process.getuid?.() === 0)('a run folder under a read-only folder says it is not writable (not ENOENT)', () => {
  const ro = join(root, 'read-only');
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  try {
    expect(() => makeRunDir(join(ro, 'ck', 'run'))).toThrow(
      `${join(ro, 'ck', 'run')}: cannot create the run folder (${ro} is not writable); choose another --checkpoints_dir or --name`,
    );
  } finally {
    chmodSync(ro, 0o755);
  }
});
