// The GPU run, inside the unpacked bundle (bench/gpu/run.sh starts it with the bundle's Node):
//   0. which WebGPU adapter Dawn sees (must be a hardware one, not a software rasteriser, except
//      with --small), and PyTorch's version and CUDA device;
//   1. kernel timings on webgpu (ResNet-block conv forward and both gradients at 64x64x256, the
//      7x7 stem and head convs, a 256x256 instance norm);
//   2. `cutjs train --backend webgpu`, CUT and FastCUT at crop 256 (ngf 64), batch 1, seconds per
//      iteration after warm-up, GPU memory (nvidia-smi's peak during the run), each followed by the
//      reference's own train.py on PyTorch (CUDA when torch sees it) with the same configuration,
//      so the ratio is measured in one run;
//   3. the reference generator's forward on PyTorch and `cutjs translate --backend webgpu` with
//      the same weights at 256 and 1024;
//   4. the training of step 2 at batch 4;
//   5. dispatches, uploads and readbacks per training step (count.mjs).
// $OUT/summary.json and $OUT/summary.md are rewritten after every step, so a run cut short still
// leaves what it measured; $OUT/run.log has everything the children printed.
// Every child process has a time limit, and the whole run a budget (--budget, seconds).
// Flags: --root DIR (the bundle, set by run.sh)  --small (tiny networks and images, 3
// iterations, any adapter: the local check that keeps this script alive)  --budget S (default
// 520; --small 900)  --iters N (per training process, warm-up included; default 30)  --warmup W
// (default 3)  --skip kernels,train,reference,translate,count
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const has = (name) => argv.includes(name);
const value = (name, fallback) => (has(name) ? argv[argv.indexOf(name) + 1] : fallback);
const ROOT = value('--root', fileURLToPath(new URL('../..', import.meta.url)));
const SMALL = has('--small');
const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8'));
const CLI = join(ROOT, 'node_modules/@cut/cli/dist/index.js');
const DRIVER = join(ROOT, 'bench/reference_driver.py');
const REFERENCE = join(ROOT, 'reference');
const DATAROOT = join(ROOT, manifest.dataset);
const PYTHON = process.env.CUT_PYTHON || 'python3';
const OUT = process.env.OUT || join(process.cwd(), '.cache/gpu-out');
const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- the child modes: adapter, kernels ------------------------------------------------------------

/** Dawn as navigator.gpu (as cutjs does it), and the adapter it offers. */
async function installDawn() {
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  if (globalThis.navigator) Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  else globalThis.navigator = { gpu };
  return gpu;
}

const emit = (event) => console.log(`@@${JSON.stringify(event)}`);

async function adapterMode() {
  const gpu = await installDawn();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    emit({ event: 'adapter', found: false });
    return;
  }
  const info = adapter.info ?? {};
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  emit({
    event: 'adapter',
    found: true,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: /llvmpipe|lavapipe|swiftshader|software/i.test(text),
    nvidia: /nvidia/i.test(text),
    features: [...adapter.features].sort(),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  });
}

/** Median milliseconds of `fn` (a kernel call), each call waited for on the GPU's queue. */
async function timeKernel(tf, backend, fn, repeats) {
  const run = async () => {
    const t0 = performance.now();
    const y = fn();
    backend.submitQueue();
    await backend.device.queue.onSubmittedWorkDone();
    const ms = performance.now() - t0;
    tf.dispose(y);
    return ms;
  };
  await run(); // compiles the shader
  await run();
  const times = [];
  for (let i = 0; i < repeats; i++) times.push(await run());
  return median(times);
}

async function kernelsMode() {
  await installDawn();
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  const { activateBackend, instanceNorm } = await import('@cut/core-tensors');
  await activateBackend('webgpu');
  const backend = tf.backend();
  // [label, input NHWC, filter HWIO, stride, pad]: the layers of the issue, at full size (or tiny).
  const s = SMALL ? 8 : 1;
  const convs = [
    ['ResnetBlock conv 3x3', [1, 64 / s, 64 / s, 256 / s], [3, 3, 256 / s, 256 / s], 1, 'same'],
    ['stem conv 7x7 (reflect-padded input)', [1, 256 / s + 6, 256 / s + 6, 3], [7, 7, 3, 64 / s], 1, 'valid'],
    ['head conv 7x7 (reflect-padded input)', [1, 256 / s + 6, 256 / s + 6, 64 / s], [7, 7, 64 / s, 3], 1, 'valid'],
  ];
  const repeats = SMALL ? 3 : 20;
  for (const [label, xShape, wShape, stride, pad] of convs) {
    const x = tf.randomNormal(xShape);
    const w = tf.randomNormal(wShape);
    const y = tf.conv2d(x, w, stride, pad);
    const dy = tf.onesLike(y);
    const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const forward = await timeKernel(tf, backend, () => tf.conv2d(x, w, stride, pad), repeats);
    const filterGrad = await timeKernel(
      tf,
      backend,
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: wShape }),
      repeats,
    );
    const inputGrad = await timeKernel(
      tf,
      backend,
      () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape }),
      repeats,
    );
    const flops = 2 * y.size * wShape[0] * wShape[1] * wShape[2];
    emit({
      event: 'kernel',
      label,
      shape: `${xShape.join('x')} ${wShape[0]}x${wShape[1]} ${wShape[2]}->${wShape[3]} s${stride} ${pad}`,
      forwardMs: forward,
      filterGradMs: filterGrad,
      inputGradMs: inputGrad,
      gflop: flops / 1e9,
    });
    tf.dispose([x, w, y, dy]);
  }
  const size = 256 / s;
  const x = tf.randomNormal([1, size, size, 64 / s]);
  const grad = tf.grad((t) => tf.sum(tf.square(instanceNorm(t))));
  const forward = await timeKernel(tf, backend, () => instanceNorm(x), repeats);
  const backward = await timeKernel(tf, backend, () => grad(x), repeats);
  emit({ event: 'kernel', label: 'instance norm', shape: x.shape.join('x'), forwardMs: forward, gradMs: backward });
  tf.dispose(x);
}

// --- the parent: child processes with limits ---------------------------------------------------

const settings = {
  budget: Number(value('--budget', SMALL ? 900 : 520)),
  iters: Number(value('--iters', SMALL ? 3 : 30)),
  warmup: Number(value('--warmup', SMALL ? 1 : 3)),
  skip: new Set(value('--skip', '').split(',').filter(Boolean)),
};
const started = Date.now();
const remaining = () => settings.budget - (Date.now() - started) / 1000;
const LOG = join(OUT, 'run.log');
const say = (m) => {
  console.log(m);
  appendFileSync(LOG, `${m}\n`);
};

/** GPU memory in use (MiB) from nvidia-smi, or null where there is none. */
function gpuMemory() {
  return new Promise((resolve) => {
    const p = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    p.stdout.on('data', (c) => (text += c));
    p.on('error', () => resolve(null));
    p.on('exit', () => {
      const v = Number.parseFloat(text);
      resolve(Number.isFinite(v) ? v : null);
    });
  });
}

/**
 * Runs a child for at most `limitS` seconds (SIGINT first, so cutjs saves and stops; SIGKILL 15 s
 * later); `onLine(line, seconds)` sees each stdout line. Samples nvidia-smi meanwhile.
 */
async function child(label, cmd, args, { limitS, cwd = ROOT, env = {}, onLine }) {
  if (remaining() < 20) {
    say(`== ${label}: skipped, the run's budget (--budget ${settings.budget}) is spent`);
    return { ok: false, code: null, stopped: true, seconds: 0, gpuMemoryMiB: null, tail: 'skipped: budget spent' };
  }
  const limit = Math.min(limitS, remaining() - 10);
  const baseline = await gpuMemory();
  say(`== ${label} (limit ${Math.round(limit)} s)`);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, {
      cwd,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peak = baseline;
    let sampling = baseline !== null;
    (async () => {
      while (sampling) {
        await sleep(1000);
        const m = await gpuMemory();
        if (m !== null && m > peak) peak = m;
      }
    })();
    let tail = '';
    let buffered = '';
    p.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        appendFileSync(LOG, `  ${line}\n`);
        tail = `${tail + line}\n`.slice(-4000);
        onLine?.(line, (performance.now() - t0) / 1000);
      }
    });
    p.stderr.on('data', (chunk) => {
      const text = String(chunk).replace(/^Warning: maxDynamic.*\n/gm, '');
      if (text) appendFileSync(LOG, text.replace(/^/gm, '  ! '));
      tail = (tail + text).slice(-4000);
    });
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      say(`  ${label}: ${Math.round(limit)} s limit reached: stopping it`);
      p.kill('SIGINT');
      setTimeout(() => p.kill('SIGKILL'), 15000).unref();
    }, limit * 1000);
    p.on('error', (e) => (tail += `\n${e.message}`));
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      sampling = false;
      const seconds = (performance.now() - t0) / 1000;
      const ok = code === 0 && !stopped;
      if (!ok)
        say(`  ${label}: ${stopped ? 'stopped at its limit' : `exited with ${code ?? signal}`}\n${tail.trim().split('\n').slice(-8).join('\n')}`);
      const gpuMemoryMiB = peak !== null && baseline !== null ? { peak, baseline, used: Math.round(peak - baseline) } : null;
      resolve({ ok, code, stopped, seconds, gpuMemoryMiB, tail });
    });
  });
}

const events = (line) => (line.startsWith('@@') ? JSON.parse(line.slice(2)) : null);

// --- the steps -----------------------------------------------------------------------------------

const summary = {
  small: SMALL,
  startedAt: new Date(started).toISOString(),
  bundle: { commit: manifest.commit, node: manifest.node.version, modules: manifest.modules, reference: manifest.reference },
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
  adapter: null,
  python: null,
  kernels: [],
  train: [],
  inference: [],
  counts: null,
  skipped: [],
};

function netFlags() {
  return SMALL ? { ngf: 8, ndf: 8, netF_nc: 16, num_patches: 16, netG: 'resnet_6blocks' } : {};
}
const crop = SMALL ? 32 : 256;
const load = SMALL ? 36 : 286;
const configs = SMALL
  ? [
      { mode: 'CUT', batch: 1 },
      { mode: 'FastCUT', batch: 2 },
    ]
  : [
      { mode: 'CUT', batch: 1 },
      { mode: 'FastCUT', batch: 1 },
      { mode: 'CUT', batch: 4 },
      { mode: 'FastCUT', batch: 4 },
    ];

/** The flags both train.py and cutjs train get: one epoch over enough images, or several epochs. */
function trainFlags(cfg, name, dir, gpu) {
  const images = readdirSync(join(DATAROOT, 'trainA')).length;
  const wanted = settings.iters * cfg.batch;
  const flags = {
    dataroot: DATAROOT,
    name,
    checkpoints_dir: dir,
    CUT_mode: cfg.mode,
    gpu_ids: gpu ? 0 : -1,
    display_id: -1,
    crop_size: crop,
    load_size: load,
    batch_size: cfg.batch,
    max_dataset_size: Math.min(images, wanted),
    n_epochs: Math.ceil(wanted / images),
    n_epochs_decay: 0,
    save_epoch_freq: 1000,
    num_threads: 0,
    ...netFlags(),
  };
  return [...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]), '--no_html'];
}

function sideSummary(iterations, run) {
  const measured = iterations.filter((i) => !i.warmup).map((i) => i.seconds);
  return {
    secondsPerIter: median(measured),
    measured: measured.length,
    warmupSeconds: iterations.filter((i) => i.warmup).map((i) => i.seconds),
    gpuMemoryMiB: run.gpuMemoryMiB,
    wallSeconds: Math.round(run.seconds * 10) / 10,
    failure: run.ok ? null : run.stopped ? 'stopped at its time limit' : `exit ${run.code}: ${run.tail.trim().split('\n').at(-1)}`,
  };
}

async function oursTrain(cfg, dir) {
  const limit = SMALL ? 150 : cfg.batch > 1 ? 90 : 70;
  let backend = null;
  const run = await child(
    `cutjs train ${cfg.mode} crop ${crop} batch ${cfg.batch} (webgpu)`,
    process.execPath,
    [CLI, 'train', ...trainFlags(cfg, 'ours', dir, false), '--print_freq', '1', '--seed', '0', '--backend', 'webgpu'],
    {
      limitS: limit,
      onLine: (line) => (backend ??= /^backend: (.*)$/.exec(line)?.[1] ?? null),
    },
  );
  const logFile = join(dir, 'ours', 'log.jsonl');
  const records = existsSync(logFile)
    ? readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [];
  const iterations = records.map((r, i) => ({ iteration: r.totalIters, warmup: i < settings.warmup, seconds: r.secondsPerIter }));
  return { ...sideSummary(iterations, run), backend, iterations };
}

async function referenceTrain(cfg, dir, gpu) {
  const iterations = [];
  const limit = SMALL ? 120 : 45;
  const run = await child(
    `reference train.py ${cfg.mode} crop ${crop} batch ${cfg.batch} (${gpu ? 'CUDA' : 'CPU'})`,
    PYTHON,
    [
      DRIVER,
      'train',
      '--ref',
      REFERENCE,
      '--threads',
      String(torchThreads),
      '--',
      ...trainFlags(cfg, 'reference', dir, gpu),
      '--print_freq',
      '1000000',
    ],
    {
      limitS: limit,
      cwd: REFERENCE,
      onLine: (line) => {
        const e = events(line);
        if (e?.event === 'iteration') iterations.push({ iteration: e.iteration, warmup: e.iteration <= settings.warmup, seconds: e.seconds });
      },
    },
  );
  return { ...sideSummary(iterations, run), device: gpu ? summary.python?.cudaDevice : 'cpu', iterations };
}

// PyTorch's CPU threads (they matter only without CUDA); one for --small, whose tiny networks only
// slow down when OpenMP's threads wait on each other on a busy machine.
const torchThreads = SMALL ? 1 : Math.min(os.cpus().length, 8);
const ratio = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : null);
const fmt = (x, d = 3) => (x === null || x === undefined ? '–' : Number(x.toPrecision(d)).toString());

function writeSummary() {
  summary.seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const a = summary.adapter;
  const lines = [
    `# cutjs on WebGPU against PyTorch${SMALL ? ' (--small: tiny networks, a check of the script, not a measurement)' : ''}`,
    '',
    `Adapter: ${a?.found ? `${a.vendor} ${a.architecture} ${a.description || a.device}${a.software ? ' (software)' : ''}` : 'none'}; ` +
      `PyTorch: ${summary.python ? `${summary.python.torch} on ${summary.python.cudaDevice ?? 'CPU'}` : 'not run'}; ` +
      `${summary.machine.cpus} CPUs (${summary.machine.cpuModel}); bundle of ${summary.bundle.commit?.slice(0, 10) ?? '?'}, Node ${summary.bundle.node}; ${summary.startedAt}.`,
    '',
  ];
  if (summary.train.length) {
    lines.push(
      `Training, crop ${crop}${SMALL ? ' (ngf 8, resnet_6blocks)' : ' (resnet_9blocks, ngf 64, ndf 64, netF_nc 256, num_patches 256)'}: median seconds per iteration after ${settings.warmup} warm-up iterations (measured iterations in brackets); GPU memory: nvidia-smi's peak less its reading before the process.`,
      '',
    );
    lines.push('| run | batch | cutjs webgpu s/iter | PyTorch s/iter | ratio | cutjs GPU MiB | PyTorch GPU MiB |', '|---|---|---|---|---|---|---|');
    for (const t of summary.train) {
      const o = t.ours;
      const r = t.reference;
      lines.push(
        `| ${t.mode} | ${t.batch} | ${o ? `${fmt(o.secondsPerIter)} (${o.measured})${o.failure ? ` ${o.failure}` : ''}` : 'skipped'} | ${r ? `${fmt(r.secondsPerIter)} (${r.measured})${r.failure ? ` ${r.failure}` : ''}` : 'skipped'} | ${fmt(t.ratio)} | ${o?.gpuMemoryMiB?.used ?? '–'} | ${r?.gpuMemoryMiB?.used ?? '–'} |`,
      );
    }
    lines.push('');
  }
  if (summary.inference.length) {
    lines.push(
      'Inference, generator forward per image (seconds; cutjs: `cutjs translate --backend webgpu`, PNG decode and encode included, median after the first image; PyTorch: the forward alone, synchronised):',
      '',
    );
    lines.push('| size | cutjs webgpu | PyTorch | ratio |', '|---|---|---|---|');
    for (const i of summary.inference) lines.push(`| ${i.size} | ${fmt(i.ours)} | ${fmt(i.reference)} | ${fmt(ratio(i.ours, i.reference))} |`);
    lines.push('');
  }
  if (summary.kernels.length) {
    lines.push(
      'Kernels on webgpu (median ms, each call waited for on the queue):',
      '',
      '| kernel | shape | forward | filter grad | input grad | GFLOP/s forward |',
      '|---|---|---|---|---|---|',
    );
    for (const k of summary.kernels) {
      lines.push(
        `| ${k.label} | ${k.shape} | ${fmt(k.forwardMs)} | ${fmt(k.filterGradMs ?? k.gradMs)} | ${fmt(k.inputGradMs)} | ${k.gflop ? fmt(k.gflop / (k.forwardMs / 1000)) : '–'} |`,
      );
    }
    lines.push('');
  }
  if (summary.counts) lines.push('GPU work per training iteration (bench/gpu/count.mjs):', '', '```', JSON.stringify(summary.counts), '```', '');
  if (summary.skipped.length) lines.push(`Skipped: ${summary.skipped.join('; ')}`, '');
  lines.push(`Run took ${summary.seconds} s.`);
  writeFileSync(join(OUT, 'summary.md'), `${lines.join('\n')}\n`);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(LOG, '');
  const self = fileURLToPath(import.meta.url);
  const tmp = mkdtempSync(join(os.tmpdir(), 'cut-gpu-'));
  const smallFlag = SMALL ? ['--small'] : [];

  // 0. the adapter
  await child('WebGPU adapter', process.execPath, [self, 'adapter', '--root', ROOT], {
    limitS: 60,
    onLine: (l) => events(l)?.event === 'adapter' && (summary.adapter = events(l)),
  });
  const a = summary.adapter;
  say(`adapter: ${a?.found ? `${a.vendor} / ${a.architecture} / ${a.description}${a.software ? ' (software)' : ''}` : 'none'}`);
  let webgpu = true;
  if (!a?.found) {
    webgpu = false;
    summary.skipped.push('cutjs on webgpu: Dawn found no WebGPU adapter (see run.log; is the Vulkan loader or NVIDIA ICD missing?)');
  } else if (a.software && !SMALL) {
    webgpu = false;
    summary.skipped.push(`cutjs on webgpu: only a software adapter (${a.description}); the NVIDIA Vulkan driver was not found`);
  }

  // The reference's Python: versions and CUDA.
  const hasReference = existsSync(join(REFERENCE, 'train.py'));
  if (!hasReference) summary.skipped.push('PyTorch: the bundle has no reference (packed with --no-reference)');
  else {
    const r = await child('python check', PYTHON, [DRIVER, 'check'], {
      limitS: 60,
      onLine: (l) => events(l)?.event === 'versions' && (summary.python = events(l)),
    });
    if (!r.ok) summary.skipped.push(`PyTorch: ${PYTHON} ${DRIVER} check failed: ${r.tail.trim().split('\n').at(-1)}`);
  }
  const reference = hasReference && summary.python !== null;
  const gpu = Boolean(summary.python?.cuda);
  if (reference && !gpu && !SMALL) summary.skipped.push('PyTorch has no CUDA here: the reference ran on the CPU');
  writeSummary();

  // 1. kernels
  if (webgpu && !settings.skip.has('kernels')) {
    await child('kernels on webgpu', process.execPath, [self, 'kernels', '--root', ROOT, ...smallFlag], {
      limitS: SMALL ? 120 : 60,
      onLine: (l) => events(l)?.event === 'kernel' && summary.kernels.push(events(l)),
    });
    writeSummary();
  }

  // 2. training at batch 1, ours then the reference, per configuration (batch 1 first, then the
  // generator's inference, then batch 4: the order of what a run cut short should keep)
  let checkpoint = null;
  const trainConfig = async (cfg) => {
    const entry = { mode: cfg.mode, batch: cfg.batch, ours: null, reference: null, ratio: null };
    summary.train.push(entry);
    if (webgpu && !settings.skip.has('train')) {
      const dir = join(tmp, `ours-${cfg.mode}-${cfg.batch}`);
      entry.ours = await oursTrain(cfg, dir);
      const g = join(dir, 'ours', 'latest_net_G.pth');
      if (!checkpoint && existsSync(g)) checkpoint = join(dir, 'ours');
    }
    writeSummary();
    if (reference && !settings.skip.has('reference')) {
      const dir = join(tmp, `ref-${cfg.mode}-${cfg.batch}`);
      entry.reference = await referenceTrain(cfg, dir, gpu);
      rmSync(dir, { recursive: true, force: true });
    }
    entry.ratio = ratio(entry.ours?.secondsPerIter, entry.reference?.secondsPerIter);
    writeSummary();
  };
  for (const cfg of configs.filter((c) => c.batch === 1)) await trainConfig(cfg);

  // 3. inference: the reference generator's weights, timed on both sides
  if (!settings.skip.has('translate')) {
    const sizes = SMALL ? [32, 64] : [256, 1024];
    let weights = checkpoint;
    const refTimes = {};
    if (reference) {
      const g = join(tmp, 'reference_net_G.pth');
      await child(
        `reference generator forward (${gpu ? 'CUDA' : 'CPU'})`,
        PYTHON,
        [
          DRIVER,
          'infer',
          '--ref',
          REFERENCE,
          '--threads',
          String(torchThreads),
          '--sizes',
          sizes.join(','),
          '--warmup',
          '1',
          '--repeats',
          '5',
          '--save-g',
          g,
          '--device',
          gpu ? 'cuda' : 'cpu',
          ...(SMALL ? ['--ngf', '8', '--netG', 'resnet_6blocks'] : []),
        ],
        {
          limitS: 90,
          cwd: REFERENCE,
          onLine: (l) => {
            const e = events(l);
            if (e?.event === 'forward' && !e.warmup) (refTimes[e.size] ??= []).push(e.seconds);
          },
        },
      );
      if (existsSync(g)) weights = g;
    }
    if (webgpu && weights) {
      const sharp = (await import('sharp')).default;
      const images = readdirSync(join(DATAROOT, 'testA'))
        .filter((f) => /\.(jpe?g|png)$/i.test(f))
        .slice(0, SMALL ? 3 : 5);
      for (const size of sizes) {
        const dir = join(tmp, `in-${size}`);
        mkdirSync(dir, { recursive: true });
        for (const f of images)
          await sharp(join(DATAROOT, 'testA', f))
            .resize(size, size)
            .png()
            .toFile(join(dir, f.replace(/\.\w+$/, '.png')));
        const times = [];
        let last = null;
        const netArgs = weights.endsWith('.pth') ? (SMALL ? ['--ngf', '8', '--netG', 'resnet_6blocks'] : []) : [];
        await child(
          `cutjs translate ${size}x${size} (webgpu)`,
          process.execPath,
          [CLI, 'translate', dir, '--checkpoint', weights, '--out', join(tmp, `out-${size}`), '--backend', 'webgpu', '--tile', '0', ...netArgs],
          {
            limitS: SMALL ? 90 : 60,
            onLine: (line, at) => {
              if (/^(model|backend): /.test(line)) last = at;
              else if (/ -> .*\(\d+x\d+, /.test(line)) {
                times.push(at - (last ?? at));
                last = at;
              }
            },
          },
        );
        summary.inference.push({
          size,
          ours: median(times.slice(1)),
          oursFirst: times[0] ?? null,
          images: times.length,
          reference: median(refTimes[size] ?? []),
        });
        writeSummary();
      }
    } else if (webgpu) summary.skipped.push('translate: no generator weights (no reference and no finished training run)');
  }
  // 4. training at batch 4
  for (const cfg of configs.filter((c) => c.batch !== 1)) await trainConfig(cfg);

  // 5. GPU work per iteration (dispatches, uploads, readbacks)
  if (webgpu && !settings.skip.has('count')) {
    await child(
      'dispatches per training iteration',
      process.execPath,
      [join(ROOT, 'bench/gpu/count.mjs'), '--iters', '3', ...(SMALL ? ['--small'] : ['--crop', '256'])],
      {
        limitS: SMALL ? 150 : 45,
        onLine: (l) => events(l)?.event === 'counts' && (summary.counts = events(l)),
      },
    );
    writeSummary();
  }

  rmSync(tmp, { recursive: true, force: true });
  writeSummary();
  say(readFileSync(join(OUT, 'summary.md'), 'utf8'));
  // --small is the script's own check: each step it ran must have produced its numbers.
  if (SMALL) {
    const missing = [];
    if (!summary.adapter?.found) missing.push('adapter');
    if (webgpu && !settings.skip.has('kernels') && summary.kernels.length !== 4) missing.push('kernels');
    if (webgpu && !settings.skip.has('count') && !summary.counts) missing.push('counts');
    for (const t of summary.train) {
      if (webgpu && !settings.skip.has('train') && !(t.ours?.secondsPerIter > 0)) missing.push(`cutjs ${t.mode} batch ${t.batch}`);
      if (reference && !settings.skip.has('reference') && !(t.reference?.secondsPerIter > 0)) missing.push(`reference ${t.mode} batch ${t.batch}`);
    }
    if (webgpu && !settings.skip.has('translate') && !(summary.inference.length && summary.inference.every((i) => i.ours > 0)))
      missing.push('translate');
    if (missing.length) {
      console.error(`run.mjs --small: no result from ${missing.join(', ')} (see ${LOG})`);
      process.exit(1);
    }
  }
}

const mode = argv[0];
if (mode === 'adapter') await adapterMode();
else if (mode === 'kernels') await kernelsMode();
else await main();
