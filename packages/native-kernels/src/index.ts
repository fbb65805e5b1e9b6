// @cut/native-kernels: oneDNN convolutions and multi-threaded elementwise kernels for
// tfjs-backend-wasm, in place in its heap.
import { getKernel, registerKernel, unregisterKernel, type KernelFunc } from '@tensorflow/tfjs-core';
import { defaultThreads, loadAddon, PLATFORM_PACKAGE } from './addon.js';
import { ELTWISE_REPLACED, eltwiseCalls, nativeEltwiseKernelFuncs } from './eltwise.js';
import { calls, nativeKernelFuncs } from './kernels.js';

export { PLATFORM_PACKAGE, defaultThreads };

const WASM = 'wasm';

/** Where the native kernels stand in this process. */
export type NativeKernelStatus =
  | { active: true; kernels: string[]; oneDNN: string; threads: number; path: string }
  | { active: false; reason: string };

let status: NativeKernelStatus | undefined;
let warned = false;

/**
 * Replaces the wasm backend's convolution kernels (Conv2D, FusedConv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter) with the oneDNN ones, when the addon loads. Call it after the wasm
 * backend is registered and patched (after `activateBackend('wasm')` of @cut/core-tensors):
 * the kernels found then stay as the fallback for cases the addon does not cover. Idempotent;
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
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`@cut/native-kernels: threads must be a positive integer, got ${options.threads ?? process.env.CUT_NATIVE_THREADS} (option threads or CUT_NATIVE_THREADS)`);
  load.addon.setThreads(threads);
  if (!status?.active) {
    const convNames = [
      'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter',
      'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter',
    ];
    const fallbacks: Record<string, KernelFunc> = {};
    for (const name of [...convNames, ...ELTWISE_REPLACED]) {
      // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter of its own (@cut/core-tensors adds one).
      fallbacks[name] =
        getKernel(name, WASM)?.kernelFunc ??
        (() => {
          throw new Error(`wasm ${name}: a case the native kernels do not cover, and the wasm backend has no kernel of its own for it`);
        });
    }
    // Freed host memory kept for reuse (see native/conv.cc); CUT_KEEP_FREED_MEMORY=0 leaves malloc as it is.
    if (process.env.CUT_KEEP_FREED_MEMORY !== '0') load.addon.keepFreedMemory();
    const funcs = { ...nativeKernelFuncs(load.addon, fallbacks), ...nativeEltwiseKernelFuncs(load.addon, fallbacks) };
    const names = Object.keys(funcs);
    for (const name of names) {
      if (getKernel(name, WASM)) unregisterKernel(name, WASM);
      registerKernel({ kernelName: name, backendName: WASM, kernelFunc: funcs[name]! });
    }
    status = { active: true, kernels: names, oneDNN: load.addon.version(), threads, path: load.path };
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
