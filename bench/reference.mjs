// cutjs against the official PyTorch CUT (taesungp/contrastive-unpaired-translation) on this
// machine: the reference's own train.py and `cutjs train` with the same configuration, data and
// iteration count, alternating (reference, then ours, per round), and the reference generator's
// forward against `cutjs translate`. Seconds per iteration (median after warm-up), peak RSS
// (GNU time's maximum resident set size of each process) and the ratio ours / reference.
//
// Needs a checkout of the reference named by CUT_REFERENCE_DIR (never copied into this
// repository) and Debian's python3-torch, python3-torchvision, python3-dominate and
// python3-packaging, used through /usr/bin/python3 (bench/reference_driver.py drives it).
// Run with `pnpm bench:reference` (builds first) or `node bench/reference.mjs` after a build.
// Writes bench/results/reference.json and the "Against the reference (PyTorch)" section of
// bench/README.md. Flags:
//   --configs CUT-256,FastCUT-256,CUT-128   training runs (mode-crop; load size 286/256 of the crop; none: skip)
//   --threads 2          threads of each side (a list, e.g. 1,2): torch.set_num_threads and
//                        OMP/MKL_NUM_THREADS for the reference, cutjs's --threads for ours
//   --warmup 1  --iters N   iterations per process: warm-up, then measured (default 3 at crop
//                        >= 256, 5 below)
//   --rounds 1           alternating rounds (reference, then ours) per configuration
//   --inference 256,1024 image sizes for the generator (none: skip)  --tile 512 (ours, for larger
//                        images; they are also translated whole)  --images 4,1 (images per
//                        cutjs translate process at each size; of more than one, the first is a
//                        warm-up; a single large image needs none to speak of)
//   --repeats 3          measured reference forwards per size (after one warm-up)
//   --small              small networks (ngf 16, ndf 16, netF_nc 64, num_patches 64) for trying
//                        the script out, e.g. --small --configs CUT-64 --inference 64,128 --tile 64
//   --limit S            seconds before a process is stopped (default 3600)
//   --max-busy C         before each process, wait until other processes use at most C cores
//                        (default: cores - threads + 0.5, so the process's threads have cores
//                        of their own; OpenMP's threads slow down badly when they don't)
//   --max-wait S         but wait no longer than S seconds (default 300; it goes on then)
//   --results FILE  --readme FILE   other output files (default bench/results/reference.json,
//                        bench/README.md)
//   --readme-only        rewrite the README section from the saved JSON
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here('..');
const CLI = join(ROOT, 'apps/cli/dist/index.js');
const DRIVER = here('./reference_driver.py');
const DATAROOT = join(ROOT, 'datasets/horse2zebra_demo');
// Debian's interpreter, where python3-torch lives (another python3 may come first on PATH).
const PYTHON = '/usr/bin/python3';
const GNU_TIME = '/usr/bin/time';
const TITLE = '## Against the reference (PyTorch)';
// The reference's imports on the way to its training loop, and the Debian package of each.
const APT = {
  torch: 'python3-torch',
  torchvision: 'python3-torchvision',
  dominate: 'python3-dominate',
  packaging: 'python3-packaging',
  numpy: 'python3-numpy',
  PIL: 'python3-pil',
};
const SMALL = { ngf: 16, ndf: 16, netF_nc: 64, num_patches: 64 };
// The reference's second column: glibc keeps freed memory instead of returning it to the
// kernel, so PyTorch's per-op allocations stop paying a first touch of fresh pages (about 10 µs
// a page on virtual machines): its convolutions run about twice as fast with these.
const GLIBC_TUNED = {
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=268435456',
};

const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const list = (name, fallback) =>
  argValue(name, fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);
const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const lastLines = (text, n = 15) => text.trim().split('\n').slice(-n).join('\n');

// --- prerequisites ----------------------------------------------------------------------------

function referenceDir() {
  const dir = process.env.CUT_REFERENCE_DIR;
  const how = 'set CUT_REFERENCE_DIR to a checkout of https://github.com/taesungp/contrastive-unpaired-translation (outside this repository)';
  if (!dir) throw new Error(`CUT_REFERENCE_DIR is not set: ${how}`);
  for (const f of ['train.py', 'models/cut_model.py', 'models/networks.py']) {
    if (!existsSync(join(dir, f))) throw new Error(`CUT_REFERENCE_DIR=${dir} has no ${f}: ${how}`);
  }
  return dir;
}

/** Versions of python, torch and torchvision; fails naming the apt package of a missing module. */
function checkPython() {
  if (!existsSync(PYTHON))
    throw new Error(
      `${PYTHON} not found: install Debian's python3-torch (apt-get install python3-torch python3-torchvision python3-dominate python3-packaging)`,
    );
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} not found: install GNU time (apt-get install time)`);
  const r = spawnSync(PYTHON, [DRIVER, 'check'], { encoding: 'utf8' });
  if (r.status !== 0) {
    const missing = /No module named '([\w.]+)'/.exec(r.stderr)?.[1]?.split('.')[0];
    const pkg = missing && APT[missing];
    throw new Error(pkg ? `${PYTHON} can't import ${missing}: apt-get install ${pkg}` : `${PYTHON} ${DRIVER} check failed:\n${lastLines(r.stderr)}`);
  }
  return events(r.stdout).find((e) => e.event === 'versions');
}

function checkCli() {
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: build first (pnpm bench:reference runs turbo run build)`);
  const help = (cmd) => spawnSync(process.execPath, [CLI, cmd, '--help'], { encoding: 'utf8' }).stdout;
  // --threads is newer than this script's first version; without it cutjs runs on one thread.
  return { train: /--threads\b/.test(help('train')), translate: /--threads\b/.test(help('translate')) };
}

const events = (text) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('@@'))
    .map((l) => JSON.parse(l.slice(2)));

// --- processes --------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Busy and total CPU time of the whole machine so far (/proc/stat's jiffies), and its CPU count. */
function cpuTimes() {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const all = lines[0].trim().split(/\s+/).slice(1).map(Number);
  const total = all.reduce((a, b) => a + b, 0);
  return { busy: total - all[3] - (all[4] ?? 0), total, cpus: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

/** Cores kept busy by every process of the machine over the next `ms` (this script idles meanwhile). */
async function busyCores(ms = 3000) {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return Math.round(((b.busy - a.busy) / Math.max(1, b.total - a.total)) * b.cpus * 100) / 100;
}

/**
 * Before a process: waits (up to --max-wait) until other processes leave it enough cores for
 * its threads, and says how busy the machine was when it started.
 */
async function quietMachine(label, threads) {
  const max = settings.maxBusy ?? Math.max(0.5, cpuTimes().cpus - threads + 0.5);
  const t0 = Date.now();
  let busy = await busyCores();
  while (busy > max && Date.now() - t0 < settings.maxWait * 1000) {
    console.log(`  other processes use ${busy} cores (more than ${max} for ${threads} thread${threads === 1 ? '' : 's'}): waiting`);
    await sleep(12000);
    busy = await busyCores();
  }
  const atStart = { busyCores: busy, loadAverage: loadAverage(), waitedSeconds: Math.round((Date.now() - t0) / 1000) };
  console.log(`${label} (other processes: ${busy} cores busy; load average ${atStart.loadAverage[0]})`);
  return atStart;
}

/**
 * Runs `cmd args` under GNU time (for its peak RSS), calling `onLine(line, seconds since start)`
 * for each stdout line; after `limitS` seconds the command (not time) is killed, so that time
 * still reports.
 */
function runTimed(cmd, args, { cwd, env, limitS, onLine }) {
  return new Promise((resolve) => {
    const rssFile = join(tmp, `rss-${process.hrtime.bigint()}`);
    const started = performance.now();
    const cpuAtStart = cpuTimes();
    const proc = spawn(GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let buffered = '';
    let killed = false;
    proc.stdout.on('data', (chunk) => {
      stdout = (stdout + chunk).slice(-20000);
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        onLine?.(line, (performance.now() - started) / 1000);
      }
    });
    proc.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-20000)));
    const timer = setTimeout(() => {
      killed = true;
      let children = [];
      try {
        children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {}
      for (const pid of children) process.kill(pid, 'SIGKILL');
      if (children.length === 0) proc.kill('SIGKILL');
    }, limitS * 1000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      let peakRss = null;
      let cpuSeconds = null;
      try {
        // "Command exited with non-zero status 1" (or "terminated by signal 9") may come first.
        const [kb, user, system] = readFileSync(rssFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
        if (kb > 0) peakRss = kb * 1024;
        if (Number.isFinite(user + system)) cpuSeconds = user + system;
        rmSync(rssFile);
      } catch {}
      const wallSeconds = (performance.now() - started) / 1000;
      // What the rest of the machine did meanwhile: all busy CPU time less the process's own.
      const end = cpuTimes();
      const machineCores = ((end.busy - cpuAtStart.busy) / Math.max(1, end.total - cpuAtStart.total)) * end.cpus;
      const othersBusyCores = cpuSeconds === null ? null : Math.round(Math.max(0, machineCores - cpuSeconds / wallSeconds) * 100) / 100;
      resolve({ code, killed, peakRss, cpuSeconds, othersBusyCores, wallSeconds, stdout, stderr });
    });
  });
}

/** What a failed process leaves in the results: why, and the end of its output. */
function failure(run, limitS) {
  if (run.code === 0 && !run.killed) return null;
  const why = run.killed ? `stopped after the ${limitS} s limit` : `exited with code ${run.code}`;
  const tail = lastLines(run.stderr || run.stdout, 8);
  // wasm32's heap ends at 4 GiB; malloc failing there surfaces as an out-of-bounds access.
  const oom = /memory access out of bounds|Cannot enlarge memory|Out of memory|RangeError: .*[Mm]emory/.test(tail)
    ? 'out of wasm memory (4 GiB heap)'
    : null;
  return { reason: oom ? `${why}: ${oom}` : why, tail };
}

// --- training ---------------------------------------------------------------------------------

/** The flags both train.py and cutjs train get. */
function trainFlags(cfg, name, checkpointsDir) {
  const flags = {
    dataroot: DATAROOT,
    name,
    checkpoints_dir: checkpointsDir,
    CUT_mode: cfg.mode,
    gpu_ids: -1,
    display_id: -1,
    crop_size: cfg.crop,
    load_size: cfg.load,
    max_dataset_size: cfg.warmup + cfg.iters,
    n_epochs: 1,
    n_epochs_decay: 0,
    save_epoch_freq: 1000,
    batch_size: 1,
    // The reference's DataLoader workers (0: batches are loaded in the training process); recorded only by cutjs.
    num_threads: 0,
    ...(settings.small ? SMALL : {}),
  };
  return [...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]), '--no_html'];
}

async function referenceTrainRun(cfg, threads, round, extraEnv = {}) {
  const dir = mkdtempSync(join(tmp, 'ref-'));
  const label = `reference${extraEnv.GLIBC_TUNABLES ? ' (glibc tunables)' : ''} ${cfg.mode} ${cfg.crop} T${threads} round ${round}`;
  const iterations = [];
  const atStart = await quietMachine(label, threads);
  let reported = null;
  const flags = [...trainFlags(cfg, 'reference', dir), '--print_freq', '1000000'];
  const run = await runTimed(PYTHON, [DRIVER, 'train', '--ref', refDir, '--threads', String(threads), '--', ...flags], {
    cwd: refDir,
    env: { ...threadEnv(threads), ...extraEnv },
    limitS: settings.limit,
    onLine: (line) => {
      if (!line.startsWith('@@')) return;
      const e = JSON.parse(line.slice(2));
      if (e.event === 'start') reported = e.threads;
      if (e.event !== 'iteration') return;
      const warmup = e.iteration <= cfg.warmup;
      iterations.push({ iteration: e.iteration, warmup, seconds: e.seconds, optimizeSeconds: e.optimizeSeconds });
      console.log(`  ${label}: iteration ${e.iteration}${warmup ? ' (warm-up)' : ''}: ${e.seconds.toFixed(2)} s`);
    },
  });
  rmSync(dir, { recursive: true, force: true });
  const failed = failure(run, settings.limit);
  if (failed) console.log(`  ${label}: ${failed.reason}\n${failed.tail}`);
  return {
    round,
    threads: reported,
    iterations,
    peakRss: run.peakRss,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    othersBusyCores: run.othersBusyCores,
    atStart,
    loadAverageAtEnd: loadAverage(),
    failure: failed,
  };
}

async function oursTrainRun(cfg, threads, round) {
  const dir = mkdtempSync(join(tmp, 'ours-'));
  const label = `cutjs ${cfg.mode} ${cfg.crop} T${threads} round ${round}`;
  const atStart = await quietMachine(label, threads);
  let reported = null;
  let previous = null;
  let n = 0;
  const flags = [
    ...trainFlags(cfg, 'ours', dir),
    '--print_freq',
    '1',
    '--seed',
    '0',
    '--backend',
    'wasm',
    ...(cli.train ? ['--threads', String(threads)] : []),
  ];
  const run = await runTimed(process.execPath, [CLI, 'train', ...flags], {
    cwd: ROOT,
    env: threadEnv(threads),
    limitS: settings.limit,
    onLine: (line, at) => {
      // "threads: N (...)" says how training runs (FastCUT, with no identity half, on 1); older
      // builds only have the backend's line.
      const training = /^threads: (\d+)/.exec(line);
      const backend = /^backend: .*\((?:.*, )?(\d+) threads?\)/.exec(line);
      if (training) reported = Number(training[1]);
      else if (backend && reported === null) reported = Number(backend[1]);
      if (line.startsWith('starting at epoch')) previous = at;
      if (!line.startsWith('(epoch: ')) return;
      n++;
      // Approximate (arrival of the loss lines); the results use log.jsonl.
      console.log(`  ${label}: iteration ${n}${n <= cfg.warmup ? ' (warm-up)' : ''}: ~${(at - (previous ?? 0)).toFixed(2)} s`);
      previous = at;
    },
  });
  const logFile = join(dir, 'ours', 'log.jsonl');
  const records = existsSync(logFile)
    ? readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [];
  rmSync(dir, { recursive: true, force: true });
  const iterations = records.map((r, i) => ({
    iteration: r.totalIters,
    warmup: i < cfg.warmup,
    seconds: r.secondsPerIter,
    numTensors: r.numTensors,
  }));
  const failed = failure(run, settings.limit);
  if (failed) console.log(`  ${label}: ${failed.reason}\n${failed.tail}`);
  // When the backend line can't be read, what was asked for (one thread without --threads).
  return {
    round,
    threads: reported ?? (cli.train ? threads : 1),
    iterations,
    peakRss: run.peakRss,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    othersBusyCores: run.othersBusyCores,
    atStart,
    loadAverageAtEnd: loadAverage(),
    failure: failed,
  };
}

/** Both sides' environment: the thread counts, and Python leaving the reference's checkout as it is (no __pycache__). */
function threadEnv(threads) {
  return { OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
}

/** One side's summary over its processes: median of the measured iterations, the largest peak RSS. */
function side(runs) {
  const measured = runs.flatMap((r) => r.iterations.filter((i) => !i.warmup).map((i) => i.seconds));
  const warmups = runs.flatMap((r) => r.iterations.filter((i) => i.warmup).map((i) => i.seconds));
  const peaks = runs.map((r) => r.peakRss).filter((p) => p !== null);
  const threads = [...new Set(runs.map((r) => r.threads).filter((t) => t !== null))];
  return {
    threads: threads.length === 1 ? threads[0] : threads,
    secondsPerIter: median(measured),
    measuredIterations: measured.length,
    warmupSeconds: median(warmups),
    peakRss: peaks.length ? Math.max(...peaks) : null,
    failures: runs.filter((r) => r.failure).map((r) => r.failure.reason),
    processes: runs,
  };
}

async function trainConfig(cfg, threads) {
  const ref = [];
  const refTuned = [];
  const ours = [];
  for (let round = 1; round <= settings.rounds; round++) {
    ref.push(await referenceTrainRun(cfg, threads, round));
    refTuned.push(await referenceTrainRun(cfg, threads, round, GLIBC_TUNED));
    ours.push(await oursTrainRun(cfg, threads, round));
  }
  const reference = side(ref);
  const referenceTuned = side(refTuned);
  const cutjs = side(ours);
  const ratio = reference.secondsPerIter && cutjs.secondsPerIter ? cutjs.secondsPerIter / reference.secondsPerIter : null;
  const ratioTuned = referenceTuned.secondsPerIter && cutjs.secondsPerIter ? cutjs.secondsPerIter / referenceTuned.secondsPerIter : null;
  const rssRatio = reference.peakRss && cutjs.peakRss ? cutjs.peakRss / reference.peakRss : null;
  console.log(
    `${cfg.mode} ${cfg.crop} T${threads}: reference ${fmt(reference.secondsPerIter)} s/iter (glibc tunables ${fmt(referenceTuned.secondsPerIter)}), cutjs ${fmt(cutjs.secondsPerIter)} s/iter, ratio ${ratio?.toFixed(2) ?? '–'} (tuned ${ratioTuned?.toFixed(2) ?? '–'})`,
  );
  return { ...cfg, requestedThreads: threads, date: new Date().toISOString(), reference, referenceTuned, cutjs, ratio, ratioTuned, rssRatio };
}

// --- inference --------------------------------------------------------------------------------

/** `count` test images (testA, cycled) resized to size x size, as JPEG, in a fresh folder. */
async function testImages(size, count) {
  const require = createRequire(join(ROOT, 'apps/cli/package.json'));
  const sharp = require('sharp');
  const src = join(DATAROOT, 'testA');
  const files = readdirSync(src)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort();
  const dir = mkdtempSync(join(tmp, `images-${size}-`));
  for (let i = 0; i < count; i++) {
    await sharp(join(src, files[i % files.length]))
      .resize(size, size, { kernel: 'lanczos3' })
      .jpeg({ quality: 95 })
      .toFile(join(dir, `image_${String(i).padStart(2, '0')}.jpg`));
  }
  return dir;
}

async function referenceForward(size, threads, saveG, extraEnv = {}) {
  const label = `reference${extraEnv.GLIBC_TUNABLES ? ' (glibc tunables)' : ''} G forward ${size}x${size} T${threads}`;
  const atStart = await quietMachine(label, threads);
  const forwards = [];
  let reported = null;
  const args = [
    DRIVER,
    'infer',
    '--ref',
    refDir,
    '--threads',
    String(threads),
    '--sizes',
    String(size),
    '--warmup',
    '1',
    '--repeats',
    String(settings.repeats),
  ];
  if (settings.small) args.push('--ngf', String(SMALL.ngf));
  if (saveG) args.push('--save-g', saveG);
  const run = await runTimed(PYTHON, args, {
    cwd: refDir,
    env: { ...threadEnv(threads), ...extraEnv },
    limitS: settings.limit,
    onLine: (line) => {
      if (!line.startsWith('@@')) return;
      const e = JSON.parse(line.slice(2));
      if (e.event === 'start') reported = e.threads;
      if (e.event !== 'forward') return;
      forwards.push({ warmup: e.warmup, seconds: e.seconds });
      console.log(`  ${label}: forward ${e.index}${e.warmup ? ' (warm-up)' : ''}: ${e.seconds.toFixed(3)} s`);
    },
  });
  const failed = failure(run, settings.limit);
  if (failed) console.log(`  ${label}: ${failed.reason}\n${failed.tail}`);
  const measured = forwards.filter((f) => !f.warmup).map((f) => f.seconds);
  return {
    threads: reported,
    secondsPerImage: median(measured),
    measured: measured.length,
    forwards,
    peakRss: run.peakRss,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    othersBusyCores: run.othersBusyCores,
    atStart,
    loadAverageAtEnd: loadAverage(),
    failure: failed,
  };
}

async function oursTranslate(size, tile, threads, checkpoint) {
  const count = settings.images[size] ?? settings.images.default;
  const label = `cutjs translate ${size}x${size}${tile ? ` tile ${tile}` : ''} T${threads}`;
  const images = await testImages(size, count);
  const out = mkdtempSync(join(tmp, 'translated-'));
  const atStart = await quietMachine(`${label}, ${count} image${count === 1 ? '' : 's'}`, threads);
  const perImage = [];
  let reported = null;
  let previous = null;
  const args = [CLI, 'translate', images, '--checkpoint', checkpoint, '--out', out, '--backend', 'wasm'];
  if (tile) args.push('--tile', String(tile));
  if (settings.small) args.push('--ngf', String(SMALL.ngf));
  if (cli.translate) args.push('--threads', String(threads));
  const run = await runTimed(process.execPath, args, {
    cwd: ROOT,
    env: threadEnv(threads),
    limitS: settings.limit,
    onLine: (line, at) => {
      const backend = /^backend: .*\((?:.*, )?(\d+) threads?\)/.exec(line);
      if (backend) reported = Number(backend[1]);
      const ours = /^threads: (\d+)/.exec(line); // cutjs translate --threads 2: two images in flight
      if (ours) reported = Number(ours[1]);
      if (line.startsWith('model: ')) previous = at;
      const done = / -> .*\((\d+)x(\d+)(?:, \d+-pixel tiles)?, ([\d.]+) s\)$/.exec(line);
      if (!done) return;
      // Between consecutive images' lines: decode, G (or its tiles), PNG encode; the printed
      // time (0.1 s steps) is kept as a check.
      const seconds = at - (previous ?? 0);
      previous = at;
      const warmup = perImage.length === 0 && count > 1;
      perImage.push({ warmup, seconds, at, printed: Number(done[3]) });
      console.log(`  ${label}: image ${perImage.length}${warmup ? ' (warm-up)' : ''}: ${seconds.toFixed(2)} s`);
    },
  });
  rmSync(images, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  const failed = failure(run, settings.limit);
  if (failed) console.log(`  ${label}: ${failed.reason}\n${failed.tail}`);
  // Seconds per image after the first: the span from the first image's line to the last's over
  // the images in it (with two threads two images are in flight, so gaps alone mislead).
  const measured = perImage.filter((p) => !p.warmup).map((p) => p.seconds);
  const span = perImage.length > 1 ? (perImage.at(-1).at - perImage[0].at) / (perImage.length - 1) : (perImage[0]?.seconds ?? null);
  return {
    threads: reported ?? (cli.translate ? threads : 1),
    tile,
    images: count,
    secondsPerImage: span,
    measured: measured.length,
    perImage,
    peakRss: run.peakRss,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    othersBusyCores: run.othersBusyCores,
    atStart,
    loadAverageAtEnd: loadAverage(),
    failure: failed,
  };
}

async function inference(size, threads, checkpoint) {
  const reference = await referenceForward(size, threads, existsSync(checkpoint) ? null : checkpoint);
  const referenceTuned = await referenceForward(size, threads, null, GLIBC_TUNED);
  const rows = [];
  const variants = size > settings.tile ? [settings.tile, 0] : [0];
  for (const tile of variants) {
    const cutjs = existsSync(checkpoint) ? await oursTranslate(size, tile, threads, checkpoint) : null;
    const ratio = reference.secondsPerImage && cutjs?.secondsPerImage ? cutjs.secondsPerImage / reference.secondsPerImage : null;
    const ratioTuned = referenceTuned.secondsPerImage && cutjs?.secondsPerImage ? cutjs.secondsPerImage / referenceTuned.secondsPerImage : null;
    rows.push({
      size,
      tile,
      requestedThreads: threads,
      date: new Date().toISOString(),
      reference,
      referenceTuned,
      cutjs,
      ratio,
      ratioTuned,
      rssRatio: reference.peakRss && cutjs?.peakRss ? cutjs.peakRss / reference.peakRss : null,
    });
    console.log(
      `G ${size}x${size}${tile ? ` (ours tiled ${tile})` : ''} T${threads}: reference ${fmt(reference.secondsPerImage)} s, cutjs ${fmt(cutjs?.secondsPerImage)} s per image, ratio ${ratio?.toFixed(2) ?? '–'}`,
    );
  }
  return rows;
}

// --- the whole run ----------------------------------------------------------------------------

let tmp;
let refDir;
let cli;
let settings;

function parseSettings() {
  const configs = (argValue('--configs', '') === 'none' ? [] : list('--configs', 'CUT-256,FastCUT-256,CUT-128')).map((c) => {
    const m = /^(CUT|FastCUT)-(\d+)$/i.exec(c);
    if (!m) throw new Error(`--configs: '${c}' is not <CUT|FastCUT>-<crop>, e.g. CUT-256`);
    const crop = Number(m[2]);
    const iters = Number(argValue('--iters', crop >= 256 ? 3 : 5));
    // 286/256 of the crop, the reference's default ratio (as bench/train.mjs).
    return {
      mode: m[1].toLowerCase() === 'cut' ? 'CUT' : 'FastCUT',
      crop,
      load: Math.round((crop * 286) / 256),
      warmup: Number(argValue('--warmup', 1)),
      iters,
    };
  });
  const sizes = argValue('--inference', '256,1024') === 'none' ? [] : list('--inference', '256,1024').map(Number);
  const imageCounts = list('--images', '7,1').map(Number);
  const images = { default: imageCounts.at(-1) };
  sizes.forEach((s, i) => (images[s] = imageCounts[Math.min(i, imageCounts.length - 1)]));
  const s = {
    configs,
    threads: list('--threads', '2').map(Number),
    rounds: Number(argValue('--rounds', 1)),
    sizes,
    tile: Number(argValue('--tile', 512)),
    images,
    repeats: Number(argValue('--repeats', 3)),
    small: process.argv.includes('--small'),
    limit: Number(argValue('--limit', 3600)),
    maxBusy: argValue('--max-busy', null) === null ? null : Number(argValue('--max-busy')),
    maxWait: Number(argValue('--max-wait', 300)),
  };
  const trainA = readdirSync(join(DATAROOT, 'trainA')).length;
  for (const c of configs) {
    if (c.warmup + c.iters > trainA)
      throw new Error(`${c.mode}-${c.crop}: ${c.warmup + c.iters} iterations need that many images, trainA has ${trainA} (one epoch per process)`);
  }
  if (Object.values(images).some((n) => !(n >= 1))) throw new Error('--images: at least 1 per size');
  return s;
}

function cpuModel() {
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return (m?.[1] ?? os.cpus()[0]?.model ?? 'unknown').trim();
}

function referenceCommit(dir) {
  const r = spawnSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** SHA-256 (first 12 hex digits) of the reference files that decide what is timed, for checkouts without git. */
function referenceFiles(dir) {
  const files = ['train.py', 'models/cut_model.py', 'models/networks.py', 'models/patchnce.py', 'data/unaligned_dataset.py'];
  return Object.fromEntries(
    files
      .filter((f) => existsSync(join(dir, f)))
      .map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex')
          .slice(0, 12),
      ]),
  );
}

async function benchmark(previous) {
  settings = parseSettings();
  refDir = referenceDir();
  const versions = checkPython();
  cli = checkCli();
  if (!cli.train && settings.threads.some((t) => t !== 1))
    console.log('note: this cutjs train has no --threads flag; ours runs on one thread (the recorded threads say so)');
  tmp = mkdtempSync(join(os.tmpdir(), 'cut-bench-reference-'));
  const require = createRequire(import.meta.url);
  const machine = {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    tfjs: require('@tensorflow/tfjs-core/package.json').version,
    python: versions.python,
    torch: versions.torch,
    torchvision: versions.torchvision,
    referenceCommit: referenceCommit(refDir),
    referenceFiles: referenceFiles(refDir),
    loadAverageBefore: loadAverage(),
    date: new Date().toISOString(),
  };
  const networks = settings.small
    ? { netG: 'resnet_9blocks', ...SMALL }
    : { netG: 'resnet_9blocks', ngf: 64, ndf: 64, netF_nc: 256, num_patches: 256 };
  console.log(`reference: ${refDir}; torch ${versions.torch}; cutjs --threads ${cli.train ? 'supported' : 'not supported'}; temp ${tmp}`);
  const training = [];
  const infer = [];
  try {
    for (const cfg of settings.configs) for (const t of settings.threads) training.push(await trainConfig(cfg, t));
    for (const t of settings.threads) {
      // The reference's freshly initialised generator, saved by its first forward run, is the
      // one cutjs translates with: the same weights on both sides.
      const checkpoint = join(tmp, `G-T${t}`, 'latest_net_G.pth');
      mkdirSync(join(tmp, `G-T${t}`));
      for (const size of settings.sizes) infer.push(...(await inference(size, t, checkpoint)));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  machine.loadAverageAfter = loadAverage();
  // Keep earlier results of what wasn't re-run now, when they were measured with the same networks.
  const same = previous && JSON.stringify(previous.networks) === JSON.stringify(networks);
  const tKey = (r) => `${r.mode} ${r.crop} ${r.requestedThreads}`;
  const iKey = (r) => `${r.size} ${r.tile} ${r.requestedThreads}`;
  const keptTraining = same ? previous.training.filter((r) => !training.some((n) => tKey(n) === tKey(r))) : [];
  const keptInference = same ? previous.inference.filter((r) => !infer.some((n) => iKey(n) === iKey(r))) : [];
  return {
    machine,
    networks,
    settings: {
      rounds: settings.rounds,
      tile: settings.tile,
      maxBusy: settings.maxBusy,
      maxWait: settings.maxWait,
      referenceRepeats: settings.repeats,
      cutjsThreadsFlag: cli.train,
      cutjsTranslateThreadsFlag: cli.translate,
      backend: 'wasm',
    },
    training: [...keptTraining, ...training],
    inference: [...keptInference, ...infer],
  };
}

// --- README section ---------------------------------------------------------------------------

const fmt = (s) => (s === null || s === undefined ? '–' : s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s >= 0.1 ? s.toFixed(2) : s.toFixed(3));
const gb = (bytes) => (bytes ? `${(bytes / 1e9).toFixed(2)} GB` : '–');
const ratioText = (r) => (r === null || r === undefined ? '–' : `**${r.toFixed(2)}x**`);
const threadsText = (t) => (Array.isArray(t) ? (t.length ? t.join('/') : '?') : String(t));

function threadsFlagNote({ cutjsThreadsFlag: train, cutjsTranslateThreadsFlag: translate }) {
  if (train && translate) return ', asked for with `--threads`';
  if (train) return '; `cutjs train` was given `--threads`, `cutjs translate` had no such flag';
  return '; this cutjs had no `--threads` flag';
}

const busyText = (p) => `${p.atStart.busyCores} / ${p.othersBusyCores ?? '?'}`;

function secondsCell(s) {
  if (s.secondsPerIter === null) return `not measured (${s.failures.join('; ') || 'no iterations'})`;
  const of = s.measuredIterations === 1 ? '1 measured' : `median of ${s.measuredIterations}`;
  return `**${fmt(s.secondsPerIter)}** (${of}; warm-up ${fmt(s.warmupSeconds)})${s.failures.length ? `; ${s.failures.length} process(es) failed` : ''}`;
}

function imageCell(r, what) {
  if (!r) return 'not run';
  if (r.secondsPerImage === null) return `not measured (${r.failure?.reason ?? 'no images'})`;
  const of = what === 'forwards' ? `median of ${r.measured} forwards` : `${r.measured} images after the first`;
  return `**${fmt(r.secondsPerImage)}** (${r.measured === 1 ? `1 measured ${what.replace(/s$/, '')}` : of})`;
}

function section(report) {
  const { machine, networks } = report;
  const net = `resnet_9blocks, ngf ${networks.ngf}, ndf ${networks.ndf}, netF_nc ${networks.netF_nc}, num_patches ${networks.num_patches}`;
  const small =
    networks.ngf !== 64 ? `\n**These results use small networks (${net}; \`--small\`): a try-out of the script, not the benchmark.**\n` : '';
  const modeOrder = (r) => (r.mode === 'CUT' ? 0 : 1);
  const training = [...report.training].sort((a, b) => b.crop - a.crop || modeOrder(a) - modeOrder(b) || a.requestedThreads - b.requestedThreads);
  const trainRows = training.map((r) => [
    `${r.mode}, crop ${r.crop} (load ${r.load})`,
    `${threadsText(r.reference.threads)} / ${threadsText(r.cutjs.threads)}`,
    secondsCell(r.reference),
    r.referenceTuned ? secondsCell(r.referenceTuned) : 'not run',
    secondsCell(r.cutjs),
    ratioText(r.ratio),
    ratioText(r.ratioTuned),
    `${gb(r.reference.peakRss)} / ${gb(r.cutjs.peakRss)}${r.rssRatio ? ` (${r.rssRatio.toFixed(2)}x)` : ''}`,
    [...r.reference.processes, ...r.cutjs.processes].map(busyText).join(', '),
  ]);
  const inferRows = [...report.inference]
    .sort((a, b) => a.size - b.size || a.tile - b.tile || a.requestedThreads - b.requestedThreads)
    .map((r) => [
      `${r.size}x${r.size}${r.tile ? `, cutjs in ${r.tile}x${r.tile} tiles` : ''}`,
      `${threadsText(r.reference.threads)} / ${threadsText(r.cutjs?.threads ?? '–')}`,
      imageCell(r.reference, 'forwards'),
      imageCell(r.referenceTuned, 'forwards'),
      imageCell(r.cutjs, 'images'),
      ratioText(r.ratio),
      ratioText(r.ratioTuned),
      `${gb(r.reference.peakRss)} / ${gb(r.cutjs?.peakRss)}${r.rssRatio ? ` (${r.rssRatio.toFixed(2)}x)` : ''}`,
      [r.reference, r.cutjs].filter(Boolean).map(busyText).join(', '),
    ]);
  const table = (header, rows) =>
    rows.length ? [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n') : '(not run)';
  const failures = [
    ...report.training.flatMap((r) =>
      [...r.reference.processes, ...r.cutjs.processes].filter((p) => p.failure).map((p) => `${r.mode} ${r.crop}: ${p.failure.reason}`),
    ),
    ...report.inference.flatMap((r) =>
      [r.reference, r.cutjs].filter((p) => p?.failure).map((p) => `G ${r.size}${r.tile ? ` tile ${r.tile}` : ''}: ${p.failure.reason}`),
    ),
  ];
  const disturbed = disturbedRuns(report);
  const sizes = [...new Set(report.inference.filter((r) => r.cutjs).map((r) => `${r.cutjs.images} at ${r.size}`))];
  return `${TITLE}

\`node bench/reference.mjs\` (run by \`pnpm bench:reference\`) needs a local checkout of the official
repository (\`git clone https://github.com/taesungp/contrastive-unpaired-translation\`, kept outside
this repository) named by the environment variable \`CUT_REFERENCE_DIR\`, and Debian's PyTorch run
as \`/usr/bin/python3\`: \`apt-get install python3-torch python3-torchvision python3-dominate
python3-packaging\` (the script checks them and names what is missing). Flags: see the top of
\`bench/reference.mjs\`.
${small}
Training: the reference's own \`train.py\`, unmodified (\`bench/reference_driver.py\` runs it with
\`runpy\`, only wrapping \`CUTModel.optimize_parameters\` to time each iteration), and \`cutjs train
--backend wasm --seed 0\`, both with \`--dataroot datasets/horse2zebra_demo --gpu_ids -1 --display_id
-1 --no_html --batch_size 1 --num_threads 0 --n_epochs 1 --n_epochs_decay 0 --save_epoch_freq 1000
--max_dataset_size N\` (N = warm-up + measured iterations, so one epoch is the whole process) and
the defaults otherwise (${net}, float32); \`--num_threads 0\` keeps the reference's data loading in
its training process. cutjs also gets \`--print_freq 1\` (it times iterations in its
\`log.jsonl\`). For each configuration the reference ran first, then the reference again with
\`GLIBC_TUNABLES=${GLIBC_TUNED.GLIBC_TUNABLES}\` (glibc keeps freed memory: PyTorch allocates per op and
otherwise pays a first touch of fresh pages, ~10 µs each on virtual machines; its column "with glibc
tunables"), then cutjs, ${report.settings.rounds === 1 ? 'once' : `${report.settings.rounds} rounds`}; the generator forwards likewise.
An iteration is the wall time from the end of one optimisation step to the end of the next (data
loading included) on both sides; the first is a warm-up (it also runs the data-dependent
initialisation). Threads are the reference's \`torch.get_num_threads()\` (with \`OMP_NUM_THREADS\`
and \`MKL_NUM_THREADS\` set alike) and those cutjs says it used (\`cutjs train\`'s \`threads:\` line, the wasm
backend's for \`cutjs translate\`)${threadsFlagNote(report.settings)}.
cutjs also decodes its images on libuv's threads (sharp), beside the training threads. Peak RSS:
GNU time's maximum resident set size of each process (cutjs: one process, its worker threads
included), the largest over the rounds.

Inference: the reference's generator (\`define_G\` with CUT's defaults: ${networks.netG}, ngf ${networks.ngf}, instance
norm, no dropout, xavier init, antialiased sampling), forward only under \`torch.no_grad\` on a
1x3xSxS tensor (median after one warm-up), against \`cutjs translate --backend wasm\` on the same
generator (the reference's weights, saved by the driver as a \`.pth\`) on demo test images resized
to SxS (${sizes.join(', ') || 'K'} per process): after the first image (a warm-up) where a process had more than one, the time
from the first image's output line to the last's over the images in it (each: JPEG decode, generator, PNG encode; with
\`--threads 2\` cutjs translates two images at a time, one per thread); else the one image's time. At sizes above ${report.settings.tile}, cutjs ran in ${report.settings.tile}x${report.settings.tile} tiles
(\`--tile ${report.settings.tile}\`, which gives the whole-image result) and on whole images; the reference on whole images.

Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}; Node ${machine.node}, tfjs ${machine.tfjs};
Python ${machine.python}, torch ${machine.torch}, torchvision ${machine.torchvision}; reference ${machine.referenceCommit ? `commit ${machine.referenceCommit.slice(0, 10)}` : 'checkout without git metadata'};
${machine.date.slice(0, 10)}; load average ${machine.loadAverageBefore[0]} before, ${machine.loadAverageAfter[0]} after. Other processes may share
the machine: each process started once the others left cores for its threads (or after
${report.settings.maxWait ?? 300} s of waiting). The last column gives, for each process (the reference's, then
cutjs's), the cores other processes kept busy just before it started and on average while it ran
(the machine's busy CPU time less the process's own): times measured while others were busy,
above all the reference's with 2 threads, are slower than the machine can do. Per-iteration and
per-image times and each process's CPU seconds: \`bench/results/reference.json\`.

${table(['run', 'threads (reference / cutjs)', 'reference s/iter', 'reference with glibc tunables s/iter', 'cutjs s/iter', 'cutjs / reference', 'cutjs / tuned reference', 'peak RSS (reference / cutjs)', 'other processes: cores busy at start / during'], trainRows)}

${table(['generator input', 'threads (reference / cutjs)', 'reference G forward (s/image)', 'reference with glibc tunables (s/image)', 'cutjs translate (s/image)', 'cutjs / reference', 'cutjs / tuned reference', 'peak RSS (reference / cutjs)', 'other processes: cores busy at start / during'], inferRows)}
${failures.length ? `\nFailed processes (their output's end is in the JSON): ${failures.join('; ')}.\n` : ''}${disturbed.length ? `\nMeasured while other processes didn't leave a core for each thread (slower than this machine can do): ${disturbed.join('; ')}.\n` : ''}`;
}

/**
 * Processes during which other processes, on average, didn't leave a core for each thread (the
 * same rule as the wait before a process).
 */
function disturbedRuns(report) {
  const busy = (threads) => (p) => p && p.othersBusyCores !== null && p.othersBusyCores > Math.max(0.5, report.machine.cores - threads + 0.5);
  const out = [];
  for (const r of report.training) {
    for (const [who, s] of [
      ['reference', r.reference],
      ['cutjs', r.cutjs],
    ]) {
      for (const p of s.processes.filter(busy(r.requestedThreads)))
        out.push(
          `${who} ${r.mode} ${r.crop}, ${r.requestedThreads} thread${r.requestedThreads === 1 ? '' : 's'}, round ${p.round} (${p.othersBusyCores} cores)`,
        );
    }
  }
  const seen = new Set();
  for (const r of report.inference) {
    for (const [who, p] of [
      ['reference', r.reference],
      ['cutjs', r.cutjs],
    ]) {
      // The reference's forward run serves both the tiled and the whole-image row.
      const text = `${who} G ${r.size}x${r.size}${who === 'cutjs' && r.tile ? ` tiled ${r.tile}` : ''}, ${r.requestedThreads} thread${r.requestedThreads === 1 ? '' : 's'}`;
      if (!busy(r.requestedThreads)(p) || seen.has(text)) continue;
      seen.add(text);
      out.push(`${text} (${p.othersBusyCores} cores)`);
    }
  }
  return out;
}

// --- main -------------------------------------------------------------------------------------

process.on('uncaughtException', (e) => {
  console.error(`bench/reference.mjs: ${e.message}`);
  process.exit(1);
});
const jsonPath = argValue('--results', here('./results/reference.json'));
const readmePath = argValue('--readme', here('./README.md'));
const previous = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : null;
let report;
if (process.argv.includes('--readme-only')) {
  if (!previous) throw new Error(`${jsonPath}: no saved results to write the README section from`);
  report = previous;
} else {
  report = await benchmark(previous);
  mkdirSync(join(jsonPath, '..'), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}
let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
const text = section(report);
const start = readme.indexOf(TITLE);
if (start >= 0) {
  const next = readme.indexOf('\n## ', start + 1);
  readme = readme.slice(0, start) + text + (next >= 0 ? `\n${readme.slice(next + 1)}` : '');
} else readme = `${readme.trimEnd()}\n\n${text}`;
writeFileSync(readmePath, readme);
const disturbed = disturbedRuns(report);
if (disturbed.length) console.log(`note: other processes didn't leave a core for each thread during: ${disturbed.join('; ')}`);
console.log(`wrote ${jsonPath} and the "${TITLE.slice(3)}" section of ${readmePath}`);
