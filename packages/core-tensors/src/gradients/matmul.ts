// Gradient of BatchMatMul (tf.matMul; also what Linear layers run).
import * as tf from '@tensorflow/tfjs-core';
import { BatchMatMul, type BatchMatMulAttrs, type GradConfig } from '@tensorflow/tfjs-core';
import { attrsOf, savedAt, single, sumToShape } from './util.js';

/**
 * With C = op(A)·op(B) (op = optional transpose of the last two axes):
 *   dA = dC·op(B)ᵀ, transposed back if A was;  dB = op(A)ᵀ·dC, likewise.
 * Each case below is that identity with the transposes folded into matMul's flags.
 * Batch axes broadcast in the forward pass are summed back.
 */
const batchMatMulGrad: GradConfig = {
  kernelName: BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const g = single(dy);
    const a = savedAt(saved, 0);
    const b = savedAt(saved, 1);
    const { transposeA, transposeB } = attrsOf<BatchMatMulAttrs>(attrs);
    const mm = (x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean) => tf.matMul(x, y, tx, ty);
    let da: () => tf.Tensor;
    let db: () => tf.Tensor;
    if (!transposeA && !transposeB) {
      da = () => mm(g, b, false, true);
      db = () => mm(a, g, true, false);
    } else if (!transposeA && transposeB) {
      da = () => mm(g, b, false, false);
      db = () => mm(g, a, true, false);
    } else if (transposeA && !transposeB) {
      da = () => mm(b, g, false, true);
      db = () => mm(a, g, false, false);
    } else {
      da = () => mm(b, g, true, true);
      db = () => mm(g, a, true, true);
    }
    return {
      a: () => sumToShape(da(), a.shape),
      b: () => sumToShape(db(), b.shape),
    };
  },
};

export const matmulGradients: GradConfig[] = [batchMatMulGrad];
