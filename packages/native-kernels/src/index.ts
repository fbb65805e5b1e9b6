// @cut/native-kernels: oneDNN convolutions and multi-threaded elementwise kernels for
// tfjs-backend-wasm, in place in its heap.
import { installKernelPatches, registerBackendPatch } from '@cut/core-tensors';
import { defaultThreads, loadAddon, PLATFORM_PACKAGE } from './addon.js';
import { eltwiseCalls, nativeEltwiseKernels } from './eltwise.js';
import { calls, nativeConvKernels, WASM } from './kernels.js';

export { PLATFORM_PACKAGE, defaultThreads };

/** Where the native kernels stand in this process. */
export type NativeKernelStatus =
  | { active: true; kernels: string[]; oneDNN: string; threads: number; path: string }
  | { active: false; reason: string };

let status: NativeKernelStatus | undefined;
let warned = false;

/**
 * Replaces the wasm backend's convolution kernels (Conv2D, FusedConv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter, the depthwise ones) and its memory-bound elementwise kernels with the
 * addon's, and adds @cut/core-tensors' optional kernels, when the addon loads: they are patches
 * of @cut/core-tensors' kernel registry. Call it after `activateBackend('wasm')` of
 * @cut/core-tensors: the kernels found then stay as the fallback for cases the addon does not cover. Idempotent;
 * `threads` (default: CUT_NATIVE_THREADS, else the machine's cores) sets oneDNN's threads on every call.
 * When the addon does not load, nothing changes and the reason is printed once (`quiet`: not).
 */
export function installNativeKernels(options: { threads?: number; quiet?: boolean } = {}): NativeKernelStatus {
  const load = loadAddon();
  if (!load.ok) {
    if (!warned && !options.quiet) console.warn(`@cut/native-kernels: not in use: ${load.reason}; convolutions run on wasm`);
    warned = true;
    return (status = { active: false, reason: load.reason });
  }
  const fromEnv = process.env.CUT_NATIVE_THREADS ? Number(process.env.CUT_NATIVE_THREADS) : undefined;
  const threads = options.threads ?? fromEnv ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(
      `@cut/native-kernels: threads must be a positive integer, got ${options.threads ?? process.env.CUT_NATIVE_THREADS} (option threads or CUT_NATIVE_THREADS)`,
    );
  load.addon.setThreads(threads);
  if (!status?.active) {
    // Freed host memory kept for reuse (see native/conv.cc); CUT_KEEP_FREED_MEMORY=0 leaves malloc as it is.
    if (process.env.CUT_KEEP_FREED_MEMORY !== '0') load.addon.keepFreedMemory();
    // Through @cut/core-tensors' registry: each kernel goes over the one the wasm backend runs now
    // (its own, or @cut/core-tensors' patch), which stays its fallback for the cases it does not cover.
    const kernels = [...nativeConvKernels(load.addon), ...nativeEltwiseKernels(load.addon)];
    registerBackendPatch(WASM, kernels);
    installKernelPatches(WASM);
    status = { active: true, kernels: kernels.map((k) => k.kernelName), oneDNN: load.addon.version(), threads, path: load.path };
  } else {
    status = { ...status, threads };
  }
  return status;
}

/** The status after the last `installNativeKernels` (not installed yet: inactive). */
export function nativeKernelStatus(): NativeKernelStatus {
  return status ?? { active: false, reason: 'installNativeKernels() has not run' };
}

/** Sets oneDNN's thread count (cached primitives are rebuilt for it). */
export function setNativeThreads(threads: number): void {
  const load = loadAddon();
  if (load.ok) load.addon.setThreads(threads);
  if (status?.active) status = { ...status, threads };
}

/** One line for `cutjs info` and logs. */
export function describeNativeKernels(s: NativeKernelStatus = nativeKernelStatus()): string {
  return s.active
    ? `oneDNN ${s.oneDNN} convolutions and elementwise kernels (${s.kernels.length} kernels), ${s.threads} thread${s.threads === 1 ? '' : 's'}`
    : `off (${s.reason})`;
}

/** How many convolutions ran natively and how many fell back to wasm so far. */
export function nativeKernelCalls(): { native: number; fallback: number } {
  return { ...calls };
}

/** The same for the elementwise kernels (Add, Sub, Multiply, Sum, MirrorPad and the gradient kernels). */
export function nativeEltwiseCalls(): { native: number; fallback: number } {
  return { ...eltwiseCalls };
}
