// Where a CUT training iteration spends its time, kernel by kernel, on the wasm backend with
// @cut/native-kernels' convolutions (CUT_NATIVE=0: without). Every kernel registered for wasm is
// wrapped with a timer (wasm kernels run synchronously, so a call's wall time is its cost;
// composite kernels count their inner kernels too, shown as "incl."). After a build:
//   node bench/kernel-profile.mjs [--crop 256] [--iters 2] [--mode FastCUT]   (one warm-up iteration first)
//   --shapes Conv2D,Multiply   also split those kernels' time by input shapes and attributes
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadBackend } from '../packages/backends/dist/index.js';
import { BatchLoader, CUTModel, UnalignedDataset, validateOptions } from '../packages/trainer/dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const crop = Number(arg('--crop', '256'));
const iters = Number(arg('--iters', '2'));
const byShape = new Set((arg('--shapes', '') ?? '').split(',').filter(Boolean));
const shapeTotals = new Map();

const info = await loadBackend('wasm');
console.log(`backend: ${info.name} — ${info.detail}`);

const totals = new Map();
let depth = 0;
let measuring = false;
/** The most bytes held by live tensors after any kernel call (the heap's floor). */
let peakBytes = 0;
for (const config of tf.getKernelsForBackend('wasm')) {
  const inner = config.kernelFunc;
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      const t0 = performance.now();
      depth++;
      try {
        return inner(args);
      } finally {
        depth--;
        if (depth === 0) peakBytes = Math.max(peakBytes, tf.memory().numBytes);
        if (measuring) {
          const e = totals.get(config.kernelName) ?? { ms: 0, calls: 0, nested: 0 };
          const ms = performance.now() - t0;
          if (depth === 0) e.ms += ms;
          else e.nested += ms;
          e.calls++;
          totals.set(config.kernelName, e);
          if (byShape.has(config.kernelName)) {
            const { strides, pad, axis, paddings } = args.attrs ?? {};
            const key = `${config.kernelName} ${Object.entries(args.inputs)
              .map(([k, t]) => `${k}[${t.shape}]`)
              .join(' ')} ${JSON.stringify({ strides, pad, axis, paddings })}`;
            const s = shapeTotals.get(key) ?? { ms: 0, calls: 0 };
            s.ms += ms;
            s.calls++;
            shapeTotals.set(key, s);
          }
        }
      }
    },
  });
}

const opts = validateOptions(
  {
    CUT_mode: arg('--mode', 'CUT'),
    dataroot: fileURLToPath(new URL('../datasets/horse2zebra_demo', import.meta.url)),
    crop_size: crop,
    load_size: Math.round((crop * 286) / 256),
    seed: 0,
  },
  'bench/kernel-profile',
);
const dataset = await UnalignedDataset.create(opts);
const model = new CUTModel(opts);
const loader = new BatchLoader(dataset, { seed: 1 });
let wall = 0;
for (let i = 0; i < 1 + iters; i++) {
  measuring = i > 0;
  const batch = await loader.next();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  const realA = tf.tensor4d(batch.A, batch.shapeA);
  const realB = tf.tensor4d(batch.B, batch.shapeB);
  model.optimizeParameters(realA, realB);
  await model.currentLosses();
  tf.dispose([realA, realB]);
  const s = (performance.now() - t0) / 1000;
  if (measuring) wall += s;
  const faults = process.resourceUsage().minorPageFault - faults0;
  console.log(
    `iteration ${i + 1}${i === 0 ? ' (warm-up)' : ''}: ${s.toFixed(2)} s, ${faults} page faults, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB, wasm heap ${(tf.backend().wasm.HEAPU8.buffer.byteLength / 2 ** 30).toFixed(2)} GiB, live tensors at most ${(peakBytes / 2 ** 30).toFixed(2)} GiB`,
  );
}
loader.close();
model.dispose();
const kernelMs = [...totals.values()].reduce((a, e) => a + e.ms, 0);
console.log(
  `CPU: ${os.cpus()[0]?.model} x${os.cpus().length}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; crop ${crop}, ${iters} iterations: ${(wall / iters).toFixed(2)} s/iter, kernels ${(kernelMs / 1000 / iters).toFixed(2)} s/iter`,
);
console.table(
  [...totals.entries()]
    .sort((a, b) => b[1].ms + b[1].nested - (a[1].ms + a[1].nested))
    .slice(0, 20)
    .map(([name, e]) => ({
      kernel: name,
      's/iter': +(e.ms / 1000 / iters).toFixed(3),
      '% of iteration': +((100 * e.ms) / 1000 / wall).toFixed(1),
      'calls/iter': e.calls / iters,
      'incl. inside others s/iter': +(e.nested / 1000 / iters).toFixed(3),
    })),
);
if (shapeTotals.size) {
  console.table(
    [...shapeTotals.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 40)
      .map(([key, e]) => ({ 'kernel, inputs, attributes': key, 's/iter': +(e.ms / 1000 / iters).toFixed(3), 'calls/iter': e.calls / iters })),
  );
}
