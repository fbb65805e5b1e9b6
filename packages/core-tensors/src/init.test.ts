import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../../../test-utils/backends';
import { loadFixture } from '../../../test-utils/golden';
import {
  SeededRng,
  computeFans,
  initBias,
  initOrthogonal,
  initStd,
  initWeight,
  torchWeightShape,
  type InitType,
  type LayerKind,
} from '@cut/core-tensors';

interface InitStats {
  samples: number;
  mean: number;
  std: number;
  max_abs_gram_minus_gain2_eye?: number;
}
interface InitCase {
  id: string;
  kind: LayerKind;
  torch_weight_shape: number[];
  fan_in: number;
  fan_out: number;
  gain: number;
  stats: Record<InitType, InitStats>;
}

const CASES = loadFixture<{ cases: InitCase[] }>('golden/init.json').cases;
const TYPES: InitType[] = ['normal', 'xavier', 'kaiming', 'orthogonal'];

/** Our layout of a PyTorch weight shape. */
function oursFromTorch(shape: number[], kind: LayerKind): number[] {
  if (kind === 'linear') return [shape[1]!, shape[0]!];
  const [a, b, kh, kw] = shape as [number, number, number, number];
  // Conv2d [out, in, kh, kw] -> HWIO [kh, kw, in, out]; ConvTranspose2d [in, out, kh, kw] -> tfjs [kh, kw, out, in].
  return [kh, kw, b, a];
}

/** Our weight viewed as PyTorch's [dim 0, rest] matrix (row-major, PyTorch element order). */
async function torchMatrix(w: tf.Tensor, kind: LayerKind): Promise<{ rows: number; cols: number; m: Float32Array }> {
  const t = tf.tidy(() => (kind === 'linear' ? tf.transpose(w) : tf.transpose(w, [3, 2, 0, 1])));
  const m = (await t.data()) as Float32Array;
  const rows = t.shape[0]!;
  t.dispose();
  return { rows, cols: m.length / rows, m };
}

describeBackends('weight initialisers vs torch.nn.init', () => {
  it('fans equal torch _calculate_fan_in_and_fan_out for every layer (transposed convs included)', () => {
    for (const c of CASES) {
      const ours = oursFromTorch(c.torch_weight_shape, c.kind);
      expect(torchWeightShape(ours, c.kind), c.id).toEqual(c.torch_weight_shape);
      expect(computeFans(ours, c.kind), c.id).toEqual({ fanIn: c.fan_in, fanOut: c.fan_out });
    }
  });

  for (const c of CASES) {
    it(`${c.id}: sample std of each init type matches torch's`, async () => {
      const ours = oursFromTorch(c.torch_weight_shape, c.kind);
      const rng = new SeededRng(c.id.length * 1000 + c.fan_in);
      for (const type of TYPES) {
        const want = c.stats[type]!;
        let n = 0;
        let s = 0;
        let s2 = 0;
        while (n < 40_000) {
          const w = initWeight(ours, c.kind, { type, gain: c.gain }, rng);
          expect(w.shape).toEqual(ours);
          for (const v of await w.data()) {
            s += v;
            s2 += v * v;
            n++;
          }
          w.dispose();
        }
        const mean = s / n;
        const std = Math.sqrt(s2 / n - mean * mean);
        if (type !== 'orthogonal') {
          expect(Math.abs(std / initStd(type, computeFans(ours, c.kind), c.gain) - 1), `${c.id} ${type} formula`).toBeLessThan(0.02);
        }
        // Samples of 4e4 (ours) and 2e5 (torch) values: relative std errors ~ 1/sqrt(2n) ≈ 0.35% and 0.16%.
        expect(Math.abs(std / want.std - 1), `${c.id} ${type} vs torch (${std} vs ${want.std})`).toBeLessThan(0.02);
      }
    });
  }

  it('kaiming ignores the gain (kaiming_normal_(a=0, mode=fan_in) in the reference)', () => {
    const fans = { fanIn: 50, fanOut: 10 };
    expect(initStd('kaiming', fans, 0.02)).toBeCloseTo(Math.sqrt(2 / 50), 12);
    expect(initStd('xavier', fans, 0.02)).toBeCloseTo(0.02 * Math.sqrt(2 / 60), 12);
    expect(initStd('normal', fans, 0.02)).toBe(0.02);
  });

  it('orthogonal: W·Wᵀ = gain²·I (rows ≤ cols) or Wᵀ·W = gain²·I, in PyTorch rows = dim 0', async () => {
    const rng = new SeededRng(77);
    for (const c of CASES) {
      const ours = oursFromTorch(c.torch_weight_shape, c.kind);
      const gain = 0.5;
      const w = initOrthogonal(ours, c.kind, gain, rng);
      const { rows, cols, m } = await torchMatrix(w, c.kind);
      w.dispose();
      const wide = rows <= cols;
      const k = wide ? rows : cols;
      let worst = 0;
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          let dot = 0;
          if (wide) for (let t = 0; t < cols; t++) dot += m[i * cols + t]! * m[j * cols + t]!;
          else for (let t = 0; t < rows; t++) dot += m[t * cols + i]! * m[t * cols + j]!;
          worst = Math.max(worst, Math.abs(dot - (i === j ? gain * gain : 0)));
        }
      }
      expect(worst, c.id).toBeLessThan(1e-6);
    }
  });

  it('same seed, same weights; zero bias; clear errors', async () => {
    const a = initWeight([3, 3, 4, 8], 'conv2d', { type: 'xavier' }, new SeededRng(5));
    const b = initWeight([3, 3, 4, 8], 'conv2d', { type: 'xavier' }, new SeededRng(5));
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    const bias = initBias(8);
    expect(Array.from(await bias.data())).toEqual(new Array(8).fill(0));
    tf.dispose([a, b, bias]);
    expect(() => computeFans([3, 4], 'conv2d')).toThrow(/rank-4/);
    expect(() => initWeight([3, 4], 'linear', { type: 'uniform' as InitType }, new SeededRng(1))).toThrow(/unknown init type/);
  });
});
