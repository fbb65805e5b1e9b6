import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { goldenTensor, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { patchNCELoss, type NegativesMode } from './index';

interface ModeResult {
  loss: GoldenTensor;
  loss_mean: number;
  grad_mean_loss_wrt_feat_q: GoldenTensor;
  grad_wrt_feat_k_is_zero: boolean;
  logits_shape: [number, number];
}
interface PatchNCECase {
  id: string;
  batch_size: number;
  num_patches: number;
  dim: number;
  nce_T: number;
  feat_q: GoldenTensor;
  feat_k: GoldenTensor;
  results: { all_negatives_from_minibatch_false: ModeResult; all_negatives_from_minibatch_true: ModeResult };
}

const FILES = ['golden/patchnce_dim8.json', 'golden/patchnce_dim256_np4_np16.json', 'golden/patchnce_dim256_np256.json.gz'];
const TOL = 1e-5;

const cache = new Map<string, PatchNCECase[]>();
const casesOf = (file: string) => {
  if (!cache.has(file)) cache.set(file, loadFixture<{ cases: PatchNCECase[] }>(file).cases);
  return cache.get(file)!;
};

const MODES: [NegativesMode, keyof PatchNCECase['results']][] = [
  ['image', 'all_negatives_from_minibatch_false'],
  ['minibatch', 'all_negatives_from_minibatch_true'],
];

describeBackends('patchNCELoss vs the PyTorch reference', () => {
  it('covers every golden case: batch 1 and 2, 4/16/256 patches, dims 8 and 256', () => {
    const seen = FILES.flatMap((f) => casesOf(f).map((c) => `${c.batch_size}/${c.num_patches}/${c.dim}`));
    expect(new Set(seen).size).toBe(12);
    for (const b of [1, 2]) for (const p of [4, 16, 256]) for (const d of [8, 256]) expect(seen).toContain(`${b}/${p}/${d}`);
  });

  for (const file of FILES) {
    it(`${file}: per-row loss and d(mean loss)/d featQ within ${TOL}; no gradient to featK`, async () => {
      const worst = { loss: 0, grad: 0 };
      for (const c of casesOf(file)) {
        for (const [negatives, key] of MODES) {
          const expected = c.results[key];
          const q = goldenTensor(c.feat_q) as tf.Tensor2D;
          const k = goldenTensor(c.feat_k) as tf.Tensor2D;
          const opts = { batchSize: c.batch_size, temperature: c.nce_T, negatives };

          const loss = patchNCELoss(q, k, opts);
          expect(loss.shape).toEqual([c.batch_size * c.num_patches]);
          const dLoss = maxAbsDiff(await loss.data(), expected.loss.data);
          expect(dLoss, `${c.id} ${negatives} loss`).toBeLessThanOrEqual(TOL);
          const mean = tf.mean(loss);
          expect(Math.abs((await mean.data())[0]! - expected.loss_mean)).toBeLessThanOrEqual(TOL);

          // Gradients through variables: variableGrads leaves out a variable that gets none.
          const vq = tf.variable(q, true);
          const vk = tf.variable(k, true);
          const { value, grads } = tf.variableGrads(() => tf.mean(patchNCELoss(vq, vk, opts)) as tf.Scalar, [vq, vk]);
          const dGrad = maxAbsDiff(await grads[vq.name]!.data(), expected.grad_mean_loss_wrt_feat_q.data);
          expect(dGrad, `${c.id} ${negatives} grad`).toBeLessThanOrEqual(TOL);
          expect(expected.grad_wrt_feat_k_is_zero).toBe(true);
          const gk = grads[vk.name];
          if (gk) {
            const gkMax = tf.tidy(() => tf.max(tf.abs(gk)));
            expect((await gkMax.data())[0]).toBe(0);
            gkMax.dispose();
          }

          worst.loss = Math.max(worst.loss, dLoss);
          worst.grad = Math.max(worst.grad, dGrad);
          tf.dispose([q, k, loss, mean, vq, vk, value, ...Object.values(grads)]);
        }
      }
      console.log(`[${tf.getBackend()}] ${file}: max |Δloss| ${worst.loss.toExponential(2)}, max |Δgrad| ${worst.grad.toExponential(2)}`);
    });
  }

  it('uses the batchSize option, not the tensor, to group negatives (like opt.batch_size)', async () => {
    const c = casesOf(FILES[0]!).find((x) => x.batch_size === 2 && x.num_patches === 4)!;
    const q = goldenTensor(c.feat_q) as tf.Tensor2D;
    const k = goldenTensor(c.feat_k) as tf.Tensor2D;
    // Grouping all 8 rows as one image is the same as 'minibatch' mode.
    const asOne = patchNCELoss(q, k, { batchSize: 1 });
    expect(maxAbsDiff(await asOne.data(), c.results.all_negatives_from_minibatch_true.loss.data)).toBeLessThanOrEqual(TOL);
    // 'minibatch' ignores the batch size.
    const mb = patchNCELoss(q, k, { batchSize: 2, negatives: 'minibatch' });
    expect(maxAbsDiff(await mb.data(), c.results.all_negatives_from_minibatch_true.loss.data)).toBeLessThanOrEqual(TOL);
    tf.dispose([q, k, asOne, mb]);
  });

  it('keeps the masked diagonal (-10/τ) in the softmax', async () => {
    // Orthogonal unit rows: l_pos = 1 for each row, negatives 0 except the diagonal -10.
    const q = tf.eye(3) as tf.Tensor2D;
    const loss = patchNCELoss(q, q, { batchSize: 1, temperature: 1 });
    // −log(e^1 / (e^1 + e^0 + e^0 + e^−10))
    const expected = -Math.log(Math.E / (Math.E + 2 + Math.exp(-10)));
    const got = await loss.data();
    for (const v of got) expect(Math.abs(v - expected)).toBeLessThan(1e-6);
    tf.dispose([q, loss]);
  });

  it('rejects bad inputs with clear errors', () => {
    const a = tf.zeros([6, 4]) as tf.Tensor2D;
    const b = tf.zeros([6, 5]) as tf.Tensor2D;
    const c = tf.zeros([6, 4, 1]) as unknown as tf.Tensor2D;
    expect(() => patchNCELoss(a, b, { batchSize: 1 })).toThrow(/same shape/);
    expect(() => patchNCELoss(c, c, { batchSize: 1 })).toThrow(/2-D/);
    expect(() => patchNCELoss(a, a, { batchSize: 4 })).toThrow(/not divisible by batchSize = 4/);
    expect(() => patchNCELoss(a, a, { batchSize: 0 })).toThrow(/positive integer/);
    expect(() => patchNCELoss(a, a, { batchSize: 2, temperature: 0 })).toThrow(/temperature/);
    expect(() => patchNCELoss(a, a, { batchSize: 2, negatives: 'all' as NegativesMode })).toThrow(/negatives/);
    tf.dispose([a, b, c]);
  });

  it('leaks no tensors over repeated loss and gradient evaluations', async () => {
    const c = casesOf(FILES[0]!).find((x) => x.batch_size === 2 && x.num_patches === 16)!;
    const q = tf.variable(goldenTensor(c.feat_q), true);
    const k = goldenTensor(c.feat_k) as tf.Tensor2D;
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(patchNCELoss(q as tf.Variable<tf.Rank.R2>, k, { batchSize: 2 })) as tf.Scalar, [q]);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(tf.tidy(() => patchNCELoss(q as tf.Variable<tf.Rank.R2>, k, { batchSize: 2 })));
    };
    await step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k]);
  });
});
