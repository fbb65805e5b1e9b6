import { describe, expect, it } from 'vitest';
import { SeededRng } from './rng';

describe('SeededRng (xoshiro128** seeded by splitmix32)', () => {
  it('produces the published xoshiro128** stream for a given state', () => {
    // Reference values: the C reference implementation (prng.di.unimi.it/xoshiro128starstar.c)
    // started from s = {1, 2, 3, 4}.
    const rng = SeededRng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spareNormal: null });
    const got = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = new SeededRng(123);
    const b = new SeededRng(123);
    const c = new SeededRng(124);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    expect(Array.from({ length: 20 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.nextUint32())).not.toEqual(sa);
    // Non-integer and large seeds are accepted and distinct.
    expect(new SeededRng(0.5).nextUint32()).not.toBe(new SeededRng(0.25).nextUint32());
    expect(new SeededRng(2 ** 40).nextUint32()).not.toBe(new SeededRng(2 ** 40 + 1).nextUint32());
    expect(() => new SeededRng(Number.NaN)).toThrow(/finite/);
  });

  it('uniform floats lie in [0, 1) with mean 1/2 and variance 1/12', () => {
    const rng = new SeededRng(7);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.random();
      if (!(u >= 0 && u < 1)) outside++;
      s += u;
      s2 += u * u;
    }
    expect(outside).toBe(0);
    const mean = s / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(s2 / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
    const v = rng.uniform(-3, -1);
    expect(v >= -3 && v < -1).toBe(true);
  });

  it('int(n) is unbiased over residues, integer(low, high) stays in range', () => {
    const rng = new SeededRng(8);
    const counts = new Array(7).fill(0);
    const n = 70_000;
    for (let i = 0; i < n; i++) counts[rng.int(7)]++;
    // chi-square with 6 degrees of freedom; 99.9% quantile is 22.46.
    const chi2 = counts.reduce((s, c) => s + (c - n / 7) ** 2 / (n / 7), 0);
    expect(chi2).toBeLessThan(22.46);
    const seen = new Set(Array.from({ length: 1000 }, () => rng.integer(-5, 5)));
    expect([...seen].sort((a, b) => a - b)).toEqual([-5, -4, -3, -2, -1, 0, 1, 2, 3, 4]);
    expect(() => rng.int(0)).toThrow();
    expect(() => rng.int(1.5)).toThrow();
  });

  it('normals have mean 0, variance 1 and normal tails', () => {
    const rng = new SeededRng(9);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let beyond2 = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      s += z;
      s2 += z * z;
      if (Math.abs(z) > 2) beyond2++;
    }
    expect(Math.abs(s / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(s2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    // P(|Z| > 2) = 0.0455
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
    const x = new SeededRng(1).normalArray(50_000, 3, 0.5);
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    expect(Math.abs(m - 3)).toBeLessThan(0.01);
  });

  it('permutation(n) is a permutation and uniform over positions', () => {
    const rng = new SeededRng(10);
    const p = rng.permutation(100);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // Where element 0 lands is uniform over 5 positions.
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 50_000; i++) counts[rng.permutation(5).indexOf(0)]++;
    const chi2 = counts.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(18.47); // 4 dof, 99.9%
    expect(Array.from(rng.permutation(0))).toEqual([]);
    expect(Array.from(rng.permutation(1))).toEqual([0]);
  });

  it('randomPatchIds(n, k) is the first min(k, n) entries of permutation(n) from the same state', () => {
    const a = new SeededRng(11);
    const b = a.clone();
    const ids = a.randomPatchIds(1000, 64);
    expect(ids).toEqual(Array.from(b.permutation(1000).slice(0, 64)));
    expect(new Set(ids).size).toBe(64);
    const all = new SeededRng(3).randomPatchIds(10, 64);
    expect(all.length).toBe(10);
    expect([...all].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(new SeededRng(3).randomPatchIds(10, 0)).toEqual([]);
  });

  it('getState/setState resume the exact stream, including a cached normal, through JSON', () => {
    const rng = new SeededRng(12);
    rng.normal(); // leaves the pair's second value cached
    const saved = JSON.parse(JSON.stringify(rng.getState()));
    expect(saved.spareNormal).not.toBeNull();
    const next = [rng.normal(), rng.normal(), rng.random(), rng.int(1000), ...rng.randomPatchIds(50, 5)];
    const resumed = SeededRng.fromState(saved);
    expect([resumed.normal(), resumed.normal(), resumed.random(), resumed.int(1000), ...resumed.randomPatchIds(50, 5)]).toEqual(next);
    expect(() => rng.setState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spareNormal: null })).toThrow(/all-zero/);
    expect(() => rng.setState({ algorithm: 'mt' as 'xoshiro128**', s: [1, 2, 3, 4], spareNormal: null })).toThrow();
  });
});
