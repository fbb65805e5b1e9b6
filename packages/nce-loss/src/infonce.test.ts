import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { goldenTensor, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { infoNCELoss, type InfoNCEOptions, type Reduction } from './index';

interface InfoNCECase {
  id: string;
  negative_mode: 'inbatch' | 'unpaired' | 'paired';
  temperature: number;
  query: GoldenTensor;
  positive_key: GoldenTensor;
  negatives: GoldenTensor | null;
  loss_none: GoldenTensor;
  loss_mean: GoldenTensor;
  loss_sum: GoldenTensor;
  grad_mean_wrt_query: GoldenTensor;
  grad_mean_wrt_positive_key: GoldenTensor;
  grad_mean_wrt_negatives: GoldenTensor | null;
}

const CASES = loadFixture<{ cases: InfoNCECase[] }>('golden/infonce.json').cases;

/** |Δ| allowed for values of magnitude `scale`: 1e-5 absolute, relative above 1. */
const tol = (expected: ArrayLike<number>) => 1e-5 * Math.max(1, ...Array.from(expected, Math.abs));

const optionsOf = (c: InfoNCECase, negatives: tf.Tensor | null, reduction: Reduction): InfoNCEOptions => ({
  negatives: negatives as tf.Tensor2D | tf.Tensor3D | null,
  negativeMode: c.negative_mode === 'paired' ? 'paired' : 'unpaired',
  temperature: c.temperature,
  reduction,
});

/**
 * Float64 reference of the documented formula, for the stability checks. `negFor(i)`: the
 * negatives of query i, or null for in-batch negatives.
 */
function referenceLoss(q: number[][], k: number[][], negFor: (i: number) => number[][] | null, temperature: number): number[] {
  const unit = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / Math.max(n, 1e-12));
  };
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
  return q.map((qi, i) => {
    const qn = unit(qi);
    const neg = negFor(i);
    const logits = neg ? [dot(qn, unit(k[i]!)), ...neg.map((n) => dot(qn, unit(n)))] : k.map((kj) => dot(qn, unit(kj)));
    const target = neg ? 0 : i;
    const scaled = logits.map((l) => l / temperature);
    const m = Math.max(...scaled);
    return m + Math.log(scaled.reduce((s, l) => s + Math.exp(l - m), 0)) - scaled[target]!;
  });
}

describeBackends('infoNCELoss', () => {
  for (const c of CASES) {
    it(`${c.id}: losses (none/mean/sum) and gradients match PyTorch`, async () => {
      const q = goldenTensor(c.query) as tf.Tensor2D;
      const k = goldenTensor(c.positive_key) as tf.Tensor2D;
      const n = c.negatives ? goldenTensor(c.negatives) : null;
      let worst = 0;
      for (const reduction of ['none', 'mean', 'sum'] as const) {
        const expected = c[`loss_${reduction}`];
        const loss = infoNCELoss(q, k, optionsOf(c, n, reduction));
        expect(loss.shape).toEqual(expected.shape);
        const d = maxAbsDiff(await loss.data(), expected.data);
        expect(d, `${c.id} ${reduction}`).toBeLessThanOrEqual(tol(expected.data));
        worst = Math.max(worst, d);
        loss.dispose();
      }
      const vars = [q, k, ...(n ? [n] : [])].map((t) => tf.variable(t, true));
      const [vq, vk, vn] = vars as [tf.Variable<tf.Rank.R2>, tf.Variable<tf.Rank.R2>, tf.Variable | undefined];
      const { value, grads } = tf.variableGrads(() => infoNCELoss(vq, vk, optionsOf(c, vn ?? null, 'mean')) as tf.Scalar, vars);
      const pairs: [tf.Variable | undefined, GoldenTensor | null][] = [
        [vq, c.grad_mean_wrt_query],
        [vk, c.grad_mean_wrt_positive_key],
        [vn, c.grad_mean_wrt_negatives],
      ];
      let worstGrad = 0;
      for (const [v, g] of pairs) {
        if (!v || !g) continue;
        const d = maxAbsDiff(await grads[v.name]!.data(), g.data);
        expect(d, `${c.id} grad ${v.name}`).toBeLessThanOrEqual(tol(g.data));
        worstGrad = Math.max(worstGrad, d / Math.max(1, ...g.data.map(Math.abs)));
      }
      console.log(`[${tf.getBackend()}] ${c.id}: max |Δloss| ${worst.toExponential(2)}, max rel |Δgrad| ${worstGrad.toExponential(2)}`);
      tf.dispose([q, k, ...(n ? [n] : []), ...vars, value, ...Object.values(grads)]);
    });
  }

  it('detachKeys stops the gradient to the keys and negatives, not to the query', async () => {
    const c = CASES.find((x) => x.negative_mode === 'unpaired')!;
    const vq = tf.variable(goldenTensor(c.query), true) as tf.Variable<tf.Rank.R2>;
    const vk = tf.variable(goldenTensor(c.positive_key), true) as tf.Variable<tf.Rank.R2>;
    const vn = tf.variable(goldenTensor(c.negatives!), true) as tf.Variable<tf.Rank.R2>;
    const { value, grads } = tf.variableGrads(
      () => infoNCELoss(vq, vk, { negatives: vn, temperature: c.temperature, detachKeys: true }) as tf.Scalar,
      [vq, vk, vn],
    );
    expect(maxAbsDiff(await grads[vq.name]!.data(), c.grad_mean_wrt_query.data)).toBeLessThanOrEqual(tol(c.grad_mean_wrt_query.data));
    for (const v of [vk, vn]) {
      const g = grads[v.name];
      if (g) expect(Math.max(...Array.from(await g.data(), Math.abs))).toBe(0);
    }
    tf.dispose([vq, vk, vn, value, ...Object.values(grads)]);
  });

  const modes = [
    { name: 'in-batch', neg: null as number[][] | number[][][] | null, paired: false },
    {
      name: 'unpaired',
      neg: [
        [0.3, -1, 2],
        [1, 1, 1],
        [-2, 0.5, 0],
      ],
      paired: false,
    },
    {
      name: 'paired',
      neg: [
        [
          [0.3, -1, 2],
          [1, 1, 1],
        ],
        [
          [-2, 0.5, 0],
          [0, 1, -1],
        ],
      ],
      paired: true,
    },
  ];
  const baseQ = [
    [1, 2, -0.5],
    [-1, 0.25, 3],
  ];
  const baseK = [
    [0.9, 2.2, -0.1],
    [2, -1, 0.5],
  ];

  for (const mode of modes) {
    it(`${mode.name}: finite and scale-invariant for huge (up to 1e38) and small (1e-10) inputs; ~0 rows for 1e-30`, async () => {
      const run = async (scale: number) => {
        const s = (a: unknown): unknown => (Array.isArray(a) ? a.map(s) : (a as number) * scale);
        const q = tf.tensor(s(baseQ) as number[][]) as tf.Tensor2D;
        const k = tf.tensor(s(baseK) as number[][]) as tf.Tensor2D;
        const n = mode.neg ? tf.tensor(s(mode.neg) as number[][]) : null;
        const vq = tf.variable(q);
        const { value, grads } = tf.variableGrads(
          () =>
            infoNCELoss(vq as tf.Variable<tf.Rank.R2>, k, {
              negatives: n as tf.Tensor2D | null,
              negativeMode: mode.paired ? 'paired' : 'unpaired',
              reduction: 'sum',
            }) as tf.Scalar,
          [vq],
        );
        const loss = (await value.data())[0]!;
        const grad = Array.from(await grads[vq.name]!.data());
        tf.dispose([q, k, ...(n ? [n] : []), vq, value, ...Object.values(grads)]);
        return { loss, grad };
      };
      const ref = await run(1);
      // Matches the float64 formula at scale 1.
      const negFor = (i: number) => (mode.neg === null ? null : mode.paired ? (mode.neg as number[][][])[i]! : (mode.neg as number[][]));
      const expected = referenceLoss(baseQ, baseK, negFor, 0.1);
      expect(Math.abs(ref.loss - expected.reduce((a, b) => a + b, 0))).toBeLessThan(1e-4);
      // 1e38 · 3 is still below the float32 maximum (3.4e38).
      for (const scale of [1e30, 1e-10, 1e38]) {
        const { loss, grad } = await run(scale);
        expect(Number.isFinite(loss), `loss at scale ${scale}`).toBe(true);
        expect(Math.abs(loss - ref.loss), `loss at scale ${scale}`).toBeLessThan(1e-4 * Math.max(1, ref.loss));
        // d loss / d (s·q) = (d loss / d q) / s: finite and scaled back it matches.
        for (let i = 0; i < grad.length; i++) {
          expect(Number.isFinite(grad[i]!)).toBe(true);
          if (scale !== 1e38) expect(Math.abs(grad[i]! * scale - ref.grad[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.grad[i]!)));
        }
      }
      // Rows with norms below 1e-12 are divided by 1e-12 (F.normalize): all similarities ~0,
      // so each loss is log(number of candidates).
      const { loss: tinyLoss, grad: tinyGrad } = await run(1e-30);
      const candidates = mode.neg === null ? baseQ.length : mode.paired ? (mode.neg as number[][][])[0]!.length + 1 : mode.neg.length + 1;
      expect(Math.abs(tinyLoss - baseQ.length * Math.log(candidates))).toBeLessThan(1e-5);
      expect(tinyGrad.every(Number.isFinite)).toBe(true);
    });
  }

  it('stays finite and tends to (max logit − positive logit)/τ for tiny temperatures', async () => {
    const q = tf.tensor([
      [1, 2, -0.5],
      [-1, 0.25, 3],
      [0.5, 0.5, 0.5],
    ]) as tf.Tensor2D;
    const k = tf.tensor([
      [0.9, 2.2, -0.1],
      [2, -1, 0.5],
      [-1, 0, 2],
    ]) as tf.Tensor2D;
    const qa = (await q.array()) as number[][];
    const ka = (await k.array()) as number[][];
    for (const temperature of [1e-3, 1e-6, 1e-12, 1e-30]) {
      const loss = infoNCELoss(q, k, { temperature, reduction: 'none' });
      const got = Array.from(await loss.data());
      loss.dispose();
      // As τ → 0 the loss is (max_j s_ij − s_ii)/τ (+ log of the tie count, 0 here).
      const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));
      const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
      got.forEach((l, i) => {
        const sims = ka.map((kj) => dot(unit(qa[i]!), unit(kj)));
        const gap = (Math.max(...sims) - sims[i]!) / temperature;
        expect(Number.isFinite(l)).toBe(true);
        expect(l).toBeGreaterThanOrEqual(0);
        if (temperature <= 1e-6) expect(Math.abs(l - gap)).toBeLessThanOrEqual(1e-5 * Math.max(1, gap));
      });
    }
    tf.dispose([q, k]);
  });

  it('a zero query gives log(number of candidates) and a finite gradient', async () => {
    const vq = tf.variable(
      tf.tensor([
        [0, 0, 0],
        [1, 2, 3],
      ]),
      true,
    ) as tf.Variable<tf.Rank.R2>;
    const k = tf.tensor([
      [1, 0, 0],
      [0, 1, 0],
    ]) as tf.Tensor2D;
    const negs = tf.tensor([
      [0, 0, 1],
      [1, 1, 0],
      [0, 0, 0],
    ]) as tf.Tensor2D;
    const { value, grads } = tf.variableGrads(() => tf.sum(infoNCELoss(vq, k, { negatives: negs, reduction: 'none' })) as tf.Scalar, [vq]);
    const perQuery = infoNCELoss(vq, k, { negatives: negs, reduction: 'none' });
    expect(Math.abs((await perQuery.data())[0]! - Math.log(4))).toBeLessThan(1e-5);
    expect(Array.from(await grads[vq.name]!.data()).every(Number.isFinite)).toBe(true);
    tf.dispose([vq, k, negs, value, perQuery, ...Object.values(grads)]);
  });

  it('rejects bad shapes and options with clear errors', () => {
    const q = tf.zeros([4, 3]) as tf.Tensor2D;
    const k5 = tf.zeros([5, 3]) as tf.Tensor2D;
    const n = tf.zeros([6, 3]) as tf.Tensor2D;
    const np = tf.zeros([4, 2, 3]) as tf.Tensor3D;
    expect(() => infoNCELoss(q, k5)).toThrow(/positiveKey must have the query's shape/);
    expect(() => infoNCELoss(q, q, { negatives: np })).toThrow(/unpaired negatives must be \[M, 3\]/);
    expect(() => infoNCELoss(q, q, { negatives: n, negativeMode: 'paired' })).toThrow(/paired negatives must be \[4, M, 3\]/);
    expect(() => infoNCELoss(q, q, { temperature: 0 })).toThrow(/temperature/);
    expect(() => infoNCELoss(q, q, { temperature: 1e-31 })).toThrow(/temperature/);
    expect(() => infoNCELoss(q, q, { reduction: 'avg' as Reduction })).toThrow(/reduction/);
    tf.dispose([q, k5, n, np]);
  });

  it('leaks no tensors', async () => {
    const q = tf.randomNormal([8, 4], 0, 1, 'float32', 1) as tf.Tensor2D;
    const k = tf.randomNormal([8, 4], 0, 1, 'float32', 2) as tf.Tensor2D;
    const n = tf.randomNormal([8, 3, 4], 0, 1, 'float32', 3) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const losses = [
        infoNCELoss(q, k),
        infoNCELoss(q, k, { negatives: n, negativeMode: 'paired', reduction: 'none' }),
        tf.grad((x: tf.Tensor) => infoNCELoss(x as tf.Tensor2D, k) as tf.Scalar)(q),
      ];
      await Promise.all(losses.map((l) => l.data()));
      tf.dispose(losses);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, n]);
  });
});
