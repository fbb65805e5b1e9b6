import * as tf from '@tensorflow/tfjs-core';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { goldenTensor } from '../../../test-utils/golden';
import { allFinite, golden2d, perturbed, REL_TOL, relDiff, valueAndGrads, Worst } from './golden-compare.test-helper';
import { hnegSrcCases, MODES, type DceResult, type HnegSrcCase } from './hneg-src.test-helper';
import { decoupledContrastiveLoss, hardNegativeDCELoss, patchNCELoss, type NegativesMode } from './index';

describeBackends('decoupledContrastiveLoss / hardNegativeDCELoss vs Hneg_SRC PatchHDCELoss', () => {
  const worst = new Worst();
  afterAll(() => worst.report('DCE / hDCE'));

  /** Our per-row loss and d mean / d featQ against one golden result; returns the differences. */
  async function compare(c: HnegSrcCase, negatives: NegativesMode, expected: DceResult, weights?: tf.Tensor) {
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const opts = { batchSize: c.batch_size, temperature: c.nce_T, negatives };
    const f = (a: tf.Tensor2D, b: tf.Tensor2D) => (weights ? hardNegativeDCELoss(a, b, { ...opts, weights }) : decoupledContrastiveLoss(a, b, opts));
    const loss = f(q, k);
    const values = await loss.data();
    expect(loss.shape).toEqual([c.batch_size * c.num_patches]);
    const r = await valueAndGrads((a, b) => tf.mean(f(a, b)), q, k);
    expect(allFinite(values) && allFinite(r.gradQ)).toBe(true);
    expect(r.gradKIsZero).toBe(true);
    tf.dispose([q, k, loss]);
    return {
      loss: relDiff(values, expected.loss.data),
      mean: Math.abs(r.value - expected.loss_mean) / Math.abs(expected.loss_mean),
      grad: relDiff(r.gradQ, expected.grad_mean_wrt_feat_q.data),
    };
  }

  it('covers batch 1 and 2, 4 and 16 patches, dims 8 and 32, and a case with exact-zero rows', () => {
    const ids = hnegSrcCases().map((c) => c.id);
    expect(ids).toEqual(['b1_p4_d8', 'b2_p4_d8', 'b1_p16_d32', 'b2_p16_d32', 'b2_p4_d8_zero_rows']);
  });

  for (const negatives of MODES) {
    it(`DCE (no weights), negatives '${negatives}': loss and gradient within ${REL_TOL} relative`, async () => {
      for (const c of hnegSrcCases()) {
        const d = await compare(c, negatives, c.results[negatives].dce);
        for (const [key, v] of Object.entries(d)) expect(worst.note(`DCE ${key} b${c.batch_size}`, v), `${c.id} ${key}`).toBeLessThanOrEqual(REL_TOL);
      }
    });

    it(`hDCE with their SRC weights, negatives '${negatives}': loss and gradient within ${REL_TOL} relative`, async () => {
      for (const c of hnegSrcCases()) {
        const w = goldenTensor(c.results[negatives].src.weights);
        const d = await compare(c, negatives, c.results[negatives].hdce, w);
        w.dispose();
        for (const [key, v] of Object.entries(d))
          expect(worst.note(`hDCE ${key} b${c.batch_size}`, v), `${c.id} ${key}`).toBeLessThanOrEqual(REL_TOL);
      }
    });
  }

  it('fails on a perturbed input (the comparison can fail)', async () => {
    const c = hnegSrcCases()[1]!;
    const moved = { ...c, feat_q: perturbed(c.feat_q, 3, 1e-3) };
    const d = await compare(moved, 'image', c.results.image.dce);
    expect(Math.max(d.loss, d.grad)).toBeGreaterThan(REL_TOL);
  });

  it('reports the PatchNCE cross-entropy as its value when unweighted', async () => {
    const c = hnegSrcCases()[3]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const a = decoupledContrastiveLoss(q, k, { batchSize: 2 });
    const b = patchNCELoss(q, k, { batchSize: 2 });
    expect(relDiff(await a.data(), Array.from(await b.data()))).toBeLessThanOrEqual(REL_TOL);
    tf.dispose([q, k, a, b]);
  });

  it('accepts [1, M, M] weights (broadcast over the images) and rejects a wrong shape', async () => {
    const c = hnegSrcCases()[1]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const ones1 = tf.ones([1, 4, 4]);
    const ones2 = tf.ones([2, 4, 4]);
    const a = hardNegativeDCELoss(q, k, { batchSize: 2, weights: ones1 });
    const b = hardNegativeDCELoss(q, k, { batchSize: 2, weights: ones2 });
    const plain = decoupledContrastiveLoss(q, k, { batchSize: 2 });
    expect(relDiff(await a.data(), Array.from(await plain.data()))).toBe(0);
    expect(relDiff(await b.data(), Array.from(await plain.data()))).toBe(0);
    expect(() => hardNegativeDCELoss(q, k, { batchSize: 2, negatives: 'minibatch', weights: ones2 })).toThrow(/weights must be \[1, 8, 8\]/);
    expect(() => decoupledContrastiveLoss(q, k, { batchSize: 3 })).toThrow(/not divisible/);
    expect(() => decoupledContrastiveLoss(q, k, { batchSize: 2, temperature: 0 })).toThrow(/temperature/);
    tf.dispose([q, k, ones1, ones2, a, b, plain]);
  });

  it('leaks no tensors', async () => {
    const c = hnegSrcCases()[1]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const w = goldenTensor(c.results.image.src.weights);
    const before = tf.memory().numTensors;
    await valueAndGrads((a, b) => tf.mean(hardNegativeDCELoss(a, b, { batchSize: 2, weights: w })), q, k);
    tf.dispose(hardNegativeDCELoss(q, k, { batchSize: 2, weights: w }));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, w]);
  });
});
