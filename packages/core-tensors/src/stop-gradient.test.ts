import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '../../../test-utils/backends';
import { offTape } from './index.js';

describeBackends('offTape', () => {
  it('offTape: what it computes is a constant to the enclosing gradient', async () => {
    const x = tf.tensor1d([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => {
      const c = offTape(() => tf.square(v)); // x² as a constant
      return tf.sum(tf.mul(v, c));
    })(x);
    expect(Array.from(await g.data())).toEqual([1, 4, 9]);
    tf.dispose([x, g]);
  });

  it('offTape: a gradient computed inside it is independent of the outer one, which still works', async () => {
    const w = tf.variable(tf.tensor1d([2, 3]));
    const u = tf.variable(tf.tensor1d([5, 7]));
    const before = tf.memory().numTensors;
    let inner: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.mul(u, w); // on the outer tape
      inner = offTape(() => tf.keep(tf.grad((v: tf.Tensor) => tf.sum(tf.square(v)))(h))); // 2h
      return tf.sum(tf.mul(h, h)) as tf.Scalar; // d/du = 2·u·w², d/dw = 2·w·u²
    }, [u, w]);
    expect(Array.from(await inner!.data())).toEqual([20, 42]);
    expect(Array.from(await grads[u.name]!.data())).toEqual([40, 126]);
    expect(Array.from(await grads[w.name]!.data())).toEqual([100, 294]);
    tf.dispose([value, inner!, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, u]);
  });
});
