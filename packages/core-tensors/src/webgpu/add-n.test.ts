import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../../test-utils/backends';

describeBackends('addN of more terms than a WebGPU shader binds', () => {
  it('12 terms and 7 terms: the sum of the values', async () => {
    for (const n of [12, 7, 20]) {
      const terms = Array.from({ length: n }, (_, i) => tf.tensor1d([i + 1, -2 * i, 0.5 * i]));
      const sum = tf.addN(terms);
      expect(Array.from(await sum.data())).toEqual([(n * (n + 1)) / 2, -n * (n - 1), (0.5 * n * (n - 1)) / 2]);
      tf.dispose([...terms, sum]);
    }
  });
});
