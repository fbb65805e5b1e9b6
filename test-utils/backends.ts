import { beforeAll, describe } from 'vitest';
import { loadBackend, type BackendChoice } from '../packages/backends/src/index';

// Tests load backends as the applications do: through @cut/backends (from its sources).
export { loadBackend };

export type TestBackend = 'cpu' | 'wasm' | 'webgpu';

/**
 * Backends the suite runs on: cpu and wasm always; webgpu when CUT_TEST_WEBGPU=1
 * (.ci/run sets it after installing a software Vulkan driver). CUT_TEST_BACKENDS
 * (comma list) overrides both.
 */
export function testBackends(): TestBackend[] {
  const explicit = process.env.CUT_TEST_BACKENDS;
  if (explicit) return explicit.split(',').map((s) => s.trim()) as TestBackend[];
  const list: TestBackend[] = ['cpu', 'wasm'];
  if (process.env.CUT_TEST_WEBGPU === '1') list.push('webgpu');
  return list;
}

/**
 * Runs the same test bodies once per backend. Tests must read tensors with the async
 * `data()`/`array()`: WebGPU on a software driver cannot `dataSync()`.
 */
export function describeBackends(title: string, body: (backend: TestBackend) => void, options: { backends?: TestBackend[] } = {}): void {
  const wanted = options.backends ?? ['cpu', 'wasm', 'webgpu'];
  for (const backend of testBackends().filter((b) => wanted.includes(b))) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        await loadBackend(backend as BackendChoice);
      });
      body(backend);
    });
  }
}
