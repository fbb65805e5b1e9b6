// @cut/core-tensors: backend-agnostic tensor helpers for CUT on @tensorflow/tfjs-core.
import { registerGradients } from './gradients/index.js';
import { registerWasmTrainingKernels } from './wasm/index.js';

export {
  activateBackend,
  installKernelPatches,
  originalKernel,
  patchedKernels,
  registerBackendPatch,
} from './backend-registry.js';
export { registerGradients, gradientConfigs } from './gradients/index.js';
export { stopGradient } from './stop-gradient.js';

// Importing this package registers our gradients (tfjs-core's CommonJS bundle has none)
// and declares the wasm backend's training kernels, installed by activateBackend('wasm').
registerGradients();
registerWasmTrainingKernels();
