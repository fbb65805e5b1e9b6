// Compile-only check of the public types in ordinary use (run by `tsc -p tsconfig.json`, i.e.
// `pnpm typecheck`; never executed). Each line here once needed a cast, or must stay an error.
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import {
  hardNegativeDCELoss,
  hdceGammaAt,
  infoNCELoss,
  moNCELoss,
  patchNCELoss,
  semanticRelationLoss,
  type InfoNCEOptions,
  type MoNCEOptions,
} from './index.js';

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

// The successors' losses take the same tensors as patchNCELoss: one call swapped.
const { loss: src, weights } = semanticRelationLoss(embed(images), keys, { batchSize: 1, gamma: hdceGammaAt(10, { gamma: 50, gammaMin: 10 }) });
const hdce: Tensor1D = hardNegativeDCELoss(embed(images), keys, { batchSize: 1, weights });
optimizer.minimize(() =>
  tf.add(tf.mean(hardNegativeDCELoss(embed(images), keys, { batchSize: 1 })), semanticRelationLoss(embed(images), keys, { batchSize: 1 }).loss),
);
const monceOptions: MoNCEOptions = { batchSize: 2, negatives: 'minibatch', epsilon: 0.1, cost: 'hard' };
const monce: Scalar = tf.mean(moNCELoss(embed(images), keys, monceOptions));
// @ts-expect-error MoNCE's cost is 'hard' or 'easy'
moNCELoss(images, keys, { batchSize: 1, cost: 'medium' });
// @ts-expect-error SRC returns { loss, weights }, not a tensor
const notATensor: Scalar = semanticRelationLoss(images, keys, { batchSize: 1 });

export { perQuery, mean, either, wrong, src, hdce, monce, notATensor };
