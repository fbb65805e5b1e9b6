import { spawnSync } from 'node:child_process';

/** Debian's PyTorch (`apt-get install python3-torch`) by default; CUT_TORCH_PYTHON names another interpreter. */
export const torchPython = process.env.CUT_TORCH_PYTHON ?? '/usr/bin/python3';

let checked: { reason: string | undefined } | undefined;

/** Why PyTorch cannot be used here, or undefined when `torchPython` imports torch. Checked once; throws when CUT_REQUIRE_TORCH=1. */
export function torchUnavailable(): string | undefined {
  if (!checked) {
    const r = spawnSync(torchPython, ['-c', 'import torch'], { encoding: 'utf8' });
    let reason: string | undefined;
    if (r.error) reason = `${torchPython} is not available (${r.error.message})`;
    else if (r.status !== 0) reason = `${torchPython} cannot import torch (${r.stderr.trim().split('\n').pop()})`;
    checked = { reason };
  }
  // CI installs PyTorch and sets CUT_REQUIRE_TORCH=1: there a missing torch is a failure, not a skip.
  if (checked.reason && process.env.CUT_REQUIRE_TORCH === '1') throw new Error(`CUT_REQUIRE_TORCH=1 but ${checked.reason}`);
  return checked.reason;
}

/** Runs a Python script with torch's interpreter on one thread; throws with its stderr when it fails. */
export function runTorchScript(script: string, args: string[]): string {
  const r = spawnSync(torchPython, [script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}
