// Compiled with strict TypeScript (tsconfig.json here) against the installed packages' types, then
// run: a few InfoNCE steps of a tiny SimCLR-style embedding with optimizer.minimize (no casts),
// the successors' losses (SRC + hDCE, MoNCE) on its features,
// @cut/backends' loadBackend (auto: one summary line), and the CLI's library entry (the same
// loadBackend, re-exported), which must not run the command when imported.
import * as tf from '@tensorflow/tfjs-core';
import { activateBackend } from '@cut/core-tensors';
import { hardNegativeDCELoss, infoNCELoss, moNCELoss, patchNCELoss, semanticRelationLoss } from '@cut/nce-loss';
import * as backends from '@cut/backends';
import { BACKENDS, loadBackend, type BackendInfo } from '@cut/cli';
import { horse2zebraDemo } from '@cut/demo-data';
import { saveImage } from '@cut/files';
import { tensorToRgb8, type RawImage } from '@cut/images';
import * as networks from '@cut/networks';
import * as sampler from '@cut/patch-sampler';
import * as trainer from '@cut/trainer';

if (loadBackend !== backends.loadBackend) throw new Error("ts: @cut/cli's loadBackend is not @cut/backends' one");
const auto: backends.BackendInfo = await backends.loadBackend('auto');
console.log(`ts: @cut/backends loadBackend('auto') -> ${auto.summary}`);
if (auto.summary.includes('\n')) throw new Error('ts: the summary is not one line');
const info: BackendInfo = await loadBackend('cpu');
console.log(`ts: @cut/cli loadBackend('cpu') -> ${info.name} (${info.detail}); backends ${BACKENDS.join(', ')}`);
await activateBackend('cpu');

// Two views of 8 points: the embedding must map each view near its partner.
const x = tf.randomNormal([8, 6], 0, 1, 'float32', 1);
const views = tf.add(x, tf.randomNormal([8, 6], 0, 0.05, 'float32', 2));
const w = tf.variable(tf.randomNormal([6, 4], 0, 0.5, 'float32', 3));
const embed = (t: tf.Tensor): tf.Tensor => tf.matMul(t, w); // a plain Tensor, as models return
const optimizer = tf.train.adam(0.05);
const losses: number[] = [];
for (let step = 0; step < 20; step++) {
  const cost = optimizer.minimize(() => infoNCELoss(embed(x), embed(views), { temperature: 0.5 }), true);
  if (cost) losses.push((await cost.data())[0] ?? NaN);
  cost?.dispose();
}
const first = losses[0] ?? NaN;
const last = losses[losses.length - 1] ?? NaN;
console.log(`ts: InfoNCE over 20 Adam steps ${first.toFixed(4)} -> ${last.toFixed(4)}`);
if (!(last < first)) throw new Error('ts: InfoNCE did not decrease');

const perPatch: tf.Tensor1D = patchNCELoss(embed(x), embed(views), { batchSize: 2 });
const mean: tf.Scalar = tf.mean(perPatch);
console.log(`ts: PatchNCE mean ${(await mean.data())[0]?.toFixed(4)} over ${perPatch.shape[0]} rows`);
// CUT's successors' losses, swapped in for patchNCELoss with the same features (no casts): SRC's
// weights drive hDCE, as Hneg-SRC does; MoNCE at its code's epsilon.
const q = tf.tidy(() => tf.div(embed(x), tf.norm(embed(x), 'euclidean', 1, true)));
const k = tf.tidy(() => tf.div(embed(views), tf.norm(embed(views), 'euclidean', 1, true)));
const relation = semanticRelationLoss(q, k, { batchSize: 2 });
const hdce: tf.Scalar = tf.mean(hardNegativeDCELoss(q, k, { batchSize: 2, weights: relation.weights }));
const monce: tf.Scalar = tf.mean(moNCELoss(q, k, { batchSize: 2 }));
const successors = [(await relation.loss.data())[0] ?? NaN, (await hdce.data())[0] ?? NaN, (await monce.data())[0] ?? NaN];
console.log(`ts: SRC ${successors[0]?.toFixed(5)}, hDCE ${successors[1]?.toFixed(4)}, MoNCE ${successors[2]?.toFixed(4)}`);
if (!successors.every(Number.isFinite)) throw new Error("ts: a successor's loss is not finite");
// The reference's tensor2im, typed, and its PNG through @cut/files (a function of the right shape).
const grey: RawImage = { data: new Uint8Array(4), width: 2, height: 2, channels: 1, bitDepth: 8 };
const rgb = tensorToRgb8(new Float32Array([-1, 0, 1, 2]), grey.width, grey.height, grey.channels);
console.log(`ts: @cut/images tensorToRgb8 -> ${Array.from(rgb.data).join(' ')}; @cut/files saveImage ${typeof saveImage}`);
console.log(
  `ts: exports: networks ${Object.keys(networks).length}, patch-sampler ${Object.keys(sampler).length}, trainer ${Object.keys(trainer).length}; photos ${horse2zebraDemo}`,
);
