// GFLOP/s of the convolutions that dominate CUT (forward, input gradient, filter gradient),
// tfjs-backend-wasm's kernels against @cut/native-kernels' oneDNN ones, in one process.
// Run after a build: `node bench/native-kernels.mjs [--threads 1,2] [--reps 5]`.
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../packages/backends/dist/index.js';
import { installNativeKernels, nativeKernelCalls, setNativeThreads } from '../packages/native-kernels/dist/index.js';
import os from 'node:os';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const threadList = arg('--threads', '1,2').split(',').map(Number);
const reps = Number(arg('--reps', '5'));

// [name, x shape, filter HWIO, stride, pad]
const SHAPES = [
  ['G res 3x3 64x64x256', [1, 64, 64, 256], [3, 3, 256, 256], 1, 1],
  ['G down 3x3 128x128 128->256', [1, 128, 128, 128], [3, 3, 128, 256], 1, 1],
  ['G stem 7x7 262x262 3->64', [1, 262, 262, 3], [7, 7, 3, 64], 1, 'valid'],
  ['G head 7x7 262x262 64->3', [1, 262, 262, 64], [7, 7, 64, 3], 1, 'valid'],
  ['D 4x4 s1 65x65 256->512', [1, 65, 65, 256], [4, 4, 256, 512], 1, 1],
];

/**
 * Seconds per call: the median wall time, and CPU time per call divided by the threads
 * (process.cpuUsage), which other processes on a busy machine disturb far less than wall time.
 */
let threadsNow = 1;
function time(fn) {
  tf.tidy(() => {
    fn().dataSync(); // (a block: tidy would walk a returned array element by element)
  }); // warm-up (primitive creation, packing)
  const t = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.tidy(() => {
      fn().dataSync(); // (a block: tidy would walk a returned array element by element)
    });
    t.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  t.sort((a, b) => a - b);
  return { wall: t[Math.floor(t.length / 2)] / 1000, cpu: (c.user + c.system) / 1e6 / reps / threadsNow };
}
const rate = (flops, s) => `${(flops / s.wall / 1e9).toFixed(0)} (${(flops / s.cpu / 1e9).toFixed(0)})`;

function measure(label) {
  const rows = [];
  for (const [name, xs, ws, stride, pad] of SHAPES) {
    const x = tf.randomNormal(xs);
    const w = tf.randomNormal(ws, 0, 0.05);
    const y = tf.conv2d(x, w, stride, pad);
    const dy = tf.randomNormal(y.shape);
    const flops = 2 * y.size * ws[0] * ws[1] * ws[2];
    const fwd = time(() => tf.conv2d(x, w, stride, pad));
    const dx = time(() =>
      tf.conv2dTranspose(
        dy,
        w,
        xs,
        stride,
        pad === 1
          ? [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]
          : pad,
      ),
    );
    const dw = time(() => tf.grad((ww) => tf.sum(tf.mul(tf.conv2d(x, ww, stride, pad), dy)))(w));
    rows.push({ kernels: label, shape: name, fwd: rate(flops, fwd), dx: rate(flops, dx), 'dw (incl. a fwd)': rate(2 * flops, dw) });
    tf.dispose([x, w, y, dy]);
  }
  return rows;
}

// Plain wasm first; the native kernels are installed after its rows.
await loadBackend('wasm', { nativeKernels: false });
console.log(
  `CPU: ${os.cpus()[0]?.model} x${os.cpus().length}; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; GFLOP/s, wall (per CPU-second of each thread), median of ${reps}`,
);
const rows = measure('wasm (1 thread)');
const status = installNativeKernels({ threads: threadList[0], quiet: true });
if (!status.active) console.log(`native kernels not available: ${status.reason}`);
else {
  for (const n of threadList) {
    setNativeThreads(n);
    threadsNow = n;
    rows.push(...measure(`oneDNN ${n} thread${n > 1 ? 's' : ''}`));
  }
  console.log('native calls', nativeKernelCalls());
}
console.table(rows);
