import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFixture } from '../../../test-utils/golden';
import { cropImage, flipHorizontal, normalizeImage, rgbToLuma, tensorToRgb8, toChannels, toRgb, type RawImage } from './pixels.js';

// The reference's conversions, computed by PyTorch/PIL (tools/golden/pixels.py).
interface PixelsGolden {
  tensor2im: { width: number; height: number; input_nchw: string[]; rgb3: number[]; rgb1: number[] };
  luma: { rgb: number[]; l: number[] };
  normalize: string[];
}
const golden = loadFixture<PixelsGolden>('golden/pixels.json');

/** NCHW (one image) to HWC. */
function toHwc(nchw: Float32Array, channels: number, height: number, width: number): Float32Array {
  const out = new Float32Array(nchw.length);
  for (let c = 0; c < channels; c++) for (let i = 0; i < height * width; i++) out[i * channels + c] = nchw[c * height * width + i]!;
  return out;
}

describe("the reference's tensor2im (util.tensor2im)", () => {
  const { width, height } = golden.tensor2im;
  const nchw = Float32Array.from(golden.tensor2im.input_nchw, Number);

  it('3 channels: clamp, (x + 1) / 2 * 255 in float32, truncated: every byte equal', () => {
    const out = tensorToRgb8(toHwc(nchw, 3, height, width), width, height, 3);
    expect(out.channels).toBe(3);
    expect(Array.from(out.data)).toEqual(golden.tensor2im.rgb3);
  });

  it('1 channel is repeated into RGB; with alpha, RGBA with opaque alpha', () => {
    const grey = nchw.subarray(0, width * height);
    expect(Array.from(tensorToRgb8(grey, width, height, 1).data)).toEqual(golden.tensor2im.rgb1);
    const rgba = tensorToRgb8(grey, width, height, 1, true);
    expect(rgba.channels).toBe(4);
    const expected = golden.tensor2im.rgb1.flatMap((v, i) => (i % 3 === 2 ? [v, 255] : [v]));
    expect(Array.from(rgba.data)).toEqual(expected);
  });

  it('NaN becomes 0; other channel counts and wrong sizes are refused', () => {
    expect(Array.from(tensorToRgb8(Float32Array.of(NaN), 1, 1, 1).data)).toEqual([0, 0, 0]);
    expect(() => tensorToRgb8(new Float32Array(2), 1, 1, 2)).toThrow('cannot make an image of 2 channels');
    expect(() => tensorToRgb8(new Float32Array(2), 1, 1, 3)).toThrow('image data has 2 values, expected 1x1x3');
  });
});

describe('input conversions', () => {
  it("rgbToLuma equals PIL's convert('L')", () => {
    const n = golden.luma.l.length;
    const img: RawImage = { data: Uint8Array.from(golden.luma.rgb), width: n, height: 1, channels: 3, bitDepth: 8 };
    expect(Array.from(rgbToLuma(img).data)).toEqual(golden.luma.l);
    expect(toChannels(img, 1).channels).toBe(1);
    expect(toChannels(img, 3)).toBe(img);
    expect(() => toChannels(img, 2)).toThrow('cannot convert a 3-channel image to 2 channels');
  });

  it('normalizeImage: (v / 255 - 0.5) / 0.5 as torch computes it, for every 8-bit value', () => {
    const img: RawImage = { data: Uint8Array.from({ length: 256 }, (_, i) => i), width: 256, height: 1, channels: 1, bitDepth: 8 };
    expect(Array.from(normalizeImage(img))).toEqual(golden.normalize.map((v) => Math.fround(Number(v))));
  });

  it('toRgb replicates grey and drops alpha (RGBA from a canvas, grey+alpha)', () => {
    const rgba: RawImage = { data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), width: 2, height: 1, channels: 4, bitDepth: 8 };
    expect(Array.from(toRgb(rgba).data)).toEqual([1, 2, 3, 5, 6, 7]);
    const greyAlpha: RawImage = { data: Uint16Array.of(300, 9, 400, 9), width: 2, height: 1, channels: 2, bitDepth: 16 };
    const rgb = toRgb(greyAlpha);
    expect([rgb.data instanceof Uint16Array, Array.from(rgb.data)]).toEqual([true, [300, 300, 300, 400, 400, 400]]);
    expect(() => toRgb({ ...rgba, channels: 3 }, 'x.png')).toThrow('x.png: decoded 8 samples for 2x1x3');
  });

  it('cropImage and flipHorizontal', () => {
    const img: RawImage = { data: Uint8Array.from({ length: 12 }, (_, i) => i), width: 3, height: 2, channels: 2, bitDepth: 8 };
    expect(Array.from(cropImage(img, 1, 1, 2, 1).data)).toEqual([8, 9, 10, 11]);
    expect(Array.from(flipHorizontal(img).data)).toEqual([4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7]);
    expect(() => cropImage(img, 2, 0, 2, 1)).toThrow('outside the 3x2 image');
  });
});

describe('browser-safe', () => {
  it('no source file imports node: modules, sharp or uses Buffer/process (the web page bundles this package)', () => {
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(sources).toContain('pixels.ts');
    for (const f of sources) {
      const text = readFileSync(dir + f, 'utf8');
      expect(text, f).not.toMatch(/from '(node:|sharp|bmp-ts|fs|path)/);
      expect(text, f).not.toMatch(/\b(Buffer|process)\./);
    }
  });
});
