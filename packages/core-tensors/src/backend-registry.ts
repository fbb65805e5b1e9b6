import { getKernel, ready, registerKernel, setBackend, unregisterKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import { registerGradients } from './gradients/index.js';

/**
 * A kernel that goes over whatever the backend runs for `kernelName` when it is installed (the
 * backend's own kernel, or an earlier patch), and may fall back to it: `over` gets that kernel
 * (undefined when there is none) and returns the new one. @cut/native-kernels' kernels are these.
 */
export interface KernelOverride {
  kernelName: string;
  backendName: string;
  over: (below: KernelFunc | undefined) => KernelFunc;
}

export type KernelPatch = KernelConfig | KernelOverride;

/**
 * Kernels we add to (or replace in) a backend, by backend name: tfjs's own registry
 * pattern, one level up. They are installed when the backend is activated, after the
 * backend package has registered its own kernels, so ours win regardless of import order;
 * patches declared later go over earlier ones for the same kernel.
 */
const patches = new Map<string, KernelPatch[]>();
const installed = new Set<KernelPatch>();
/** Per backend/kernel: the backend's own kernel, kept when the first patch replaced it. */
const originals = new Map<string, KernelFunc>();
const patchedKeys = new Set<string>();

const key = (kernelName: string, backendName: string) => `${backendName}/${kernelName}`;

/** Declares kernels that `activateBackend(backendName)` (or `installKernelPatches`) installs. */
export function registerBackendPatch(backendName: string, configs: readonly KernelPatch[]): void {
  const list = patches.get(backendName) ?? [];
  for (const config of configs) {
    if (config.backendName !== backendName) {
      throw new Error(`kernel ${config.kernelName} is for backend '${config.backendName}', not '${backendName}'`);
    }
    list.push(config);
  }
  patches.set(backendName, list);
}

/**
 * Installs the declared kernels of one backend into tfjs's kernel registry, in the order they
 * were declared. A kernel the backend already has is replaced; the backend's own implementation
 * stays reachable through `originalKernel`, and a `KernelOverride` is built over the kernel it
 * replaces. Each patch is installed once. Returns the names of the kernels installed by this call.
 */
export function installKernelPatches(backendName: string): string[] {
  const done: string[] = [];
  for (const config of patches.get(backendName) ?? []) {
    if (installed.has(config)) continue;
    const k = key(config.kernelName, backendName);
    const existing = getKernel(config.kernelName, backendName);
    if (existing) {
      if (!patchedKeys.has(k)) originals.set(k, existing.kernelFunc);
      unregisterKernel(config.kernelName, backendName);
    }
    registerKernel('over' in config ? { kernelName: config.kernelName, backendName, kernelFunc: config.over(existing?.kernelFunc) } : config);
    installed.add(config);
    patchedKeys.add(k);
    done.push(config.kernelName);
  }
  return done;
}

/** The backend's own implementation of a kernel that a patch replaced, if any. */
export function originalKernel(kernelName: string, backendName: string): KernelFunc | undefined {
  return originals.get(key(kernelName, backendName));
}

/** Names of the kernels patched into a backend so far. */
export function patchedKernels(backendName: string): string[] {
  const names = (patches.get(backendName) ?? []).filter((c) => installed.has(c)).map((c) => c.kernelName);
  return [...new Set(names)];
}

/**
 * Makes `backendName` the active tfjs backend, ready for training: its missing or slow
 * kernels are patched and every gradient we need is registered. The backend package
 * itself must have been imported by the caller (the CLI or a test): this package never
 * imports a concrete backend.
 */
export async function activateBackend(backendName: string): Promise<void> {
  const ok = await setBackend(backendName);
  if (!ok) {
    throw new Error(`tfjs backend '${backendName}' failed to initialise (is its package imported?)`);
  }
  await ready();
  installKernelPatches(backendName);
  registerGradients();
}
