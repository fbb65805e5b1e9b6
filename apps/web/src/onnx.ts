// The page's second runtime: the loaded generator exported to ONNX in the page (@cut/networks'
// generatorToOnnx, browser-safe) and run by onnxruntime-web's wasm execution provider, on
// navigator.hardwareConcurrency threads (at most MAX_THREADS) when the page is cross-origin
// isolated, else on one. The same padding, tiles and stages as the tfjs path (and as the CLI's
// `--runtime onnx`, apps/cli/src/onnx-runtime.ts): whole images are one ONNX model, tiled ones run
// `forwardTiled`'s stages, each stage exported on its own (`modulesToOnnx`).
import * as ort from 'onnxruntime-web/wasm';
// onnxruntime-web's wasm binary and its Emscripten module (which also starts the worker threads)
// are bundled as assets beside the page: nothing is fetched from another site.
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import ortMjs from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import { OnnxGenerator, type Generator } from '@cut/networks';
import { onnxThreads } from './threads.js';

let configured = false;
function configure(): number {
  if (!configured) {
    // Absolute URLs (the page may live in a sub-folder): onnxruntime-web resolves them as given.
    ort.env.wasm.wasmPaths = { wasm: new URL(ortWasm, document.baseURI).href, mjs: new URL(ortMjs, document.baseURI).href };
    ort.env.wasm.numThreads = onnxThreads();
    ort.env.wasm.proxy = false;
    configured = true;
  }
  return ort.env.wasm.numThreads ?? 1;
}

const OPTIONS = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };

/** A generator as onnxruntime-web sessions (@cut/networks' OnnxGenerator) with the wasm threads they run on. */
export type PageOnnx = OnnxGenerator & { threads: number };

export async function onnxGenerator(G: Generator): Promise<PageOnnx> {
  const threads = configure();
  return Object.assign(await OnnxGenerator.create(ort, G, OPTIONS), { threads });
}
