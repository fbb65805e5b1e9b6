import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { ganLoss, type GanMode } from './index.js';

interface GanGolden {
  prediction: GoldenTensor;
  cases: Array<{ gan_mode: GanMode; target_is_real: boolean; loss: number; grad: GoldenTensor }>;
}

describeBackends('ganLoss vs PyTorch', () => {
  const golden = loadFixture<{ gan: GanGolden }>('golden/gan_loss_and_lr.json').gan;

  it('every gan_mode, real and fake: value and gradient', async () => {
    const pred = goldenNHWC(golden.prediction);
    const before = tf.memory().numTensors;
    for (const c of golden.cases) {
      const label = `${c.gan_mode} ${c.target_is_real ? 'real' : 'fake'}`;
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => ganLoss(x, c.target_is_real, c.gan_mode))(pred);
      const v = (await value.data())[0]!;
      expect(Math.abs(v - c.loss) / Math.max(1, Math.abs(c.loss)), label).toBeLessThan(1e-6);
      const nchw = tf.transpose(grad, [0, 3, 1, 2]);
      expect(maxAbsDiff(await nchw.data(), c.grad.data), label).toBeLessThan(1e-7);
      tf.dispose([value, grad, nchw]);
    }
    expect(tf.memory().numTensors).toBe(before);
    pred.dispose();
    expect(() => ganLoss(tf.zeros([1, 1]), true, 'hinge' as GanMode)).toThrow("gan_mode 'hinge' is not supported");
  });
});
