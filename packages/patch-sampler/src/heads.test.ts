// The netF heads reshape, global_pool and strided_conv against the reference's own classes
// (fixtures/golden/netf_heads.json.gz from tools/golden/reference_pixel_heads.py: the reference's
// define_F heads applied to each feature map of a call): outputs, gradients of the feature maps
// and of strided_conv's weights, and its state_dict keys and shapes.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { hwioToOihwArray, nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { createFeatureHead, NET_F_NAMES, PatchSampleF, PoolingF, ReshapeF, StridedConvF, type FeatureHead } from './index';

interface Named extends GoldenTensor {
  name: string;
}
interface Call {
  feats: GoldenTensor[];
  outputs?: GoldenTensor[];
  R?: GoldenTensor[];
  grad_feats?: GoldenTensor[];
  grads?: Named[];
}
interface HeadCase {
  netF: 'reshape' | 'global_pool' | 'strided_conv';
  state_dict: Array<{ name: string; shape: number[] }>;
  weights?: Named[];
  calls: Call[];
}

/** A golden output as our rows: [B·P, C] in NHWC order (NCHW maps are transposed first). */
function rows(g: GoldenTensor): tf.Tensor2D {
  return tf.tidy(() => {
    const t = g.shape.length === 4 ? goldenNHWC(g) : goldenTensor(g);
    return tf.reshape(t, [-1, t.shape[t.rank - 1]!]) as tf.Tensor2D;
  });
}

/** Runs one compared call: outputs, the gradients of sum(out·R) for the feature maps and the head's variables. */
async function check(head: FeatureHead, call: Call, label: string): Promise<number> {
  const feats = call.feats.map(goldenNHWC);
  const rs = call.R!.map(rows);
  const vars = head.trainableVariables();
  let worst = 0;
  const result = tf.tidy(() => {
    let outs: tf.Tensor[] = [];
    const loss = () => {
      outs = head.forward(feats).features.map((o) => tf.keep(o));
      return tf.addN(outs.map((o, i) => tf.sum(tf.mul(o, rs[i]!)))) as tf.Scalar;
    };
    // One forward for everything: a second call would move strided_conv's running averages.
    if (vars.length === 0) {
      loss();
      return { outs, grads: {} as tf.NamedTensorMap };
    }
    const { grads } = tf.variableGrads(loss, vars);
    return { outs, grads: Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, tf.keep(v)])) };
  });
  for (const [i, o] of result.outs.entries()) {
    const want = rows(call.outputs![i]!);
    expect(o.shape, `${label} output ${i} shape`).toEqual(want.shape);
    const d = maxAbsDiff(await o.data(), await want.data());
    expect(d, `${label} output ${i}`).toBeLessThan(1e-5);
    worst = Math.max(worst, d);
    want.dispose();
  }
  for (const ref of call.grads ?? []) {
    const v = head.namedVariables()[ref.name]!;
    const t = result.grads[v.name]!;
    const a = { data: Float32Array.from(await t.data()), shape: [...t.shape] };
    const torch = t.rank === 4 ? hwioToOihwArray(a) : a;
    expect(torch.shape, ref.name).toEqual(ref.shape);
    const d = maxAbsDiff(torch.data, ref.data) / Math.max(1, ...ref.data.map(Math.abs));
    expect(d, `${label} grad ${ref.name} (relative to its largest value)`).toBeLessThan(1e-5);
    worst = Math.max(worst, d);
  }
  tf.dispose([...result.outs, ...Object.values(result.grads), ...feats, ...rs]);
  return worst;
}

/** d sum(out·R) / d feats, on a fresh call (parameter-free heads, or strided_conv with the averages as given). */
async function featureGrads(head: FeatureHead, call: Call, label: string): Promise<number> {
  const feats = call.feats.map(goldenNHWC);
  const rs = call.R!.map(rows);
  const grads = tf.grads((...xs: tf.Tensor[]) => {
    const outs = head.forward(xs as tf.Tensor4D[]).features;
    return tf.addN(outs.map((o, i) => tf.sum(tf.mul(o, rs[i]!)))) as tf.Scalar;
  })(feats);
  let worst = 0;
  for (const [i, g] of grads.entries()) {
    const t = nhwcToNchw(g as tf.Tensor4D);
    const d = maxAbsDiff(await t.data(), call.grad_feats![i]!.data);
    expect(d, `${label} grad of feature map ${i}`).toBeLessThan(1e-5);
    worst = Math.max(worst, d);
    t.dispose();
  }
  tf.dispose([...grads, ...feats, ...rs]);
  return worst;
}

describeBackends('netF heads vs the reference', (backend) => {
  const g = loadFixture<{ cases: HeadCase[] }>('golden/netf_heads.json.gz');
  const byName = (n: HeadCase['netF']) => g.cases.find((c) => c.netF === n)!;

  for (const netF of ['reshape', 'global_pool'] as const) {
    it(`${netF}: one row set per level, outputs and feature gradients match PyTorch; no parameters`, async () => {
      const c = byName(netF);
      const head = createFeatureHead(netF);
      expect(head).toBeInstanceOf(netF === 'reshape' ? ReshapeF : PoolingF);
      expect(head.samplesPatches).toBe(false);
      expect(c.state_dict).toEqual([]);
      expect(head.getWeights()).toEqual({});
      const before = tf.memory().numTensors;
      const out = await check(head, c.calls[0]!, netF);
      const grad = await featureGrads(head, c.calls[0]!, netF);
      expect(tf.memory().numTensors).toBe(before);
      console.log(`[${backend}] ${netF} vs reference, max |diff|: outputs ${out.toExponential(2)}, feature grads ${grad.toExponential(2)}`);
      expect(() => head.setWeights({ x: tf.zeros([1]) })).toThrow(/no parameters/);
      head.dispose();
    });
  }

  it('strided_conv: layers per feature size (shared by equal sizes), running averages, outputs and gradients match PyTorch', async () => {
    const c = byName('strided_conv');
    const [first, second] = c.calls as [Call, Call];
    // Created by a forward: the reference's keys, shapes and order, zero biases.
    const fresh = createFeatureHead('strided_conv', { rng: new SeededRng(1), initType: 'normal', initGain: 0.02 }) as StridedConvF;
    const probe = first.feats.map(goldenNHWC);
    tf.dispose(fresh.forward(probe).features);
    const created = fresh.getWeights();
    expect(Object.entries(created).map(([name, t]) => ({ name, shape: t.shape }))).toEqual(c.state_dict);
    for (const [name, t] of Object.entries(created)) {
      const v = Array.from((await t.data()) as Float32Array);
      if (name.endsWith('.bias')) expect(Math.max(...v.map(Math.abs)), name).toBe(0);
      else {
        const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
        expect(std, `${name}: normal(0, 0.02)`).toBeGreaterThan(0.018);
        expect(std, `${name}: normal(0, 0.02)`).toBeLessThan(0.022);
      }
    }
    tf.dispose([...Object.values(created), ...probe]);
    fresh.dispose();

    // Loaded before any forward: the layers come from the names.
    const head = new StridedConvF();
    const weights = Object.fromEntries(c.weights!.map((w) => [w.name, goldenTensor(w)]));
    head.setWeights(weights);
    expect(head.keys).toEqual(['4_46', '6_12']);
    const firstFeats = first.feats.map(goldenNHWC);
    tf.dispose(head.forward(firstFeats).features); // seeds the averages, as the golden's call 1
    const before = tf.memory().numTensors;
    const worst = await check(head, second, 'strided_conv');
    expect(tf.memory().numTensors).toBe(before);
    console.log(`[${backend}] strided_conv vs reference, max |diff| (grads relative): ${worst.toExponential(2)}`);

    // Feature gradients: a second head in the state of the golden's call 2 (same weights, call 1 made).
    const again = new StridedConvF();
    again.setWeights(weights);
    tf.dispose(again.forward(firstFeats).features);
    const grad = await featureGrads(again, second, 'strided_conv');
    console.log(`[${backend}] strided_conv feature grads max |diff| ${grad.toExponential(2)}`);

    // Strict loading: a missing or foreign key, a wrong shape.
    const { 'child_6_12.0.bias': _dropped, ...missing } = weights;
    expect(() => new StridedConvF().setWeights(missing)).toThrow(/missing \[child_6_12\.0\.bias\]/);
    expect(() => new StridedConvF().setWeights({ ...weights, 'mlp_0.0.weight': tf.zeros([1]) })).toThrow(/unexpected/);
    expect(() => head.setWeights({ ...weights, 'child_6_12.0.bias': tf.zeros([3]) })).toThrow(/child_6_12\.0\.bias must have shape \[64\]/);
    tf.dispose([...Object.values(weights), ...firstFeats]);
    head.dispose();
    again.dispose();
  });

  it('createFeatureHead builds every netF by name', () => {
    for (const name of NET_F_NAMES) {
      const head = createFeatureHead(name, { nc: 8 });
      expect(head.netF).toBe(name);
      expect(head.samplesPatches).toBe(name === 'sample' || name === 'mlp_sample');
      if (head instanceof PatchSampleF) expect(head.useMlp).toBe(name === 'mlp_sample');
      head.dispose();
    }
    expect(() => createFeatureHead('pool' as never)).toThrow(/netF 'pool' is not one of mlp_sample, sample, reshape, global_pool, strided_conv/);
  });
});
