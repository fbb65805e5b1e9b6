// `--runtime onnx`: a generator exported with @cut/networks' generatorToOnnx, run by onnxruntime-node
// (an optional dependency: loaded only when asked for, with a clear message when it is missing).
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

/** Row `i` of a side of `n` pixels reflect-padded past its end (torch's ReflectionPad2d, as translateWhole pads). */
const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);

type Session = import('onnxruntime-node').InferenceSession;

/** HWC host map -> NCHW input tensor data. */
function toNchw(m: HostMap): Float32Array {
  const { height: h, width: w, channels: c } = m;
  const x = new Float32Array(c * h * w);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) x[k * h * w + i] = m.data[i * c + k]!;
  return x;
}

/**
 * A generator as ONNX Runtime sessions: `translate` is `translateWhole`'s contract (pad, run whole,
 * crop; NHWC host images in [-1, 1]); `stageRunner` runs `forwardTiled`'s stages, each exported on
 * its own (`modulesToOnnx`), for the same tiles as the tfjs runtime.
 */
export class OnnxGenerator {
  private readonly stages = new Map<readonly Module[], Promise<Session>>();

  private constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly G: Generator,
    private readonly state: TorchStateDict,
    /** The exported model's size in bytes. */
    readonly bytes: number,
  ) {}

  static async create(G: Generator): Promise<OnnxGenerator> {
    const ort = await loadOnnxRuntime();
    const model = await generatorToOnnx(G);
    const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all' });
    return new OnnxGenerator(ort, session, G, await G.stateDict(), model.length);
  }

  private get sizing() {
    return this.G.sizing;
  }

  private get className() {
    return this.G.className;
  }

  /** `forwardTiled`'s stage runner: each stage (a run of modules between instance norms) as its own ONNX session, made once. */
  stageRunner(): StageRunner {
    return async (modules, crop) => {
      let session = this.stages.get(modules);
      if (!session) {
        session = this.ort.InferenceSession.create(modulesToOnnx(this.G, modules, crop.channels, this.state));
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
    const min = minimumImageSide(this.sizing);
    if (Math.min(w, h) < min) throw new Error(`image is ${w}x${h}, too small to translate (at least ${min}x${min} for this ${this.className})`);
    const ph = paddedSize(h, this.sizing);
    const pw = paddedSize(w, this.sizing);
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
    const result = await this.session.run({ [this.session.inputNames[0]!]: input });
    const out = result[this.session.outputNames[0]!]!;
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

  async close(): Promise<void> {
    await this.session.release();
    for (const s of this.stages.values()) await (await s).release();
  }
}
