import {
  getKernel,
  ready,
  registerKernel,
  setBackend,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
} from '@tensorflow/tfjs-core';
import { registerGradients } from './gradients/index.js';

/**
 * Kernels we add to (or replace in) a backend, by backend name: tfjs's own registry
 * pattern, one level up. They are installed when the backend is activated, after the
 * backend package has registered its own kernels, so ours win regardless of import order.
 */
const patches = new Map<string, KernelConfig[]>();
const installed = new Set<string>();
const originals = new Map<string, KernelFunc>();

const key = (kernelName: string, backendName: string) => `${backendName}/${kernelName}`;

/** Declares kernels that `activateBackend(backendName)` installs. */
export function registerBackendPatch(backendName: string, configs: KernelConfig[]): void {
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
 * Installs the declared kernels of one backend into tfjs's kernel registry. A kernel the
 * backend already has is replaced; its own implementation stays reachable through
 * `originalKernel`. Idempotent. Returns the names of the kernels installed by this call.
 */
export function installKernelPatches(backendName: string): string[] {
  const done: string[] = [];
  for (const config of patches.get(backendName) ?? []) {
    const k = key(config.kernelName, backendName);
    if (installed.has(k)) continue;
    const existing = getKernel(config.kernelName, backendName);
    if (existing) {
      originals.set(k, existing.kernelFunc);
      unregisterKernel(config.kernelName, backendName);
    }
    registerKernel(config);
    installed.add(k);
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
  return (patches.get(backendName) ?? [])
    .map((c) => c.kernelName)
    .filter((name) => installed.has(key(name, backendName)));
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
