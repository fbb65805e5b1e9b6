// Makes packages/model-horse2zebra from a finished `cutjs train` run: the generator in half
// precision (checked: its translations of the 30 test horses stay within 1 grey level of full
// precision's), the run's train_opt.txt, the loss curves, a grid of all 30 test horses with their
// translations, card.json and the model card (README.md).
//
//   node tools/model/make-horse2zebra.mjs --run /work/runs/h2z [--data ../shared/datasets/horse2zebra]
//                                          [--epoch latest] [--cpu "AMD EPYC"]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage } from '../../packages/files/dist/index.js';
import { encodePth, parseOptionsFile, readPthArchive } from '../../packages/networks/dist/index.js';
import { lossChartSvg } from '../../packages/trainer/dist/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PKG = join(ROOT, 'packages/model-horse2zebra');
const CLI = join(ROOT, 'apps/cli/dist/index.js');
const sharp = createRequire(join(ROOT, 'packages/trainer/package.json'))('sharp');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const run = resolve(arg('--run', ''));
const data = resolve(arg('--data', join(ROOT, '../shared/datasets/horse2zebra')));
const epoch = arg('--epoch', 'latest');
const cpu = arg('--cpu', cpus()[0]?.model.trim() ?? 'unknown');
if (!arg('--run', '')) throw new Error('--run: the run folder to ship (train_opt.txt, <epoch>_net_G.pth, log.jsonl)');

const cli = (args) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cutjs ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

// 1. The weights in half precision, names, order and _metadata kept; the run's options beside them.
const modelDir = join(PKG, 'model');
mkdirSync(modelDir, { recursive: true });
const source = join(run, `${epoch}_net_G.pth`);
const { tensors, metadata } = readPthArchive(readFileSync(source));
const half = [...tensors].map(([name, t]) => [name, t.dtype === 'float32' ? { shape: t.shape, data: t.data, dtype: 'float16' } : t]);
writeFileSync(join(modelDir, 'latest_net_G.pth'), encodePth(half, { metadata }));
copyFileSync(join(run, 'train_opt.txt'), join(modelDir, 'train_opt.txt'));
const weightBytes = statSync(join(modelDir, 'latest_net_G.pth')).size;
console.log(`weights: ${source} -> ${join(modelDir, 'latest_net_G.pth')} (${(weightBytes / 2 ** 20).toFixed(2)} MiB, half precision)`);

// 2. All test horses translated by full and by half precision, with cutjs translate itself.
const work = mkdtempSync(join(tmpdir(), 'cut-model-'));
const testA = join(data, 'testA');
cli(['translate', testA, '--checkpoint', source, '--out', join(work, 'full'), '--backend', 'wasm']);
cli(['translate', testA, '--checkpoint', modelDir, '--out', join(work, 'half'), '--backend', 'wasm']);
const photos = readdirSync(testA)
  .filter((f) => /\.(jpe?g|png)$/i.test(f))
  .sort();
let maxLevels = 0;
for (const p of photos) {
  const png = `${basename(p).replace(/\.[^.]+$/, '')}.png`;
  const [a, b] = await Promise.all([decodeImage(join(work, 'full', png)), decodeImage(join(work, 'half', png))]);
  for (let i = 0; i < a.data.length; i++) maxLevels = Math.max(maxLevels, Math.abs(a.data[i] - b.data[i]));
}
console.log(`half precision: ${photos.length} test horses within ${maxLevels} grey level(s) of full precision`);
if (maxLevels > 1) throw new Error(`half precision changes the translations by ${maxLevels} grey levels (more than 1): ship float32`);

// 3. The grid: every test horse beside its translation, 5 pairs a row.
const cardDir = join(PKG, 'card');
mkdirSync(cardDir, { recursive: true });
const S = 160;
const PAD = 6;
const perRow = 5;
const rows = Math.ceil(photos.length / perRow);
const W = perRow * (2 * S + 3 * PAD);
const H = rows * (S + PAD) + PAD;
const tiles = [];
for (const [i, p] of photos.entries()) {
  const x = (i % perRow) * (2 * S + 3 * PAD) + PAD;
  const y = Math.floor(i / perRow) * (S + PAD) + PAD;
  const png = `${basename(p).replace(/\.[^.]+$/, '')}.png`;
  tiles.push({ input: await sharp(join(testA, p)).resize(S, S).toBuffer(), left: x, top: y });
  tiles.push({
    input: await sharp(join(work, 'half', png))
      .resize(S, S)
      .toBuffer(),
    left: x + S + PAD,
    top: y,
  });
}
await sharp({ create: { width: W, height: H, channels: 3, background: '#ffffff' } })
  .composite(tiles)
  .jpeg({ quality: 88 })
  .toFile(join(cardDir, 'test-horses.jpg'));
// 4. Loss curves from log.jsonl (the last record of each iteration: a resumed run repeats some), one chart per loss.
const byIter = new Map();
const times = [];
for (const line of readFileSync(join(run, 'log.jsonl'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  if (r.type === 'eval') continue; // --eval_freq's FID/KID records
  byIter.set(r.totalIters, r);
}
// The checkpoint's own iteration: train_state.json for latest, else the end of that epoch.
const state = JSON.parse(readFileSync(join(run, 'train_state.json'), 'utf8'));
const all = [...byIter.values()].sort((a, b) => a.totalIters - b.totalIters);
const upTo = epoch === 'latest' ? state.totalIters : Math.max(...all.filter((r) => r.epoch <= Number(epoch)).map((r) => r.totalIters));
const records = all.filter((r) => r.totalIters <= upTo);
// Wall time: the gaps between records, leaving out the pauses between an interruption and its resume.
for (let i = 1; i < records.length; i++) {
  const gap = (Date.parse(records[i].time) - Date.parse(records[i - 1].time)) / 1000;
  times.push(gap < 600 ? gap : records[i].secondsPerIter * (records[i].totalIters - records[i - 1].totalIters));
}
const wallSeconds = times.reduce((a, b) => a + b, 0);
const lossNames = Object.keys(records[0].losses);
const smooth = 20;
for (const name of lossNames) {
  const points = records.map((r, i) => {
    const from = Math.max(0, i - smooth + 1);
    const window = records.slice(from, i + 1).map((q) => q.losses[name]);
    return { x: r.totalIters, losses: { [name]: window.reduce((a, b) => a + b, 0) / window.length } };
  });
  writeFileSync(join(cardDir, `loss-${name}.svg`), lossChartSvg(points, [name], { width: 440, height: 220 }, undefined, { x: 'iteration', y: name }));
}

// 5. card.json: the facts the CLI, the page and the README read.
const opts = parseOptionsFile(readFileSync(join(run, 'train_opt.txt'), 'utf8'));
const flags = ['CUT_mode', 'netG', 'ngf', 'ndf', 'load_size', 'crop_size', 'n_epochs', 'n_epochs_decay', 'seed']
  .filter((k) => opts.has(k))
  .map((k) => `--${k} ${opts.get(k)}`)
  .join(' ');
const card = {
  name: 'horse2zebra',
  description: `horses to zebras, ${opts.get('CUT_mode')} trained by cutjs on 2 CPU cores (ngf ${opts.get('ngf')}, ${(weightBytes / 2 ** 20).toFixed(1)} MB)`,
  mode: opts.get('CUT_mode'),
  netG: opts.get('netG'),
  ngf: Number(opts.get('ngf')),
  cropSize: Number(opts.get('crop_size')),
  loadSize: Number(opts.get('load_size')),
  iterations: upTo,
  epochs: Math.floor(upTo / Math.max(...all.map((r) => r.epochIter))),
  wallSeconds: Math.round(wallSeconds),
  cpu,
  weightBytes,
  halfPrecisionMaxLevels: maxLevels,
  command: `cutjs train --dataroot ../shared/datasets/horse2zebra --name horse2zebra ${flags} --threads 1`,
};
writeFileSync(join(modelDir, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
rmSync(work, { recursive: true, force: true });
console.log(`card: ${JSON.stringify(card)}`);
