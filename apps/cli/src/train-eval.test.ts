// --eval_freq end to end on wasm: FID/KID records per epoch, best_net_G.pth + best.json, the FID
// chart, `cutjs test --epoch best`, the logged FID equal to FID on `cutjs test`'s fake_B folder,
// a resumed run that keeps the best epoch and trains exactly as an uninterrupted one, and a
// missing weights file refused before anything is trained or written.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '@cut/backends';
import { encodePth } from '@cut/networks';
import { tensorToRgb8 } from '@cut/images';
import {
  createDataset,
  evalDataOptions,
  fidAndKid,
  folderFeatures,
  loadFidInception,
  runTraining,
  translateTestImages,
  validateOptions,
  type BestEpoch,
  type EvalLogRecord,
} from '@cut/trainer';
import { loadGenerator } from './checkpoint.js';
import { formulaInceptionStateDict } from '../../../packages/metrics/src/test-weights';
import { TINY, cli, pixels, smallDataset, tempDir } from './cli-test-utils.js';

const root = tempDir('cutjs-eval-test-');
const dataroot = smallDataset(join(root, 'data'), 3, ['train', 'test']);
const weights = join(root, 'pt_inception-formula.pth');
const checkpoints = join(root, 'checkpoints');
const results = join(root, 'results');
const COMMON = ['--dataroot', dataroot, '--checkpoints_dir', checkpoints, '--backend', 'wasm', ...TINY, '--seed', '7', '--n_epochs', '1'];
const EVAL = ['--eval_freq', '1', '--eval_inception', weights];

const evalRecords = (run: string): EvalLogRecord[] =>
  readFileSync(join(checkpoints, run, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EvalLogRecord)
    .filter((r) => r.type === 'eval');

describe('training with --eval_freq [wasm]', () => {
  beforeAll(async () => {
    const t = performance.now();
    writeFileSync(weights, encodePth([...formulaInceptionStateDict().entries()]));
    console.log(`formula FID Inception weights: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await loadBackend('wasm');
  });

  it('logs FID and KID each epoch, keeps the best epoch, plots them; cutjs test --epoch best gives the same FID', async () => {
    let t = performance.now();
    const r = await cli(['train', ...COMMON, '--name', 'eval', '--n_epochs_decay', '1', '--save_epoch_freq', '1', ...EVAL]);
    console.log(`2-epoch run with 2 evaluations: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/evaluation: every 1 epoch\(s\), 3 images of .*testA translated against 3 of .*testB/);
    const run = join(checkpoints, 'eval');
    const evals = evalRecords('eval');
    expect(evals.map((e) => e.epoch)).toEqual([1, 2]);
    expect(evals.map((e) => e.totalIters)).toEqual([3, 6]);
    for (const e of evals) {
      expect(Number.isFinite(e.fid) && Number.isFinite(e.kid) && Number.isFinite(e.kidStd)).toBe(true);
      expect(e.fid).toBeGreaterThan(0);
      expect([e.fake, e.real]).toEqual([3, 3]);
    }
    const bestEpoch = evals[1]!.fid < evals[0]!.fid ? 2 : 1;
    expect(evals.map((e) => e.best)).toEqual([true, bestEpoch === 2]);
    const best = JSON.parse(readFileSync(join(run, 'best.json'), 'utf8')) as BestEpoch;
    const chosen = evals[bestEpoch - 1]!;
    expect(best).toMatchObject({ epoch: bestEpoch, totalIters: chosen.totalIters, fid: chosen.fid, kid: chosen.kid, kidStd: chosen.kidStd });
    // Written by the function that writes every checkpoint's G: the same bytes as that epoch's file.
    expect(readFileSync(join(run, 'best_net_G.pth')).equals(readFileSync(join(run, `${bestEpoch}_net_G.pth`)))).toBe(true);
    // testB's features were computed once and cached in the run folder.
    expect(readdirSync(join(run, 'fid-features'))).toHaveLength(1);
    const lossLog = readFileSync(join(run, 'loss_log.txt'), 'utf8');
    expect(lossLog).toContain(`(epoch: 2, total_iters: 6, images: 3 vs 3, time: `);
    expect(lossLog).toMatch(/\) FID: \d+\.\d{3} KID: -?\d+\.\d{5} KID_std: \d+\.\d{5} \n/);
    const html = readFileSync(join(run, 'web', 'index.html'), 'utf8');
    expect(html).toContain('<h2 id="fid">FID / KID</h2>');
    expect(html).toContain(`best: epoch ${bestEpoch}, FID ${best.fid.toFixed(3)}`);
    expect(html.match(/<svg /g)!.length).toBeGreaterThanOrEqual(2 + 4); // FID, KID, and a chart per loss

    // `cutjs test --epoch best` loads best_net_G.pth; pytorch-fid's computation on its fake_B folder
    // against testB (our folderFeatures + fidAndKid) gives the logged numbers.
    t = performance.now();
    const test = await cli([
      'test',
      '--dataroot',
      dataroot,
      '--checkpoints_dir',
      checkpoints,
      '--name',
      'eval',
      '--results_dir',
      results,
      '--epoch',
      'best',
      '--load_size',
      '32',
      '--crop_size',
      '32',
      '--num_test',
      '-1',
      '--eval',
      '--backend',
      'wasm',
    ]);
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toContain(join(run, 'best_net_G.pth'));
    const fakeDir = join(results, 'eval', 'test_best', 'images', 'fake_B');
    expect(readdirSync(fakeDir)).toHaveLength(3);
    // The evaluation's in-memory fake_B (translateTestImages on evalDataOptions, quantised) is these PNGs' pixels exactly.
    const loaded = await loadGenerator(run, { epoch: 'best', overrides: new Map(), note: () => undefined });
    try {
      const opts = validateOptions({ dataroot, netG: 'resnet_1blocks', ngf: 4, ndf: 4, load_size: 36, crop_size: 32 });
      const dataset = await createDataset(evalDataOptions(opts));
      let n = 0;
      for await (const tr of translateTestImages(loaded.G, dataset, { count: 3 })) {
        const mem = tensorToRgb8(tr.fakeB.data, tr.fakeB.width, tr.fakeB.height, tr.fakeB.channels);
        const png = await pixels(join(fakeDir, `${tr.name}.png`));
        expect([png.width, png.height]).toEqual([mem.width, mem.height]);
        expect(Buffer.from(png.data).equals(Buffer.from(mem.data))).toBe(true);
        n++;
      }
      expect(n).toBe(3);
    } finally {
      loaded.G.dispose();
    }
    // The features tell the two epochs' generators apart (the 1e-6 below is far tighter than that).
    expect(Math.abs(evals[0]!.fid - evals[1]!.fid) / best.fid).toBeGreaterThan(1e-4);
    const inception = loadFidInception(weights);
    try {
      const fake = await folderFeatures(fakeDir, inception);
      const real = await folderFeatures(join(dataroot, 'testB'), inception);
      const m = fidAndKid(real, fake);
      console.log(`epoch FIDs ${evals.map((e) => e.fid).join(', ')}`);
      console.log(`cutjs test --epoch best + FID on its folder: ${((performance.now() - t) / 1000).toFixed(1)} s; FID ${m.fid} (logged ${best.fid})`);
      expect(Math.abs(m.fid - best.fid) / best.fid).toBeLessThan(1e-6);
      expect(Math.abs(m.kid.mean - best.kid)).toBeLessThan(1e-6 * Math.max(1, Math.abs(best.kid)));
    } finally {
      inception.net.dispose();
    }
  });

  it('a resumed run keeps the best epoch and trains exactly as the uninterrupted one (the evaluations change nothing)', async () => {
    const t = performance.now();
    const first = await cli(['train', ...COMMON, '--name', 'resumed', '--n_epochs_decay', '0', '--save_epoch_freq', '1', ...EVAL]);
    expect(first.code, first.stderr).toBe(0);
    const second = await cli([
      'train',
      ...COMMON,
      '--name',
      'resumed',
      '--n_epochs_decay',
      '1',
      '--save_epoch_freq',
      '1',
      '--continue_train',
      ...EVAL,
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/best epoch so far: 1 \(FID \d+\.\d{3}, best_net_G\.pth\)/);
    // No evaluation at all: the same weights as both runs with evaluations.
    const plain = await cli(['train', ...COMMON, '--name', 'plain', '--n_epochs_decay', '1', '--save_epoch_freq', '1']);
    expect(plain.code, plain.stderr).toBe(0);
    console.log(`1 + 1 epochs resumed, and 2 without evaluation: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const latest = (run: string) => readFileSync(join(checkpoints, run, 'latest_net_G.pth'));
    expect(latest('resumed').equals(latest('eval'))).toBe(true);
    expect(latest('plain').equals(latest('eval'))).toBe(true);
    expect(existsSync(join(checkpoints, 'plain', 'best.json'))).toBe(false);
    // The same evaluations as the uninterrupted run, and the same best epoch.
    expect(evalRecords('resumed').map((e) => [e.epoch, e.fid, e.kid])).toEqual(evalRecords('eval').map((e) => [e.epoch, e.fid, e.kid]));
    expect(readFileSync(join(checkpoints, 'resumed', 'best_net_G.pth')).equals(readFileSync(join(checkpoints, 'eval', 'best_net_G.pth')))).toBe(true);
    const bestOf = (run: string) => {
      const { time: _, ...rest } = JSON.parse(readFileSync(join(checkpoints, run, 'best.json'), 'utf8')) as BestEpoch;
      return rest;
    };
    expect(bestOf('resumed')).toEqual(bestOf('eval'));
  });

  it('a missing --eval_inception file (or none) is refused before training, naming the file', async () => {
    const missing = join(root, 'nowhere', 'pt_inception-2015-12-05-6726825d.pth');
    const r = await cli(['train', ...COMMON, '--name', 'missing', '--eval_freq', '1', '--eval_inception', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${missing}: no such file`);
    expect(r.stderr).toContain('pt_inception-2015-12-05-6726825d.pth');
    expect(r.stdout).not.toContain('backend:');
    expect(existsSync(join(checkpoints, 'missing'))).toBe(false);
    const none = await cli(['train', ...COMMON, '--name', 'missing', '--eval_freq', '2']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('--eval_freq 2 needs --eval_inception FILE');
    // runTraining itself (a library user) checks too, before writing anything.
    const opts = validateOptions({
      dataroot,
      checkpoints_dir: checkpoints,
      name: 'missing',
      netG: 'resnet_1blocks',
      ngf: 4,
      ndf: 4,
      load_size: 36,
      crop_size: 32,
      eval_freq: 1,
      eval_inception: missing,
    });
    await expect(runTraining(opts)).rejects.toThrow(`${missing}: no such file`);
    expect(existsSync(join(checkpoints, 'missing'))).toBe(false);
    // Too few test images.
    const sparse = smallDataset(join(root, 'sparse'), 3, ['train']);
    smallDataset(join(root, 'sparse-test'), 1, ['test']);
    for (const d of ['testA', 'testB']) {
      const { renameSync } = await import('node:fs');
      renameSync(join(root, 'sparse-test', d), join(sparse, d));
    }
    const few = await cli(['train', ...COMMON, '--dataroot', sparse, '--name', 'missing', ...EVAL]);
    expect(few.code).toBe(1);
    expect(few.stderr).toContain(`--eval_freq: ${join(sparse, 'testA')}: 1 image(s)`);
    const noTest = await cli(['train', ...COMMON, '--dataroot', smallDataset(join(root, 'notest'), 3, ['train']), '--name', 'missing', ...EVAL]);
    expect(noTest.code).toBe(1);
    expect(noTest.stderr).toContain('testA');
  });
});
