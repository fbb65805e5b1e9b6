import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCpuAndWasm, randomValues } from './compare-backends.test-helper';

// A full backward pass through a small chain of every op family CUT trains with, on wasm
// and on cpu: any kernel the wasm backend lacks for training (or computes differently)
// shows up here. Gradients are our own (src/gradients), kernels are the backends'.

interface Params {
  x: tf.Tensor4D;
  stemW: tf.Tensor4D;
  downW: tf.Tensor4D;
  downB: tf.Tensor1D;
  upW: tf.Tensor4D;
  mlpW: tf.Tensor2D;
}

const shapes = {
  x: [1, 12, 12, 3],
  stemW: [7, 7, 3, 5],
  downW: [3, 3, 5, 6],
  downB: [6],
  upW: [3, 3, 5, 6], // conv2dTranspose filter: [kh, kw, outChannels, inChannels]
  mlpW: [5, 8],
} as const;

const blurFilter = (channels: number) =>
  tf.tile(tf.reshape(tf.div(tf.outerProduct(tf.tensor1d([1, 2, 1]), tf.tensor1d([1, 2, 1])), 16), [3, 3, 1, 1]), [1, 1, channels, 1]) as tf.Tensor4D;

/** Instance norm as the reference computes it: per sample and channel over H, W (biased variance). */
const instanceNorm = (t: tf.Tensor4D) => {
  const { mean, variance } = tf.moments(t, [1, 2], true);
  return tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))) as tf.Tensor4D;
};

/** A CUT-shaped scalar loss: encoder convs, blur down, transposed conv up, patch gather, NCE-like logits. */
function loss(p: Params): tf.Scalar {
  // Stem: reflect pad 3, 7x7 conv, instance norm, ReLU. (A bias before instance norm has a
  // zero gradient: it is on the stride-2 conv instead.)
  const h = tf.relu(
    instanceNorm(
      tf.conv2d(
        tf.mirrorPad(
          p.x,
          [
            [0, 0],
            [3, 3],
            [3, 3],
            [0, 0],
          ],
          'reflect',
        ),
        p.stemW,
        1,
        'valid',
      ),
    ),
  );
  // Blur downsample: reflect pad 1, depthwise 3x3 stride 2 (constant filter).
  const blurred = tf.depthwiseConv2d(
    tf.mirrorPad(
      h,
      [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
      'reflect',
    ),
    blurFilter(5),
    2,
    'valid',
  );
  // Stride-2 conv with zero padding 1 and bias, leaky ReLU (the discriminator's).
  const down = tf.leakyRelu(
    tf.add(
      tf.conv2d(h, p.downW, 2, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
      p.downB,
    ),
    0.2,
  ) as tf.Tensor4D;
  // Transposed conv back up (no_antialias_up), then tanh.
  const up = tf.tanh(tf.conv2dTranspose(down, p.upW, [1, 12, 12, 5], 2, 'same'));
  // Patch sampling: gather feature rows (repeats, out of order), an MLP, NCE-style logits.
  const [, hh, ww, c] = up.shape as [number, number, number, number];
  const feats = tf.reshape(tf.add(up, tf.image.resizeNearestNeighbor(blurred, [hh, ww])), [hh * ww, c]);
  const ids = tf.tensor1d([5, 17, 3, 140, 17, 99, 64, 0], 'int32');
  const q = tf.matMul(tf.gather(feats, ids), p.mlpW); // [8, 8]
  const k = tf.gather(feats, tf.tensor1d([6, 18, 2, 141, 16, 98, 65, 1], 'int32'));
  const logits = tf.div(tf.matMul(q, tf.matMul(k, p.mlpW), false, true), 0.07); // q . k^T
  const labels = tf.eye(8);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), labels), 1))) as tf.Scalar;
}

async function gradientsOn(backend: 'cpu' | 'wasm'): Promise<{ grads: Record<string, Float32Array>; kernels: string[] }> {
  await tf.setBackend(backend);
  const names = Object.keys(shapes) as Array<keyof Params>;
  const params = Object.fromEntries(
    names.map((name, i) => {
      const shape = shapes[name] as readonly number[];
      const values = randomValues(
        shape.reduce((a, b) => a * b, 1),
        11 + i,
      );
      return [name, tf.tensor(values, [...shape])];
    }),
  ) as unknown as Params;
  let grads: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    grads = tf.grads((...ts: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, ts[i]])) as unknown as Params))(
      names.map((n) => params[n]),
    );
    return grads;
  });
  const out: Record<string, Float32Array> = {};
  for (let i = 0; i < names.length; i++) out[names[i]!] = (await grads[i]!.data()) as Float32Array;
  tf.dispose([...grads, ...Object.values(params)]);
  return { grads: out, kernels: profile.kernelNames };
}

describe('full backward pass through CUT op families: wasm vs cpu', () => {
  beforeAll(loadCpuAndWasm);

  it('every gradient matches, and nothing leaks', async () => {
    const { grads: cpu } = await gradientsOn('cpu');
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const { grads: wasm, kernels } = await gradientsOn('wasm');
    expect(tf.memory().numTensors).toBe(before);
    // The chain runs every training kernel we add to wasm (the blur filter is a constant,
    // so its filter gradient is never asked for).
    for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum', 'BatchMatMul']) {
      expect(kernels, name).toContain(name);
    }
    for (const name of Object.keys(cpu)) {
      const expected = cpu[name]!;
      const actual = wasm[name]!;
      expect(actual.length, name).toBe(expected.length);
      let scale = 1e-6;
      for (const v of expected) scale = Math.max(scale, Math.abs(v));
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!) / scale);
      expect(diff, `d loss / d ${name} (max |grad| ${scale.toExponential(2)})`).toBeLessThan(1e-4);
      // A gradient that is all zeros would make the comparison vacuous.
      expect(scale, name).toBeGreaterThan(1e-6);
    }
  });
});
