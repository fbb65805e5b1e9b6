import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { activateBackend } from '../backend-registry.js';
import { registerWasmTrainingKernels } from './index.js';
import { sliceConfig } from './slice.js';

describe('wasm Slice (heap-to-heap box copy)', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await activateBackend('wasm');
  });

  it('is installed', () => {
    expect(tf.getKernel('Slice', 'wasm')?.kernelFunc).toBe(sliceConfig.kernelFunc);
  });

  // x[n,h,w,c] = n*1000 + h*100 + w*10 + c: every element names its own position.
  const shape = [2, 5, 6, 3];
  const value = (n: number, h: number, w: number, c: number) => n * 1000 + h * 100 + w * 10 + c;
  const cases: Array<[number[], number[]]> = [
    [
      [0, 0, 0, 0],
      [2, 5, 6, 3],
    ],
    [
      [1, 1, 2, 0],
      [1, 3, 3, 3],
    ],
    [
      [0, 2, 0, 1],
      [2, 2, 6, 2],
    ],
    [
      [0, 0, 5, 0],
      [2, 5, 1, 3],
    ],
    [
      [1, 4, 1, 2],
      [-1, -1, 2, 1],
    ],
  ];
  for (const [begin, size] of cases) {
    it(`box begin [${begin}] size [${size}]`, async () => {
      const data = new Float32Array(2 * 5 * 6 * 3);
      let i = 0;
      for (let n = 0; n < 2; n++) for (let h = 0; h < 5; h++) for (let w = 0; w < 6; w++) for (let c = 0; c < 3; c++) data[i++] = value(n, h, w, c);
      const x = tf.tensor4d(data, shape as [number, number, number, number]);
      const y = tf.slice(x, begin, size);
      const full = size.map((s, a) => (s === -1 ? shape[a]! - begin[a]! : s));
      expect(y.shape).toEqual(full);
      const expected: number[] = [];
      for (let n = 0; n < full[0]!; n++)
        for (let h = 0; h < full[1]!; h++)
          for (let w = 0; w < full[2]!; w++)
            for (let c = 0; c < full[3]!; c++) expected.push(value(begin[0]! + n, begin[1]! + h, begin[2]! + w, begin[3]! + c));
      expect(Array.from(await y.data())).toEqual(expected);
      const ints = tf.slice(tf.cast(x, 'int32'), begin, size);
      expect(Array.from(await ints.data())).toEqual(expected);
      tf.dispose([x, y, ints]);
    });
  }
});
