import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { maxAbsDiff } from '../../../test-utils/golden';
import { l2Normalize } from '@cut/core-tensors';

describeBackends('l2Normalize (the reference Normalize(2))', () => {
  it('divides by the norm plus 1e-7, along the given axis', async () => {
    const x = tf.tensor([
      [3, 4],
      [1e-8, 0],
      [0, 0],
    ]);
    const rows = l2Normalize(x, 1);
    // 1e-8 / (1e-8 + 1e-7): the epsilon is added to the norm, not under the square root.
    expect(maxAbsDiff(await rows.data(), [3 / 5.0000001, 4 / 5.0000001, 1e-8 / 1.1e-7, 0, 0, 0])).toBeLessThan(1e-6);
    const cols = l2Normalize(x, 0);
    const n0 = Math.hypot(3, 1e-8) + 1e-7;
    expect(maxAbsDiff(await cols.data(), [3 / n0, 1, 1e-8 / n0, 0, 0, 0])).toBeLessThan(1e-6);
    // Default axis: the last one.
    const last = l2Normalize(x);
    expect(maxAbsDiff(await last.data(), await rows.data())).toBe(0);
    tf.dispose([x, rows, cols, last]);
  });

  it('has the gradient of x / (‖x‖ + ε)', async () => {
    const x = tf.tensor([[1, -2, 2]]);
    const dy = tf.tensor([[0.5, 1, -1]]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(l2Normalize(t, 1), dy)))(x);
    // d/dx (x/n) · dy = dy/n − x (x·dy)/n³ with n = 3 (ε negligible at this tolerance).
    const xs = [1, -2, 2];
    const dys = [0.5, 1, -1];
    const xdy = xs.reduce((s, v, i) => s + v * dys[i]!, 0);
    const expected = xs.map((v, i) => dys[i]! / 3 - (v * xdy) / 27);
    expect(maxAbsDiff(await g.data(), expected)).toBeLessThan(1e-6);
    tf.dispose([x, dy, g]);
  });
});
