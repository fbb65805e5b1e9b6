import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { PatchSampleF } from './index';

interface MlpWeights {
  name: string;
  linear1_weight: GoldenTensor;
  linear1_bias: GoldenTensor;
  linear2_weight: GoldenTensor;
  linear2_bias: GoldenTensor;
}
interface SampleCase {
  id: string;
  use_mlp: boolean;
  netF_nc: number;
  num_patches: number;
  feats_nhwc: GoldenTensor[];
  patch_ids: number[][] | null;
  returned_ids: number[][];
  outputs: GoldenTensor[];
  mlp_weights?: MlpWeights[];
}
interface SharedIdsCase {
  id: 'shared_ids_k_then_q';
  netF_nc: number;
  num_patches: number;
  feat_k_nhwc: GoldenTensor;
  feat_q_nhwc: GoldenTensor;
  ids_k: number[];
  ids_q: number[];
  out_k: GoldenTensor;
  out_q: GoldenTensor;
  mlp_weights: MlpWeights[];
}
interface GradLevel {
  feat_nhwc: GoldenTensor;
  patch_ids: number[] | null;
  output: GoldenTensor;
  dy: GoldenTensor;
  grad_feat_nhwc: GoldenTensor;
  weights?: Record<string, GoldenTensor>;
  grad_weights?: Record<string, GoldenTensor>;
}
interface GradCase {
  id: string;
  use_mlp: boolean;
  nc: number | null;
  num_patches: number;
  levels: GradLevel[];
}

const TOL = 1e-5;
const golden = loadFixture<{ cases: (SampleCase | SharedIdsCase)[] }>('golden/patchsample.json').cases;
const sampleCases = golden.filter((c): c is SampleCase => c.id !== 'shared_ids_k_then_q');
const shared = golden.find((c): c is SharedIdsCase => c.id === 'shared_ids_k_then_q')!;
const gradCases = loadFixture<{ cases: GradCase[] }>('golden/patchsample_grad.json').cases;

/** The golden's MLP weights under the reference's parameter names. */
function namedWeights(mlps: MlpWeights[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  mlps.forEach((m, i) => {
    out[`mlp_${i}.0.weight`] = goldenTensor(m.linear1_weight);
    out[`mlp_${i}.0.bias`] = goldenTensor(m.linear1_bias);
    out[`mlp_${i}.2.weight`] = goldenTensor(m.linear2_weight);
    out[`mlp_${i}.2.bias`] = goldenTensor(m.linear2_bias);
  });
  return out;
}

/** Golden output in our layout: NCHW whole maps become NHWC. */
const expectedOutput = (g: GoldenTensor) => (g.shape.length === 4 ? goldenNHWC(g) : goldenTensor(g));

describeBackends('PatchSampleF vs the PyTorch reference', () => {
  for (const c of sampleCases) {
    it(`${c.id}: outputs within ${TOL} and the ids it used`, async () => {
      const f = new PatchSampleF({ useMlp: c.use_mlp, nc: c.netF_nc, rng: new SeededRng(1) });
      const weights = c.mlp_weights ? namedWeights(c.mlp_weights) : {};
      f.setWeights(weights);
      const feats = c.feats_nhwc.map((g) => goldenTensor(g) as tf.Tensor4D);
      const { features, ids } = f.forward(feats, c.num_patches, c.patch_ids);
      expect(ids).toEqual(c.returned_ids);
      let worst = 0;
      for (let i = 0; i < features.length; i++) {
        const want = expectedOutput(c.outputs[i]!);
        expect(features[i]!.shape).toEqual(want.shape);
        const d = maxAbsDiff(await features[i]!.data(), await want.data());
        expect(d, `${c.id} level ${i}`).toBeLessThanOrEqual(TOL);
        worst = Math.max(worst, d);
        want.dispose();
      }
      console.log(`[${tf.getBackend()}] ${c.id}: max |Δ| ${worst.toExponential(2)}`);
      tf.dispose([...feats, ...features, ...Object.values(weights)]);
      f.dispose();
    });
  }

  it('shared_ids_k_then_q: the q call reuses the ids the k call returned', async () => {
    const f = new PatchSampleF({ nc: shared.netF_nc, rng: new SeededRng(2) });
    const weights = namedWeights(shared.mlp_weights);
    f.setWeights(weights);
    const fk = goldenTensor(shared.feat_k_nhwc) as tf.Tensor4D;
    const fq = goldenTensor(shared.feat_q_nhwc) as tf.Tensor4D;
    // The golden's k ids came from numpy's generator: pass them, as drawn there.
    const k = f.forward([fk], shared.num_patches, [shared.ids_k]);
    const q = f.forward([fq], shared.num_patches, k.ids);
    expect(k.ids).toEqual([shared.ids_k]);
    expect(q.ids).toEqual([shared.ids_q]);
    expect(maxAbsDiff(await k.features[0]!.data(), shared.out_k.data)).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(await q.features[0]!.data(), shared.out_q.data)).toBeLessThanOrEqual(TOL);
    // Our own draw for k is reused by q just the same.
    const k2 = f.forward([fk], shared.num_patches);
    const q2 = f.forward([fq], shared.num_patches, k2.ids);
    expect(q2.ids).toEqual(k2.ids);
    tf.dispose([fk, fq, ...k.features, ...q.features, ...k2.features, ...q2.features, ...Object.values(weights)]);
    f.dispose();
  });

  for (const c of gradCases) {
    it(`${c.id}: gradients w.r.t. feature maps and MLP weights match PyTorch`, async () => {
      const f = new PatchSampleF({ useMlp: c.use_mlp, nc: c.nc ?? 1, rng: new SeededRng(3) });
      const weights: Record<string, tf.Tensor> = {};
      for (const level of c.levels) for (const [name, g] of Object.entries(level.weights ?? {})) weights[name] = goldenTensor(g);
      f.setWeights(weights);
      const feats = c.levels.map((l) => tf.variable(goldenTensor(l.feat_nhwc), true) as tf.Variable<tf.Rank.R4>);
      const dys = c.levels.map((l) => expectedOutput(l.dy));
      const ids = c.levels.map((l) => l.patch_ids);
      const { value, grads } = tf.variableGrads(() => {
        const { features } = f.forward(feats, c.num_patches, ids);
        return tf.addN(features.map((o, i) => tf.sum(tf.mul(o, dys[i]!)))) as tf.Scalar;
      }, [...feats, ...f.trainableVariables()]);
      let worst = 0;
      const check = async (got: tf.Tensor | undefined, want: GoldenTensor, what: string) => {
        expect(got, what).toBeDefined();
        const d = maxAbsDiff(await got!.data(), want.data);
        expect(d, what).toBeLessThanOrEqual(TOL * Math.max(1, ...want.data.map(Math.abs)));
        worst = Math.max(worst, d);
      };
      for (let i = 0; i < c.levels.length; i++) {
        const level = c.levels[i]!;
        await check(grads[feats[i]!.name], level.grad_feat_nhwc, `${c.id} d feat ${i}`);
      }
      // Weight gradients: ours are in [in, out]; the golden's Linear weights are [out, in].
      for (const [name, v] of Object.entries(f.namedVariables())) {
        const level = Number(/^mlp_(\d+)\./.exec(name)![1]);
        const g = grads[v.name];
        const inTorchLayout = g && (g.rank === 2 ? tf.transpose(g) : g.clone());
        await check(inTorchLayout, c.levels[level]!.grad_weights![name]!, `${c.id} d ${name}`);
        inTorchLayout?.dispose();
      }
      console.log(`[${tf.getBackend()}] ${c.id} gradients: max |Δ| ${worst.toExponential(2)}`);
      tf.dispose([...feats, ...dys, value, ...Object.values(grads), ...Object.values(weights)]);
      f.dispose();
    });
  }
});

describeBackends('PatchSampleF sampling, MLP creation and weights', () => {
  it('draws distinct in-range ids, the same for every image of the batch', async () => {
    const [b, h, w, c] = [3, 5, 7, 4];
    const data = tf.randomNormal([b, h, w, c], 0, 1, 'float32', 11) as tf.Tensor4D;
    const f = new PatchSampleF({ useMlp: false, rng: new SeededRng(5) });
    const { features, ids } = f.forward([data, data], 10);
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toEqual(ids[1]); // a fresh draw per level
    for (const levelIds of ids) {
      expect(levelIds).toHaveLength(10);
      expect(new Set(levelIds).size).toBe(10);
      for (const id of levelIds) expect(Number.isInteger(id) && id >= 0 && id < h * w).toBe(true);
    }
    // Without MLP, row b·P + p is the L2-normalised input vector at (y, x) = divmod(id_p, W) of image b.
    const x = (await data.array()) as number[][][][];
    const out = (await features[0]!.array()) as number[][];
    expect(out).toHaveLength(b * 10);
    for (let bi = 0; bi < b; bi++) {
      ids[0]!.forEach((id, p) => {
        const v = x[bi]![Math.floor(id / w)]![id % w]!;
        const norm = Math.hypot(...v) + 1e-7;
        expect(
          maxAbsDiff(
            out[bi * 10 + p]!,
            v.map((e) => e / norm),
          ),
        ).toBeLessThan(1e-6);
      });
    }
    // More patches than positions: every position once.
    const all = f.forward([data], 1000);
    expect([...all.ids[0]!].sort((p, q) => p - q)).toEqual(Array.from({ length: h * w }, (_, i) => i));
    expect(all.features[0]!.shape).toEqual([b * h * w, c]);
    tf.dispose([data, ...features, ...all.features]);
  });

  it('is deterministic under a seed: same ids and same initial weights', async () => {
    const feats = [tf.ones([1, 6, 6, 3]) as tf.Tensor4D, tf.ones([1, 3, 3, 5]) as tf.Tensor4D];
    const run = async (seed: number) => {
      const f = new PatchSampleF({ nc: 8, rng: new SeededRng(seed) });
      const r = f.forward(feats, 4);
      const w = f.getWeights();
      const values = await Promise.all(Object.values(w).map((t) => t.data()));
      tf.dispose([...r.features, ...Object.values(w)]);
      f.dispose();
      return { ids: r.ids, values: values.map((v) => Array.from(v)) };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(b).toEqual(a);
    expect(c.ids).not.toEqual(a.ids);
    expect(c.values[0]).not.toEqual(a.values[0]);
    tf.dispose(feats);
  });

  it('creates the MLPs lazily from the channel counts, xavier(0.02) with zero biases', async () => {
    const nc = 64;
    const f = new PatchSampleF({ nc, rng: new SeededRng(9) });
    expect(f.mlpInitialized).toBe(false);
    expect(f.trainableVariables()).toEqual([]);
    const feats = [tf.zeros([2, 4, 4, 3]), tf.zeros([2, 2, 2, 128])] as tf.Tensor4D[];
    const r = f.forward(feats, 3);
    expect(f.mlpInitialized).toBe(true);
    expect(f.levelChannels).toEqual([3, 128]);
    expect(f.trainableVariables().map((v) => v.shape)).toEqual([[3, nc], [nc], [nc, nc], [nc], [128, nc], [nc], [nc, nc], [nc]]);
    expect(r.features.map((t) => t.shape)).toEqual([
      [6, nc],
      [6, nc],
    ]);
    const w = f.getWeights();
    expect(Object.fromEntries(Object.entries(w).map(([k, t]) => [k, t.shape]))).toEqual({
      'mlp_0.0.weight': [nc, 3],
      'mlp_0.0.bias': [nc],
      'mlp_0.2.weight': [nc, nc],
      'mlp_0.2.bias': [nc],
      'mlp_1.0.weight': [nc, 128],
      'mlp_1.0.bias': [nc],
      'mlp_1.2.weight': [nc, nc],
      'mlp_1.2.bias': [nc],
    });
    for (const [name, t] of Object.entries(w)) {
      const v = Array.from(await t.data());
      if (name.endsWith('bias')) {
        expect(
          v.every((x) => x === 0),
          name,
        ).toBe(true);
        continue;
      }
      const [out, inp] = t.shape as [number, number];
      const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
      const expected = 0.02 * Math.sqrt(2 / (inp + out));
      // Sample std of n normals: relative error ~ 1/sqrt(2n); 5 sigma.
      expect(Math.abs(std / expected - 1), name).toBeLessThan(5 / Math.sqrt(2 * v.length));
    }
    // A second forward with other channel counts is an error.
    expect(() => f.forward([feats[1]!, feats[0]!], 3)).toThrow(/created for channels \[3,128\]/);
    tf.dispose([...feats, ...r.features, ...Object.values(w)]);
    f.dispose();
    expect(() => f.forward(feats, 3)).toThrow(/dispose/);
  });

  it('round-trips weights by name, creating the MLPs from them when loading first', async () => {
    const feats = [tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 1), tf.randomNormal([2, 2, 2, 7], 0, 1, 'float32', 2)] as tf.Tensor4D[];
    const src = new PatchSampleF({ nc: 16, rng: new SeededRng(21) });
    const a = src.forward(feats, 5);
    const saved = src.getWeights();

    const loaded = new PatchSampleF({ nc: 16, rng: new SeededRng(99) });
    loaded.setWeights(saved); // before any forward: lazy creation from the checkpoint
    expect(loaded.levelChannels).toEqual([5, 7]);
    const b = loaded.forward(feats, 5, a.ids);
    for (let i = 0; i < 2; i++) expect(maxAbsDiff(await b.features[i]!.data(), await a.features[i]!.data())).toBe(0);

    // Loading into existing MLPs assigns in place.
    const other = new PatchSampleF({ nc: 16, rng: new SeededRng(7) });
    tf.dispose(other.forward(feats, 5).features);
    const varsBefore = other.trainableVariables();
    other.setWeights(saved);
    expect(other.trainableVariables().every((v, i) => v === varsBefore[i])).toBe(true);
    const c = other.forward(feats, 5, a.ids);
    for (let i = 0; i < 2; i++) expect(maxAbsDiff(await c.features[i]!.data(), await a.features[i]!.data())).toBe(0);
    const back = other.getWeights();
    for (const [name, t] of Object.entries(saved)) {
      expect(maxAbsDiff(await back[name]!.data(), await t.data()), name).toBe(0);
    }

    // Strict loading.
    const { 'mlp_1.2.bias': dropped, ...missing } = saved;
    expect(() => other.setWeights(missing)).toThrow(/missing \[mlp_1\.2\.bias\]/);
    expect(() => other.setWeights({ ...saved, 'mlp_2.0.weight': dropped! })).toThrow(/unexpected \[mlp_2\.0\.weight\]/);
    const wrong = tf.zeros([16, 4]);
    expect(() => other.setWeights({ ...saved, 'mlp_0.0.weight': wrong })).toThrow(/mlp_0\.0\.weight must have shape \[16,5\]/);
    expect(() => new PatchSampleF({ nc: 8 }).setWeights(saved)).toThrow(/must have shape \[8,5\]/);
    expect(() => new PatchSampleF({ useMlp: false }).setWeights(saved)).toThrow(/no MLP/);

    tf.dispose([...feats, ...a.features, ...b.features, ...c.features, ...Object.values(saved), ...Object.values(back), wrong]);
    for (const m of [src, loaded, other]) m.dispose();
  });

  it('without MLP it has no variables and keeps the channel count', () => {
    const f = new PatchSampleF({ useMlp: false });
    const x = tf.ones([1, 2, 2, 6]) as tf.Tensor4D;
    const { features } = f.forward([x], 0);
    expect(features[0]!.shape).toEqual([1, 2, 2, 6]);
    expect(f.trainableVariables()).toEqual([]);
    expect(f.getWeights()).toEqual({});
    tf.dispose([x, ...features]);
  });

  it('rejects out-of-range ids and non-NHWC inputs', () => {
    const f = new PatchSampleF({ useMlp: false });
    const x = tf.ones([1, 2, 3, 2]) as tf.Tensor4D;
    expect(() => f.forward([x], 2, [[0, 6]])).toThrow(/patch id 6 at level 0 is outside 0\.\.5/);
    expect(() => f.forward([tf.ones([2, 3]) as unknown as tf.Tensor4D], 2)).toThrow(/rank 4/);
    expect(() => f.forward([x], -1)).toThrow(/numPatches/);
    x.dispose();
  });

  it('leaks no tensors over repeated forward and backward passes', async () => {
    const f = new PatchSampleF({ nc: 8, rng: new SeededRng(4) });
    const x = tf.variable(tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 5), true) as tf.Variable<tf.Rank.R4>;
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => {
        const { features } = f.forward([x, x], 4);
        return tf.addN(features.map((t) => tf.sum(t))) as tf.Scalar;
      });
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(tf.tidy(() => f.forward([x, x], 0).features));
    };
    await step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) await step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    f.dispose();
  });
});
