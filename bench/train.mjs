// Training speed: seconds per iteration and peak RSS of CUT and FastCUT at the reference's
// default sizes (ngf 64, resnet_9blocks, ndf 64, netF_nc 256, num_patches 256, batch 1) at crop
// 128 and 256, on the wasm and cpu backends. Every configuration runs in its own child process
// (so peak RSS values don't mix) under a time limit; one that can't finish is recorded as
// "not measured" with what it did get done (the generator forward time, the elapsed time of
// the iteration it was killed in).
// Run with `pnpm bench:train` (builds first) or `node bench/train.mjs` after a build.
// Writes bench/results/train.json and the "Training (seconds per iteration)" section of
// bench/README.md. Flags: --backends wasm,cpu  --modes CUT,FastCUT  --crops 128,256
// --cpu-limit S (wall seconds for the whole cpu set, default 600)  --wasm-limit S (per
// configuration, default 600)  --readme-only (rewrite the README section from the saved JSON).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const require = createRequire(import.meta.url);
const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const emit = (event) => console.log(`@@${JSON.stringify(event)}`);

/** Peak resident set size of this process in bytes (the kernel's high-water mark). */
const peakRss = () => process.resourceUsage().maxRSS * 1024;

// --- child: one configuration ---------------------------------------------------------------

async function child(spec) {
  const tf = await import('@tensorflow/tfjs-core');
  const { loadBackend } = await import('../packages/backends/dist/index.js');
  const { BatchLoader, CUTModel, UnalignedDataset, validateOptions } = await import('../packages/trainer/dist/index.js');
  // As cutjs runs it: on wasm with the native kernels where the addon loads (CUT_NATIVE=0: without).
  const backend = await loadBackend(spec.backend);
  const opts = validateOptions(
    {
      CUT_mode: spec.mode,
      dataroot: here('../datasets/horse2zebra_demo'),
      crop_size: spec.crop,
      load_size: spec.load,
      // The reference's defaults, spelled out.
      ngf: 64,
      ndf: 64,
      netG: 'resnet_9blocks',
      netF_nc: 256,
      num_patches: 256,
      batch_size: 1,
      seed: 0,
    },
    'bench/train',
  );
  const t0 = performance.now();
  const dataset = await UnalignedDataset.create(opts);
  const model = new CUTModel(opts);
  const loader = new BatchLoader(dataset, { seed: 1 });
  emit({ event: 'ready', seconds: (performance.now() - t0) / 1000, backend: backend.detail });

  // The generator's test-time forward on one image, as evidence when the iterations can't finish.
  const first = await loader.next();
  const x = tf.tensor4d(first.A, first.shapeA);
  let t = performance.now();
  const y = model.translate(x);
  await y.data();
  tf.dispose([x, y]);
  emit({ event: 'forward', seconds: (performance.now() - t) / 1000 });

  for (let i = 0; i < spec.warmup + spec.measuredIters; i++) {
    t = performance.now();
    emit({ event: 'start', iteration: i + 1 });
    const batch = await loader.next();
    const dataWait = (performance.now() - t) / 1000;
    const realA = tf.tensor4d(batch.A, batch.shapeA);
    const realB = tf.tensor4d(batch.B, batch.shapeB);
    model.optimizeParameters(realA, realB);
    const losses = await model.currentLosses(); // waits for the step
    tf.dispose([realA, realB]);
    emit({
      event: 'iteration',
      iteration: i + 1,
      warmup: i < spec.warmup,
      seconds: (performance.now() - t) / 1000,
      dataWait,
      losses,
      numTensors: tf.memory().numTensors,
    });
  }
  loader.close();
  model.dispose();
  emit({ event: 'done', peakRss: peakRss() });
}

// --- parent: every configuration in turn ----------------------------------------------------

/** Waits (up to `limitS`) until the 1-minute load average is below `max`, so timings mean something. */
async function waitForQuietMachine(max = 2.5, limitS = 600) {
  const t0 = Date.now();
  while (os.loadavg()[0] >= max && Date.now() - t0 < limitS * 1000) {
    console.log(`load average ${loadAverage()[0]} >= ${max}: waiting`);
    await new Promise((r) => setTimeout(r, 15000));
  }
  return loadAverage();
}

/** VmHWM (peak RSS) of a live process, in bytes, or null. */
function vmHwm(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Runs one configuration in a child process; kills it after `limitS` seconds. */
function runChild(spec, limitS) {
  return new Promise((resolve) => {
    const started = performance.now();
    const events = [];
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let killed = false;
    let hwmAtKill = null;
    // Sampled, so that a child that crashes (e.g. out of memory) still leaves a peak behind.
    let hwmSampled = null;
    const poll = setInterval(() => (hwmSampled = vmHwm(proc.pid) ?? hwmSampled), 1000);
    let stderr = '';
    let buffered = '';
    proc.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('@@')) continue;
        const e = { ...JSON.parse(line.slice(2)), at: (performance.now() - started) / 1000 };
        events.push(e);
        const what =
          e.event === 'iteration'
            ? `iteration ${e.iteration}${e.warmup ? ' (warm-up)' : ''}: ${e.seconds.toFixed(2)} s`
            : `${e.event}${e.seconds !== undefined ? ` ${e.seconds.toFixed(2)} s` : ''}`;
        console.log(`  ${spec.backend} ${spec.mode} ${spec.crop}: ${what}`);
      }
    });
    proc.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      killed = true;
      hwmAtKill = vmHwm(proc.pid);
      proc.kill('SIGKILL');
    }, limitS * 1000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({
        events,
        killed,
        hwmAtKill: hwmAtKill ?? hwmSampled,
        code,
        stderr: stderr.slice(-2000),
        wallSeconds: (performance.now() - started) / 1000,
      });
    });
  });
}

/** One configuration's record from its child's events. */
function summarize(spec, limitS, run, loadAverageAtStart) {
  const iterations = run.events.filter((e) => e.event === 'iteration');
  const measured = iterations.filter((e) => !e.warmup).map((e) => e.seconds);
  const forward = run.events.find((e) => e.event === 'forward');
  const done = run.events.find((e) => e.event === 'done');
  const record = {
    ...spec,
    limitSeconds: limitS,
    loadAverageAtStart,
    loadAverageAtEnd: loadAverage(),
    wallSeconds: run.wallSeconds,
    forwardSeconds: forward?.seconds ?? null,
    iterations: iterations.map(({ iteration, warmup, seconds, dataWait, numTensors }) => ({ iteration, warmup, seconds, dataWait, numTensors })),
    losses: iterations.at(-1)?.losses ?? null,
  };
  if (done && measured.length > 0) {
    return { ...record, measured: true, secondsPerIter: median(measured), peakRss: done.peakRss };
  }
  // Not finished: say how far it got, and how long the unfinished iteration had been running.
  const lastStart = run.events.filter((e) => e.event === 'start').at(-1);
  const lastDone = iterations.at(-1);
  const inFlight =
    lastStart && (!lastDone || lastDone.iteration < lastStart.iteration)
      ? { iteration: lastStart.iteration, elapsedSeconds: run.wallSeconds - lastStart.at }
      : null;
  return {
    ...record,
    measured: false,
    reason: run.killed ? `time limit ${Math.round(limitS)} s` : `exited with code ${run.code}: ${run.stderr.trim().split('\n').at(-1) ?? ''}`,
    stderrTail: run.killed ? undefined : run.stderr,
    // wasm32's heap ends at 4 GiB; malloc failing there surfaces as an out-of-bounds access.
    failure: /memory access out of bounds|Cannot enlarge memory|Out of memory/i.test(run.stderr) ? 'out of wasm memory (4 GiB heap)' : undefined,
    forwardElapsedSeconds: forward ? null : run.wallSeconds - (run.events.find((e) => e.event === 'ready')?.at ?? 0),
    inFlight,
    peakRssSoFar: run.hwmAtKill,
  };
}

async function parent() {
  const backends = argValue('--backends', 'wasm,cpu').split(',');
  const modes = argValue('--modes', 'CUT,FastCUT').split(',');
  const crops = argValue('--crops', '128,256').split(',').map(Number);
  const cpuLimit = Number(argValue('--cpu-limit', 600));
  const wasmLimit = Number(argValue('--wasm-limit', 600));
  const jsonPath = here('./results/train.json');
  const previous = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : null;
  const runs = [];
  for (const backend of backends) {
    const specs = [];
    for (const crop of crops)
      for (const mode of modes) {
        // 286/256 of the crop, the reference's default ratio; it doesn't change the step's cost.
        const load = Math.round((crop * 286) / 256);
        const big = crop >= 256;
        specs.push({ backend, mode, crop, load, warmup: 1, measuredIters: big ? 1 : 2 });
      }
    for (const spec of specs) {
      const limitS = backend === 'cpu' ? cpuLimit / specs.length : wasmLimit;
      const loadAtStart = await waitForQuietMachine();
      console.log(`${backend} ${spec.mode} crop ${spec.crop} (load average ${loadAtStart[0]}, limit ${Math.round(limitS)} s)`);
      const run = await runChild(spec, limitS);
      runs.push(summarize(spec, limitS, run, loadAtStart));
    }
  }
  // Keep earlier results of configurations not re-run now.
  const key = (r) => `${r.backend} ${r.mode} ${r.crop}`;
  const kept = (previous?.runs ?? []).filter((r) => !runs.some((n) => key(n) === key(r)));
  const cpus = os.cpus();
  return {
    machine: {
      cpu: cpus[0]?.model.trim(),
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      tfjs: require('@tensorflow/tfjs-core/package.json').version,
      wasmThreads: 1,
      date: new Date().toISOString(),
    },
    runs: [...kept, ...runs],
  };
}

// --- README section -------------------------------------------------------------------------

const gb = (bytes) => `${(bytes / 1e9).toFixed(1)} GB`;
const secs = (s) => (s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2));

function section(report) {
  const { machine } = report;
  const order = (r) => [r.backend === 'wasm' ? 0 : 1, r.crop === 256 ? 0 : 1, r.mode === 'CUT' ? 0 : 1];
  const runs = [...report.runs].sort((a, b) => {
    const x = order(a);
    const y = order(b);
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  const rows = runs.map((r) => {
    const name = `${r.mode}, crop ${r.crop}`;
    const load = `${r.loadAverageAtStart[0]} / ${r.loadAverageAtEnd[0]}`;
    const fwd = r.forwardSeconds !== null ? secs(r.forwardSeconds) : `not finished in ${secs(r.forwardElapsedSeconds)} s`;
    if (r.measured) {
      const n = r.iterations.filter((i) => !i.warmup).length;
      const of = n === 1 ? '1 measured' : `median of ${n}`;
      return [name, r.backend, `**${secs(r.secondsPerIter)}** (${of}; warm-up ${secs(r.iterations[0].seconds)})`, gb(r.peakRss), fwd, load];
    }
    const evidence = r.inFlight ? `iteration ${r.inFlight.iteration} unfinished after ${secs(r.inFlight.elapsedSeconds)} s` : 'no iteration started';
    const why = r.reason.startsWith('time limit') ? `> ${secs(r.limitSeconds)} s` : `failed, ${r.failure ?? r.reason}`;
    const peak = r.peakRssSoFar
      ? `≥ ${gb(r.peakRssSoFar)} (${r.reason.startsWith('time limit') ? 'when stopped' : 'last sample before the crash'})`
      : '–';
    return [name, r.backend, `not measured: ${why} (${evidence})`, peak, fwd, load];
  });
  const header = ['run', 'backend', 'seconds per iteration', 'peak RSS', 'G forward, 1 image (s)', 'load avg start / end'];
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  return `## Training (seconds per iteration)

\`node bench/train.mjs\` (run by \`pnpm bench:train\`): CUT and FastCUT at the reference's default
sizes (resnet_9blocks, ngf 64, ndf 64, netF_nc 256, num_patches 256, batch 1, float32, seed 0),
real batches from the prefetching \`BatchLoader\` on \`datasets/horse2zebra_demo\` (load size
286/256 of the crop). One iteration = \`optimizeParameters\` + \`currentLosses\` (which waits for it)
+ the wait for the batch; the first iteration (which also runs \`dataDependentInitialize\`) is a
warm-up. Each configuration runs in its own child process; peak RSS is that process's
\`maxRSS\` (or VmHWM when it was stopped). Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB,
Node ${machine.node}, tfjs ${machine.tfjs}, wasm with ${machine.wasmThreads} thread (SIMD), ${machine.date.slice(0, 10)}.
Other processes shared the machine (a configuration started only once the 1-minute load
average was below 2.5; it is given per row, at the start and the end of its run).
Per-iteration times: \`bench/results/train.json\`.

${table}

"G forward" is the generator's test-time forward on one image of the run's crop size, timed
before the iterations. The cpu backend (tfjs-backend-cpu, plain JavaScript kernels) is far too
slow for these sizes (its convolutions run at 0.15–0.35 GFLOP/s, its filter gradient reads every
element through \`TensorBuffer.get\`); each of its rows says how far that configuration got within
its time limit (the "> N s"), so a measured cpu row at crop 256 would take hours. The cpu backend is
the tests' correctness reference, not a training backend.
${runs
  .filter((r) => r.failure)
  .map(
    (r) =>
      `\n${r.mode} at crop ${r.crop} on ${r.backend} failed: ${r.failure}; wasm32 can't address more than 4 GiB, and this step's tape does not fit (the error and the peak sampled before it: \`bench/results/train.json\`).`,
  )
  .join('\n')}

For comparison, the reference (PyTorch 1.13 CPU, batch 1, float32, same machine class: 2 cores,
no GPU), **taken from \`/work/shared/reference/README.md\`, not re-measured here** (medians after
the first three iterations; another process used about one core during those runs):

| run | torch threads | seconds per iteration | peak RSS |
|---|---|---|---|
| CUT, crop 256 | 1 | 21.1 | 3.1 GB |
| CUT, crop 256 | 2 | 13.6 | 3.1 GB |
| FastCUT, crop 256 | 1 | 10.8 | 2.3 GB |
| CUT, crop 128 | 1 | 6.5 | 1.2 GB |
| generator forward only, 256x256, eval | 1 | 1.84 per image | |
`;
}

// --- main -----------------------------------------------------------------------------------

if (process.argv.includes('--child')) {
  await child(JSON.parse(argValue('--child')));
} else {
  const jsonPath = here('./results/train.json');
  let report;
  if (process.argv.includes('--readme-only')) report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  else {
    report = await parent();
    mkdirSync(here('./results'), { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  }
  const readmePath = here('./README.md');
  let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
  const title = '## Training (seconds per iteration)';
  const text = section(report);
  const start = readme.indexOf(title);
  if (start >= 0) {
    const next = readme.indexOf('\n## ', start + 1);
    readme = readme.slice(0, start) + text + (next >= 0 ? `\n${readme.slice(next + 1)}` : '');
  } else readme = `${readme.trimEnd()}\n\n${text}`;
  writeFileSync(readmePath, readme);
  for (const r of report.runs) {
    console.log(
      `${r.backend} ${r.mode} ${r.crop}: ${r.measured ? `${r.secondsPerIter.toFixed(2)} s/iter, peak RSS ${gb(r.peakRss)}` : `not measured (${r.reason})`}`,
    );
  }
}
