import * as tf from '@tensorflow/tfjs-core';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { allFinite, golden2d, perturbed, REL_TOL, relDiff, valueAndGrads, Worst } from './golden-compare.test-helper';
import { hnegSrcCases, MODES, type HnegSrcCase } from './hneg-src.test-helper';
import { hardNegativeDCELoss, hdceGammaAt, semanticRelationLoss, semanticRelationWeights, type NegativesMode } from './index';

describeBackends('semanticRelationLoss vs Hneg_SRC SRC_Loss', () => {
  const worst = new Worst();
  afterAll(() => worst.report('SRC'));

  async function compare(c: HnegSrcCase, negatives: NegativesMode) {
    const expected = c.results[negatives].src;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const opts = { batchSize: c.batch_size, negatives };
    const { loss, weights } = semanticRelationLoss(q, k, opts);
    expect(weights.shape).toEqual(expected.weights.shape);
    const r = await valueAndGrads((a, b) => semanticRelationLoss(a, b, opts).loss, q, k);
    expect(allFinite(r.gradQ)).toBe(true);
    expect(r.gradKIsZero).toBe(true);
    const out = {
      loss: relDiff(await loss.data(), expected.loss.data),
      weights: relDiff(await weights.data(), expected.weights.data),
      // PyTorch's NaN entries (the zero query row) are left out here and checked below.
      grad: relDiff(r.gradQ, expected.grad_wrt_feat_q.data),
      ...(expected.grad_one_sided_wrt_feat_q && { 'grad at a zero row': relDiff(r.gradQ, expected.grad_one_sided_wrt_feat_q.data) }),
    };
    tf.dispose([q, k, loss, weights]);
    return out;
  }

  for (const negatives of MODES) {
    // WebGPU (software Vulkan in CI) computes the Jensen-Shannon sum of ~1e-4 values in its own
    // float32 order: 1.3e-5 relative seen on the loss; its bound is 5e-5.
    it(`negatives '${negatives}': loss, gradient and hDCE weights within ${REL_TOL} relative (webgpu 5e-5)`, async () => {
      for (const c of hnegSrcCases()) {
        const d = await compare(c, negatives);
        for (const [key, v] of Object.entries(d))
          expect(worst.note(`${key} b${c.batch_size}`, v), `${c.id} ${key}`).toBeLessThanOrEqual(tf.getBackend() === 'webgpu' ? 5e-5 : REL_TOL);
      }
    });

    it(`negatives '${negatives}': the curriculum's weights (hdceGammaAt + semanticRelationWeights)`, async () => {
      for (const c of hnegSrcCases()) {
        for (const cur of c.results[negatives].src_curriculum) {
          const o = cur.options;
          const gamma = hdceGammaAt(cur.epoch, {
            gamma: o.HDCE_gamma,
            gammaMin: o.HDCE_gamma_min,
            nEpochs: o.n_epochs,
            nEpochsDecay: o.n_epochs_decay,
            stepGamma: o.step_gamma,
            stepGammaEpoch: o.step_gamma_epoch,
          });
          const k = golden2d(c.feat_k);
          const w = semanticRelationWeights(k, { batchSize: c.batch_size, negatives, gamma });
          expect(
            worst.note(`curriculum weights b${c.batch_size}`, relDiff(await w.data(), cur.weights.data)),
            `${c.id} epoch ${cur.epoch}`,
          ).toBeLessThanOrEqual(REL_TOL);
          tf.dispose([k, w]);
        }
      }
    });
  }

  it('gives finite gradients at exact-zero rows, where PyTorch gives NaN', async () => {
    const c = hnegSrcCases().find((x) => x.zero_rows)!;
    const torchGrad = c.results.image.src.grad_wrt_feat_q.data;
    const row = c.zero_rows!.feat_q[0]!;
    expect(torchGrad.slice(row * c.dim, (row + 1) * c.dim).every((v) => v === null)).toBe(true);
    const r = await valueAndGrads((a, b) => semanticRelationLoss(a, b, { batchSize: 2 }).loss, golden2d(c.feat_q), golden2d(c.feat_k));
    expect(allFinite(r.gradQ) && Number.isFinite(r.value)).toBe(true);
  });

  it('feeds hardNegativeDCELoss: its weights give the authors hDCE', async () => {
    const c = hnegSrcCases()[3]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const { loss, weights } = semanticRelationLoss(q, k, { batchSize: 2 });
    const h = hardNegativeDCELoss(q, k, { batchSize: 2, weights });
    expect(relDiff(await h.data(), c.results.image.hdce.loss.data)).toBeLessThanOrEqual(REL_TOL);
    tf.dispose([q, k, loss, weights, h]);
  });

  it('fails on a perturbed input (the comparison can fail)', async () => {
    const c = hnegSrcCases()[1]!;
    const d = await compare({ ...c, feat_q: perturbed(c.feat_q, 3, 1e-2) }, 'image');
    expect(Math.max(d.loss, d.grad)).toBeGreaterThan(REL_TOL);
  });

  it('hdceGammaAt: their linear curriculum and step', () => {
    expect(hdceGammaAt(0)).toBe(1);
    expect(hdceGammaAt(100, { gamma: 50, gammaMin: 10 })).toBe(40);
    expect(hdceGammaAt(400, { gamma: 50, gammaMin: 10 })).toBe(10);
    expect(hdceGammaAt(200, { gamma: 50, gammaMin: 10, stepGamma: true })).toBe(30);
    expect(hdceGammaAt(201, { gamma: 50, gammaMin: 10, stepGamma: true })).toBe(1);
    expect(() => semanticRelationLoss(tf.zeros([4, 2]), tf.zeros([4, 2]), { batchSize: 1, gamma: 0 })).toThrow(/gamma/);
  });

  it('leaks no tensors', async () => {
    const c = hnegSrcCases()[1]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const before = tf.memory().numTensors;
    await valueAndGrads((a, b) => semanticRelationLoss(a, b, { batchSize: 2 }).loss, q, k);
    const { loss, weights } = semanticRelationLoss(q, k, { batchSize: 2 });
    tf.dispose([loss, weights]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k]);
  });
});
