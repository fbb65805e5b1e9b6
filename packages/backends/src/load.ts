import { createRequire } from 'node:module';
import { activateBackend } from '@cut/core-tensors';
import { describeNativeKernels, installNativeKernels } from '@cut/native-kernels';
import { BackendError } from './errors.js';
import { WEBGPU_INSTALL, adapterName, checkAdapter, installDawn, probeWebGpu } from './webgpu.js';

/** The backends that can be chosen. `tensorflow` is tfjs-node(-gpu), when the user has one; `auto` the fastest that runs. */
export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

/** A backend `auto` tried and did not use. */
export interface SkippedBackend {
  backend: 'tensorflow' | 'webgpu';
  /** Why, in full (what is missing, how to install it). */
  reason: string;
  /** Why, in a few words. */
  brief: string;
}

export interface BackendInfo {
  /** tfjs backend name in use. */
  name: string;
  /** What runs underneath: package, adapter, threads. */
  detail: string;
  /** One line for a user: what runs and, after `auto`, briefly why not the faster ones. */
  summary: string;
  /** What `auto` tried first and skipped, in order (empty for a named backend). */
  skipped: SkippedBackend[];
  /** What Dawn and the Vulkan loader printed while the WebGPU adapter was probed (kept off the terminal). */
  nativeOutput: string;
}

type Loaded = Omit<BackendInfo, 'skipped' | 'summary' | 'nativeOutput'> & { short: string; nativeOutput?: string };

const require = createRequire(import.meta.url);

/** True when `e` says that `pkg` itself is not installed (not that something inside it failed). */
function isMissingPackage(e: unknown, pkg: string): boolean {
  const { code, message } = e as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && (message ?? '').includes(`'${pkg}'`);
}

async function loadWebGpu(requireHardware: boolean): Promise<Loaded> {
  // The probe runs in a child process: Dawn's own messages stay out of this one's stderr.
  const probe = probeWebGpu();
  checkAdapter(probe, requireHardware);
  const info = await installDawn();
  if (!info) throw new BackendError(`no WebGPU adapter in this process, though a probe found one`, 'no WebGPU adapter', probe.output);
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    if (isMissingPackage(e, '@tensorflow/tfjs-backend-webgpu')) {
      throw new BackendError(
        `the optional package '@tensorflow/tfjs-backend-webgpu' is not installed. Install it with '${WEBGPU_INSTALL}'.`,
        "package '@tensorflow/tfjs-backend-webgpu' not installed",
        probe.output,
      );
    }
    throw e;
  }
  await activateBackend('webgpu');
  const adapter = adapterName(info);
  return { name: 'webgpu', detail: `Dawn, adapter ${adapter}`, short: `webgpu (Dawn, ${info.description || adapter})`, nativeOutput: probe.output };
}

async function loadTensorflow(): Promise<Loaded> {
  const errors: string[] = [];
  let missing = 0;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // A package whose native download failed can still be linked: its require throws.
      require(pkg);
      await activateBackend('tensorflow');
      return { name: 'tensorflow', detail: pkg, short: `tensorflow (${pkg})` };
    } catch (e) {
      if (isMissingPackage(e, pkg)) missing++;
      errors.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new BackendError(
    `neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads (${errors.join('; ')}). ` +
      `They are optional: install one with 'npm install @tensorflow/tfjs-node' where its native library can be downloaded.`,
    missing === 2 ? 'tfjs-node not installed' : 'tfjs-node failed to load',
  );
}

async function loadWasm(nativeKernels: boolean): Promise<Loaded> {
  await import('@tensorflow/tfjs-backend-wasm');
  await activateBackend('wasm');
  // oneDNN kernels when @cut/native-kernels' addon loads (CUT_NATIVE=0: never); else why not, in `detail`.
  const native = nativeKernels ? installNativeKernels({ quiet: true }) : ({ active: false, reason: 'not asked for' } as const);
  const threads = native.active ? native.threads : 0;
  return {
    name: 'wasm',
    detail: `tfjs-backend-wasm (XNNPACK, 1 thread); native convolutions: ${describeNativeKernels(native)}`,
    short: native.active
      ? `wasm with native oneDNN kernels (${threads} thread${threads === 1 ? '' : 's'})`
      : `wasm (1 thread; native kernels off${process.env.CUT_NATIVE === '0' ? ': CUT_NATIVE=0' : ''})`,
  };
}

async function loadCpu(): Promise<Loaded> {
  await import('@tensorflow/tfjs-backend-cpu');
  await activateBackend('cpu');
  return { name: 'cpu', detail: 'tfjs-backend-cpu (JavaScript reference kernels)', short: 'cpu (JavaScript reference kernels)' };
}

function finish(loaded: Loaded, skipped: SkippedBackend[], probeOutput = ''): BackendInfo {
  const why = skipped.map((s) => `${s.backend} (${s.brief})`).join(' and ');
  const { short, nativeOutput, ...rest } = loaded;
  return { ...rest, summary: why ? `${short}; skipped ${why}` : short, skipped, nativeOutput: nativeOutput ?? probeOutput };
}

export interface LoadOptions {
  /** On wasm, install @cut/native-kernels' oneDNN kernels when the addon loads (default true; CUT_NATIVE=0 also turns them off). */
  nativeKernels?: boolean;
}

/**
 * Loads and activates one backend: the one place where concrete backends are imported.
 * `auto` tries tfjs-node-gpu / tfjs-node, then a hardware WebGPU adapter, then wasm, and says in
 * `skipped` why each earlier choice was not used. A backend that cannot run throws, saying why.
 */
export async function loadBackend(choice: BackendChoice, options: LoadOptions = {}): Promise<BackendInfo> {
  const nativeKernels = options.nativeKernels ?? true;
  const named = async (load: () => Promise<Loaded>, backend: string) => {
    try {
      return finish(await load(), []);
    } catch (e) {
      if (e instanceof BackendError) throw new BackendError(`${backend}: ${e.message}`, e.brief, e.output);
      throw e;
    }
  };
  switch (choice) {
    case 'cpu':
      return finish(await loadCpu(), []);
    case 'wasm':
      return finish(await loadWasm(nativeKernels), []);
    case 'webgpu':
      return named(() => loadWebGpu(false), 'webgpu');
    case 'tensorflow':
      return named(loadTensorflow, 'tensorflow');
    case 'auto': {
      const skipped: SkippedBackend[] = [];
      let output = '';
      for (const [backend, load] of [
        ['tensorflow', loadTensorflow],
        ['webgpu', () => loadWebGpu(true)],
      ] as const) {
        try {
          return finish(await load(), skipped);
        } catch (e) {
          // Whatever stops a faster backend, auto goes on to the next one.
          const known = e instanceof BackendError;
          skipped.push({ backend, reason: (e as Error).message, brief: known ? e.brief : 'failed to start' });
          if (known) output ||= e.output;
        }
      }
      return finish(await loadWasm(nativeKernels), skipped, output);
    }
    default:
      throw new Error(`unknown backend '${String(choice)}' (expected one of ${BACKENDS.join(', ')})`);
  }
}
