// Soak test of training: many iterations of a small CUT configuration through
// CUTModel.optimizeParameters on real batches from the BatchLoader, recording the live tensor
// count and RSS after every iteration. Fails (exit 1) when the tensor count moves after the
// first iteration (a leak) or a loss is not finite.
// Run with `pnpm bench:soak` (builds first) or `node bench/soak.mjs` after a build.
// Writes bench/results/soak.json and the "Soak" section of bench/README.md.
// Flags: --iterations N (default 200), --backend wasm|cpu (default wasm),
// --readme-only (rewrite the README section from the saved JSON).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../packages/backends/dist/index.js';
import { BatchLoader, CUTModel, UnalignedDataset, validateOptions } from '../packages/trainer/dist/index.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const require = createRequire(import.meta.url);
const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const iterations = Number(argValue('--iterations', 200));
const backend = argValue('--backend', 'wasm');
const readmeOnly = process.argv.includes('--readme-only');
const jsonPath = here('./results/soak.json');
const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);
const mib = (bytes) => Math.round(bytes / 2 ** 20);

/** Waits (up to `limitS`) until the 1-minute load average is below `max`, so timings mean something. */
async function waitForQuietMachine(max = 2.5, limitS = 900) {
  const t0 = Date.now();
  while (os.loadavg()[0] >= max && Date.now() - t0 < limitS * 1000) {
    console.log(`load average ${loadAverage()[0]} >= ${max}: waiting`);
    await new Promise((r) => setTimeout(r, 15000));
  }
  return loadAverage();
}

const config = {
  CUT_mode: 'CUT',
  dataroot: here('../datasets/horse2zebra_demo'),
  load_size: 72,
  crop_size: 64,
  ngf: 16,
  ndf: 16,
  netG: 'resnet_6blocks',
  netF_nc: 64,
  num_patches: 64,
  seed: 0,
};

async function soak() {
  // As cutjs runs it: on wasm with the native kernels (CUT_NATIVE=0: without).
  const info = await loadBackend(backend);
  console.log(`backend: ${info.name} — ${info.detail}`);
  const opts = validateOptions(config, 'soak');
  const dataset = await UnalignedDataset.create(opts);
  const model = new CUTModel(opts);
  const loader = new BatchLoader(dataset, { seed: 1 });
  const loadAverageAtStart = await waitForQuietMachine();
  const tensorsBefore = tf.memory().numTensors;
  const rssStart = process.memoryUsage().rss;
  const perIter = [];
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const batch = await loader.next();
    const realA = tf.tensor4d(batch.A, batch.shapeA);
    const realB = tf.tensor4d(batch.B, batch.shapeB);
    model.optimizeParameters(realA, realB);
    const losses = await model.currentLosses(); // waits for the step
    tf.dispose([realA, realB]);
    const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
    perIter.push({
      seconds: (performance.now() - t) / 1000,
      numTensors: tf.memory().numTensors,
      rss: process.memoryUsage().rss,
      ...(bad ? { nonFinite: bad[0] } : {}),
    });
    if ((i + 1) % 20 === 0) console.log(`iteration ${i + 1}: ${tf.memory().numTensors} tensors, RSS ${mib(process.memoryUsage().rss)} MiB`);
  }
  const seconds = (performance.now() - t0) / 1000;
  loader.close();
  const tensors = perIter.map((r) => r.numTensors);
  const after1 = tensors.slice(1);
  model.dispose();
  const rss = perIter.map((r) => r.rss);
  return {
    machine: {
      cpu: os.cpus()[0]?.model.trim(),
      cores: os.cpus().length,
      node: process.version,
      tfjs: require('@tensorflow/tfjs-core/package.json').version,
      backend,
      nativeConvolutions: native,
      wasmThreads: backend === 'wasm' ? 1 : undefined,
      date: new Date().toISOString(),
      loadAverageAtStart,
      loadAverageAtEnd: loadAverage(),
    },
    config,
    iterations,
    secondsTotal: seconds,
    secondsPerIter: seconds / iterations,
    secondsPerIterAfterFirst: (seconds - perIter[0].seconds) / (iterations - 1),
    tensors: {
      beforeFirst: tensorsBefore,
      first: tensors[0],
      last: tensors.at(-1),
      minAfterFirst: Math.min(...after1),
      maxAfterFirst: Math.max(...after1),
      afterDispose: tf.memory().numTensors,
    },
    rss: { start: rssStart, afterFirst: rss[0], end: rss.at(-1), max: Math.max(...rss) },
    flat: after1.every((n) => n === tensors[0]),
    nonFinite: perIter.filter((r) => r.nonFinite).length,
    perIteration: perIter.map((r) => [Math.round(r.seconds * 1000) / 1000, r.numTensors, mib(r.rss)]),
  };
}

let report;
if (readmeOnly) report = JSON.parse(readFileSync(jsonPath, 'utf8'));
else {
  report = await soak();
  mkdirSync(here('./results'), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 1)}\n`);
}

const { machine, tensors, rss } = report;
const c = report.config;
const section = `## Soak

\`node bench/soak.mjs\` (run by \`pnpm bench:soak\`): ${report.iterations} training iterations
(\`CUTModel.optimizeParameters\` + \`currentLosses\`, batches from the prefetching \`BatchLoader\`)
of CUT with crop ${c.crop_size} (load ${c.load_size}), ngf ${c.ngf}, ndf ${c.ndf}, ${c.netG}, netF_nc ${c.netF_nc},
num_patches ${c.num_patches}, seed ${c.seed}, on \`datasets/horse2zebra_demo\`; ${machine.backend}${machine.wasmThreads ? ` (${machine.wasmThreads} thread)` : ''}${machine.nativeConvolutions && machine.nativeConvolutions !== 'n/a' ? `, native convolutions: ${machine.nativeConvolutions}` : ''},
tfjs ${machine.tfjs}, ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, ${machine.date.slice(0, 10)},
load average ${machine.loadAverageAtStart[0]} at the start, ${machine.loadAverageAtEnd[0]} at the end.
The script fails when the tensor count after any iteration differs from the count after the first.

| iterations | tensors after iteration 1 | after the last | min / max after iteration 1 | RSS at start | RSS after iteration 1 | RSS at the end (max) | s/iter (after the first) |
|---|---|---|---|---|---|---|---|
| ${report.iterations} | ${tensors.first} | ${tensors.last} | ${tensors.minAfterFirst} / ${tensors.maxAfterFirst} | ${mib(rss.start)} MiB | ${mib(rss.afterFirst)} MiB | ${mib(rss.end)} MiB (${mib(rss.max)} MiB) | ${report.secondsPerIterAfterFirst.toFixed(3)} |

Tensor count: ${report.flat ? 'flat' : '**NOT flat**'} (${tensors.beforeFirst} before the first iteration: weights; the first adds
F's MLPs and the Adam moments; ${tensors.afterDispose} after \`model.dispose()\`). Non-finite losses: ${report.nonFinite}.
Per-iteration seconds, tensors and RSS (MiB): \`bench/results/soak.json\`.
`;

const readmePath = here('./README.md');
let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
const start = readme.indexOf('## Soak');
if (start >= 0) {
  const next = readme.indexOf('\n## ', start + 1);
  readme = readme.slice(0, start) + section + (next >= 0 ? `\n${readme.slice(next + 1)}` : '');
} else readme = `${readme.trimEnd()}\n\n${section}`;
writeFileSync(readmePath, readme);
console.log(
  `tensors: first ${tensors.first}, last ${tensors.last}, min ${tensors.minAfterFirst}, max ${tensors.maxAfterFirst}; ` +
    `RSS ${mib(rss.start)} -> ${mib(rss.end)} MiB; ${report.secondsPerIterAfterFirst.toFixed(3)} s/iter`,
);
if (!report.flat) {
  console.error('soak: FAILED: the tensor count changed after the first iteration (a leak)');
  process.exitCode = 1;
}
if (report.nonFinite > 0) {
  console.error(`soak: FAILED: ${report.nonFinite} iterations had a non-finite loss`);
  process.exitCode = 1;
}
