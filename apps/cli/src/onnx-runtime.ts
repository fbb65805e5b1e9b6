// `--runtime onnx`: a generator exported with @cut/networks' generatorToOnnx, run by onnxruntime-node
// (an optional dependency: loaded only when asked for, with a clear message when it is missing).
import { OnnxGenerator, type Generator } from '@cut/networks';

type Ort = typeof import('onnxruntime-node');

export const RUNTIMES = ['tfjs', 'onnx'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/**
 * What `cutjs translate` runs when --runtime is not given: tfjs. ONNX Runtime was measured against
 * it (bench/README.md, 'ONNX Runtime'; bench/onnx.mjs) and did not win on two cores: onnxruntime-node
 * took as long as tfjs's wasm with native kernels at 256x256, a little longer on a whole 1024x1024
 * image, and 2.5 to 3 times as long in 512-pixel tiles (each tile of each stage a separate run, with
 * the stages' norms and halos on the host).
 */
export const DEFAULT_RUNTIME: Runtime = 'tfjs';
const WHY_TFJS = 'measured no faster on 2 cores: equal at 256x256, slower at 1024x1024 (2.5x in 512-pixel tiles; bench/README.md, ONNX Runtime)';

/**
 * `cutjs info`'s line about the translate runtime: the default and why, and whether
 * `--runtime onnx` can run here (`load`: onnxruntime-node's loader, replaceable in tests).
 */
export async function translateRuntimeLine(load: () => Promise<Ort> = loadOnnxRuntime): Promise<string> {
  let onnx: string;
  try {
    const ort = await load();
    const version = (ort.env as { versions?: { node?: string; common?: string } }).versions;
    onnx = `onnxruntime-node ${version?.node ?? version?.common ?? '(version unknown)'} is installed, but ${WHY_TFJS}`;
  } catch {
    onnx = 'needs onnxruntime-node, not installed here (optional; see the README, ONNX)';
  }
  return `translate runtime: ${DEFAULT_RUNTIME} (the default; --runtime onnx ${onnx})`;
}

/** onnxruntime-node, or an error saying how to install it. */
export async function loadOnnxRuntime(): Promise<Ort> {
  try {
    return (await import('onnxruntime-node')) as Ort;
  } catch (e) {
    throw new Error(
      `--runtime onnx needs onnxruntime-node, an optional dependency of @cut/cli that is not installed here (${(e as Error).message.split('\n')[0]}). ` +
        "Install it beside cutjs: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0 (the variable skips its CUDA download; see the CLI's README, 'ONNX')",
      { cause: e },
    );
  }
}

/** A generator run by onnxruntime-node (@cut/networks' OnnxGenerator over the module loaded here). */
export async function onnxGenerator(G: Generator): Promise<OnnxGenerator> {
  return OnnxGenerator.create(await loadOnnxRuntime(), G);
}
