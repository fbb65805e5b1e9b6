import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { activateBackend } from '@cut/core-tensors';
import { describeNativeKernels, installNativeKernels } from '@cut/native-kernels';

/** The backends `cutjs` can run on. `tensorflow` is tfjs-node(-gpu), when the user has one. */
export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** tfjs backend name in use. */
  name: string;
  /** What runs underneath: package, adapter, threads. */
  detail: string;
}

const require = createRequire(import.meta.url);

/** Dawn for Node: exposes WebGPU as `navigator.gpu`, the way tfjs-backend-webgpu looks for it. */
async function installDawn(): Promise<GPUAdapterInfo | undefined> {
  const g = globalThis as Record<string, unknown>;
  if (!(g.navigator as { gpu?: unknown } | undefined)?.gpu) {
    const dawn = (await import('webgpu')) as unknown as {
      create: (flags: string[]) => GPU;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else g.navigator = { gpu };
  }
  const adapter = await (g.navigator as { gpu: GPU }).gpu.requestAdapter();
  return adapter?.info;
}

/** True when `e` says that `pkg` itself is not installed (not that something inside it failed). */
function isMissingPackage(e: unknown, pkg: string): boolean {
  const { code, message } = e as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && (message ?? '').includes(`'${pkg}'`);
}

// What to install, as a user of the published CLI would (both are its optional dependencies).
const WEBGPU_INSTALL = "npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0";

async function loadWebGpu(requireHardware: boolean): Promise<BackendInfo> {
  let info: GPUAdapterInfo | undefined;
  try {
    info = await installDawn();
  } catch (e) {
    if (isMissingPackage(e, 'webgpu')) {
      throw new Error(`webgpu: the optional package 'webgpu' (Dawn for Node) is not installed. Install it with '${WEBGPU_INSTALL}'.`);
    }
    throw new Error(
      `webgpu: the 'webgpu' package (Dawn for Node) is installed but failed to load: ${(e as Error).message}. ` +
        'Its native build (dawn.node) exists for some platforms only; reinstalling it may help.',
    );
  }
  if (!info) {
    // Dawn needs a Vulkan driver recent enough for WebGPU (Debian 12's own Mesa is too old).
    throw new Error(
      'webgpu: no WebGPU adapter found (Dawn needs a Vulkan driver recent enough for WebGPU). Without a GPU, ' +
        "Mesa's software driver lavapipe works: see 'WebGPU without a GPU' in the @cut/cli README " +
        '(https://www.npmjs.com/package/@cut/cli, or node_modules/@cut/cli/README.md).',
    );
  }
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`);
  if (requireHardware && software) throw new Error(`webgpu: only a software adapter (${info.description || info.device})`);
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    if (isMissingPackage(e, '@tensorflow/tfjs-backend-webgpu')) {
      throw new Error(`webgpu: the optional package '@tensorflow/tfjs-backend-webgpu' is not installed. Install it with '${WEBGPU_INSTALL}'.`);
    }
    throw e;
  }
  await activateBackend('webgpu');
  return { name: 'webgpu', detail: `Dawn, adapter ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')}` };
}

async function loadTensorflow(): Promise<BackendInfo> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // A package whose native download failed can still be linked: its require throws.
      require(pkg);
      await activateBackend('tensorflow');
      return { name: 'tensorflow', detail: pkg };
    } catch (e) {
      errors.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads (${errors.join('; ')}). ` +
      `They are optional: install one with 'npm install @tensorflow/tfjs-node' where its native library can be downloaded.`,
  );
}

/**
 * Loads and activates one backend: the one place where concrete backends are imported.
 * `auto` tries tfjs-node-gpu / tfjs-node, then a hardware WebGPU adapter, then wasm;
 * `onFallback` hears why each earlier choice was skipped.
 */
export async function loadBackend(
  choice: BackendChoice,
  onFallback: (message: string) => void = () => {},
): Promise<BackendInfo> {
  switch (choice) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      await activateBackend('cpu');
      return { name: 'cpu', detail: 'tfjs-backend-cpu (JavaScript reference kernels)' };
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      await activateBackend('wasm');
      // oneDNN convolutions when @cut/native-kernels' addon loads (CUT_NATIVE=0: never); else one line why.
      return { name: 'wasm', detail: `tfjs-backend-wasm (XNNPACK, 1 thread); native convolutions: ${describeNativeKernels(installNativeKernels())}` };
    case 'webgpu':
      return loadWebGpu(false);
    case 'tensorflow':
      return loadTensorflow();
    case 'auto': {
      for (const load of [loadTensorflow, () => loadWebGpu(true)]) {
        try {
          return await load();
        } catch (e) {
          onFallback((e as Error).message);
        }
      }
      return loadBackend('wasm');
    }
    default:
      throw new Error(`--backend: unknown backend '${String(choice)}' (expected one of ${BACKENDS.join(', ')})`);
  }
}

export { tf };
