import type { KernelConfig } from '@tensorflow/tfjs-core';
import { registerBackendPatch } from '../backend-registry.js';
import { batchMatMulConfig } from './batch-matmul.js';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from './conv2d-backprop.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { identityConfig } from './identity.js';
import { sliceConfig } from './slice.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';
import { WASM } from './kernel-call.js';

/**
 * Kernels tfjs-backend-wasm 4.22 lacks for training (Conv2DBackpropFilter, the depthwise
 * backprops, UnsortedSegmentSum) and replacements for two it runs as scalar loops
 * (Conv2DBackpropInput, BatchMatMul with a transpose or a batch) or with a whole-input copy (Slice,
 * Identity). Each is composed of the
 * backend's own XNNPACK-backed kernels, called directly through the kernel registry.
 */
export const wasmTrainingKernelConfigs: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  unsortedSegmentSumConfig,
  batchMatMulConfig,
  sliceConfig,
  identityConfig,
];

let declared = false;

/** Declares the kernels above for 'wasm'; `activateBackend('wasm')` installs them. Idempotent. */
export function registerWasmTrainingKernels(): void {
  if (declared) return;
  declared = true;
  registerBackendPatch(WASM, [...wasmTrainingKernelConfigs]);
}
