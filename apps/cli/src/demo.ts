import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '@cut/core-tensors';
import { ResnetGenerator } from '@cut/networks';
import { patchNCELoss } from '@cut/nce-loss';
import { PatchSampleF } from '@cut/patch-sampler';
import { listImages, readImageRGB } from './images.js';

export interface DemoOptions {
  dataroot: string;
  size: number;
  steps: number;
  numPatches: number;
  lr: number;
  seed: number;
}

/** Feature levels: the reference's nce layers 4, 8 and 12 of a (frozen, randomly initialised) CUT encoder. */
const NCE_LAYERS = [4, 8, 12];

/** A photometric jitter: the same scene, other colours and sensor noise. */
function jitter(img: tf.Tensor4D, rng: SeededRng): tf.Tensor4D {
  return tf.tidy(() => {
    const gain = 0.6 + 0.8 * rng.uniform();
    const shift = 0.4 * (rng.uniform() - 0.5);
    const noise = tf.tensor(Float32Array.from({ length: img.size }, () => 0.1 * rng.normal()), img.shape);
    return tf.clipByValue(tf.add(tf.add(tf.mul(img, gain), shift), noise), -1, 1) as tf.Tensor4D;
  });
}

/** Share of query patches whose most similar key is their own positive. */
async function retrieval(q: tf.Tensor2D, k: tf.Tensor2D): Promise<number> {
  const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(tf.matMul(q, k, false, true), 1), tf.range(0, q.shape[0], 1, 'int32')), 'int32')));
  const n = (await hits.data())[0]!;
  hits.dispose();
  return n / q.shape[0];
}

/**
 * The demo job while the trainer is being built: learns PatchSampleF's MLP head with the
 * PatchNCE loss on encoder features of the bundled photos, so that each patch of a
 * colour-jittered photo finds its own patch of the original among the image's other patches.
 * Reports the loss and the retrieval rate (over all levels) before and after.
 */
export async function runDemo(o: DemoOptions, log: (line: string) => void): Promise<{ first: number; last: number; retrievalBefore: number; retrievalAfter: number }> {
  const files = await listImages(`${o.dataroot}/trainA`);
  log(`demo: ${files.length} images from ${o.dataroot}/trainA at ${o.size}x${o.size}, ${o.steps} steps, ${o.numPatches} patches per level`);
  const images: tf.Tensor4D[] = [];
  for (const f of files) images.push(tf.tensor4d(await readImageRGB(f, o.size), [1, o.size, o.size, 3]));

  const rng = new SeededRng(o.seed);
  const netG = new ResnetGenerator({ ngf: 16, nBlocks: 1, init: { type: 'kaiming' }, rng });
  const pyramid = (img: tf.Tensor4D) => netG.encode(img, NCE_LAYERS);
  const netF = new PatchSampleF({ useMlp: true, nc: 256, rng });
  const optimizer = tf.train.adam(o.lr, 0.5, 0.999);

  const lossAndRetrieval = async (img: tf.Tensor4D, jittered: tf.Tensor4D, train: boolean) => {
    const featsK = pyramid(img);
    const featsQ = pyramid(jittered);
    const compute = () => {
      const k = netF.forward(featsK, o.numPatches);
      const q = netF.forward(featsQ, o.numPatches, k.ids);
      const perLevel = q.features.map((qf, i) => tf.mean(patchNCELoss(qf as tf.Tensor2D, k.features[i] as tf.Tensor2D, { batchSize: 1 })));
      return { loss: tf.div(tf.addN(perLevel), perLevel.length) as tf.Scalar, q: q.features, k: k.features };
    };
    let loss: number;
    let acc = 0;
    if (train) {
      const cost = optimizer.minimize(() => compute().loss, true, netF.trainableVariables())!;
      loss = (await cost.data())[0]!;
      cost.dispose();
    } else {
      const r = tf.tidy(compute);
      loss = (await r.loss.data())[0]!;
      for (const [i, q] of r.q.entries()) acc += (await retrieval(q as tf.Tensor2D, r.k[i] as tf.Tensor2D)) / r.q.length;
      tf.dispose([r.loss, ...r.q, ...r.k]);
    }
    tf.dispose([...featsK, ...featsQ]);
    return { loss, acc };
  };

  // Held-out pairs (fixed jitter) measure retrieval before and after.
  const evalRng = new SeededRng(o.seed + 1);
  const evalPairs = images.slice(0, 4).map((img) => jitter(img, evalRng));
  const evaluate = async () => {
    let acc = 0;
    for (const [i, j] of evalPairs.entries()) acc += (await lossAndRetrieval(images[i]!, j, false)).acc;
    return acc / evalPairs.length;
  };

  // Data-dependent initialisation, as the reference does: the MLPs are sized by a first forward.
  tf.tidy(() => {
    netF.forward(pyramid(images[0]!), o.numPatches);
  });
  const retrievalBefore = await evaluate();
  const losses: number[] = [];
  const start = Date.now();
  for (let step = 1; step <= o.steps; step++) {
    const i = (step - 1) % images.length;
    const j = jitter(images[i]!, rng);
    const { loss } = await lossAndRetrieval(images[i]!, j, true);
    j.dispose();
    if (!Number.isFinite(loss)) throw new Error(`demo: loss became ${loss} at step ${step} (${basename(files[i]!)})`);
    losses.push(loss);
    const rate = step / ((Date.now() - start) / 1000);
    log(`step ${step}/${o.steps}  PatchNCE ${loss.toFixed(4)}  ${rate.toFixed(2)} it/s  tensors ${tf.memory().numTensors}`);
  }
  const retrievalAfter = await evaluate();
  const window = Math.max(1, Math.min(10, Math.floor(losses.length / 2)));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = avg(losses.slice(0, window));
  const last = avg(losses.slice(-window));
  log(`PatchNCE, mean of ${window} steps: ${first.toFixed(4)} at the start, ${last.toFixed(4)} at the end`);
  log(`patch retrieval on held-out jittered photos: ${(100 * retrievalBefore).toFixed(1)}% before, ${(100 * retrievalAfter).toFixed(1)}% after`);
  tf.dispose([...images, ...evalPairs]);
  netF.dispose();
  netG.dispose();
  optimizer.dispose();
  return { first, last, retrievalBefore, retrievalAfter };
}
