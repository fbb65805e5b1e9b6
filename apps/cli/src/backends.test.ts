import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, testBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiffTensor, type GoldenTensor } from '../../../test-utils/golden';
import { loadBackend } from './backends.js';

interface ConvCase {
  name: string;
  stride: number;
  tfjs_pad: 'same' | 'valid';
  x: GoldenTensor;
  weight: GoldenTensor;
  bias: GoldenTensor;
  y: GoldenTensor;
  dy: GoldenTensor;
  dx: GoldenTensor;
  dweight: GoldenTensor;
  dbias: GoldenTensor;
}

// PyTorch's conv2d and its gradients (tools/golden/webgpu_smoke.py).
const { cases } = loadFixture<{ cases: ConvCase[] }>('golden/webgpu_smoke.json');
// Values are O(1..10) sums of 27 products: float32 rounding stays far below this.
const TOL = 2e-5;

/** OIHW (PyTorch) weights as HWIO (tfjs). */
const hwio = (g: GoldenTensor) => tf.tidy(() => tf.transpose(goldenTensor(g), [2, 3, 1, 0]) as tf.Tensor4D);

describe('loadBackend', () => {
  for (const backend of testBackends()) {
    it(`loads ${backend} and makes it the active backend`, async () => {
      const info = await loadBackend(backend);
      console.log(`backend ${info.name}: ${info.detail}`);
      expect(info.name).toBe(backend);
      expect(tf.getBackend()).toBe(backend);
      if (backend === 'webgpu') {
        // The adapter's own description, e.g. "mesa software llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)".
        expect(info.detail).toMatch(/^Dawn, adapter \S/);
      }
    });
  }

  it('rejects an unknown backend by name', async () => {
    await expect(loadBackend('cuda' as never)).rejects.toThrow(/unknown backend 'cuda'/);
  });
});

describeBackends('conv2d smoke test against PyTorch', (backend) => {
  for (const c of cases) {
    it(`${c.name}: forward`, async () => {
      expect(tf.getBackend()).toBe(backend);
      const y = tf.tidy(() =>
        tf.add(tf.conv2d(goldenNHWC(c.x), hwio(c.weight), c.stride, c.tfjs_pad), goldenTensor(c.bias)),
      );
      const expected = goldenNHWC(c.y);
      expect(y.shape).toEqual(expected.shape);
      expect(await maxAbsDiffTensor(y, expected)).toBeLessThan(TOL);
      tf.dispose([y, expected]);
    });

    it(`${c.name}: gradients of sum(y * dy) w.r.t. input, filter and bias`, async () => {
      const before = tf.memory().numTensors;
      const [x, w, b, dy] = [goldenNHWC(c.x), hwio(c.weight), goldenTensor(c.bias), goldenNHWC(c.dy)];
      const loss = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
        tf.sum(tf.mul(tf.add(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.tfjs_pad), bi), dy));
      const [dx, dw, db] = tf.grads(loss)([x, w, b]);
      const expected = [goldenNHWC(c.dx), hwio(c.dweight), goldenTensor(c.dbias)];
      for (const [got, want] of [
        [dx!, expected[0]!],
        [dw!, expected[1]!],
        [db!, expected[2]!],
      ] as const) {
        expect(got.shape).toEqual(want.shape);
        expect(await maxAbsDiffTensor(got, want)).toBeLessThan(TOL);
      }
      tf.dispose([x, w, b, dy, dx!, dw!, db!, ...expected]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
