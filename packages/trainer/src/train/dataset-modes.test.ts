// runTraining with --dataset_mode aligned (pix2pix's A|B pairs) and the refusal of single.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '../../../../test-utils/backends';
import { runTraining, type IterationInfo } from './run.js';
import { DEMO, tinyRunOptions } from './tiny-run.test-helper.js';

const root = mkdtempSync(join(tmpdir(), 'cut-modes-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Two A|B files: a horse (36x36) beside a zebra (36x36). */
async function alignedData(): Promise<string> {
  const dir = join(root, 'pairs');
  mkdirSync(join(dir, 'train'), { recursive: true });
  const a = readdirSync(join(DEMO, 'trainA')).sort();
  const b = readdirSync(join(DEMO, 'trainB')).sort();
  for (let i = 0; i < 2; i++) {
    const half = (f: string) => sharp(f).resize(36, 36).raw().toBuffer();
    const [left, right] = [await half(join(DEMO, 'trainA', a[i]!)), await half(join(DEMO, 'trainB', b[i]!))];
    await sharp({ create: { width: 72, height: 36, channels: 3, background: '#000' } })
      .composite([
        { input: left, raw: { width: 36, height: 36, channels: 3 }, left: 0, top: 0 },
        { input: right, raw: { width: 36, height: 36, channels: 3 }, left: 36, top: 0 },
      ])
      .png()
      .toFile(join(dir, 'train', `pair${i}.png`));
  }
  return dir;
}

describeBackends(
  'runTraining with other dataset modes',
  () => {
    it('aligned: trains on the halves of <dataroot>/train, writing checkpoints; single is refused with the reason', async () => {
      const dataroot = await alignedData();
      const seen: IterationInfo[] = [];
      const log: string[] = [];
      const opts = tinyRunOptions(root, 'aligned', { dataroot, dataset_mode: 'aligned', n_epochs: 1, n_epochs_decay: 0, seed: 2, no_html: true });
      const result = await runTraining(opts, { onIteration: (i) => seen.push(i), log: (l) => log.push(l) });
      expect(result).toMatchObject({ stoppedBy: 'done', totalIters: 2 });
      expect(log).toContain('The number of training images = 2');
      expect(seen.every((i) => Object.values(i.losses).every(Number.isFinite))).toBe(true);
      expect(readdirSync(join(root, 'aligned'))).toContain('latest_net_G.pth');
      await expect(runTraining(tinyRunOptions(root, 'single', { dataroot: join(dataroot, 'train'), dataset_mode: 'single' }))).rejects.toThrow(
        /--dataset_mode single has one folder and no B images/,
      );
    });
  },
  { backends: ['wasm'] },
);
