// A generator run by ONNX Runtime (onnxruntime-node for `cutjs translate --runtime onnx`,
// onnxruntime-web in the page): the same padding, whole-image contract and tiled stages as the tfjs
// path. The runtime module is passed in (its API is the same in Node and the browser), so this
// package depends on neither.
import type { Generator, TorchStateDict } from '../contract.js';
import type { Module } from '../modules.js';
import type { HostMap, StageRunner } from '../tiled.js';
import { minimumImageSide, paddedSize, type HostImage } from '../translate.js';
import { generatorToOnnx, modulesToOnnx } from './export.js';

/** What is used of an ONNX Runtime tensor. */
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
  dispose(): void;
}

/** What is used of an ONNX Runtime session. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** The parts of `onnxruntime-node` / `onnxruntime-web` used here. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** Row `i` of a side of `n` pixels reflect-padded past its end (torch's ReflectionPad2d, as translateWhole pads). */
const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);

/** HWC host map -> NCHW tensor data. */
function toNchw(m: HostMap): Float32Array {
  const { height: h, width: w, channels: c } = m;
  const x = new Float32Array(c * h * w);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) x[k * h * w + i] = m.data[i * c + k]!;
  return x;
}

/**
 * A generator as ONNX Runtime sessions: `translate` is `translateWhole`'s contract (pad, run whole,
 * crop; NHWC host images in [-1, 1]); `stageRunner` runs `forwardTiled`'s stages, each exported on
 * its own (`modulesToOnnx`) and made into a session on first use, for the same tiles as tfjs.
 */
export class OnnxGenerator {
  private readonly stages = new Map<readonly Module[], Promise<OrtSession>>();

  private constructor(
    private readonly ort: OrtModule,
    private readonly options: Record<string, unknown>,
    private readonly session: OrtSession,
    private readonly G: Generator,
    private readonly state: TorchStateDict,
    /** The exported model's size in bytes. */
    readonly bytes: number,
  ) {}

  /** Exports G (`generatorToOnnx`) and opens it in `ort` with the session options given. */
  static async create(ort: OrtModule, G: Generator, options: Record<string, unknown> = { graphOptimizationLevel: 'all' }): Promise<OnnxGenerator> {
    const model = await generatorToOnnx(G);
    const session = await ort.InferenceSession.create(model, options);
    return new OnnxGenerator(ort, options, session, G, await G.stateDict(), model.length);
  }

  /** `forwardTiled`'s stage runner: each stage (a run of modules between instance norms) as its own session, made once. */
  stageRunner(): StageRunner {
    return async (modules, crop) => {
      let session = this.stages.get(modules);
      if (!session) {
        session = this.ort.InferenceSession.create(modulesToOnnx(this.G, modules, crop.channels, this.state), this.options);
        this.stages.set(modules, session);
      }
      const s = await session;
      const input = new this.ort.Tensor('float32', toNchw(crop), [1, crop.channels, crop.height, crop.width]);
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
    // NHWC (padded) -> NCHW.
    const x = new Float32Array(c * ph * pw);
    for (let y = 0; y < ph; y++) {
      const row = reflect(y, h) * w;
      for (let xx = 0; xx < pw; xx++) {
        const src = (row + reflect(xx, w)) * c;
        for (let k = 0; k < c; k++) x[(k * ph + y) * pw + xx] = img.data[src + k]!;
      }
    }
    const input = new this.ort.Tensor('float32', x, [1, c, ph, pw]);
    const out = (await this.session.run({ [this.session.inputNames[0]!]: input }))[this.session.outputNames[0]!]!;
    const oc = Number(out.dims[1]);
    const y = out.data as Float32Array;
    // NCHW -> NHWC, cropped back to h x w.
    const data = new Float32Array(h * w * oc);
    for (let yy = 0; yy < h; yy++)
      for (let xx = 0; xx < w; xx++) for (let k = 0; k < oc; k++) data[(yy * w + xx) * oc + k] = y[(k * ph + yy) * pw + xx]!;
    out.dispose();
    input.dispose();
    return { data, width: w, height: h, channels: oc };
  }

  /** Releases the whole-image session and every stage session. */
  async release(): Promise<void> {
    await this.session.release();
    for (const s of this.stages.values()) await (await s).release();
  }
}
