// One CUT training step per contrastive-loss option of the trainer (--nce_loss, --QS_mode), timed
// round-robin in one process (the options alternate, so load from other processes hits them alike).
// Run after `npx -y pnpm@12.4.2 build`: `CUT_NATIVE_THREADS=1 node bench/successor-losses.mjs` (the tiny
// configuration of the trainer README's short runs, wasm with the native convolutions when built).
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../packages/backends/dist/index.js';
import { CUTModel } from '../packages/trainer/dist/index.js';
const info = await loadBackend('wasm');
console.log(info.summary ?? info.name);
const base = { ngf: 8, ndf: 8, netF_nc: 32, num_patches: 32, load_size: 72, crop_size: 64, seed: 1 };
const configs = {
  patchnce: {},
  monce: { nce_loss: 'monce', eps: 0.1 },
  hdce: { nce_loss: 'hdce', dce_idt: true, lambda_HDCE: 0.1, lambda_SRC: 0.05, use_curriculum: true, HDCE_gamma: 50, HDCE_gamma_min: 10 },
  dce: { nce_loss: 'dce', dce_idt: true, lambda_HDCE: 0.1, lambda_SRC: 0.05 },
  qs_global: { QS_mode: 'global' },
};
const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 1);
const y = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 2);
const models = Object.fromEntries(Object.entries(configs).map(([k, c]) => [k, new CUTModel({ ...base, ...c })]));
for (const m of Object.values(models)) {
  m.optimizeParameters(x, y);
  m.optimizeParameters(x, y);
  await m.currentLosses();
}
const times = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
const ROUNDS = 6,
  STEPS = 5;
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, m] of Object.entries(models)) {
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) {
      m.optimizeParameters(x, y);
      await m.currentLosses();
    }
    times[k].push((performance.now() - t0) / STEPS / 1000);
  }
}
const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const ref = med(times.patchnce);
for (const [k, t] of Object.entries(times))
  console.log(
    `${k.padEnd(10)} median ${med(t).toFixed(4)} s/step  min ${Math.min(...t).toFixed(4)}  x${(med(t) / ref).toFixed(2)}  rounds ${t.map((v) => v.toFixed(3)).join(' ')}`,
  );
