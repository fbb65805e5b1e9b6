import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiff, maxAbsDiffTensor, type GoldenTensor } from '../../../test-utils/golden';
import { batchNorm, runningStats } from './batch-norm.js';

// torch.nn.BatchNorm2d goldens (tools/golden/batch_norm.py), NCHW.
interface Stats {
  running_mean: GoldenTensor;
  running_var: GoldenTensor;
  num_batches_tracked: number;
}
interface Case {
  shape: number[];
  weight: GoldenTensor;
  bias: GoldenTensor;
  x1: GoldenTensor;
  x2: GoldenTensor;
  y1: GoldenTensor;
  dy: GoldenTensor;
  dx1: GoldenTensor;
  dweight: GoldenTensor;
  dbias: GoldenTensor;
  after1: Stats;
  y2: GoldenTensor;
  after2: Stats;
  y_eval: GoldenTensor;
  dx_eval: GoldenTensor;
}
const golden = loadFixture<{ cases: Case[] }>('golden/batch_norm.json');

const nchw = (t: tf.Tensor4D) => tf.transpose(t, [0, 3, 1, 2]);
/** max |ours (NHWC, as NCHW) - golden| */
async function diffNCHW(t: tf.Tensor, g: GoldenTensor): Promise<number> {
  const n = nchw(t as tf.Tensor4D);
  const d = await maxAbsDiffTensor(n, g.data);
  n.dispose();
  return d;
}

describeBackends('batchNorm vs torch BatchNorm2d', () => {
  for (const c of golden.cases) {
    it(`[${c.shape}]: training forward and gradients, running statistics over two batches, eval forward and gradient`, async () => {
      const before = tf.memory().numTensors;
      const stats = runningStats(c.shape[1]!);
      const weight = goldenTensor(c.weight) as tf.Tensor1D;
      const bias = goldenTensor(c.bias) as tf.Tensor1D;
      const x1 = goldenNHWC(c.x1);
      const dy = goldenNHWC(c.dy);
      const affine = (x: tf.Tensor4D, training: boolean) => tf.add(tf.mul(batchNorm(x, { training, stats }), weight), bias) as tf.Tensor4D;

      // Training mode: y, and the gradients of sum(y * dy) for x, weight and bias.
      let y1: tf.Tensor | undefined;
      const grads = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const y = tf.add(tf.mul(batchNorm(x as tf.Tensor4D, { training: true, stats }), w), b);
        y1 = tf.keep(y.clone());
        return tf.sum(tf.mul(y, dy));
      })([x1, weight, bias]);
      expect(await diffNCHW(y1!, c.y1)).toBeLessThan(1e-5);
      expect(await diffNCHW(grads[0]!, c.dx1)).toBeLessThan(1e-4);
      expect(await maxAbsDiffTensor(grads[1]!, c.dweight.data)).toBeLessThan(1e-4);
      expect(await maxAbsDiffTensor(grads[2]!, c.dbias.data)).toBeLessThan(1e-4);
      const checkStats = async (s: Stats) => {
        expect(maxAbsDiff(await stats.mean.data(), s.running_mean.data)).toBeLessThan(1e-6);
        expect(maxAbsDiff(await stats.variance.data(), s.running_var.data)).toBeLessThan(1e-5);
        expect(stats.batches).toBe(s.num_batches_tracked);
      };
      await checkStats(c.after1);

      // A second batch: the running statistics move again.
      const x2 = goldenNHWC(c.x2);
      const y2 = tf.tidy(() => nchw(affine(x2, true)));
      expect(await maxAbsDiffTensor(y2, c.y2.data)).toBeLessThan(1e-5);
      await checkStats(c.after2);

      // Eval mode: the running statistics, and the gradient through them as constants.
      const [yEval, dxEval] = tf.tidy(() => {
        const y = nchw(affine(x1, false));
        const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(affine(x as tf.Tensor4D, false), dy)))(x1);
        return [y, nchw(dx as tf.Tensor4D)];
      });
      expect(await maxAbsDiffTensor(yEval!, c.y_eval.data)).toBeLessThan(1e-5);
      expect(await maxAbsDiffTensor(dxEval!, c.dx_eval.data)).toBeLessThan(1e-5);
      await checkStats(c.after2);

      tf.dispose([y1!, ...grads, x1, x2, dy, y2, yEval!, dxEval!, weight, bias, stats.mean, stats.variance]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('refuses training on one value per channel, as torch does', () => {
    const stats = runningStats(2);
    expect(() => batchNorm(tf.zeros([1, 1, 1, 2]) as tf.Tensor4D, { training: true, stats })).toThrow(/more than 1 value per channel/);
    expect(() => batchNorm(tf.zeros([1, 2, 2, 3]) as tf.Tensor4D, { training: true, stats })).toThrow(/3 channels, the running statistics 2/);
    tf.dispose([stats.mean, stats.variance]);
  });
});
