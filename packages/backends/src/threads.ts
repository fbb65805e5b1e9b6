import { availableParallelism } from 'node:os';
import { nativeKernelStatus, setNativeThreads } from '@cut/native-kernels';

/** A thread count as asked for: a number, or `auto` (every core). */
export type ThreadsChoice = 'auto' | number;

/**
 * How a thread count (the CLI's --threads) is spent when @cut/native-kernels runs the wasm backend's convolutions:
 * oneDNN gets the threads (auto: every core) and JavaScript runs on one thread, with one wasm
 * heap. Measured on a 2-core AMD EPYC (bench/README.md): CUT crop 256 at 8.3 s/iter and 4.1 GB
 * this way, ~12 s/iter and 7.5 GB with two workers of one oneDNN thread each. CUT_NATIVE_WORKERS=2 keeps the
 * two-worker scheme (each worker's convolutions on cores / 2 threads), for measuring it.
 * Without the native kernels (or on other backends) nothing changes: `jsThreads` is undefined.
 */
export function nativeThreadPlan(backend: string, threads: ThreadsChoice): { jsThreads?: 1 | 2; native: string; cores?: number } {
  if (backend !== 'wasm' || !nativeKernelStatus().active) return { native: '' };
  const cores = threads === 'auto' ? availableParallelism() : threads;
  if (process.env.CUT_NATIVE_WORKERS === '2' && cores >= 2) {
    const each = Math.max(1, Math.floor(cores / 2));
    // The worker thread loads its own backend: it reads the count from the environment.
    process.env.CUT_NATIVE_THREADS = String(each);
    setNativeThreads(each);
    return { jsThreads: 2, native: `, native convolutions on ${each} thread${each === 1 ? '' : 's'} each` };
  }
  setNativeThreads(cores);
  return { jsThreads: 1, native: ` (one JavaScript thread; native convolutions on ${cores} oneDNN thread${cores === 1 ? '' : 's'})`, cores };
}
