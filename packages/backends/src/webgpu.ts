// WebGPU in Node: Dawn (the `webgpu` package) exposed as `navigator.gpu`, where
// tfjs-backend-webgpu looks for it. Dawn and the Vulkan loader print from native code straight to
// the process's stderr (a missing libvulkan, a driver's limits, XDG_RUNTIME_DIR): the adapter is
// first probed in a short child process, whose output is kept for --verbose instead of the terminal.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { BackendError } from './errors.js';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
}

/** What a probe for a WebGPU adapter found, and what Dawn printed meanwhile. */
export interface AdapterProbe {
  adapter: AdapterInfo | null;
  /** Dawn's and the Vulkan loader's own output (stderr of the probe), trimmed. */
  output: string;
}

// What to install, as a user of the published packages would (optional dependencies of @cut/backends and @cut/cli).
export const WEBGPU_INSTALL = 'npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0';

const NO_ADAPTER =
  'no WebGPU adapter found (Dawn needs a Vulkan driver recent enough for WebGPU). Without a GPU, ' +
  "Mesa's software driver lavapipe works: see 'WebGPU without a GPU' in the @cut/cli README " +
  '(https://www.npmjs.com/package/@cut/cli)';

// The child's script: one adapter request, its info as JSON on stdout.
const PROBE = `
const { create } = await import(process.env.CUT_WEBGPU_MODULE);
const adapter = await create([]).requestAdapter();
const i = adapter && adapter.info;
process.stdout.write(JSON.stringify(i ? { vendor: i.vendor, architecture: i.architecture, description: i.description, device: i.device } : null));
process.exit(0);
`;

/** The `webgpu` package's entry, resolved from here (throws a BackendError when it is not installed). */
function webgpuModule(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    throw new BackendError(
      `the optional package 'webgpu' (Dawn for Node) is not installed. Install it with '${WEBGPU_INSTALL}'.`,
      "package 'webgpu' not installed",
    );
  }
}

/** Asks Dawn for an adapter in a child process (about 0.1 s), capturing what it prints. */
export function probeWebGpu(): AdapterProbe {
  const module = webgpuModule();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    env: { ...process.env, CUT_WEBGPU_MODULE: module },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const output = (r.stderr ?? '').trim();
  if (r.status !== 0) {
    const why = r.error
      ? r.error.message
      : r.signal
        ? `ended by ${r.signal}`
        : (output.split('\n').find((l) => /Error/.test(l)) ?? `exit code ${r.status}`);
    throw new BackendError(
      `the 'webgpu' package (Dawn for Node) is installed but failed to load: ${why}. Its native build (dawn.node) exists for some platforms only; reinstalling it may help.`,
      'Dawn failed to load',
      output,
    );
  }
  return { adapter: JSON.parse(r.stdout || 'null') as AdapterInfo | null, output };
}

export const isSoftwareAdapter = (info: AdapterInfo) =>
  /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`);

export const adapterName = (info: AdapterInfo) => [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');

/** Checks the probe: an adapter (a hardware one when `requireHardware`), or a BackendError saying why not. */
export function checkAdapter(probe: AdapterProbe, requireHardware: boolean): AdapterInfo {
  if (!probe.adapter) throw new BackendError(NO_ADAPTER, 'no WebGPU adapter', probe.output);
  if (requireHardware && isSoftwareAdapter(probe.adapter)) {
    const name = probe.adapter.description || probe.adapter.device;
    throw new BackendError(`only a software adapter (${name})`, `only a software adapter, ${name.split(':')[0]}`, probe.output);
  }
  return probe.adapter;
}

/** Installs Dawn in this process as `navigator.gpu` (once) and returns its adapter's info. */
export async function installDawn(): Promise<AdapterInfo | undefined> {
  const g = globalThis as Record<string, unknown>;
  if (!(g.navigator as { gpu?: unknown } | undefined)?.gpu) {
    webgpuModule(); // not installed: says so
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
