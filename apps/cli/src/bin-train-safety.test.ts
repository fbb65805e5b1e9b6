// The built `cutjs` binary under what ends runs in real life: SIGTERM (docker stop), SIGHUP (a
// closed terminal), a reader that goes away (`| head`, `| true`), a second run on the same folder,
// and signals during a long (crop 256) iteration, which computes on a worker thread.
// Needs `pnpm build` (the root `pnpm test` builds first).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, TINY, smallDataset, tempDir } from './cli-test-utils.js';

const BIN = join(ROOT, 'apps/cli/dist/index.js');
const work = tempDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));
const data = smallDataset(join(work, 'data'), 2);

const TINY_RUN = ['--backend', 'wasm', '--CUT_mode', 'FastCUT', ...TINY, '--n_epochs', '1000', '--seed', '1', '--no_html'];

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolve once stdout (stderr) matches. */
  seen: (re: RegExp) => Promise<void>;
  seenOnStderr: (re: RegExp) => Promise<void>;
  exit: Promise<number | null>;
}

/** Crop 256 with the default networks (CUT, resnet_9blocks): an iteration computes for seconds (minutes on a busy machine). */
const LONG = ['--backend', 'wasm', '--seed', '1', '--no_html'];

function train(name: string, flags = TINY_RUN, killAfterMs = 60_000): Running {
  const child = spawn(process.execPath, [BIN, 'train', '--dataroot', data, '--name', name, '--checkpoints_dir', join(work, 'ck'), ...flags], {
    cwd: work,
    env: { ...process.env, CI: '1' },
  });
  let stdout = '';
  let stderr = '';
  const waiting: Array<[RegExp, () => void]> = [];
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    for (const w of waiting.splice(0))
      if (w[0].test(stdout)) w[1]();
      else waiting.push(w);
  });
  child.stdout.on('error', () => undefined);
  const errWaiting: Array<[RegExp, () => void]> = [];
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const w of errWaiting.splice(0))
      if (w[0].test(stderr)) w[1]();
      else errWaiting.push(w);
  });
  // Never wait forever on a run that does not say what it should.
  setTimeout(() => child.kill('SIGKILL'), killAfterMs).unref();
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    seen: (re) => (re.test(stdout) ? Promise.resolve() : new Promise((resolve) => waiting.push([re, resolve]))),
    seenOnStderr: (re) => (re.test(stderr) ? Promise.resolve() : new Promise((resolve) => errWaiting.push([re, resolve]))),
    exit,
  };
}

/** Milliseconds `promise` took to settle. */
async function timed(promise: Promise<unknown>): Promise<number> {
  const start = performance.now();
  await promise;
  return performance.now() - start;
}

const ack = (why: string) => `cutjs train: ${why}: saving the latest checkpoint after this iteration (again quits without saving)\n`;
/** The confirmation of a stop after `images` iterations of the 2-image dataset. */
const saved = (name: string, images: number) =>
  `cutjs train: saved the latest checkpoint (epoch ${Math.ceil(images / 2)}, ${images} image${images === 1 ? '' : 's'}) in ${join(work, 'ck', name)}; resume with --continue_train\n`;

const FIRST_ITER = /^epoch 1\/\d+, iter 1\/2/m;

/** The run folder holds a complete latest checkpoint with its resume state, and no lock. */
function savedLatest(name: string): number {
  const dir = join(work, 'ck', name);
  for (const f of ['latest_net_G.pth', 'latest_net_D.pth', 'latest_net_F.pth', 'train_state.json']) expect(existsSync(join(dir, f)), f).toBe(true);
  const state = JSON.parse(readFileSync(join(dir, 'train_state.json'), 'utf8')) as { totalIters: number };
  expect(state.totalIters).toBeGreaterThan(0);
  expect(existsSync(join(dir, 'train.lock'))).toBe(false);
  return state.totalIters;
}

describe.skipIf(!existsSync(BIN))('cutjs train stopped from outside (built binary)', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} saves the latest checkpoint like Ctrl-C and exits with ${code}`, async () => {
      const run = train(signal);
      await run.seen(FIRST_ITER);
      run.child.kill(signal);
      expect(await run.exit, run.stderr()).toBe(code);
      expect(run.stdout()).toMatch(/stopped in epoch \d+ after \d+ images .*; resume with --continue_train/);
      const images = savedLatest(signal);
      expect(run.stderr()).toBe(ack(`${signal} received`) + saved(signal, images));
    });
  }

  it('a closed standard output (| head) saves the latest checkpoint and exits with 141, saying so on stderr, no stack trace', async () => {
    const run = train('epipe');
    await run.seen(FIRST_ITER);
    run.child.stdout.destroy(); // the reader goes away: the next write gets EPIPE
    expect(await run.exit, run.stderr()).toBe(141);
    const images = savedLatest('epipe');
    expect(run.stderr()).toBe(ack('standard output closed (EPIPE)') + saved('epipe', images));
  });

  it('| true (the reader gone before the first line): trains an iteration, saves it, exits with 141 and says so on stderr', async () => {
    const argv = [BIN, 'train', '--dataroot', data, '--name', 'true', '--checkpoints_dir', join(work, 'ck'), ...TINY_RUN]
      .map((a) => `'${a}'`)
      .join(' ');
    const shell = spawnSync('bash', ['-c', `'${process.execPath}' ${argv} | true; exit "\${PIPESTATUS[0]}"`], {
      cwd: work,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(shell.status, shell.stderr).toBe(141);
    expect(savedLatest('true')).toBe(1);
    expect(shell.stderr).toBe(ack('standard output closed (EPIPE)') + saved('true', 1));
  });

  it('crop 256, default networks: SIGTERM during an iteration is answered within 1 s and the checkpoint is saved after that iteration', {
    timeout: 900_000,
  }, async () => {
    const run = train('long', LONG, 840_000);
    await run.seen(/^threads: /m);
    // Well into the first iteration (the model is built within a second or two of this line).
    await new Promise((r) => setTimeout(r, 3000));
    expect(run.stdout()).not.toMatch(FIRST_ITER);
    run.child.kill('SIGTERM');
    // (A run that never answers exits after its iteration: the wait ends there and fails.)
    expect(await timed(Promise.race([run.seenOnStderr(/SIGTERM received: saving/), run.exit]))).toBeLessThan(1000);
    expect(await run.exit, run.stderr()).toBe(143);
    expect(savedLatest('long')).toBe(1); // the iteration under way, then the save: no more, no less
    expect(run.stderr()).toBe(ack('SIGTERM received') + saved('long', 1));
  });

  it('crop 256, default networks: a second SIGTERM quits within 1 s without waiting for the iteration', { timeout: 900_000 }, async () => {
    const run = train('long-twice', LONG, 840_000);
    await run.seen(/^threads: /m);
    await new Promise((r) => setTimeout(r, 3000));
    run.child.kill('SIGTERM');
    await Promise.race([run.seenOnStderr(/SIGTERM received: saving/), run.exit]);
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill('SIGTERM');
    expect(await timed(run.exit)).toBeLessThan(1000);
    expect(await run.exit).toBe(143);
    expect(run.stdout()).not.toMatch(FIRST_ITER);
    expect(run.stderr()).toBe(`${ack('SIGTERM received')}cutjs train: SIGTERM received again; quitting without saving\n`);
    expect(existsSync(join(work, 'ck', 'long-twice', 'train_state.json'))).toBe(false);
  });

  it('a second run on the same --name refuses, naming the pid of the first, and leaves it alone', async () => {
    const first = train('shared');
    await first.seen(FIRST_ITER);
    const second = train('shared');
    expect(await second.exit).toBe(1);
    // Refused before it replaces anything: no "this new run replaces its checkpoints" note.
    expect(second.stderr()).toMatch(
      new RegExp(
        `^cutjs train: ${join(work, 'ck', 'shared')} is in use by another training run \\(pid ${first.child.pid}, since [^)]+\\); wait for it to finish or stop it, or choose another --name\\n$`,
      ),
    );
    expect(second.stdout()).not.toContain('replaces its checkpoints');
    first.child.kill('SIGTERM');
    expect(await first.exit, first.stderr()).toBe(143);
    expect(first.stderr()).toBe(ack('SIGTERM received') + saved('shared', savedLatest('shared')));
    expect(readFileSync(join(work, 'ck', 'shared', 'loss_log.txt'), 'utf8').match(/Training Loss/g)).toHaveLength(1);
  });
});
