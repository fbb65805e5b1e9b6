// The same check as patchnce-golden.mjs through require(): the packages' CommonJS builds.
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const { activateBackend } = require('@cut/core-tensors');
const { patchNCELoss } = require('@cut/nce-loss');
const golden = require('./golden.json');

async function main() {
  await activateBackend('cpu');
  const q = tf.tensor2d(golden.featQ, [4, 8]);
  const k = tf.tensor2d(golden.featK, [4, 8]);
  const opts = { batchSize: 1, temperature: 0.07 };
  const mean = await tf.mean(patchNCELoss(q, k, opts)).data();
  const grad = await tf
    .grad((x) => tf.mean(patchNCELoss(x, k, opts)))(q)
    .data();
  const dMean = Math.abs(mean[0] - golden.lossMean);
  const dGrad = Math.max(...golden.gradQ.map((v, i) => Math.abs(grad[i] - v)));
  console.log(`cjs: mean loss ${mean[0].toFixed(6)} (|Δ| ${dMean.toExponential(2)}), grad max |Δ| ${dGrad.toExponential(2)}`);
  if (!(dMean <= 1e-5 && dGrad <= 1e-5)) throw new Error('cjs: MISMATCH against PyTorch');

  // The other packages' CommonJS builds load too, and the demo photos are where the data package says.
  for (const name of ['@cut/patch-sampler', '@cut/networks', '@cut/trainer', '@cut/demo-data']) {
    console.log(`cjs: require('${name}'): ${Object.keys(require(name)).length} exports`);
  }
  const { readdirSync } = require('node:fs');
  const { join } = require('node:path');
  const { horse2zebraDemo } = require('@cut/demo-data');
  const counts = ['trainA', 'trainB', 'testA', 'testB'].map((d) => `${d} ${readdirSync(join(horse2zebraDemo, d)).length}`);
  console.log(`cjs: demo photos at ${horse2zebraDemo}: ${counts.join(', ')}`);
  if (counts.join() !== 'trainA 24,trainB 24,testA 5,testB 5') throw new Error('cjs: demo photos missing from @cut/demo-data');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
