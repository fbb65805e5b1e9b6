import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadFixture } from '../../../../test-utils/golden';
import { decodeImage } from '@cut/files';
import type { RawImage } from '@cut/images';
import { resizeBicubic } from './resample.js';
import { resizeImage } from './transforms.js';

// fixtures/golden/resize.json: Pillow 9.4 BICUBIC outputs (tools/golden/resize.py).
interface SynthCase {
  mode: 'RGB' | 'L';
  width: number;
  height: number;
  out_width: number;
  out_height: number;
  input: number[];
  output: number[];
}
const golden = loadFixture<{
  synthetic: SynthCase[];
  demo_resize: { file: string; decoded_sha256: string; width: number; height: number; sha256: string; rows: Record<string, number[]> };
}>('golden/resize.json');

const sha256 = (a: Uint8Array | Uint16Array) => createHash('sha256').update(a).digest('hex');
const rows = (img: RawImage, y: number) => Array.from(img.data.subarray(y * img.width * img.channels, (y + 1) * img.width * img.channels));

describe('resizeBicubic (Pillow-exact)', () => {
  for (const c of golden.synthetic) {
    it(`${c.mode} ${c.width}x${c.height} -> ${c.out_width}x${c.out_height} equals PIL bit for bit`, () => {
      const channels = c.mode === 'RGB' ? 3 : 1;
      const img: RawImage = { data: Uint8Array.from(c.input), width: c.width, height: c.height, channels, bitDepth: 8 };
      const out = resizeBicubic(img, c.out_width, c.out_height);
      expect([out.width, out.height, out.channels]).toEqual([c.out_width, c.out_height, channels]);
      let mismatches = 0;
      for (let i = 0; i < c.output.length; i++) if (out.data[i] !== c.output[i]) mismatches++;
      expect(mismatches).toBe(0);
    });
  }

  it('decodes the demo photo like PIL and resizes it to 286x286 exactly like PIL', async () => {
    const d = golden.demo_resize;
    const img = await decodeImage(d.file);
    expect(sha256(img.data)).toBe(d.decoded_sha256);
    const out = resizeBicubic(img, d.width, d.height);
    for (const [y, values] of Object.entries(d.rows)) expect(rows(out, Number(y))).toEqual(values);
    expect(sha256(out.data)).toBe(d.sha256);
  });

  it('keeps 16-bit precision: a 16-bit enlargement agrees with the 8-bit one within its rounding', () => {
    const c = golden.synthetic[0]!;
    const img8: RawImage = { data: Uint8Array.from(c.input), width: c.width, height: c.height, channels: 3, bitDepth: 8 };
    const img16: RawImage = { ...img8, data: Uint16Array.from(c.input, (v) => v * 257), bitDepth: 16 };
    const out8 = resizeBicubic(img8, c.out_width, c.out_height);
    const out16 = resizeBicubic(img16, c.out_width, c.out_height);
    let maxDiff = 0;
    let fractional = 0;
    for (let i = 0; i < out8.data.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(out16.data[i]! / 257 - out8.data[i]!));
      if (out16.data[i]! % 257 !== 0) fractional++;
    }
    // 8-bit rounds after each pass: 0.5 at the end + 0.5 x sum of abs(weights) (<= 1.25) from the first.
    expect(maxDiff).toBeLessThanOrEqual(1.125 + 1e-9);
    // The 16-bit result carries information between 8-bit levels.
    expect(fractional).toBeGreaterThan(out8.data.length / 2);
  });

  it("sharp's cubic resampler differs from PIL (documented), but only in the pixel values", async () => {
    const d = golden.demo_resize;
    const img = await decodeImage(d.file);
    const viaSharp = await resizeImage(img, 286, 286, 'sharp');
    const viaPil = await resizeImage(img, 286, 286, 'pil');
    expect(sha256(viaPil.data)).toBe(d.sha256);
    expect([viaSharp.width, viaSharp.height, viaSharp.channels, viaSharp.bitDepth]).toEqual([286, 286, 3, 8]);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < viaPil.data.length; i++) {
      const diff = Math.abs(viaSharp.data[i]! - viaPil.data[i]!);
      sum += diff;
      max = Math.max(max, diff);
    }
    // Measured with sharp 0.34.5 / libvips 8.17: mean 3.83, max 106 (libvips enlarges on a grid a quarter pixel off).
    expect(sum / viaPil.data.length).toBeGreaterThan(0.5);
    expect(sum / viaPil.data.length).toBeLessThan(8);
    expect(max).toBeGreaterThan(0);
  });

  it('rejects non-positive or fractional sizes', () => {
    const img: RawImage = { data: new Uint8Array(12), width: 2, height: 2, channels: 3, bitDepth: 8 };
    expect(() => resizeBicubic(img, 0, 2)).toThrow(/positive integers/);
    expect(() => resizeBicubic(img, 2.5, 2)).toThrow(/positive integers/);
  });
});
