// @cut/core-tensors: backend-agnostic tensor helpers for CUT on @tensorflow/tfjs-core.
import { registerGradients } from './gradients/index.js';
import { registerWasmTrainingKernels } from './wasm/index.js';
import { registerWebGpuKernelFixes } from './webgpu/index.js';

export {
  activateBackend,
  installKernelPatches,
  originalKernel,
  patchedKernels,
  registerBackendPatch,
  type KernelOverride,
  type KernelPatch,
} from './backend-registry.js';
export { registerGradients, gradientConfigs } from './gradients/index.js';
export { offTape, stopGradient } from './stop-gradient.js';
export {
  InstanceNorm,
  InstanceNormGrad,
  LeakyReluGrad,
  MirrorPadGrad,
  OPTIONAL_KERNELS,
  backendHasKernel,
  type InstanceNormAttrs,
  type InstanceNormGradInputs,
  type InstanceNormInputs,
  type LeakyReluGradAttrs,
  type LeakyReluGradInputs,
  type MirrorPadGradAttrs,
  type MirrorPadGradInputs,
} from './optional-kernels.js';
export { SeededRng, type RngState } from './rng.js';
export {
  computeFans,
  initBias,
  initKaimingNormal,
  initNormal,
  initOrthogonal,
  initStd,
  initWeight,
  initXavierNormal,
  torchWeightShape,
  type Fans,
  type InitOptions,
  type InitType,
  type LayerKind,
} from './init.js';
export { l2Normalize, L2_NORM_EPSILON } from './l2norm.js';
export { pad2d, padAmounts, type Pad2d, type PadMode } from './padding.js';
export { instanceNorm } from './instance-norm.js';
export { batchNorm, runningStats, type BatchNormOptions, type RunningStats } from './batch-norm.js';
export {
  binomialFilter,
  blurDownsample,
  blurUpsample,
  type BlurDownsampleOptions,
  type BlurUpsampleOptions,
} from './blur.js';
export { conv2dTransposeTorch, type ConvTransposeTorchOptions } from './conv-transpose.js';
export {
  hwioToOihw,
  hwioToOihwArray,
  hwoiToIohw,
  hwoiToIohwArray,
  iohwToHwoi,
  iohwToHwoiArray,
  linearToTf,
  linearToTfArray,
  nchwToNhwc,
  nchwToNhwcArray,
  nhwcToNchw,
  nhwcToNchwArray,
  oihwToHwio,
  oihwToHwioArray,
  permuteArray,
  tfToLinear,
  tfToLinearArray,
  type HostArray,
} from './layout.js';

// Importing this package registers our gradients (tfjs-core's CommonJS bundle has none)
// and declares the wasm backend's training kernels, installed by activateBackend('wasm').
registerGradients();
registerWasmTrainingKernels();
registerWebGpuKernelFixes();
