// Loading the FID Inception weights from pytorch-fid's own file. The file cannot ship with us (its
// terms are the TensorFlow model's; ~92 MB) and nothing downloads it: the user brings it.
import * as tf from '@tensorflow/tfjs-core';
import { PthError, readPth, type ByteSource, type StateDict } from '@cut/networks';
import { FID_INCEPTION_CONVS, type FoldedConv } from './inception.js';

/** The file pytorch-fid downloads on first use, and where it documents it. */
export const FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth';
export const FID_WEIGHTS_URL = 'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth';
const BN_EPS = 0.001;

/** A weights file that is not pytorch-fid's FID Inception; the message names the file and what is wrong. */
export class InceptionWeightsError extends Error {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${file}: ${problem}. The FID Inception weights are pytorch-fid's ${FID_WEIGHTS_FILE} (~92 MB; pytorch-fid's README, "FID weights": ${FID_WEIGHTS_URL}); download it where you have the internet and pass its path.`,
      options,
    );
    this.name = 'InceptionWeightsError';
  }
}

/** The tensors each BasicConv2d needs, with their PyTorch shapes. */
function expectedShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const c of FID_INCEPTION_CONVS) {
    shapes.set(`${c.name}.conv.weight`, [c.outChannels, c.inChannels, c.kernel[0], c.kernel[1]]);
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) shapes.set(`${c.name}.bn.${p}`, [c.outChannels]);
  }
  return shapes;
}

function checkShapes(file: string, found: ReadonlyMap<string, readonly number[]>): void {
  const missing: string[] = [];
  for (const [name, shape] of expectedShapes()) {
    const got = found.get(name);
    if (!got) missing.push(name);
    else if (got.join() !== shape.join())
      throw new InceptionWeightsError(file, `${name} has shape [${got.join(', ')}], the FID Inception needs [${shape.join(', ')}]`);
  }
  if (missing.length) {
    const shown = missing.slice(0, 3).join(', ');
    throw new InceptionWeightsError(
      file,
      `not the FID Inception's state_dict: ${missing.length} of its ${expectedShapes().size} tensors are missing (${shown}${missing.length > 3 ? ', ...' : ''})`,
    );
  }
}

/**
 * Reads pytorch-fid's FID Inception state_dict (its .pth, as bytes or random access to them) and
 * folds every batch norm into its convolution. Other tensors in the file (fc, num_batches_tracked)
 * are ignored. Throws InceptionWeightsError naming `file` for anything else.
 */
export function readInceptionWeights(source: Uint8Array | ByteSource, file = FID_WEIGHTS_FILE): StateDict {
  try {
    return readPth(source, { name: file, expect: (shapes) => checkShapes(file, shapes) });
  } catch (e) {
    if (e instanceof InceptionWeightsError) throw e;
    // readPth wraps what its `expect` throws.
    if (e instanceof PthError && e.cause instanceof InceptionWeightsError) throw e.cause;
    if (e instanceof PthError)
      throw new InceptionWeightsError(file, `not a readable PyTorch state_dict (${e.message.slice(file.length + 2)})`, { cause: e });
    throw e;
  }
}

/** Folds each BasicConv2d's eval-mode batch norm into its convolution: HWIO filter and bias tensors. */
export function foldInceptionWeights(sd: StateDict, file = FID_WEIGHTS_FILE): Map<string, FoldedConv> {
  checkShapes(file, new Map([...sd].map(([k, t]) => [k, t.shape])));
  const floats = (name: string): Float32Array => {
    const t = sd.get(name);
    if (!t || !(t.data instanceof Float32Array)) throw new InceptionWeightsError(file, `${name} is not a floating-point tensor`);
    return t.data;
  };
  const out = new Map<string, FoldedConv>();
  for (const c of FID_INCEPTION_CONVS) {
    const w = floats(`${c.name}.conv.weight`);
    const gamma = floats(`${c.name}.bn.weight`);
    const beta = floats(`${c.name}.bn.bias`);
    const mean = floats(`${c.name}.bn.running_mean`);
    const variance = floats(`${c.name}.bn.running_var`);
    const [kh, kw] = c.kernel;
    const { inChannels: ci, outChannels: co } = c;
    // y = (conv(x) - mean) * gamma / sqrt(var + eps) + beta, as conv(x) * scale + shift (float64, then float32).
    const filter = new Float32Array(kh * kw * ci * co);
    const bias = new Float32Array(co);
    for (let o = 0; o < co; o++) {
      const scale = (gamma[o] as number) / Math.sqrt((variance[o] as number) + BN_EPS);
      bias[o] = (beta[o] as number) - (mean[o] as number) * scale;
      for (let i = 0; i < ci; i++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) filter[((y * kw + x) * ci + i) * co + o] = (w[((o * ci + i) * kh + y) * kw + x] as number) * scale;
    }
    out.set(c.name, { filter: tf.tensor4d(filter, [kh, kw, ci, co]), bias: tf.tensor1d(bias) });
  }
  return out;
}
