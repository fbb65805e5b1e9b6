// Strict TypeScript as CommonJS: the packages' require types (index.d.cts) compile too.
import { infoNCELoss } from '@cut/nce-loss';
import { horse2zebraDemo } from '@cut/demo-data';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { BACKENDS, type BackendChoice } from '@cut/backends';

export function lossOf(q: Tensor, k: Tensor): Scalar {
  return infoNCELoss(q, k, { reduction: 'sum' });
}
export const photos: string = horse2zebraDemo;
export const choices: readonly BackendChoice[] = BACKENDS;
