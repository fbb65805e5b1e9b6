// Compile-only check of the public types in ordinary use (run by `tsc -p tsconfig.json`, i.e.
// `pnpm typecheck`; never executed). Each line here once needed a cast, or must stay an error.
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import { infoNCELoss, patchNCELoss, type InfoNCEOptions } from './index.js';

// What a model's forward pass gives: a plain `Tensor`, rank unknown to the compiler.
declare function embed(x: Tensor): Tensor;
declare const images: Tensor;
declare const keys: Tensor;

const optimizer = tf.train.adam(1e-3);
// 'mean' (the default) and 'sum' give a Scalar: minimize accepts it without a cast.
optimizer.minimize(() => infoNCELoss(embed(images), keys));
optimizer.minimize(() => infoNCELoss(embed(images), keys, { temperature: 0.2, reduction: 'sum' }));
optimizer.minimize(() => infoNCELoss(embed(images), keys, { negatives: embed(images), detachKeys: true }));

const perQuery: Tensor1D = infoNCELoss(embed(images), keys, { reduction: 'none' });
const perPatch: Tensor1D = patchNCELoss(embed(images), keys, { batchSize: 1 });
const mean: Scalar = tf.mean(perPatch);

// An options object typed only as InfoNCEOptions may hold any reduction: scalar or vector.
declare const options: InfoNCEOptions;
const either: Scalar | Tensor1D = infoNCELoss(images, keys, options);

// @ts-expect-error reduction 'none' is a vector, not a Scalar
const wrong: Scalar = infoNCELoss(images, keys, { reduction: 'none' });
// @ts-expect-error an unknown reduction is rejected
infoNCELoss(images, keys, { reduction: 'max' });

export { perQuery, mean, either, wrong };
