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
import {
  type Generator,
  type HostImage,
  type HostMap,
  type Module,
  type StageRunner,
  type TorchStateDict,
  generatorToOnnx,
  minimumImageSide,
  modulesToOnnx,
  paddedSize,
} from '@cut/networks';
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

const OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };

/** Row `i` of a side of `n` pixels reflect-padded past its end (torch's ReflectionPad2d, as translateWhole pads). */
const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);

/** HWC host map -> NCHW tensor data. */
function toNchw(m: HostMap): Float32Array {
  const { height: h, width: w, channels: c } = m;
  const x = new Float32Array(c * h * w);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) x[k * h * w + i] = m.data[i * c + k]!;
  return x;
}

/** A generator as onnxruntime-web sessions (made once per generator; stages on first use). */
export class OnnxGenerator {
  private readonly stages = new Map<readonly Module[], Promise<ort.InferenceSession>>();

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly G: Generator,
    private readonly state: TorchStateDict,
    /** The exported model's size in bytes. */
    readonly bytes: number,
    /** The wasm threads it runs on. */
    readonly threads: number,
  ) {}

  static async create(G: Generator): Promise<OnnxGenerator> {
    const threads = configure();
    const model = await generatorToOnnx(G);
    const session = await ort.InferenceSession.create(model, OPTIONS);
    return new OnnxGenerator(session, G, await G.stateDict(), model.length, threads);
  }

  /** `forwardTiled`'s stage runner: each stage (a run of modules between instance norms) as its own session. */
  stageRunner(): StageRunner {
    return async (modules, crop) => {
      let session = this.stages.get(modules);
      if (!session) {
        session = ort.InferenceSession.create(modulesToOnnx(this.G, modules, crop.channels, this.state), OPTIONS);
        this.stages.set(modules, session);
      }
      const s = await session;
      const input = new ort.Tensor('float32', toNchw(crop), [1, crop.channels, crop.height, crop.width]);
      const out = (await s.run({ [s.inputNames[0]!]: input }))[s.outputNames[0]!]!;
      const [, c, h, w] = out.dims.map(Number) as [number, number, number, number];
      const y = out.data as Float32Array;
      const data = new Float32Array(h * w * c);
      for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) data[i * c + k] = y[k * h * w + i]!;
      input.dispose();
      out.dispose();
      return { data, height: h, width: w, channels: c };
    };
  }

  /** G(image) at the image's own size: reflect-padded at the bottom and right to a size G takes, run whole, cropped back. */
  async translate(img: HostImage): Promise<HostImage> {
    const { width: w, height: h, channels: c } = img;
    const min = minimumImageSide(this.G.sizing);
    if (Math.min(w, h) < min) throw new Error(`image is ${w}x${h}, too small to translate (at least ${min}x${min} for this ${this.G.className})`);
    const ph = paddedSize(h, this.G.sizing);
    const pw = paddedSize(w, this.G.sizing);
    const x = new Float32Array(c * ph * pw);
    for (let y = 0; y < ph; y++) {
      const row = reflect(y, h) * w;
      for (let xx = 0; xx < pw; xx++) {
        const src = (row + reflect(xx, w)) * c;
        for (let k = 0; k < c; k++) x[(k * ph + y) * pw + xx] = img.data[src + k]!;
      }
    }
    const input = new ort.Tensor('float32', x, [1, c, ph, pw]);
    const out = (await this.session.run({ [this.session.inputNames[0]!]: input }))[this.session.outputNames[0]!]!;
    const oc = Number(out.dims[1]);
    const y = out.data as Float32Array;
    const data = new Float32Array(h * w * oc);
    for (let yy = 0; yy < h; yy++)
      for (let xx = 0; xx < w; xx++) for (let k = 0; k < oc; k++) data[(yy * w + xx) * oc + k] = y[(k * ph + yy) * pw + xx]!;
    out.dispose();
    input.dispose();
    return { data, width: w, height: h, channels: oc };
  }

  async release(): Promise<void> {
    await this.session.release();
    for (const s of this.stages.values()) await (await s).release();
  }
}
