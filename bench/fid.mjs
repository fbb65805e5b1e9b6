// `cutjs eval` timing: FID and KID of 120 generated against 140 real 256 px images (the size of
// CUT's horse2zebra test sets), cold (features computed) and warm (both folders from the cache).
//
//   pnpm bench:fid [--inception FILE] [--real DIR --fake DIR] [--backend wasm]
//
// Without --inception it writes a weights file of pytorch-fid's layout with random values: the
// time does not depend on the values. Without --real/--fake it takes the first 140 trainB and 120
// trainA photos of ../shared/datasets/horse2zebra. Writes bench/results/fid.json.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FID_INCEPTION_CONVS } from '../packages/metrics/dist/index.js';
import { encodePth } from '../packages/networks/dist/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'apps/cli/dist/index.js');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const work = mkdtempSync(join(tmpdir(), 'cut-bench-fid-'));
const backend = arg('--backend', 'wasm');

function randomWeights(file) {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const entries = [];
  for (const c of FID_INCEPTION_CONVS) {
    const [kh, kw] = c.kernel;
    const n = c.outChannels * c.inChannels * kh * kw;
    const w = new Float32Array(n);
    const k = Math.sqrt(6 / (c.inChannels * kh * kw));
    for (let i = 0; i < n; i++) w[i] = rnd() * k;
    entries.push([`${c.name}.conv.weight`, { shape: [c.outChannels, c.inChannels, kh, kw], data: w }]);
    for (const [p, v] of [
      ['weight', 1],
      ['bias', 0],
      ['running_mean', 0],
      ['running_var', 1],
    ])
      entries.push([`${c.name}.bn.${p}`, { shape: [c.outChannels], data: new Float32Array(c.outChannels).fill(v) }]);
  }
  writeFileSync(file, encodePth(entries));
  return file;
}

function folder(name, from, count) {
  const dir = join(work, name);
  mkdirSync(dir);
  const files = readdirSync(from)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .slice(0, count);
  for (const f of files) copyFileSync(join(from, f), join(dir, f));
  return { dir, count: files.length };
}

const data = resolve(ROOT, '../shared/datasets/horse2zebra');
const real = arg('--real')
  ? { dir: resolve(arg('--real')), count: readdirSync(resolve(arg('--real'))).length }
  : folder('real', join(data, 'trainB'), 140);
const fake = arg('--fake')
  ? { dir: resolve(arg('--fake')), count: readdirSync(resolve(arg('--fake'))).length }
  : folder('fake', join(data, 'trainA'), 120);
const weights = arg('--inception') ?? randomWeights(join(work, 'random-fid-inception.pth'));
const env = { ...process.env, CUT_CACHE_DIR: join(work, 'cache') };
const run = () => {
  const t = Date.now();
  const out = execFileSync(
    process.execPath,
    [CLI, 'eval', '--real', real.dir, '--fake', fake.dir, '--inception', weights, '--backend', backend, '--json'],
    { env, encoding: 'utf8' },
  );
  return { seconds: (Date.now() - t) / 1000, result: JSON.parse(out.trim().split('\n').pop()) };
};
const cold = run();
const warm = run();
const result = {
  machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length },
  backend,
  weights: arg('--inception') ? 'given' : 'random values in pytorch-fid layout (time does not depend on them)',
  real: real.count,
  fake: fake.count,
  coldSeconds: cold.seconds,
  coldSecondsPerImage: cold.seconds / (real.count + fake.count),
  warmSeconds: warm.seconds,
  fid: cold.result.fid,
  kid: cold.result.kid,
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/fid.json'), `${JSON.stringify(result, null, 2)}\n`);
rmSync(work, { recursive: true, force: true });
