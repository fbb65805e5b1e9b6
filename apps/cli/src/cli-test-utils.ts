// Helpers for the CLI's tests: run `main` in-process with captured output, build small datasets,
// and snapshot folders to prove a failed command left them alone.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { main } from './main.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEMO = join(ROOT, 'datasets/horse2zebra_demo');
export const H2Z_TINY = join(ROOT, 'fixtures/checkpoints/h2z_tiny');

/** The tiny training configuration: a 1-block generator with 4 filters on 32x32 crops. */
export const TINY = [
  '--netG',
  'resnet_1blocks',
  '--ngf',
  '4',
  '--ndf',
  '4',
  '--netF_nc',
  '16',
  '--num_patches',
  '8',
  '--load_size',
  '36',
  '--crop_size',
  '32',
];

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cutjs <argv>` in this process; output is captured, not printed. */
export async function cli(argv: string[], options: { signal?: AbortSignal; onStdout?: (text: string) => void } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: {
      write: (s: string) => {
        stdout += s;
        options.onStdout?.(s);
        return true;
      },
    },
    stderr: { write: (s: string) => ((stderr += s), true) },
    signal: options.signal,
  });
  return { code, stdout, stderr };
}

export function tempDir(prefix = 'cutjs-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A dataset folder with `count` photos of the demo set in trainA and trainB (and testA/testB
 * when asked); returns its path.
 */
export function smallDataset(dir: string, count = 3, phases: string[] = ['train']): string {
  for (const phase of phases) {
    for (const domain of ['A', 'B']) {
      const from = join(DEMO, `${phase}${domain}`);
      const to = join(dir, `${phase}${domain}`);
      mkdirSync(to, { recursive: true });
      for (const f of readdirSync(from).sort().slice(0, count)) copyFileSync(join(from, f), join(to, f));
    }
  }
  return dir;
}

/** Every file under `dir` with its size, modification time and bytes, for before/after comparisons. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        out.set(relative(dir, p), `${st.size} ${st.mtimeMs} ${readFileSync(p).toString('base64')}`);
      }
    }
  };
  walk(dir);
  return out;
}

/** A run folder that looks like a finished run (the h2z_tiny reference checkpoint), to check it is left alone. */
export function existingRun(checkpointsDir: string, name: string): string {
  const dir = join(checkpointsDir, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['latest_net_G.pth', 'latest_net_D.pth', 'latest_net_F.pth', 'train_opt.txt']) copyFileSync(join(H2Z_TINY, f), join(dir, f));
  writeFileSync(join(dir, 'loss_log.txt'), 'an earlier run\n');
  return dir;
}

/** RGB pixels of an image file. */
export async function pixels(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Max and mean absolute difference of two equally long 8-bit arrays. */
export function levels(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}
