// @cut/backends: the one place that loads and activates a concrete TensorFlow.js backend in Node
// (the CLI, the trainer's worker threads, the tests and the benchmarks all come here), sets up the
// native kernels' threads, and starts worker threads that load the same backend. The math packages
// never import a backend: the application chooses one here.
export { BACKENDS, loadBackend, type BackendChoice, type BackendInfo, type LoadOptions, type SkippedBackend } from './load.js';
export { BackendError } from './errors.js';
export { nativeThreadPlan, type ThreadsChoice } from './threads.js';
export { builtWorkerUrl, startWorker } from './worker.js';
export { probeWebGpu, type AdapterInfo, type AdapterProbe } from './webgpu.js';
