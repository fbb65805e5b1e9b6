import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCpuAndWasm, memoryCounts, randomValues, relativeDiffWasmVsCpu, runKernelOn } from './compare-backends.test-helper';

const TOL = 1e-4;

/** Shape of an operand that yields [.., m, k] (or [.., k, n]) after its optional transpose. */
const operand = (batch: number[], rows: number, cols: number, transposed: boolean) => (transposed ? [...batch, cols, rows] : [...batch, rows, cols]);

/**
 * An operand's values repeated over the output's batch dims (numpy broadcasting), so that
 * the cpu reference sees equal batch shapes: tfjs-backend-cpu broadcasts flat batch indices
 * by modulo, which differs from numpy when both operands broadcast ([2,1] x [1,3]).
 */
function broadcastValues(values: Float32Array, batch: number[], outBatch: number[], matrixSize: number): Float32Array {
  const count = outBatch.reduce((p, d) => p * d, 1);
  const out = new Float32Array(count * matrixSize);
  const offset = outBatch.length - batch.length;
  for (let i = 0; i < count; i++) {
    let rest = i;
    let source = 0;
    let stride = 1;
    for (let axis = outBatch.length - 1; axis >= 0; axis--) {
      const coord = rest % outBatch[axis]!;
      rest = Math.floor(rest / outBatch[axis]!);
      const size = axis >= offset ? batch[axis - offset]! : 1;
      if (size !== 1) source += coord * stride;
      stride *= size;
    }
    out.set(values.subarray(source * matrixSize, (source + 1) * matrixSize), i * matrixSize);
  }
  return out;
}

describe('wasm BatchMatMul vs cpu', () => {
  beforeAll(loadCpuAndWasm);

  // [batch of a, batch of b, m, k, n]
  const shapes: Array<[number[], number[], number, number, number]> = [
    [[], [], 5, 7, 3], // 2-D
    [[1], [1], 9, 4, 6],
    [[3], [3], 5, 6, 7], // batched
    [[3], [1], 4, 5, 6], // one right operand for the whole batch
    [[1], [3], 4, 5, 6], // one left operand for the whole batch
    [[2, 1], [1, 3], 3, 5, 2], // broadcast both ways
    [[2, 3], [3], 3, 4, 5], // b has fewer batch dims
    [[1], [2], 1, 6, 5], // single row
  ];
  for (const [batchA, batchB, m, k, n] of shapes) {
    const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const aShape = operand(batchA, m, k, transposeA);
        const bShape = operand(batchB, k, n, transposeB);
        it(`a [${aShape}] b [${bShape}] transposeA ${transposeA} transposeB ${transposeB}`, async () => {
          const seed = m * 31 + n + (transposeA ? 7 : 0) + (transposeB ? 13 : 0);
          const aValues = randomValues(
            aShape.reduce((p, d) => p * d, 1),
            seed,
          );
          const bValues = randomValues(
            bShape.reduce((p, d) => p * d, 1),
            seed + 1,
          );
          const attrs = { transposeA, transposeB };
          const wasm = await runKernelOn(
            'wasm',
            'BatchMatMul',
            { a: { shape: aShape, values: aValues }, b: { shape: bShape, values: bValues } },
            attrs,
          );
          const cpu = await runKernelOn(
            'cpu',
            'BatchMatMul',
            {
              a: { shape: [...outBatch, ...aShape.slice(-2)], values: broadcastValues(aValues, batchA, outBatch, m * k) },
              b: { shape: [...outBatch, ...bShape.slice(-2)], values: broadcastValues(bValues, batchB, outBatch, k * n) },
            },
            attrs,
          );
          expect(wasm.shape).toEqual([...outBatch, m, n]);
          expect(cpu.shape).toEqual(wasm.shape);
          const scale = Math.max(1, ...Array.from(cpu.values, Math.abs));
          const diff = Math.max(...Array.from(cpu.values, (v, i) => Math.abs(v - wasm.values[i]!) / scale));
          expect(diff).toBeLessThan(TOL);
        });
      }
    }
  }
});

describe('wasm UnsortedSegmentSum vs cpu', () => {
  beforeAll(loadCpuAndWasm);

  const cases: Array<{ name: string; x: number[]; ids: number[]; numSegments: number }> = [
    { name: '1-D data, repeated and out-of-order ids', x: [7], ids: [3, 0, 3, 1, 3, 0, 2], numSegments: 5 },
    { name: '2-D data, empty segments', x: [6, 5], ids: [4, 4, 1, 0, 4, 6], numSegments: 8 },
    { name: '3-D data', x: [5, 2, 3], ids: [2, 0, 2, 2, 1], numSegments: 3 },
    { name: 'ids outside [0, numSegments) are dropped', x: [5, 3], ids: [1, -1, 4, 0, 1], numSegments: 4 },
    { name: 'gather-gradient sized', x: [64, 9], ids: Array.from({ length: 64 }, (_, i) => (i * 37) % 50), numSegments: 50 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { diff, wasm } = await relativeDiffWasmVsCpu(
        'UnsortedSegmentSum',
        { x: { shape: c.x }, segmentIds: { shape: [c.ids.length], dtype: 'int32', values: c.ids } },
        { numSegments: c.numSegments },
      );
      expect(wasm.shape).toEqual([c.numSegments, ...c.x.slice(1)]);
      expect(diff).toBeLessThan(TOL);
    });
  }
});

describe('wasm BatchMatMul / UnsortedSegmentSum free their intermediates', () => {
  beforeAll(loadCpuAndWasm);

  it('tensor and data-id counts stay flat over repeated calls', async () => {
    await tf.setBackend('wasm');
    const a = tf.randomUniform([3, 5, 6]);
    const b = tf.randomUniform([3, 4, 5]);
    const b1 = tf.randomUniform([1, 6, 4]);
    const x = tf.randomUniform([6, 4]);
    const ids = tf.tensor1d([2, 0, 2, 1, 5, 2], 'int32');
    const runAll = () => {
      const outs = [
        tf.engine().runKernel('BatchMatMul', { a, b }, { transposeA: true, transposeB: true }),
        tf.engine().runKernel('BatchMatMul', { a, b: b1 }, { transposeA: false, transposeB: false }),
        tf.engine().runKernel('BatchMatMul', { a: x, b: x }, { transposeA: true, transposeB: false }),
        tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 6 }),
      ] as tf.Tensor[];
      tf.dispose(outs);
    };
    runAll();
    const before = memoryCounts();
    for (let i = 0; i < 3; i++) runAll();
    expect(memoryCounts()).toEqual(before);
    tf.dispose([a, b, b1, x, ids]);
  });
});

describe('wasm BatchMatMul with one buffer seen under two shapes', () => {
  beforeAll(loadCpuAndWasm);

  // tfjs-wasm caches XNNPACK's packed right operand by buffer id; a column vector and its
  // transpose (a reshape: the same buffer) met in one gradient gave rows like [10, 1e-40, ...].
  it('the gradient of sum(A x) for a column vector x is x in every row, as on cpu', async () => {
    for (const xShape of [
      [4, 1],
      [1, 4, 1],
    ]) {
      const rows: number[][] = [];
      for (const backend of ['cpu', 'wasm']) {
        await tf.setBackend(backend);
        const x = tf.tensor([1, 2, 3, 4], xShape);
        const a = tf.ones(xShape.length === 2 ? [3, 4] : [1, 3, 4]);
        const g = tf.grad((A: tf.Tensor) => tf.sum(tf.matMul(A, x)))(a);
        rows.push(Array.from(await g.data()));
        tf.dispose([x, a, g]);
      }
      expect(rows[1], `x [${xShape}]`).toEqual(rows[0]);
      expect(rows[0]!.slice(0, 4)).toEqual([1, 2, 3, 4]);
    }
  });

  it('a buffer given as [4, 1] and then as [1, 4] (a reshape) gives both products right', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4], [4, 1]);
    const first = tf.matMul(tf.ones([2, 4]), x);
    const second = tf.matMul(tf.ones([2, 1]), tf.reshape(x, [1, 4]));
    expect(Array.from(await first.data())).toEqual([10, 10]);
    expect(Array.from(await second.data())).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    tf.dispose([x, first, second]);
  });
});
