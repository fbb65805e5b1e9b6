import {
  BatchMatMul,
  broadcast_util,
  util,
  type BatchMatMulAttrs,
  type BatchMatMulInputs,
  type KernelBackend,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { type Scope, WASM, withScope } from './kernel-call.js';

/**
 * BatchMatMul on XNNPACK for every case. wasm's own kernel runs XNNPACK (~16 GFLOP/s) only
 * for an unbatched, untransposed product and a scalar loop (~1 GFLOP/s) otherwise. Here a
 * transposed operand is transposed once (XNNPACK transpose, a few ms per million elements),
 * a batch against one shared right operand is a single tall product, and other batches
 * are 2-D products per batch entry (broadcasting as tfjs does).
 */
function batchMatMul(args: { inputs: BatchMatMulInputs; backend: KernelBackend; attrs: BatchMatMulAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const { transposeA, transposeB } = attrs;
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(aOuter);
  const batchB = util.sizeFromShape(bOuter);
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  const kB = transposeB ? bCols : bRows;
  util.assert(
    k === kB,
    () =>
      `BatchMatMul: inner dimensions ${k} and ${kB} of shapes [${a.shape}] and [${b.shape}] ` +
      `(transposeA=${transposeA}, transposeB=${transposeB}) must match`,
  );
  const outOuter = broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  const outShape = [...outOuter, m, n];
  const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
  if (plain || a.dtype !== 'float32' || b.dtype !== 'float32' || m * k * n === 0) {
    // wasm's own kernel: its fast case, or the cases it rejects / handles trivially.
    return withScope(backend, [a, b], (s) => s.reshape(s.runOriginal(BatchMatMul, { a, b: plain ? s.rightOperand(b) : b }, attrs), outShape));
  }

  return withScope(backend, [a, b], (s) => {
    const a3 = orient(s, a, batchA, transposeA); // [batchA, m, k]
    const b3 = orient(s, b, batchB, transposeB); // [batchB, k, n]
    if (batchB === 1) {
      const product = s.matMul2D(s.reshape(a3, [batchA * m, k]), s.reshape(b3, [k, n]));
      return s.reshape(product, outShape);
    }
    const batches = util.sizeFromShape(outOuter);
    const products: TensorInfo[] = [];
    for (let i = 0; i < batches; i++) {
      const ai = s.reshape(s.slice(a3, [sourceIndex(i, outOuter, aOuter), 0, 0], [1, m, k]), [m, k]);
      const bi = s.reshape(s.slice(b3, [sourceIndex(i, outOuter, bOuter), 0, 0], [1, k, n]), [k, n]);
      products.push(s.matMul2D(ai, bi));
    }
    return s.reshape(s.concat(products, 0), outShape);
  });
}

/** `[batch, rows, cols]`, transposed in its last two axes when asked. */
function orient(s: Scope, t: TensorInfo, batch: number, transpose: boolean): TensorInfo {
  const [rows, cols] = t.shape.slice(-2) as [number, number];
  const t3 = s.reshape(t, [batch, rows, cols]);
  return transpose ? s.transpose(t3, [0, 2, 1]) : t3;
}

/** Flat index into an operand's batch dims for flat output batch index `i` (numpy broadcasting). */
function sourceIndex(i: number, outOuter: number[], outerShape: number[]): number {
  const offset = outOuter.length - outerShape.length;
  let index = 0;
  let rest = i;
  let stride = 1;
  for (let axis = outOuter.length - 1; axis >= 0; axis--) {
    const size = outOuter[axis]!;
    const coord = rest % size;
    rest = Math.floor(rest / size);
    const own = axis - offset;
    if (own < 0) continue;
    const ownSize = outerShape[own]!;
    if (ownSize !== 1) index += coord * stride;
    stride *= ownSize;
  }
  return index;
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: WASM,
  kernelFunc: batchMatMul as unknown as KernelConfig['kernelFunc'],
};
