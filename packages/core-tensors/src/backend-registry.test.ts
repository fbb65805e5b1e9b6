import { getKernel, registerKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { installKernelPatches, originalKernel, patchedKernels, registerBackendPatch } from './backend-registry.js';

// A backend name of its own: the registry is tfjs's global one, keyed by backend and kernel.
const B = 'registry-test';
const returns =
  (what: string): KernelFunc =>
  () =>
    ({ what }) as unknown as TensorInfo;
const call = (kernelName: string) => (getKernel(kernelName, B)!.kernelFunc as unknown as (a: unknown) => { what: string })({});

describe('backend registry: patches over patches', () => {
  it("installs in declaration order, each override over the kernel it replaces, the backend's own kept", () => {
    registerKernel({ kernelName: 'K', backendName: B, kernelFunc: returns('own') });
    registerBackendPatch(B, [{ kernelName: 'K', backendName: B, kernelFunc: returns('patch') }]);
    expect(installKernelPatches(B)).toEqual(['K']);
    expect(call('K')).toEqual({ what: 'patch' });

    // A later override (as @cut/native-kernels' are) falls back to the patch, not to the backend's own.
    let belowSeen: KernelFunc | undefined;
    registerBackendPatch(B, [
      {
        kernelName: 'K',
        backendName: B,
        over: (below) => {
          belowSeen = below;
          return (args) => ({ what: `native over ${(below!(args) as unknown as { what: string }).what}` }) as unknown as TensorInfo;
        },
      },
      { kernelName: 'Optional', backendName: B, over: (below) => (below ? returns('wrong') : returns('optional')) },
    ]);
    expect(installKernelPatches(B)).toEqual(['K', 'Optional']);
    expect(belowSeen).toBeDefined();
    expect(call('K')).toEqual({ what: 'native over patch' });
    expect(call('Optional')).toEqual({ what: 'optional' });
    expect((originalKernel('K', B) as unknown as (a: unknown) => unknown)({})).toEqual({ what: 'own' });
    expect(originalKernel('Optional', B)).toBeUndefined();
    expect(patchedKernels(B)).toEqual(['K', 'Optional']);
    // Idempotent: nothing is installed twice.
    expect(installKernelPatches(B)).toEqual([]);
    expect(call('K')).toEqual({ what: 'native over patch' });
  });

  it('refuses a kernel declared for another backend', () => {
    expect(() => registerBackendPatch(B, [{ kernelName: 'K', backendName: 'wasm', kernelFunc: returns('x') }])).toThrow(
      "kernel K is for backend 'wasm', not 'registry-test'",
    );
  });
});
