// Backend setup for worker threads started by tests (TwoThreadTrainer): a plain ES module, as
// workers run outside the test runner. Uses the built @cut/core-tensors.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { activateBackend } from '../packages/core-tensors/dist/index.js';

export async function loadBackend(name) {
  await activateBackend(name);
}
