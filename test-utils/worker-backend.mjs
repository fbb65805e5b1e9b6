// Backend setup for worker threads started by tests (TwoThreadTrainer): a plain ES module, as
// workers run outside the test runner. Uses the built @cut/core-tensors.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { activateBackend } from '../packages/core-tensors/dist/index.js';
import { installNativeKernels } from '../packages/native-kernels/dist/index.js';

export async function loadBackend(name) {
  await activateBackend(name);
  // The same convolutions as the test's own thread (cutjs's loadBackend installs them on wasm).
  if (name === 'wasm') installNativeKernels({ quiet: true });
}
