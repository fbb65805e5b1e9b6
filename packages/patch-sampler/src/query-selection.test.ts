import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { goldenTensor, loadFixture, type GoldenTensor } from '../../../test-utils/golden';
import { PatchSampleF, type QuerySelection } from './index';

/** A case of tools/golden/qs_attn.py: their PatchSampleF, k call on the source then q call reusing it. */
interface QsCase {
  id: string;
  mode: Exclude<QuerySelection, 'random'>;
  batch: number;
  num_patches: number;
  use_mlp: boolean;
  nc: number | null;
  attention_levels: number[];
  random_level_ids: number[][];
  selected_ids: GoldenTensor[];
  feats_k_nhwc: GoldenTensor[];
  feats_q_nhwc: GoldenTensor[];
  out_k: GoldenTensor[];
  out_q: GoldenTensor[];
  dy_k: GoldenTensor[];
  dy_q: GoldenTensor[];
  grad_feats_k_nhwc: GoldenTensor[];
  grad_feats_q_nhwc: GoldenTensor[];
  weights?: Record<string, GoldenTensor>;
  grad_weights?: Record<string, GoldenTensor>;
}
interface QsGolden {
  cases: QsCase[];
  reference_errors: { mode: string; batch: number; num_patches: number; error: string }[];
}

/** max |ours − golden| / max |golden|: the tolerance is relative to the tensor's scale. */
const REL_TOL = 1e-5;
const golden = loadFixture<QsGolden>('golden/qs_attn.json.gz');

function relDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length mismatch: got ${actual.length}, expected ${expected.length}`);
  let scale = 1e-12;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    const d = Math.abs(actual[i]! - expected[i]!);
    worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(worst, d);
  }
  return worst / scale;
}

/** A copy of a golden tensor with entry `index` moved by `delta`. */
const perturbed = (g: GoldenTensor, index: number, delta: number): GoldenTensor => {
  const data = g.data.slice();
  data[index] = data[index]! + delta;
  return { ...g, data };
};

interface Run {
  idsK: number[][][];
  idsQ: number[][][];
  outK: Float32Array[];
  outQ: Float32Array[];
  gradFeatsK: Float32Array[];
  gradFeatsQ: Float32Array[];
  /** Weight gradients under the reference's names, Linear weights in PyTorch's [out, in]. */
  gradWeights: Record<string, Float32Array>;
}

/** Our PatchSampleF on a case's inputs, as their calculate_NCE_loss calls theirs. */
async function runCase(c: QsCase, featsK: GoldenTensor[] = c.feats_k_nhwc): Promise<Run> {
  const f = new PatchSampleF({ useMlp: c.use_mlp, nc: c.nc ?? 256, querySelection: c.mode, rng: new SeededRng(7) });
  const weights: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(c.weights ?? {})) weights[name] = goldenTensor(g);
  f.setWeights(weights);
  const vk = featsK.map((g) => tf.variable(goldenTensor(g), true));
  const vq = c.feats_q_nhwc.map((g) => tf.variable(goldenTensor(g), true));
  const dyK = c.dy_k.map(goldenTensor);
  const dyQ = c.dy_q.map(goldenTensor);
  const kept: tf.Tensor[] = [];
  let idsK: tf.Tensor[] = [];
  let idsQ: tf.Tensor[] = [];
  let outK: tf.Tensor[] = [];
  let outQ: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const k = f.forward(vk as tf.Variable<tf.Rank.R4>[], c.num_patches, c.random_level_ids);
    const q = f.forward(vq as tf.Variable<tf.Rank.R4>[], c.num_patches, k.ids, k.attention);
    idsK = c.attention_levels.map((l) => tf.keep(k.attention![l]!.ids));
    idsQ = c.attention_levels.map((l) => tf.keep(q.attention![l]!.ids));
    outK = k.features.map((t) => tf.keep(t));
    outQ = q.features.map((t) => tf.keep(t));
    kept.push(...k.attention!.flatMap((a) => (a ? [tf.keep(a.weights)] : [])));
    const terms = [...k.features.map((t, i) => tf.sum(tf.mul(t, dyK[i]!))), ...q.features.map((t, i) => tf.sum(tf.mul(t, dyQ[i]!)))];
    return tf.addN(terms) as tf.Scalar;
  }, [...vk, ...vq, ...f.trainableVariables()]);
  const data = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
  const ids = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => (await t.array()) as number[][]));
  const gradWeights: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(f.namedVariables())) {
    const g = grads[v.name]!;
    const torchLayout = name.endsWith('.weight') ? tf.transpose(g) : g.clone();
    gradWeights[name] = (await torchLayout.data()) as Float32Array;
    torchLayout.dispose();
  }
  const run: Run = {
    idsK: await ids(idsK),
    idsQ: await ids(idsQ),
    outK: await data(outK),
    outQ: await data(outQ),
    gradFeatsK: await data(vk.map((v) => grads[v.name]!)),
    gradFeatsQ: await data(vq.map((v) => grads[v.name]!)),
    gradWeights,
  };
  tf.dispose([...vk, ...vq, ...dyK, ...dyQ, ...kept, ...idsK, ...idsQ, ...outK, ...outQ, value, ...Object.values(grads), ...Object.values(weights)]);
  f.dispose();
  return run;
}

/** Every comparison of a run with its case: name → relative difference. */
function compare(c: QsCase, r: Run): Record<string, number> {
  const out: Record<string, number> = {};
  c.out_k.forEach((g, i) => (out[`out_k[${i}]`] = relDiff(r.outK[i]!, g.data)));
  c.out_q.forEach((g, i) => (out[`out_q[${i}]`] = relDiff(r.outQ[i]!, g.data)));
  c.grad_feats_k_nhwc.forEach((g, i) => (out[`d feat_k[${i}]`] = relDiff(r.gradFeatsK[i]!, g.data)));
  c.grad_feats_q_nhwc.forEach((g, i) => (out[`d feat_q[${i}]`] = relDiff(r.gradFeatsQ[i]!, g.data)));
  for (const [name, g] of Object.entries(c.grad_weights ?? {})) out[`d ${name}`] = relDiff(r.gradWeights[name]!, g.data);
  return out;
}

/** The golden's selected ids of each attention level as [B][P]. */
const selected = (c: QsCase) =>
  c.selected_ids.map((g) => Array.from({ length: g.shape[0]! }, (_, b) => g.data.slice(b * g.shape[1]!, (b + 1) * g.shape[1]!)));

describeBackends(
  "QS-Attn query selection vs the authors' PyTorch PatchSampleF",
  () => {
    for (const c of golden.cases) {
      it(`${c.id}: selected ids equal; both calls' features and all gradients within ${REL_TOL} relative`, async () => {
        const r = await runCase(c);
        expect(r.idsK).toEqual(selected(c));
        expect(r.idsQ).toEqual(selected(c)); // the q call reuses the k call's selection
        const diffs = compare(c, r);
        for (const [name, d] of Object.entries(diffs)) expect(d, `${c.id} ${name}`).toBeLessThanOrEqual(REL_TOL);
        console.log(`[${tf.getBackend()}] ${c.id}: max relative difference ${Math.max(...Object.values(diffs)).toExponential(2)}`);
      });
    }

    it('fails when an input is perturbed: a selected source feature at an attention level moved by 0.01', async () => {
      const c = golden.cases.find((x) => x.id === 'global_b2_np16_nomlp')!;
      const level = c.attention_levels[0]!;
      // Channel 0 of the first query selected in image 0.
      const entry = c.selected_ids[0]!.data[0]! * c.feats_k_nhwc[level]!.shape[3]!;
      const featsK = c.feats_k_nhwc.map((g, i) => (i === level ? perturbed(g, entry, 0.01) : g));
      const diffs = compare(c, await runCase(c, featsK));
      // The source's attention changes, so the translated side's features move too.
      expect(diffs[`out_k[${level}]`]!).toBeGreaterThan(REL_TOL);
      expect(diffs[`out_q[${level}]`]!).toBeGreaterThan(REL_TOL);
      expect(diffs[`d feat_q[${level}]`]!).toBeGreaterThan(REL_TOL);
    });

    it('random levels below attentionFromLevel: the given ids, as without query selection', async () => {
      const c = golden.cases[0]!;
      const f = new PatchSampleF({ useMlp: false, querySelection: 'global', attentionFromLevel: 3, rng: new SeededRng(3) });
      const plain = new PatchSampleF({ useMlp: false, rng: new SeededRng(3) });
      const feats = c.feats_k_nhwc.map((g) => goldenTensor(g) as tf.Tensor4D);
      const a = f.forward(feats, c.num_patches, c.random_level_ids);
      const b = plain.forward(feats.slice(0, 3), c.num_patches, c.random_level_ids);
      expect(a.ids.slice(0, 3)).toEqual(c.random_level_ids);
      expect(a.ids.slice(3)).toEqual(c.attention_levels.map(() => []));
      expect(a.attention!.slice(0, 3)).toEqual([null, null, null]);
      for (let i = 0; i < 3; i++) expect(await a.features[i]!.data()).toEqual(await b.features[i]!.data());
      expect(b.attention).toBeUndefined();
      tf.dispose([...feats, ...a.features, ...b.features, ...a.attention!.flatMap((x) => (x ? [x.ids, x.weights] : []))]);
      f.dispose();
      plain.dispose();
    });

    it('ties in the entropy ranking keep the lower id first', async () => {
      // A constant map: every global attention row is uniform, every entropy exactly log(16).
      const f = new PatchSampleF({ useMlp: false, querySelection: 'global', attentionFromLevel: 0 });
      const feat = tf.ones([2, 4, 4, 2]) as tf.Tensor4D;
      const r = f.forward([feat], 5);
      expect(await r.attention![0]!.ids.array()).toEqual([
        [0, 1, 2, 3, 4],
        [0, 1, 2, 3, 4],
      ]);
      tf.dispose([feat, ...r.features, r.attention![0]!.ids, r.attention![0]!.weights]);
      f.dispose();
    });
  },
  { backends: ['cpu', 'wasm', 'webgpu'] },
);

describe('QS-Attn options and their reference', () => {
  it('a given attention that does not fit the features is refused', () => {
    const f = new PatchSampleF({ useMlp: false, querySelection: 'local', attentionFromLevel: 0 });
    const small = tf.randomNormal([2, 4, 4, 3]) as tf.Tensor4D;
    const k = f.forward([small], 8);
    const big = tf.randomNormal([2, 5, 5, 3]) as tf.Tensor4D;
    expect(() => f.forward([big], 8, k.ids, [{ ...k.attention![0]!, weights: tf.zeros([16, 1, 9]) }])).toThrow(/does not fit/);
    const one = tf.randomNormal([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => f.forward([one], 8, k.ids, k.attention)).toThrow(/does not fit/);
    tf.dispose([small, big, one, ...k.features, k.attention![0]!.ids, k.attention![0]!.weights]);
    f.dispose();
  });

  it('defaults: random, attention from level 3, window 7; bad values are refused', () => {
    const f = new PatchSampleF();
    expect([f.querySelection, f.attentionFromLevel, f.localWindow]).toEqual(['random', 3, 7]);
    expect(() => new PatchSampleF({ querySelection: 'nearest' as QuerySelection })).toThrow(/querySelection/);
    expect(() => new PatchSampleF({ localWindow: 4 })).toThrow(/odd/);
    expect(() => new PatchSampleF({ attentionFromLevel: -1 })).toThrow(/attentionFromLevel/);
  });

  it("records that their 'local' module fails at batch 1 (ours runs it)", () => {
    expect(golden.reference_errors.map((e) => [e.mode, e.batch])).toEqual([['local', 1]]);
  });
});
