// Run by tools/release/check.sh in a fresh npm project: the packed @cut/core-tensors and
// @cut/nce-loss from ESM, checked against PyTorch's PatchNCE loss and gradient for the golden case
// patchnce_b1_np4_d8 (golden.json, from fixtures/golden/patchnce_dim8.json).
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { activateBackend } from '@cut/core-tensors';
import { patchNCELoss } from '@cut/nce-loss';

const golden = JSON.parse(readFileSync(new URL('./golden.json', import.meta.url), 'utf8'));
await activateBackend('cpu');
const q = tf.tensor2d(golden.featQ, [4, 8]);
const k = tf.tensor2d(golden.featK, [4, 8]);
const opts = { batchSize: 1, temperature: 0.07 };
const loss = await patchNCELoss(q, k, opts).data();
const grad = await tf
  .grad((x) => tf.mean(patchNCELoss(x, k, opts)))(q)
  .data();
const dev = (a, b) => Math.max(...b.map((v, i) => Math.abs(a[i] - v)));
const dLoss = dev(loss, golden.loss);
const dGrad = dev(grad, golden.gradQ);
console.log(`esm: loss [${Array.from(loss, (v) => v.toFixed(6))}] (max |Δ| ${dLoss.toExponential(2)}), grad max |Δ| ${dGrad.toExponential(2)}`);
if (!(dLoss <= 1e-5 && dGrad <= 1e-5)) {
  console.error('esm: MISMATCH against PyTorch');
  process.exit(1);
}
