import * as tf from '@tensorflow/tfjs-core';
import { afterAll, expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { loadFixture, type GoldenTensor } from '../../../test-utils/golden';
import { allFinite, golden2d, perturbed, REL_TOL, relDiff, valueAndGrads, Worst, type PatchGoldenCase } from './golden-compare.test-helper';
import { moNCELoss, patchNCELoss, type MoNCECost, type MoNCEOptions, type NegativesMode } from './index';

/** fixtures/golden/monce.json, written by tools/golden/monce.py. */
interface MoNCEResult {
  config: { cost_type: MoNCECost; eps: number; neg_term_weight: number };
  loss: GoldenTensor;
  loss_mean: number;
  grad_mean_wrt_feat_q: GoldenTensor;
  grad_wrt_feat_k_is_zero: boolean;
}
interface MoNCECase extends PatchGoldenCase {
  results: Record<NegativesMode, MoNCEResult[]>;
}

let cached: MoNCECase[] | undefined;
const cases = () => {
  cached ??= loadFixture<{ cases: MoNCECase[] }>('golden/monce.json').cases;
  return cached;
};

describeBackends('moNCELoss vs MoNCE MoNCELoss', () => {
  const worst = new Worst();
  afterAll(() => worst.report('MoNCE'));

  const optionsOf = (c: MoNCECase, negatives: NegativesMode, r: MoNCEResult): MoNCEOptions => ({
    batchSize: c.batch_size,
    temperature: c.nce_T,
    negatives,
    cost: r.config.cost_type,
    epsilon: r.config.eps,
    negTermWeight: r.config.neg_term_weight,
  });

  async function compare(c: MoNCECase, negatives: NegativesMode, r: MoNCEResult) {
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const opts = optionsOf(c, negatives, r);
    const loss = moNCELoss(q, k, opts);
    const values = await loss.data();
    expect(loss.shape).toEqual([c.batch_size * c.num_patches]);
    const g = await valueAndGrads((a, b) => tf.mean(moNCELoss(a, b, opts)), q, k);
    expect(allFinite(values) && allFinite(g.gradQ)).toBe(true);
    expect(g.gradKIsZero && r.grad_wrt_feat_k_is_zero).toBe(true);
    tf.dispose([q, k, loss]);
    return {
      loss: relDiff(values, r.loss.data),
      mean: Math.abs(g.value - r.loss_mean) / Math.abs(r.loss_mean),
      grad: relDiff(g.gradQ, r.grad_mean_wrt_feat_q.data),
    };
  }

  it('covers batch 1 and 2, 4 and 16 patches, dims 8 and 32, exact-zero rows, both costs', () => {
    expect(cases().map((c) => c.id)).toEqual(['b1_p4_d8', 'b2_p4_d8', 'b1_p16_d32', 'b2_p16_d32', 'b2_p4_d8_zero_rows']);
    expect(new Set(cases()[0]!.results.image.map((r) => r.config.cost_type))).toEqual(new Set(['hard', 'easy']));
  });

  for (const negatives of ['image', 'minibatch'] as const) {
    it(`negatives '${negatives}': loss and gradient (through 50 Sinkhorn iterations) within ${REL_TOL} relative`, async () => {
      for (const c of cases()) {
        for (const r of c.results[negatives]) {
          const d = await compare(c, negatives, r);
          const label = `${c.id} ${r.config.cost_type} eps ${r.config.eps}`;
          for (const [key, v] of Object.entries(d)) expect(worst.note(`${key} b${c.batch_size}`, v), `${label} ${key}`).toBeLessThanOrEqual(REL_TOL);
        }
      }
    });
  }

  it(`the log-domain Sinkhorn (sinkhorn: 'log') agrees too, within ${REL_TOL} relative`, async () => {
    const worstLog = { loss: 0, grad: 0 };
    for (const c of [cases()[1]!, cases()[3]!]) {
      for (const negatives of ['image', 'minibatch'] as const) {
        for (const r of c.results[negatives]) {
          const q = golden2d(c.feat_q);
          const k = golden2d(c.feat_k);
          const opts: MoNCEOptions = { ...optionsOf(c, negatives, r), sinkhorn: 'log' };
          const loss = moNCELoss(q, k, opts);
          const g = await valueAndGrads((a, b) => tf.mean(moNCELoss(a, b, opts)), q, k);
          worstLog.loss = Math.max(worstLog.loss, relDiff(await loss.data(), r.loss.data));
          worstLog.grad = Math.max(worstLog.grad, relDiff(g.gradQ, r.grad_mean_wrt_feat_q.data));
          tf.dispose([q, k, loss]);
        }
      }
    }
    expect(worst.note('log-domain loss', worstLog.loss)).toBeLessThanOrEqual(REL_TOL);
    expect(worst.note('log-domain grad', worstLog.grad)).toBeLessThanOrEqual(REL_TOL);
  });

  it('fails on a perturbed input (the comparison can fail)', async () => {
    const c = cases()[1]!;
    const d = await compare({ ...c, feat_q: perturbed(c.feat_q, 3, 1e-3) }, 'image', c.results.image[0]!);
    expect(Math.max(d.loss, d.grad)).toBeGreaterThan(REL_TOL);
  });

  it('is PatchNCE when the plan is uniform (ε → ∞) and negTermWeight = P / (P − 1) makes f = 1', async () => {
    for (const c of [cases()[2]!, cases()[3]!]) {
      const q = golden2d(c.feat_q);
      const k = golden2d(c.feat_k);
      const p = c.num_patches;
      const mo = moNCELoss(q, k, { batchSize: c.batch_size, epsilon: 1e6, negTermWeight: p / (p - 1) });
      const pn = patchNCELoss(q, k, { batchSize: c.batch_size });
      expect(relDiff(await mo.data(), Array.from(await pn.data()))).toBeLessThanOrEqual(REL_TOL);
      tf.dispose([q, k, mo, pn]);
    }
  });

  it('stays finite where their direct Sinkhorn overflows (ε = 0.01, and 0.001 in the log domain) and rejects bad options', async () => {
    const c = cases()[4]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    for (const [epsilon, cost] of [
      [0.01, 'hard'],
      [0.001, 'hard'],
      [0.001, 'easy'],
    ] as const) {
      const g = await valueAndGrads((a, b) => tf.mean(moNCELoss(a, b, { batchSize: 2, epsilon, cost })), q, k);
      expect(Number.isFinite(g.value) && allFinite(g.gradQ), `ε ${epsilon} ${cost}`).toBe(true);
    }
    expect(() => moNCELoss(q, k, { batchSize: 2, sinkhorn: 'exact' as 'log' })).toThrow(/sinkhorn/);
    expect(() => moNCELoss(q, k, { batchSize: 3, negatives: 'minibatch' })).toThrow(/not divisible/);
    expect(() => moNCELoss(q, k, { batchSize: 2, epsilon: 0 })).toThrow(/epsilon/);
    expect(() => moNCELoss(q, k, { batchSize: 2, cost: 'mid' as MoNCECost })).toThrow(/cost/);
    expect(() => moNCELoss(q, k, { batchSize: 2, iterations: 1.5 })).toThrow(/iterations/);
    tf.dispose([q, k]);
  });

  it('leaks no tensors', async () => {
    const c = cases()[1]!;
    const q = golden2d(c.feat_q);
    const k = golden2d(c.feat_k);
    const before = tf.memory().numTensors;
    await valueAndGrads((a, b) => tf.mean(moNCELoss(a, b, { batchSize: 2 })), q, k);
    tf.dispose(moNCELoss(q, k, { batchSize: 2 }));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k]);
  });
});
