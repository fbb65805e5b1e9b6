// How many wasm threads onnxruntime-web gets in this page (a module of its own: the page reads it
// before onnxruntime-web, a large module, is loaded).

/** More wasm threads than this gain little on a generator's convolutions (and each costs memory). */
export const MAX_THREADS = 8;

/** All cores (at most MAX_THREADS) when the page is cross-origin isolated (SharedArrayBuffer), else one. */
export function onnxThreads(): number {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, MAX_THREADS));
}
