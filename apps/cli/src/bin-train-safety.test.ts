// The built `cutjs` binary under what ends runs in real life: SIGTERM (docker stop), SIGHUP (a
// closed terminal), a reader that goes away (`| head`), a second run on the same folder.
// Needs `pnpm build` (the root `pnpm test` builds first).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, smallDataset, tempDir } from './cli-test-utils.js';

const BIN = join(ROOT, 'apps/cli/dist/index.js');
const work = tempDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));
const data = smallDataset(join(work, 'data'), 2);

const TINY = ['--backend', 'wasm', '--CUT_mode', 'FastCUT', '--netG', 'resnet_1blocks', '--ngf', '4', '--ndf', '4', '--netF_nc', '16', '--num_patches', '8',
  '--load_size', '36', '--crop_size', '32', '--n_epochs', '1000', '--seed', '1', '--no_html'];

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stdout matches. */
  seen: (re: RegExp) => Promise<void>;
  exit: Promise<number | null>;
}

function train(name: string): Running {
  const child = spawn(process.execPath, [BIN, 'train', '--dataroot', data, '--name', name, '--checkpoints_dir', join(work, 'ck'), ...TINY], {
    cwd: work,
    env: { ...process.env, CI: '1' },
  });
  let stdout = '';
  let stderr = '';
  const waiting: Array<[RegExp, () => void]> = [];
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    for (const w of waiting.splice(0)) if (w[0].test(stdout)) w[1]();
    else waiting.push(w);
  });
  child.stdout.on('error', () => undefined);
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // Never wait forever on a run that does not say what it should.
  setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    seen: (re) => (re.test(stdout) ? Promise.resolve() : new Promise((resolve) => waiting.push([re, resolve]))),
    exit,
  };
}

const FIRST_ITER = /^epoch 1\/\d+, iter 1\/2/m;

/** The run folder holds a complete latest checkpoint with its resume state, and no lock. */
function savedLatest(name: string): void {
  const dir = join(work, 'ck', name);
  for (const f of ['latest_net_G.pth', 'latest_net_D.pth', 'latest_net_F.pth', 'train_state.json']) expect(existsSync(join(dir, f)), f).toBe(true);
  const state = JSON.parse(readFileSync(join(dir, 'train_state.json'), 'utf8')) as { totalIters: number };
  expect(state.totalIters).toBeGreaterThan(0);
  expect(existsSync(join(dir, 'train.lock'))).toBe(false);
}

describe.skipIf(!existsSync(BIN))('cutjs train stopped from outside (built binary)', () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${signal} saves the latest checkpoint like Ctrl-C and exits with ${code}`, async () => {
      const run = train(signal);
      await run.seen(FIRST_ITER);
      run.child.kill(signal);
      expect(await run.exit, run.stderr()).toBe(code);
      expect(run.stdout()).toContain(`${signal} received: saving the latest checkpoint after this iteration`);
      expect(run.stdout()).toMatch(/stopped in epoch \d+ after \d+ images .*; resume with --continue_train/);
      savedLatest(signal);
    });
  }

  it('a closed standard output (| head) saves the latest checkpoint and exits with 141, no stack trace', async () => {
    const run = train('epipe');
    await run.seen(FIRST_ITER);
    run.child.stdout.destroy(); // the reader goes away: the next write gets EPIPE
    expect(await run.exit, run.stderr()).toBe(141);
    expect(run.stderr()).toBe('cutjs train: standard output closed (EPIPE): saving the latest checkpoint after this iteration\n');
    savedLatest('epipe');
  });

  it('a second run on the same --name refuses, naming the pid of the first, and leaves it alone', async () => {
    const first = train('shared');
    await first.seen(FIRST_ITER);
    const second = train('shared');
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toMatch(
      // The first run may already have saved latest_net_G.pth, which earns the "already holds a run" note first.
      new RegExp(`^(note: [^\\n]+ already holds a run;[^\\n]*\\n)?cutjs train: ${join(work, 'ck', 'shared')} is in use by another training run \\(pid ${first.child.pid}, since [^)]+\\); wait for it to finish or stop it, or choose another --name\\n$`),
    );
    first.child.kill('SIGTERM');
    expect(await first.exit, first.stderr()).toBe(143);
    expect(first.stderr()).toBe('');
    savedLatest('shared');
    expect(readFileSync(join(work, 'ck', 'shared', 'loss_log.txt'), 'utf8').match(/Training Loss/g)).toHaveLength(1);
  });
});
