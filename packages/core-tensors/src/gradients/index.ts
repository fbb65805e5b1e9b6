// Our gradient registrations. tfjs-core's CommonJS bundle (what Node and our tests load)
// registers no gradients at all, and its ESM gradient files cannot be loaded by Node's
// own ESM loader, so `tf.grad` of anything fails under plain `node` without these.
import { getGradient, registerGradient, type GradConfig } from '@tensorflow/tfjs-core';
import { binaryGradients } from './binary.js';
import { convGradients } from './conv.js';
import { gatherGradients } from './gather.js';
import { matmulGradients } from './matmul.js';
import { reduceGradients } from './reduce.js';
import { resizeGradients } from './resize.js';
import { shapeGradients } from './shape.js';
import { sliceGradients } from './slice.js';
import { unaryGradients } from './unary.js';
import { releasingUsedGradients } from './release.js';
import { zeroGradients } from './zero.js';

/** Every gradient we provide, one per kernel name (each frees the gradients it has used up: release.ts). */
export const gradientConfigs: GradConfig[] = [
  ...convGradients,
  ...matmulGradients,
  ...unaryGradients,
  ...binaryGradients,
  ...reduceGradients,
  ...shapeGradients,
  ...sliceGradients,
  ...gatherGradients,
  ...resizeGradients,
  ...zeroGradients,
].map(releasingUsedGradients);

/**
 * Registers each of our gradients whose kernel has none registered yet, so a program
 * that loaded tfjs's own gradients keeps them (and sees no override warning).
 * Idempotent. Returns the kernel names registered by this call.
 */
export function registerGradients(): string[] {
  const registered: string[] = [];
  for (const config of gradientConfigs) {
    if (getGradient(config.kernelName) != null) continue;
    registerGradient(config);
    registered.push(config.kernelName);
  }
  return registered;
}
