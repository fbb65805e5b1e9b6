// decodeImage against PIL's `Image.open(f).convert('RGB')`, byte for byte, on one small file of
// every format and colour model the reference's loader accepts (tools/golden/decode_formats.py).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadFixture } from '../../../test-utils/golden';
import { decodeImage, probeImage } from './decode.js';

interface DecodeCase {
  file: string;
  format: string;
  pil_mode: string;
  width: number;
  height: number;
  rgb: string;
  samples16?: string;
}
interface DecodeGolden {
  pillow: string;
  cases: DecodeCase[];
  refused: Array<{ file: string; pil_error: string }>;
  shared_icc_jpeg: { path: string; width: number; height: number; rgb_sha256: string; first_row: number[] };
}

const golden = loadFixture<DecodeGolden>('golden/decode_formats.json');
const DIR = 'fixtures/decode';

/** Count and largest absolute difference of two equal-length sample arrays. */
function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; count: number } {
  let max = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > 0) count++;
    if (d > max) max = d;
  }
  return { max, count };
}

describe("decodeImage equals PIL's convert('RGB')", () => {
  const formats = new Set(golden.cases.map((c) => c.format));
  it(`covers ${golden.cases.length} files in ${formats.size} formats (${[...formats].join(', ')})`, () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(43);
    expect([...formats].sort()).toEqual(['BMP', 'JPEG', 'PNG', 'PPM', 'TIFF']);
  });

  for (const c of golden.cases.filter((c) => !c.samples16)) {
    it(`${c.file} (${c.format}, PIL mode ${c.pil_mode}) byte for byte`, async () => {
      const img = await decodeImage(join(DIR, c.file));
      expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([c.width, c.height, 3, 8]);
      const expected = Buffer.from(c.rgb, 'base64');
      expect(diff(img.data, expected)).toEqual({ max: 0, count: 0 });
    });
  }

  // 16-bit: PIL clips grey to 255 (near white) and keeps RGB's high bytes; ours keeps 16 bits
  // (documented in the README), grey replicated to RGB, with a notice.
  for (const c of golden.cases.filter((c) => c.samples16)) {
    it(`${c.file} (16-bit ${c.format}, PIL mode ${c.pil_mode}) keeps the 16-bit samples`, async () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        const img = await decodeImage(join(DIR, c.file));
        expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([c.width, c.height, 3, 16]);
        const raw = Buffer.from(c.samples16!, 'base64');
        const s16 = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        const grey = s16.length === c.width * c.height;
        const expected = grey ? new Uint16Array(s16.length * 3).map((_, i) => s16[Math.floor(i / 3)]!) : s16;
        expect(diff(img.data, expected)).toEqual({ max: 0, count: 0 });
        // What PIL gives instead (why this is a documented difference).
        const pil = Buffer.from(c.rgb, 'base64');
        if (grey) expect(pil.every((v) => v === 255)).toBe(true);
        else
          expect(
            diff(
              pil,
              s16.map((v) => v >> 8),
            ),
          ).toEqual({ max: 0, count: 0 });
      } finally {
        warn.mockRestore();
      }
    });
  }

  // Damaged files PIL refuses are refused too (jpeg_warning.jpg above: stray bytes, PIL reads it).
  for (const r of golden.refused) {
    it(`${r.file}: refused as PIL refuses it ("${r.pil_error}"), naming the file`, async () => {
      const file = join(DIR, r.file);
      await expect(decodeImage(file)).rejects.toThrow(`${file}: not a readable image`);
      await expect(probeImage(file)).rejects.toThrow(`${file}: not a readable image`);
    });
  }

  it('probeImage accepts what PIL reads (every readable case) and returns its size', async () => {
    for (const c of golden.cases) expect(await probeImage(join(DIR, c.file)), c.file).toEqual({ width: c.width, height: c.height });
  });

  it('prints one notice for the first 16-bit file it meets, naming it', async () => {
    vi.resetModules();
    const fresh = await import('./decode.js');
    const lines: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((m: string) => void lines.push(m));
    try {
      await fresh.decodeImage(join(DIR, 'png_grey_16bit.png'));
      await fresh.decodeImage(join(DIR, 'pgm_binary_16bit.pgm'));
      await fresh.decodeImage(join(DIR, 'png_rgb.png'));
    } finally {
      warn.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('png_grey_16bit.png has 16-bit samples');
  });

  it('the ICC-tagged and CMYK files are ones where a colour-managed decode differs (so these checks can fail)', async () => {
    for (const name of ['jpeg_icc.jpg', 'png_icc.png', 'jpeg_cmyk_adobe.jpg', 'jpeg_ycck.jpg', 'tiff_cmyk.tif']) {
      const c = golden.cases.find((g) => g.file === name)!;
      const { data } = await sharp(join(DIR, name)).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      expect(diff(data, Buffer.from(c.rgb, 'base64')).max, name).toBeGreaterThan(2);
    }
  });
});

describe('the ICC-tagged photo of the shared apple2orange set', () => {
  const s = golden.shared_icc_jpeg;
  const present = existsSync(s.path);
  if (!present) console.warn(`skipped: ${s.path} is absent (the shared datasets folder is not beside this checkout)`);
  it.skipIf(!present)(`${s.path} decodes to PIL's bytes exactly`, async () => {
    const img = await decodeImage(s.path);
    expect([img.width, img.height, img.bitDepth]).toEqual([s.width, s.height, 8]);
    expect(Array.from(img.data.subarray(0, s.width * 3))).toEqual(s.first_row);
    expect(createHash('sha256').update(img.data).digest('hex')).toBe(s.rgb_sha256);
  });
});

describe('decodeImage on bad files', () => {
  let dir: string | undefined;
  afterAll(async () => dir && rm(dir, { recursive: true, force: true }));

  it('refuses them with what is wrong, naming the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cut-decode-'));
    const bad = join(dir, 'truncated.ppm');
    await writeFile(bad, 'P6\n4 4\n255\n\u0001');
    await expect(decodeImage(bad)).rejects.toThrow(`${bad}: not a readable image (file is truncated)`);
    const badBmp = join(dir, 'cut.bmp');
    await writeFile(badBmp, Buffer.from('BM\u0000\u0000\u0000'));
    await expect(decodeImage(badBmp)).rejects.toThrow(`${badBmp}: not a readable image`);
  });
});
