// The test-time translation of `cutjs test` (the reference's test.py loop): the first N images of
// <phase>A in order, one at a time, through G. `cutjs test` saves what this yields as PNGs;
// training's --eval_freq quantises the same fake_B images to 8 bits in memory (as the PNGs hold
// them) for FID and KID, so its numbers are those of pytorch-fid run on `cutjs test`'s output.
import { basename, extname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BatchLoader } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';

/** An image as the network sees it: HWC floats in [-1, 1]. */
export interface NetworkImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/** One translated test image. */
export interface TestTranslation {
  /** The A file's name without its extension (the results' file name). */
  name: string;
  pathA: string;
  realA: NetworkImage;
  fakeB: NetworkImage;
  /** The B image test.py pairs with it (none for the single dataset). */
  realB?: NetworkImage;
}

/** The generator's part used here. */
export interface TestGenerator {
  forward(x: tf.Tensor4D, training?: boolean): tf.Tensor4D;
}

export interface TestTranslationOptions {
  /** Images to translate (at most the dataset's A images). */
  count: number;
  /** G in training mode (test.py without --eval: only dropout and batch norm differ). Default false. */
  training?: boolean;
  /** The loader's seed (with load_size = crop_size nothing random is drawn). Default 0. */
  seed?: number;
}

/**
 * The first `count` A images of a test dataset (built with isTrain false, serial_batches and
 * no_flip, as test.py forces) translated by G, in order, batch size 1.
 */
export async function* translateTestImages(
  G: TestGenerator,
  dataset: ImageDataset,
  options: TestTranslationOptions,
): AsyncGenerator<TestTranslation> {
  const loader = new BatchLoader(dataset, { seed: options.seed ?? 0, startEpoch: 1, endEpoch: 1, shuffle: false, dropLast: false });
  let done = 0;
  try {
    for await (const batch of loader.epochBatches()) {
      if (done >= options.count) break;
      const [, h, w, c] = batch.shapeA;
      const fake = tf.tidy(() => G.forward(tf.tensor4d(batch.A, batch.shapeA), options.training ?? false));
      const [, fh, fw, fc] = fake.shape;
      let fakeData: Float32Array;
      try {
        fakeData = (await fake.data()) as Float32Array;
      } finally {
        fake.dispose();
      }
      done += 1;
      yield {
        name: basename(batch.pathsA[0]!, extname(batch.pathsA[0]!)),
        pathA: batch.pathsA[0]!,
        realA: { data: batch.A, width: w, height: h, channels: c },
        fakeB: { data: fakeData, width: fw, height: fh, channels: fc },
        ...(batch.B && batch.shapeB && { realB: { data: batch.B, width: batch.shapeB[2], height: batch.shapeB[1], channels: batch.shapeB[3] } }),
      };
    }
  } finally {
    loader.close();
  }
}
