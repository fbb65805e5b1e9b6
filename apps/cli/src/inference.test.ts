import { describe, expect, it } from 'vitest';
import { paddedSize, rampWeights, tileStarts } from './inference.js';

describe('tiling geometry', () => {
  it('tiles cover the side, start at 0 and end at the border, and overlap by at least the overlap', () => {
    for (const [length, tile, overlap] of [[600, 128, 32], [256, 128, 64], [257, 128, 32], [129, 128, 0], [100, 128, 32], [1000, 200, 199]] as const) {
      const starts = tileStarts(length, tile, overlap);
      expect(starts[0]).toBe(0);
      if (length <= tile) expect(starts).toEqual([0]);
      else {
        expect(starts.at(-1)).toBe(length - tile);
        for (let i = 1; i < starts.length; i++) {
          expect(starts[i]! - starts[i - 1]!).toBeGreaterThan(0);
          expect(starts[i - 1]! + tile - starts[i]!, `${length}/${tile}/${overlap}`).toBeGreaterThanOrEqual(overlap);
        }
      }
    }
  });

  it('blending weights of neighbouring tiles add up to 1 across their shared band and are positive everywhere', () => {
    const length = 600;
    const tile = 128;
    const starts = tileStarts(length, tile, 32);
    const sum = new Float64Array(length);
    for (const [i, s] of starts.entries()) {
      const before = i > 0 ? starts[i - 1]! + tile - s : 0;
      const after = i < starts.length - 1 ? s + tile - starts[i + 1]! : 0;
      const w = rampWeights(tile, before, after);
      for (let x = 0; x < tile; x++) {
        expect(w[x]).toBeGreaterThan(0);
        sum[s + x]! += w[x]!;
      }
    }
    for (let x = 0; x < length; x++) expect(sum[x]).toBeCloseTo(1, 6);
  });

  it('the generator gets sides that are multiples of 4 and at least 8', () => {
    expect([5, 8, 9, 190, 250, 256].map(paddedSize)).toEqual([8, 8, 12, 192, 252, 256]);
  });
});
