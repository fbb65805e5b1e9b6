import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { activateBackend } from '../backend-registry.js';

// Live tensors when the backward pass reaches the start of a chain of `links` (x * 1.5, relu):
// a probe (a customGrad identity) at the chain's start counts them when its gradient runs.
function liveAtStart(links: number): number {
  let live = -1;
  const probe = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor;
    return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => ((live = tf.memory().numTensors), tf.clone(dy)) };
  }) as (x: tf.Tensor) => tf.Tensor;
  const f = (x: tf.Tensor) => {
    let h = probe(x);
    for (let i = 0; i < links; i++) h = tf.relu(tf.mul(h, 1.5));
    return tf.sum(h);
  };
  const x = tf.tensor1d([-1, 0.5, 2, -0.25, 3]);
  tf.dispose(tf.grad(f)(x));
  x.dispose();
  return live;
}

describe('intermediate gradients are freed as the backward pass goes', () => {
  it('live tensors at the end of the pass grow with the forward pass only, not with its gradients', async () => {
    await activateBackend('cpu');
    const perLink = (liveAtStart(25) - liveAtStart(5)) / 20;
    // Each link keeps its forward tensors (the product, the relu, the 1.5 scalar: 3) until the pass
    // ends; its two gradients (of the relu and of the product) are freed once used. Kept, they made 5.
    expect(perLink).toBe(3);
  });

  it('gives the same gradients: a chain, a tensor used twice, a dy handed in by the caller (left alive)', async () => {
    await activateBackend('cpu');
    const x = tf.tensor1d([-1, 0.5, 2, -0.25, 3]);
    const w = tf.tensor1d([0.5, -2, 1, 3, -1]);
    const f = (t: tf.Tensor) => {
      const h = tf.relu(tf.mul(t, w));
      return tf.add(tf.mul(h, h), tf.mul(h, 3)); // h used three times: its gradient is summed by the engine
    };
    const dy = tf.tensor1d([1, 2, 3, 4, 5]);
    const g = tf.grad(f)(x, dy);
    // d/dx = dy * (2h + 3) * w * [x*w > 0], h = relu(x * w) = [0, 0, 2, 0, 0]
    expect(Array.from(await g.data(), (v) => v + 0)).toEqual([0, 0, 3 * 7 * 1, 0, 0]); // + 0: -0 as 0
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(await dy.data())).toEqual([1, 2, 3, 4, 5]);
    tf.dispose([x, w, dy, g]);
  });
});
