import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@cut/core-tensors';
import { loadFixture } from '../../../../test-utils/golden';
import { decodeImage } from '@cut/files';
import { normalizeImage, type RawImage } from '@cut/images';
import {
  DEFAULT_TRANSFORM_OPTIONS,
  drawImageParams,
  loadImage,
  multipleOf,
  outputSize,
  resizedSize,
  transformImage,
  type PreprocessMode,
  type TransformOptions,
} from './transforms.js';
import { drawsAt, pattern, patternPixels, tempDir, writeImage, writePattern, writeText } from './test-images.js';

const DEMO = 'datasets/horse2zebra_demo';
const demoA = `${DEMO}/trainA/n02381460_1001.jpg`;

interface GoldenTransform {
  file?: string;
  source?: { width: number; height: number; input: number[] };
  preprocess: PreprocessMode;
  channels: number;
  load: number;
  crop: number;
  crop_pos?: [number, number];
  flip: boolean;
  finetune?: boolean;
  width: number;
  height: number;
  pixels_sha256: string;
  float_sha256: string;
  first_floats: string[];
  rows: Record<string, number[]>;
}
const golden = loadFixture<{ normalize: string[]; transforms: GoldenTransform[] }>('golden/resize.json');

const sha256 = (a: Uint8Array | Uint16Array | Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
const opts = (o: Partial<TransformOptions>): TransformOptions => ({ ...DEFAULT_TRANSFORM_OPTIONS, ...o });
const range = (a: Float32Array): [number, number] => {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
};
const norm8 = (v: number) => (v / 255 - 0.5) / 0.5;

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('normalisation (ToTensor + Normalize(0.5, 0.5))', () => {
  it('maps every 8-bit value to the float32 torch computes', () => {
    const img: RawImage = { data: Uint8Array.from({ length: 256 }, (_, i) => i), width: 256, height: 1, channels: 1, bitDepth: 8 };
    const out = normalizeImage(img);
    const expected = Float32Array.from(golden.normalize, Number);
    expect(Array.from(out)).toEqual(Array.from(expected));
    expect([out[0], out[255]]).toEqual([-1, 1]);
  });
});

describe('transforms against the reference chain (PIL + torchvision, tools/golden/resize.py)', () => {
  for (const g of golden.transforms) {
    const label = `${g.preprocess} ${g.channels}ch load ${g.load} crop ${g.crop}${g.crop_pos ? ` at ${g.crop_pos}` : ''}${g.flip ? ' flipped' : ''}${g.finetune ? ' (fine-tuning)' : ''} on ${g.file ? 'a demo photo' : `a ${g.source!.width}x${g.source!.height} synthetic image`}`;
    it(label, async () => {
      const src: RawImage = g.file
        ? await decodeImage(g.file)
        : { data: Uint8Array.from(g.source!.input), width: g.source!.width, height: g.source!.height, channels: 3, bitDepth: 8 };
      const o = opts({ preprocess: g.preprocess, loadSize: g.load, cropSize: g.crop, channels: g.channels, finetune: g.finetune ?? false });
      const [rw, rh] = resizedSize(src.width, src.height, o);
      const [left, top] = g.crop_pos ?? [0, 0];
      const draws = drawsAt(left, top, Math.max(0, rw - g.crop), Math.max(0, rh - g.crop), g.flip);
      const out = await transformImage(src, o, draws);
      expect([out.width, out.height, out.channels]).toEqual([g.width, g.height, g.channels]);
      expect(outputSize(src.width, src.height, o)).toEqual([g.width, g.height]);
      for (const [y, values] of Object.entries(g.rows)) {
        const row = out.data.subarray(Number(y) * g.width * g.channels, (Number(y) + 1) * g.width * g.channels);
        expect(Array.from(row)).toEqual(values);
      }
      expect(sha256(out.data)).toBe(g.pixels_sha256);
      const floats = normalizeImage(out);
      expect(Array.from(floats.subarray(0, 16))).toEqual(g.first_floats.map((s) => Math.fround(Number(s))));
      expect(sha256(floats)).toBe(g.float_sha256);
    });
  }

  it('loadImage = decode + transform + normalise (demo photo, default options)', async () => {
    const g = golden.transforms.find((t) => t.file && t.preprocess === 'resize_and_crop' && t.channels === 3 && t.flip && !t.finetune)!;
    const t = await loadImage(g.file!, opts({}), drawsAt(g.crop_pos![0], g.crop_pos![1], 30, 30, true));
    expect([t.height, t.width, t.channels]).toEqual([256, 256, 3]);
    expect(sha256(t.data)).toBe(g.float_sha256);
  });
});

describe('crop and flip on known pixel values', () => {
  it('crops exactly the chosen window and mirrors it', async () => {
    const file = await writePattern(join(tmp.dir, 'pattern.png'), 40, 30);
    const o = opts({ preprocess: 'crop', cropSize: 16 });
    for (const [left, top, flip] of [
      [0, 0, false],
      [24, 14, false],
      [7, 3, true],
      [24, 0, true],
    ] as const) {
      const t = await loadImage(file, o, drawsAt(left, top, 40 - 16, 30 - 16, flip));
      expect([t.width, t.height, t.channels]).toEqual([16, 16, 3]);
      let worst = 0;
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const sx = left + (flip ? 15 - x : x);
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(t.data[(y * 16 + x) * 3 + c]! - norm8(pattern(sx, top + y, c))));
        }
      }
      expect(worst).toBeLessThan(1e-6);
    }
  });

  it("'none' keeps a multiple-of-4 image pixel for pixel; flip uses draws < 0.5 and no_flip disables it", async () => {
    const file = await writePattern(join(tmp.dir, 'pattern40x28.png'), 40, 28);
    const plain = await loadImage(file, opts({ preprocess: 'none' }), { cropX: 0.9, cropY: 0.9, flip: 0.5 });
    expect([plain.width, plain.height]).toEqual([40, 28]);
    expect(plain.data[(5 * 40 + 3) * 3 + 1]).toBeCloseTo(norm8(pattern(3, 5, 1)), 6);
    const flipped = await loadImage(file, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 0.4999 });
    expect(flipped.data[(5 * 40 + 3) * 3 + 1]).toBeCloseTo(norm8(pattern(36, 5, 1)), 6);
    const noFlip = await loadImage(file, opts({ preprocess: 'none', noFlip: true }), { cropX: 0, cropY: 0, flip: 0 });
    expect(Array.from(noFlip.data)).toEqual(Array.from(plain.data));
  });

  it('crop offsets cover the whole range uniformly from SeededRng draws', () => {
    const rng = new SeededRng(7);
    const counts = new Array<number>(31).fill(0);
    for (let i = 0; i < 31_000; i++) {
      counts[Math.floor(drawImageParams(rng).cropX * 31)]!++;
    }
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});

describe('preprocess modes: sizes and value range on demo photos', () => {
  const cases: [string, Partial<TransformOptions>, [number, number]][] = [
    ['resize_and_crop (default)', {}, [256, 256]],
    ['resize_and_crop, fine-tuning', { finetune: true }, [256, 256]],
    ['crop 200', { preprocess: 'crop', cropSize: 200 }, [200, 200]],
    ['scale_width 300', { preprocess: 'scale_width', loadSize: 300 }, [300, 300]],
    ['scale_width_and_crop 300/256', { preprocess: 'scale_width_and_crop', loadSize: 300 }, [256, 256]],
    ['none', { preprocess: 'none' }, [256, 256]],
    ['resize_and_crop 1 channel', { channels: 1 }, [256, 256]],
    ['resize_and_crop via sharp', { resampler: 'sharp' }, [256, 256]],
  ];
  for (const [name, o, [w, h]] of cases) {
    it(name, async () => {
      const t = await loadImage(`${DEMO}/trainB/n02391049_1056.jpg`, opts(o), drawImageParams(new SeededRng(3)));
      expect([t.width, t.height, t.channels]).toEqual([w, h, o.channels ?? 3]);
      expect(t.data.length).toBe(w * h * (o.channels ?? 3));
      const [lo, hi] = range(t.data);
      expect(lo).toBeGreaterThanOrEqual(-1);
      expect(hi).toBeLessThanOrEqual(1);
      // A real photo spans most of the range.
      expect(hi - lo).toBeGreaterThan(1);
    });
  }

  it('fine-tuning removes the resize-crop jitter (crop draws no longer matter) but keeps the flip', async () => {
    const src = await decodeImage(demoA);
    const a = await transformImage(src, opts({ finetune: true }), { cropX: 0.01, cropY: 0.99, flip: 0.9 });
    const b = await transformImage(src, opts({ finetune: true }), { cropX: 0.99, cropY: 0.01, flip: 0.9 });
    expect(sha256(a.data)).toBe(sha256(b.data));
    const flipped = await transformImage(src, opts({ finetune: true }), { cropX: 0.5, cropY: 0.5, flip: 0.1 });
    expect(sha256(flipped.data)).not.toBe(sha256(a.data));
    const c = await transformImage(src, opts({}), { cropX: 0.01, cropY: 0.99, flip: 0.9 });
    const d = await transformImage(src, opts({}), { cropX: 0.99, cropY: 0.01, flip: 0.9 });
    expect(sha256(c.data)).not.toBe(sha256(d.data));
  });

  it('scale_width keeps an image that is already load_size wide, and scale_width_and_crop still crops at random in fine-tuning', () => {
    expect(resizedSize(300, 400, { preprocess: 'scale_width', loadSize: 300, cropSize: 256, finetune: false })).toEqual([300, 400]);
    expect(resizedSize(600, 200, { preprocess: 'scale_width', loadSize: 300, cropSize: 256, finetune: false })).toEqual([300, 256]);
    expect(resizedSize(600, 900, { preprocess: 'scale_width_and_crop', loadSize: 300, cropSize: 256, finetune: true })).toEqual([256, 384]);
    expect(resizedSize(600, 900, { preprocess: 'crop', loadSize: 300, cropSize: 256, finetune: true })).toEqual([600, 900]);
  });

  it("multiple-of-4 rounding is Python's round (half to even)", () => {
    expect([2, 6, 10, 14, 18, 22, 30, 31, 33, 256, 286].map((s) => multipleOf(s))).toEqual([0, 8, 8, 16, 16, 24, 32, 32, 32, 256, 288]);
  });
});

describe('channels: grey, RGBA, 16-bit and palette inputs', () => {
  const w = 12;
  const h = 8;

  it('grey PNG: 3 equal channels for input_nc 3, the grey value itself for 1', async () => {
    const grey = patternPixels(w, h, 1);
    const file = await writeImage(join(tmp.dir, 'grey.png'), grey, w, h, 1);
    const rgb = await loadImage(file, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 1 });
    const one = await loadImage(file, opts({ preprocess: 'none', channels: 1 }), { cropX: 0, cropY: 0, flip: 1 });
    expect([rgb.channels, one.channels]).toEqual([3, 1]);
    for (let i = 0; i < w * h; i++) {
      const v = norm8(grey[i]!);
      expect([rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2], one.data[i]].map((x) => Math.abs(x! - v) < 1e-6)).toEqual([
        true,
        true,
        true,
        true,
      ]);
    }
  });

  it("RGBA PNG: alpha dropped without compositing; 1 channel is PIL's ITU-R 601-2 luma", async () => {
    const rgba = patternPixels(w, h, 4, (x, y, c) => (c === 3 ? (x * 20) % 256 : pattern(x, y, c)));
    const file = await writeImage(join(tmp.dir, 'rgba.png'), rgba, w, h, 4);
    const rgb = await loadImage(file, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 1 });
    const one = await loadImage(file, opts({ preprocess: 'none', channels: 1 }), { cropX: 0, cropY: 0, flip: 1 });
    let worst = 0;
    for (let i = 0; i < w * h; i++) {
      const [r, g, b] = [rgba[4 * i]!, rgba[4 * i + 1]!, rgba[4 * i + 2]!];
      worst = Math.max(worst, Math.abs(rgb.data[3 * i]! - norm8(r)), Math.abs(rgb.data[3 * i + 2]! - norm8(b)));
      // PIL: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
      worst = Math.max(worst, Math.abs(one.data[i]! - norm8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('16-bit RGB and grey PNGs keep full precision (v / 65535), for 3 and 1 channels', async () => {
    const rgb16 = Uint16Array.from({ length: w * h * 3 }, (_, i) => (i * 2741 + 13) % 65536);
    const grey16 = Uint16Array.from({ length: w * h }, (_, i) => (i * 997 + 5) % 65536);
    const fRgb = await writeImage(join(tmp.dir, 'rgb16.png'), rgb16, w, h, 3);
    const fGrey = await writeImage(join(tmp.dir, 'grey16.png'), grey16, w, h, 1);
    expect((await sharp(fRgb).metadata()).depth).toBe('ushort');
    const n16 = (v: number) => (v / 65535 - 0.5) / 0.5;
    const a = await loadImage(fRgb, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 1 });
    const g3 = await loadImage(fGrey, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 1 });
    const g1 = await loadImage(fGrey, opts({ preprocess: 'none', channels: 1 }), { cropX: 0, cropY: 0, flip: 1 });
    const l1 = await loadImage(fRgb, opts({ preprocess: 'none', channels: 1 }), { cropX: 0, cropY: 0, flip: 1 });
    let worst = 0;
    for (let i = 0; i < w * h; i++) {
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(a.data[3 * i + c]! - n16(rgb16[3 * i + c]!)));
      worst = Math.max(worst, Math.abs(g3.data[3 * i + 1]! - n16(grey16[i]!)), Math.abs(g1.data[i]! - n16(grey16[i]!)));
      const luma = Math.floor((rgb16[3 * i]! * 19595 + rgb16[3 * i + 1]! * 38470 + rgb16[3 * i + 2]! * 7471 + 0x8000) / 65536);
      worst = Math.max(worst, Math.abs(l1.data[i]! - n16(luma)));
    }
    expect(worst).toBeLessThan(1e-6);
    // Not quantised to 8 bits: values between 8-bit levels survive.
    const offLevel = Array.from(g1.data).filter((v) => Math.abs(((v + 1) / 2) * 255 - Math.round(((v + 1) / 2) * 255)) > 1e-3).length;
    expect(offLevel).toBeGreaterThan(w * h * 0.9);
    // And a 16-bit image goes through the resize and crop path too.
    const resized = await loadImage(fRgb, opts({ loadSize: 20, cropSize: 16 }), { cropX: 0.3, cropY: 0.6, flip: 0.2 });
    expect([resized.width, resized.height, resized.channels]).toEqual([16, 16, 3]);
    const [lo, hi] = range(resized.data);
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
  });

  it('palette PNG: expanded to its colours', async () => {
    const colours = [
      [200, 30, 40],
      [10, 220, 90],
      [0, 0, 0],
      [255, 255, 255],
    ];
    const px = patternPixels(w, h, 3, (x, y, c) => colours[(x + 2 * y) % 4]![c]!);
    const file = join(tmp.dir, 'palette.png');
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png({ palette: true, colours: 4, dither: 0 })
      .toFile(file);
    expect((await sharp(file).metadata()).isPalette).toBe(true);
    const t = await loadImage(file, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 1 });
    let worst = 0;
    for (let i = 0; i < px.length; i++) worst = Math.max(worst, Math.abs(t.data[i]! - norm8(px[i]!)));
    expect(worst).toBeLessThan(1e-6);
  });
});

describe('bad images: errors name the file', () => {
  it('a truncated JPEG', async () => {
    const bytes = await readFile(demoA);
    const file = join(tmp.dir, 'truncated.jpg');
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(loadImage(file, opts({}), { cropX: 0, cropY: 0, flip: 1 })).rejects.toThrow(file);
  });

  it('a JPEG with garbage in its entropy-coded data', async () => {
    const bytes = Buffer.from(await readFile(demoA));
    for (let i = Math.floor(bytes.length * 0.3); i < bytes.length - 2; i += 7) bytes[i] = 0xff;
    const file = join(tmp.dir, 'garbled.jpg');
    await writeFile(file, bytes);
    await expect(loadImage(file, opts({}), { cropX: 0, cropY: 0, flip: 1 })).rejects.toThrow(file);
  });

  it('a text file named .jpg', async () => {
    const file = await writeText(join(tmp.dir, 'notes.jpg'), 'not an image\n');
    await expect(loadImage(file, opts({}), { cropX: 0, cropY: 0, flip: 1 })).rejects.toThrow(new RegExp(`${file}: not a readable image`));
  });

  it('a missing file', async () => {
    const file = join(tmp.dir, 'gone.png');
    await expect(loadImage(file, opts({}), { cropX: 0, cropY: 0, flip: 1 })).rejects.toThrow(new RegExp(`${file}: cannot read`));
  });

  it("an image smaller than the crop with 'crop' (and with scale_width_and_crop's width)", async () => {
    const file = await writePattern(join(tmp.dir, 'small.png'), 100, 80);
    await expect(loadImage(file, opts({ preprocess: 'crop' }), { cropX: 0, cropY: 0, flip: 1 })).rejects.toThrow(
      `${file}: image is 100x80, smaller than crop_size 256x256 (preprocess 'crop')`,
    );
    await expect(
      loadImage(file, opts({ preprocess: 'scale_width_and_crop', loadSize: 200, cropSize: 256 }), { cropX: 0, cropY: 0, flip: 1 }),
    ).rejects.toThrow(`${file}: image is 200x256 (100x80 resized to 200x256), smaller than crop_size 256x256`);
  });

  it('a 1-pixel-wide image cannot be rounded to a multiple of 4', async () => {
    const file = await writePattern(join(tmp.dir, 'thin.png'), 1, 12);
    await expect(loadImage(file, opts({ preprocess: 'none' }), { cropX: 0, cropY: 0, flip: 1 })).rejects.toThrow(`${file}: image is 1x12, too small`);
  });
});
