// Learning parity: `cutjs train` against the reference's own train.py, same flags, same data,
// for thousands of iterations, with the reference run under two seeds to show its own spread.
//
//   pnpm bench:parity [--modes CUT,FastCUT] [--crop 64] [--iters 2000] [--seeds 1,2]
//                     [--threads 1] [--runs DIR] [--dataroot DIR] [--grid 8] [--sides reference,cutjs]
//                     [--report-only]
//
// Needs CUT_REFERENCE_DIR (a checkout of taesungp/contrastive-unpaired-translation, outside this
// repository) and Debian's /usr/bin/python3 with python3-torch, -torchvision, -dominate and
// -packaging. The runs go to --runs (default $CUT_PARITY_RUNS or ../parity-runs beside the
// repository: hours of training that a new work tree must not lose). A finished run is kept and
// not run again; an interrupted cutjs run continues exactly (--continue_train); an interrupted
// reference run starts over (its train.py cannot resume an optimiser).
//
// Writes bench/results/parity.json, one SVG per mode and loss (moving averages of every run on
// one axis) and one translation grid per mode under bench/results/parity/, and the "Learning
// parity" section of bench/README.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, encodePng, listImages } from '../packages/files/dist/index.js';
import { lossChartSvg } from '../packages/trainer/dist/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'apps/cli/dist/index.js');
const DRIVER = join(ROOT, 'bench/reference_driver.py');
const PYTHON = '/usr/bin/python3';
const GLIBC_TUNED = 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=268435456';
const OUT = join(ROOT, 'bench/results/parity');
const RESULTS = join(ROOT, 'bench/results/parity.json');
const README = join(ROOT, 'bench/README.md');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const settings = {
  modes: arg('--modes', 'CUT,FastCUT').split(','),
  crop: Number(arg('--crop', '64')),
  iters: Number(arg('--iters', '2000')),
  seeds: arg('--seeds', '1,2').split(',').map(Number),
  threads: Number(arg('--threads', '1')),
  runs: resolve(arg('--runs', process.env.CUT_PARITY_RUNS ?? join(ROOT, '../parity-runs'))),
  dataroot: resolve(arg('--dataroot', join(ROOT, '../shared/datasets/horse2zebra'))),
  grid: Number(arg('--grid', '8')),
  // Two invocations can share the machine: one with --sides reference --seeds 2, one with the rest.
  sides: arg('--sides', 'reference,cutjs').split(','),
  reportOnly: process.argv.includes('--report-only'),
};
// The reference's load size relative to its crop (286 for 256).
settings.load = Math.round((settings.crop * 286) / 256);
/** Moving-average window of the curves and the span of the final means. */
const WINDOW = 100;
const TAIL = 500;

function datasetSize() {
  const count = (d) => readdirSync(join(settings.dataroot, d)).filter((f) => /\.(jpe?g|png)$/i.test(f)).length;
  return Math.max(count('trainA'), count('trainB'));
}

/** The flags both sides get: half the iterations at the full learning rate, half decaying (the schedule is compared too). */
function sharedFlags(mode, name) {
  const size = datasetSize();
  const epochs = settings.iters / size;
  if (!Number.isInteger(epochs) || epochs % 2 !== 0) {
    throw new Error(`--iters ${settings.iters}: must be an even number of epochs of ${size} images (the dataset's size)`);
  }
  const flags = {
    dataroot: settings.dataroot,
    name,
    checkpoints_dir: settings.runs,
    CUT_mode: mode,
    gpu_ids: -1,
    display_id: -1,
    crop_size: settings.crop,
    load_size: settings.load,
    n_epochs: epochs / 2,
    n_epochs_decay: epochs / 2,
    // The reference saves 'latest' only at save_latest_freq iterations or at an epoch that is a multiple of this.
    save_epoch_freq: epochs,
    num_threads: 0,
  };
  return [...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]), '--no_html'];
}

function run(cmd, args, { env = {}, onLine = () => {}, log }) {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const lines = (chunk) => {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop();
      for (const line of parts) {
        if (log) log.push(line);
        onLine(line);
      }
    };
    child.stdout.setEncoding('utf8').on('data', lines);
    child.stderr.setEncoding('utf8').on('data', lines);
    child.on('error', fail);
    child.on('close', (code) =>
      code === 0 ? done() : fail(new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... exited with ${code}:\n${(log ?? []).slice(-15).join('\n')}`)),
    );
  });
}

const threadEnv = () => ({ OMP_NUM_THREADS: String(settings.threads), MKL_NUM_THREADS: String(settings.threads) });
const losFile = (name) => join(settings.runs, name, 'parity-losses.json');

async function referenceRun(mode, seed) {
  const name = `${mode}-c${settings.crop}-reference-seed${seed}`;
  if (existsSync(losFile(name))) return name;
  const refDir = process.env.CUT_REFERENCE_DIR;
  if (!refDir || !existsSync(join(refDir, 'train.py'))) {
    throw new Error('CUT_REFERENCE_DIR must name a checkout of https://github.com/taesungp/contrastive-unpaired-translation');
  }
  const losses = [];
  const started = Date.now();
  console.log(`${name}: the reference's train.py, seed ${seed}, ${settings.threads} thread(s), glibc tunables`);
  await run(
    PYTHON,
    [
      DRIVER,
      'train',
      '--ref',
      refDir,
      '--threads',
      String(settings.threads),
      '--seed',
      String(seed),
      '--losses',
      '--',
      ...sharedFlags(mode, name),
      '--print_freq',
      '1000000',
    ],
    {
      env: { ...threadEnv(), GLIBC_TUNABLES: GLIBC_TUNED },
      log: [],
      onLine: (line) => {
        if (!line.startsWith('@@')) return;
        const e = JSON.parse(line.slice(2));
        if (e.event !== 'iteration') return;
        losses.push(e.losses);
        if (e.iteration % 100 === 0)
          console.log(`  ${name}: iteration ${e.iteration}/${settings.iters}, ${((Date.now() - started) / 1000 / e.iteration).toFixed(2)} s/it`);
      },
    },
  );
  writeFileSync(losFile(name), JSON.stringify({ seconds: (Date.now() - started) / 1000, losses }));
  return name;
}

async function oursRun(mode, seed) {
  const name = `${mode}-c${settings.crop}-cutjs-seed${seed}`;
  if (existsSync(losFile(name))) return name;
  const dir = join(settings.runs, name);
  const resume = existsSync(join(dir, 'train_state.json'));
  const started = Date.now();
  console.log(`${name}: cutjs train, seed ${seed}, ${settings.threads} thread(s)${resume ? ', continuing its checkpoint' : ''}`);
  const args = [CLI, 'train', ...sharedFlags(mode, name), '--seed', String(seed), '--print_freq', '1', '--threads', String(settings.threads)];
  if (resume) args.push('--continue_train');
  await run(process.execPath, args, {
    log: [],
    onLine: (line) => {
      const m = /iter (\d+)\/\d+, [^,]*s\/it/.exec(line);
      if (m && line.startsWith('epoch')) console.log(`  ${name}: ${line.slice(0, 60)}`);
    },
  });
  // log.jsonl: one record per iteration; a resumed run repeats the iterations after its checkpoint (the last record of each wins).
  const byIter = new Map();
  for (const line of readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    byIter.set(r.totalIters, r.losses);
  }
  const losses = [...byIter.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
  writeFileSync(losFile(name), JSON.stringify({ seconds: (Date.now() - started) / 1000, losses }));
  return name;
}

/** Translates the first test photos with a run's latest generator (our test command reads the reference's run folders too). */
async function translations(name) {
  const results = join(settings.runs, 'grid');
  const dir = join(results, name, 'test_latest', 'images');
  if (!existsSync(join(dir, 'fake_B'))) {
    await run(
      process.execPath,
      [
        CLI,
        'test',
        '--dataroot',
        settings.dataroot,
        '--checkpoints_dir',
        settings.runs,
        '--name',
        name,
        '--results_dir',
        results,
        '--num_test',
        String(settings.grid),
        '--load_size',
        String(settings.load),
        '--crop_size',
        String(settings.load),
        '--backend',
        'wasm',
      ],
      { log: [] },
    );
  }
  return dir;
}

const movingAverage = (values) =>
  values.map((_, i) => {
    const from = Math.max(0, i - WINDOW + 1);
    let s = 0;
    for (let j = from; j <= i; j++) s += values[j];
    return s / (i - from + 1);
  });
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;

/** One grid: a row per test photo, columns input | reference seeds | ours, at 2x for the small crops. */
async function grid(mode, names, file) {
  const dirs = await Promise.all(names.map(translations));
  const inputs = (await listImages(join(dirs[0], 'real_A'))).slice(0, settings.grid);
  const cols = [join(dirs[0], 'real_A'), ...dirs.map((d) => join(d, 'fake_B'))];
  const cells = [];
  for (const input of inputs) {
    const base = input.split('/').pop();
    cells.push(await Promise.all(cols.map(async (c) => decodeImage(join(c, base)))));
  }
  const s = cells[0][0].width;
  const scale = s < 128 ? 2 : 1;
  const pad = 4;
  const W = cols.length * (s * scale + pad) + pad;
  const H = cells.length * (s * scale + pad) + pad;
  const data = new Uint8Array(W * H * 3).fill(255);
  cells.forEach((row, r) =>
    row.forEach((img, c) => {
      for (let y = 0; y < s * scale; y++)
        for (let x = 0; x < s * scale; x++) {
          const from = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * img.channels;
          const to = ((pad + r * (s * scale + pad) + y) * W + pad + c * (s * scale + pad) + x) * 3;
          for (let k = 0; k < 3; k++) data[to + k] = img.data[from + (img.channels === 1 ? 0 : k)];
        }
    }),
  );
  writeFileSync(file, await encodePng({ data, width: W, height: H, channels: 3 }));
  console.log(`${mode}: grid of ${cells.length} test photos (input, ${names.join(', ')}) in ${file}`);
}

async function report() {
  mkdirSync(OUT, { recursive: true });
  const result = {
    machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length },
    settings: { ...settings, window: WINDOW, tail: TAIL },
    modes: {},
  };
  const md = [];
  for (const mode of settings.modes) {
    const runs = [
      ...settings.seeds.map((s) => `${mode}-c${settings.crop}-reference-seed${s}`),
      `${mode}-c${settings.crop}-cutjs-seed${settings.seeds[0]}`,
    ];
    const present = runs.filter((n) => existsSync(losFile(n)));
    if (present.length < runs.length) {
      const missing = runs.filter((n) => !present.includes(n));
      console.log(`${mode}: ${missing.length} run(s) missing, no report yet`);
      md.push(
        `#### ${mode}, crop ${settings.crop}: not compared yet`,
        '',
        `Finished: ${present.join(', ') || 'none'}. Still to run: ${missing.join(', ')}.`,
        '',
      );
      continue;
    }
    const data = Object.fromEntries(present.map((n) => [n, JSON.parse(readFileSync(losFile(n), 'utf8'))]));
    const lossNames = Object.keys(data[runs[0]].losses[0]);
    const label = (n) => (n.includes('reference') ? `reference, seed ${n.split('seed').pop()}` : 'cutjs');
    const table = {};
    for (const loss of lossNames) {
      const series = Object.fromEntries(runs.map((n) => [n, movingAverage(data[n].losses.map((l) => l[loss]))]));
      const n = Math.min(...runs.map((r) => series[r].length));
      const points = Array.from({ length: n }, (_, i) => ({ x: i + 1, losses: Object.fromEntries(runs.map((r) => [label(r), series[r][i]])) }));
      const svg = lossChartSvg(points, runs.map(label), { width: 640, height: 260 }, ['#1f77b4', '#17becf', '#d62728'], {
        x: 'iteration',
        y: `${loss} (mean of ${WINDOW})`,
      });
      writeFileSync(join(OUT, `${mode}-${loss}.svg`), svg);
      table[loss] = Object.fromEntries(runs.map((r) => [label(r), mean(data[r].losses.slice(-TAIL).map((l) => l[loss]))]));
    }
    await grid(mode, runs, join(OUT, `${mode}-grid.png`));
    result.modes[mode] = {
      runs: Object.fromEntries(runs.map((r) => [label(r), { iterations: data[r].losses.length, seconds: data[r].seconds }])),
      lastMeans: table,
    };
    md.push(`#### ${mode}, crop ${settings.crop} (load ${settings.load}), ${settings.iters} iterations`, '');
    const cols = runs.map(label);
    // With two reference seeds the spread is one difference: the verdict also allows for each
    // mean's own noise (standard error from 5 batch means of the last iterations).
    md.push(
      `| loss (mean of the last ${TAIL}) | ${cols.join(' | ')} | seeds differ by | cutjs − reference mean | verdict (allowed) |`,
      `|---|${cols.map(() => '---:').join('|')}|---:|---:|---|`,
    );
    const se = (r, loss) => {
      const tail = data[r].losses.slice(-TAIL).map((l) => l[loss]);
      const batches = Array.from({ length: 5 }, (_, b) =>
        mean(tail.slice(Math.floor((b * tail.length) / 5), Math.floor(((b + 1) * tail.length) / 5))),
      );
      const m = mean(batches);
      return Math.sqrt(batches.reduce((a, v) => a + (v - m) ** 2, 0) / 4 / 5);
    };
    const refs = runs.filter((r) => r.includes('reference'));
    const ours = runs.find((r) => r.includes('cutjs'));
    for (const loss of lossNames) {
      const refMeans = refs.map((r) => table[loss][label(r)]);
      const refMean = mean(refMeans);
      const seedGap = Math.max(...refMeans) - Math.min(...refMeans);
      const noise = 2 * Math.sqrt(se(ours, loss) ** 2 + refs.reduce((a, r) => a + se(r, loss) ** 2, 0) / refs.length ** 2);
      const allowed = Math.max(seedGap, noise);
      const gap = table[loss].cutjs - refMean;
      table[loss].verdict = Math.abs(gap) <= allowed ? 'within' : 'beyond';
      md.push(
        `| ${loss} | ${cols.map((c) => table[loss][c].toFixed(4)).join(' | ')} | ${seedGap.toFixed(4)} | ${gap >= 0 ? '+' : ''}${gap.toFixed(4)} | ${table[loss].verdict} (${allowed.toFixed(4)}) |`,
      );
    }
    md.push(
      '',
      lossNames.map((l) => `![${mode} ${l}](results/parity/${mode}-${l}.svg)`).join(' '),
      '',
      `![${mode}: test horses, input then ${cols.join(', ')}](results/parity/${mode}-grid.png)`,
      '',
    );
  }
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  const section = [
    '## Learning parity (`pnpm bench:parity`)',
    '',
    `Written by bench/parity.mjs on ${result.machine.cpu} (${result.machine.cores} cores). \`cutjs train\` and the reference's own`,
    `train.py (through bench/reference_driver.py, which only seeds Python's random, NumPy and torch and reads`,
    `get_current_losses() after each step) get the same flags: the dataset's ${settings.dataroot.split('/').pop()} photos, crop`,
    `${settings.crop} of photos resized to ${settings.load}, the reference's default networks, ${settings.iters} iterations (half`,
    'at the full learning rate, half decaying linearly), batch 1, on one thread each (the reference with the',
    'glibc tunables). The reference runs under two seeds to show its own seed-to-seed spread; ours under the first.',
    `Curves are moving averages of ${WINDOW} iterations; the table compares the means of the last ${TAIL}. A`,
    "difference counts as beyond the reference's spread when it exceeds both the two seeds' difference and twice",
    'the combined standard error of the means (from batch means of 100 iterations). The grids translate the',
    `first test horses at the training scale (${settings.load} pixels, shown at 2x) with each run's last generator.`,
    '',
    ...md,
  ].join('\n');
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf('## Learning parity');
  const end = start < 0 ? -1 : readme.indexOf('\n## ', start + 5);
  const next =
    start < 0
      ? `${readme.trimEnd()}\n\n${section.trimEnd()}\n`
      : `${readme.slice(0, start)}${section.trimEnd()}\n${end < 0 ? '' : `\n${readme.slice(end + 1)}`}`;
  writeFileSync(README, next);
  console.log(`report: ${RESULTS}, ${OUT}, bench/README.md`);
}

mkdirSync(settings.runs, { recursive: true });
if (!settings.reportOnly) {
  for (const mode of settings.modes) {
    if (settings.sides.includes('reference')) for (const seed of settings.seeds) await referenceRun(mode, seed);
    if (settings.sides.includes('cutjs')) await oursRun(mode, settings.seeds[0]);
  }
}
await report();
