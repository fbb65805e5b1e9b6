// The built `cutjs` binary as a user runs it: exit codes, streams, and Ctrl-C (a real SIGINT).
// Needs `pnpm build` (the root `pnpm test` builds first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, TINY, smallDataset, tempDir } from './cli-test-utils.js';

const BIN = join(ROOT, 'apps/cli/dist/index.js');
const work = tempDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, CI: '1' } });

describe.skipIf(!existsSync(BIN))('the built cutjs binary (apps/cli/dist/index.js)', () => {
  it('exit code 2 and one line on stderr for a bad value; 0 for info', () => {
    const bad = run('train', '--dataroot', 'x', '--lr', '-1');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('cutjs train: command line: --lr: must be > 0, got -1\n');
    expect(bad.stdout).toBe('');
    const info = run('info', '--backend', 'cpu');
    expect(info.status, info.stderr).toBe(0);
    const [backendLine, runtimeLine, ...rest] = info.stdout.split('\n');
    expect(backendLine).toBe('backend: cpu — tfjs-backend-cpu (JavaScript reference kernels)');
    expect(runtimeLine).toMatch(/^translate runtime: tfjs \(the default; --runtime onnx /);
    expect(rest).toEqual(['']);
  });

  it("the default backend: one line naming what runs and why not the faster ones, nothing of Dawn's; --verbose and info say more", () => {
    const image = join(ROOT, 'fixtures/checkpoints/h2z_tiny/testA/n02381460_1000.jpg');
    const checkpoint = join(ROOT, 'fixtures/checkpoints/h2z_tiny');
    const plain = run('translate', image, '--checkpoint', checkpoint, '--out', join(work, 'auto'));
    expect(plain.status, plain.stderr).toBe(0);
    // Dawn and the Vulkan loader print from native code (a missing libvulkan, a software driver's
    // limits): the adapter is probed in a child process, so none of it reaches the terminal.
    expect(plain.stderr).toBe('');
    const backendLines = plain.stdout.split('\n').filter((l) => /^(backend|Warning)|Dawn|Vulkan/.test(l));
    expect(backendLines).toHaveLength(1);
    expect(backendLines[0]).toMatch(/^backend: \S+ .*; skipped tensorflow \(tfjs-node not installed\)( and webgpu \(.+\))?$/);

    const verbose = run('translate', image, '--checkpoint', checkpoint, '--out', join(work, 'auto-verbose'), '--verbose');
    expect(verbose.status, verbose.stderr).toBe(0);
    expect(verbose.stdout).toContain('backend: skipped tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads');
    expect(verbose.stdout).toMatch(/^backend: \S+ — /m);
    const info = run('info');
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr).toBe('');
    expect(info.stdout).toContain('backend: skipped tensorflow: ');
  });

  it('exit code 1 for a dataset without trainB, naming the folder', () => {
    const data = smallDataset(join(work, 'data'), 1);
    rmSync(join(data, 'trainB'), { recursive: true });
    const r = run('train', '--dataroot', data, '--checkpoints_dir', join(work, 'ck'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${join(data, 'trainB')}: no such folder`);
    expect(existsSync(join(work, 'ck'))).toBe(false);
  });

  it('Ctrl-C (SIGINT) while training saves the latest checkpoint and exits with 130', async () => {
    const data = smallDataset(join(work, 'sigint-data'), 2);
    const checkpoints = join(work, 'sigint');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'train',
        '--dataroot',
        data,
        '--name',
        'run',
        '--checkpoints_dir',
        checkpoints,
        '--backend',
        'wasm',
        ...TINY,
        '--n_epochs',
        '1000',
        '--seed',
        '1',
      ],
      { cwd: work, env: { ...process.env, CI: '1' } },
    );
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!sent && /^epoch 1\/1200, iter 1\/2/m.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(sent, stderr).toBe(true);
    expect(code, stderr).toBe(130);
    // Acknowledged at once on stderr; the save after the iteration is confirmed there too.
    expect(stderr).toMatch(
      /^cutjs train: interrupted: saving the latest checkpoint after this iteration \(again quits without saving\)\ncutjs train: saved the latest checkpoint \(epoch \d+, \d+ images?\) in .*; resume with --continue_train\n$/,
    );
    expect(stdout).toMatch(/stopped in epoch \d+ after \d+ images .*; resume with --continue_train/);
    expect(existsSync(join(checkpoints, 'run', 'latest_net_G.pth'))).toBe(true);
    expect(existsSync(join(checkpoints, 'run', 'train_state.json'))).toBe(true);
  });
});
