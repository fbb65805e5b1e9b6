// `--runtime onnx`: a generator exported with @cut/networks' generatorToOnnx, run by onnxruntime-node
// (an optional dependency: loaded only when asked for, with a clear message when it is missing).
import { type Generator, type HostImage, generatorToOnnx, minimumImageSide, paddedSize } from '@cut/networks';

type Ort = typeof import('onnxruntime-node');

export const RUNTIMES = ['tfjs', 'onnx'] as const;
export type Runtime = (typeof RUNTIMES)[number];

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

/** A generator as an ONNX Runtime session: `translate` is `translateWhole`'s contract (pad, run, crop), NHWC host images in [-1, 1]. */
export class OnnxGenerator {
  private constructor(
    private readonly ort: Ort,
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly sizing: Generator['sizing'],
    private readonly className: string,
    /** The exported model's size in bytes. */
    readonly bytes: number,
  ) {}

  static async create(G: Generator): Promise<OnnxGenerator> {
    const ort = await loadOnnxRuntime();
    const model = await generatorToOnnx(G);
    const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all' });
    return new OnnxGenerator(ort, session, G.sizing, G.className, model.length);
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
  }
}
