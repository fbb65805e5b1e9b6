// Kernel benchmark for the wasm backend: the training kernels @cut/core-tensors adds or
// replaces, at CUT-sized shapes, each beside the forward convolution it belongs to.
// Run with `pnpm bench` (builds first) or `node bench/kernels.mjs` after
// `pnpm --filter @cut/core-tensors build`. Writes bench/results/kernels.json and the
// "Kernels (wasm)" section of bench/README.md. Flags: --quick (one round, for trying it
// out), --readme-only (rewrite the README section from the saved JSON, measuring nothing).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { activateBackend, originalKernel } from '../packages/core-tensors/dist/index.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const require = createRequire(import.meta.url);
const quick = process.argv.includes('--quick');
const readmeOnly = process.argv.includes('--readme-only');
const jsonPath = here('./results/kernels.json');
const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

const reps = quick ? 1 : 5;
const mid = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** CPU ms (this process; the kernels run on this thread) and wall ms of one call of `fn`. */
function timeOnce(fn) {
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  fn();
  const u = process.cpuUsage(u0);
  return { cpu: (u.user + u.system) / 1000, wall: performance.now() - t0 };
}

/**
 * Median times of several kernels measured round-robin (one call of each per round, after one
 * warm-up call each), so a slow spell of the machine hits all of them alike and their ratios
 * stay meaningful.
 */
function medians(fns, rounds = reps) {
  const names = Object.keys(fns);
  for (const name of names) fns[name]();
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) for (const name of names) runs[name].push(timeOnce(fns[name]));
  return Object.fromEntries(names.map((name) => [name, { cpu: mid(runs[name].map((t) => t.cpu)), wall: mid(runs[name].map((t) => t.wall)) }]));
}

/** Our kernel (whatever is registered for wasm now), through the engine as ops call it. */
const ours = (name, inputs, attrs) => () => tf.engine().runKernel(name, inputs, attrs).dispose();
/** wasm's own implementation of a kernel we replaced. */
const native = (name, inputs, attrs) => () => {
  const backend = tf.backend();
  const out = originalKernel(name, 'wasm')({ inputs, backend, attrs });
  backend.disposeData(out.dataId);
};
const rand = (shape) => tf.randomUniform(shape, -1, 1, 'float32', 7);

/** Runs every case; returns the machine description and the timings. */
async function measure() {
  const loadAverageAtStart = loadAverage();
  await activateBackend('wasm');
  const results = { conv: [], depthwise: [], segmentSum: [], matMul: [] };

  // Dense convolutions: forward, filter gradient, input gradient (ours and wasm's own).
  const convCases = [
    { name: 'ResnetBlock conv', x: [1, 64, 64, 256], k: 3, co: 256, stride: 1, pad: 'same' },
    { name: 'stride-2 down conv (no_antialias)', x: [1, 128, 128, 128], k: 3, co: 256, stride: 2, pad: 'same' },
    { name: 'stem conv 7x7 (reflect-padded)', x: [1, 262, 262, 3], k: 7, co: 64, stride: 1, pad: 'valid' },
    { name: 'head conv 7x7 (reflect-padded)', x: [1, 262, 262, 64], k: 7, co: 3, stride: 1, pad: 'valid' },
    {
      name: 'D conv 4x4 s2 p1 (no_antialias)',
      x: [1, 128, 128, 64],
      k: 4,
      co: 128,
      stride: 2,
      pad: [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
    },
  ];
  for (const c of convCases) {
    const x = rand(c.x);
    const w = rand([c.k, c.k, c.x[3], c.co]);
    const convAttrs = { strides: c.stride, pad: c.pad, dilations: 1, dataFormat: 'NHWC' };
    const y = tf.engine().runKernel('Conv2D', { x, filter: w }, convAttrs);
    const dy = rand(y.shape);
    y.dispose();
    const filterAttrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: w.shape };
    const inputAttrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
    const times = medians({
      forwardMs: ours('Conv2D', { x, filter: w }, convAttrs),
      filterGradMs: ours('Conv2DBackpropFilter', { x, dy }, filterAttrs),
      inputGradMs: ours('Conv2DBackpropInput', { dy, filter: w }, inputAttrs),
    });
    const row = {
      name: c.name,
      shape: `${c.x.join('x')} ${c.k}x${c.k} ${c.x[3]}->${c.co} s${c.stride} ${typeof c.pad === 'string' ? c.pad : 'pad 1'}`,
      ...times,
      // wasm's own input gradient is a scalar loop (seconds): one run.
      nativeInputGradMs: timeOnce(native('Conv2DBackpropInput', { dy, filter: w }, inputAttrs)),
    };
    results.conv.push(row);
    console.log(JSON.stringify(row));
    tf.dispose([x, w, dy]);
  }

  // Blur downsample (CUT's Downsample): reflect-padded input, depthwise 3x3 stride 2.
  for (const [h, c] of [
    [128, 128],
    [256, 64],
  ]) {
    const x = rand([1, h + 2, h + 2, c]);
    const f = tf.fill([3, 3, c, 1], 1 / 16);
    const attrs = { strides: 2, pad: 'valid', dilations: 1 };
    const y = tf.engine().runKernel('DepthwiseConv2dNative', { x, filter: f }, attrs);
    const dy = rand(y.shape);
    y.dispose();
    const row = {
      shape: `1x${h + 2}x${h + 2}x${c} 3x3 s2 valid`,
      ...medians({
        forwardMs: ours('DepthwiseConv2dNative', { x, filter: f }, attrs),
        inputGradMs: ours('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape }),
        filterGradMs: ours('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape }),
      }),
    };
    results.depthwise.push(row);
    console.log(JSON.stringify(row));
    tf.dispose([x, f, dy]);
  }

  // Gather (the patch sampler) and its gradient, UnsortedSegmentSum.
  for (const [pixels, c, rows] of [
    [64 * 64, 256, 256],
    [128 * 128, 256, 256],
    [256 * 256, 128, 256],
  ]) {
    const feat = rand([pixels, c]);
    const ids = tf.tensor1d(
      Array.from({ length: rows }, (_, i) => (i * 7919) % pixels),
      'int32',
    );
    const grad = rand([rows, c]);
    const row = {
      shape: `${rows} rows of ${c} into ${pixels} segments`,
      ...medians({
        gatherMs: ours('GatherV2', { x: feat, indices: ids }, { axis: 0, batchDims: 0 }),
        segmentSumMs: ours('UnsortedSegmentSum', { x: grad, segmentIds: ids }, { numSegments: pixels }),
      }),
    };
    results.segmentSum.push(row);
    console.log(JSON.stringify(row));
    tf.dispose([feat, ids, grad]);
  }

  // BatchMatMul: PatchNCE's q.k^T and the matmul gradients (transposed operands), batched.
  const matCases = [
    { name: 'plain 2-D', a: [256, 256], b: [256, 256], tA: false, tB: false },
    { name: 'q.k^T (transposeB)', a: [256, 256], b: [256, 256], tA: false, tB: true },
    { name: 'weight grad (transposeA)', a: [256, 256], b: [256, 256], tA: true, tB: false },
    { name: 'plain 2-D', a: [1024, 256], b: [256, 1024], tA: false, tB: false },
    { name: 'transposeB', a: [1024, 256], b: [1024, 256], tA: false, tB: true },
    { name: 'transposeA', a: [256, 1024], b: [256, 1024], tA: true, tB: false },
    { name: 'batched, transposeB', a: [4, 256, 256], b: [4, 256, 256], tA: false, tB: true },
  ];
  for (const c of matCases) {
    const a = rand(c.a);
    const b = rand(c.b);
    const attrs = { transposeA: c.tA, transposeB: c.tB };
    const m = c.tA ? c.a.at(-1) : c.a.at(-2);
    const k = c.tA ? c.a.at(-2) : c.a.at(-1);
    const n = c.tB ? c.b.at(-2) : c.b.at(-1);
    const batch = c.a.length > 2 ? c.a[0] : 1;
    // The same product as a plain 2-D matmul: the speed every case should approach.
    const a2 = rand([batch * m, k]);
    const b2 = rand([k, n]);
    const row = {
      name: c.name,
      shape: `${c.a.join('x')}${c.tA ? 'ᵀ' : ''} @ ${c.b.join('x')}${c.tB ? 'ᵀ' : ''}`,
      gflop: (2 * batch * m * k * n) / 1e9,
      ...medians(
        {
          plainMs: ours('BatchMatMul', { a: a2, b: b2 }, { transposeA: false, transposeB: false }),
          oursMs: ours('BatchMatMul', { a, b }, attrs),
          nativeMs: native('BatchMatMul', { a, b }, attrs),
        },
        quick ? 1 : 3,
      ),
    };
    results.matMul.push(row);
    console.log(JSON.stringify(row));
    tf.dispose([a, b, a2, b2]);
  }

  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    // Other processes on a shared machine inflate even CPU times (shared cores and caches).
    loadAverageAtStart,
    loadAverageAtEnd: loadAverage(),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    tfjs: require('@tensorflow/tfjs-core/package.json').version,
    wasmSimd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
    wasmThreads: 1,
    date: new Date().toISOString(),
  };
  return { machine, ...results };
}

let report;
if (readmeOnly) {
  report = JSON.parse(readFileSync(jsonPath, 'utf8'));
} else {
  report = await measure();
  mkdirSync(here('./results'), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
}
const { machine, ...results } = report;

// Markdown section for bench/README.md.
const round = (t) => (t.cpu >= 100 ? Math.round(t.cpu) : Math.round(t.cpu * 10) / 10);
const table = (header, rows) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const ratio = (a, b) => `${(a.cpu / b.cpu).toFixed(1)}x`;
const section = `## Kernels (wasm)

\`node bench/kernels.mjs\` (run by \`pnpm bench\`) on tfjs-backend-wasm ${machine.tfjs}, one thread,
SIMD ${machine.wasmSimd ? 'on' : 'off'}; ${machine.cpu} (${machine.cores} cores), Node ${machine.node},
${machine.date.slice(0, 10)}, load average ${machine.loadAverageAtStart[0]} at the start.
Median CPU ms of single kernel calls (the kernels run on the calling thread); the kernels of
one row are measured round-robin, so their ratios hold even when other processes slow the
machine down. Wall times and more: \`bench/results/kernels.json\`.
"ours" are the kernels of \`@cut/core-tensors\` (\`src/wasm/\`), installed by \`activateBackend('wasm')\`;
"native" is the wasm backend's own kernel we replaced.

### Convolution: forward and both gradients

${table(
  ['layer', 'shape', 'forward Conv2D', 'filter grad (ours)', 'input grad (ours)', 'input grad (native)'],
  results.conv.map((r) => [
    r.name,
    r.shape,
    round(r.forwardMs),
    `${round(r.filterGradMs)} (${ratio(r.filterGradMs, r.forwardMs)})`,
    `${round(r.inputGradMs)} (${ratio(r.inputGradMs, r.forwardMs)})`,
    `${round(r.nativeInputGradMs)} (${ratio(r.nativeInputGradMs, r.forwardMs)})`,
  ]),
)}

Ratios are to the forward convolution. wasm has no filter-gradient kernel of its own.

### Blur downsample (depthwise 3x3, stride 2)

${table(
  ['shape (padded input)', 'forward', 'input grad (ours)', 'filter grad (ours)'],
  results.depthwise.map((r) => [r.shape, round(r.forwardMs), round(r.inputGradMs), round(r.filterGradMs)]),
)}

The blur filters are constants, so training never asks for their filter gradient.

### Gather and its gradient (UnsortedSegmentSum)

${table(
  ['shape', 'GatherV2 (native)', 'UnsortedSegmentSum (ours)'],
  results.segmentSum.map((r) => [r.shape, round(r.gatherMs), round(r.segmentSumMs)]),
)}

### BatchMatMul

${table(
  ['case', 'shape', 'GFLOP', 'ours', 'native', 'plain 2-D of the same size'],
  results.matMul.map((r) => [
    r.name,
    r.shape,
    r.gflop.toFixed(3),
    round(r.oursMs),
    `${round(r.nativeMs)} (${ratio(r.nativeMs, r.oursMs)})`,
    round(r.plainMs),
  ]),
)}

"native" ratios are to ours. The last column is the untransposed, unbatched product of the
same size (wasm's one XNNPACK case, right operand packed once): what every case should approach.
`;

const readmePath = here('./README.md');
let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
const start = readme.indexOf('## Kernels (wasm)');
if (start >= 0) {
  const next = readme.indexOf('\n## ', start + 1);
  readme = readme.slice(0, start) + section + (next >= 0 ? `\n${readme.slice(next + 1)}` : '');
} else {
  readme = `${readme.trimEnd()}\n\n${section}`;
}
writeFileSync(readmePath, readme);
console.log(readmeOnly ? `wrote ${readmePath}` : `wrote ${jsonPath} and ${readmePath}`);
