// Every --preprocess keyword combination against the reference's own get_transform
// (tools/golden/preprocess.py: PIL images, seeded Python/numpy/torch draws replayed as ours).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@cut/core-tensors';
import { loadFixture } from '../../../../test-utils/golden';
import { AlignedDataset, alignedParams } from './aligned-dataset.js';
import { defaultDataOptions } from './dataset.js';
import { decodeImage } from '@cut/files';
import { normalizeImage, type RawImage } from '@cut/images';
import { tempDir, writeImage } from './test-images.js';
import {
  DEFAULT_TRANSFORM_OPTIONS,
  drawImageParams,
  parsePreprocess,
  plannedSizes,
  transformImage,
  zoomFactor,
  type ImageDraws,
  type TransformOptions,
} from './transforms.js';

interface Encoded {
  width: number;
  height: number;
  channels: number;
  pixels_sha256: string;
  float_sha256: string;
  first_floats: string[];
  rows: Record<string, number[]>;
}
interface GoldenCase extends Encoded {
  preprocess: string;
  load: number;
  crop: number;
  channels: number;
  no_flip?: boolean;
  dataroot?: string;
  size?: [number, number];
  source: string;
  draws: ImageDraws;
}
interface Source {
  width: number;
  height: number;
  input: number[];
}
interface PreprocessGolden {
  sources: Record<string, Source>;
  demo: string;
  transforms: GoldenCase[];
  aligned: Array<{
    preprocess: string;
    load: number;
    crop: number;
    no_flip?: boolean;
    input_nc?: number;
    output_nc?: number;
    source: string;
    params: { crop_pos: [number, number]; ranges: [number, number]; flip: boolean };
    shared: { cropX: number; cropY: number; flip: number };
    A: Encoded & { trim?: [number, number] };
    B: Encoded & { trim?: [number, number] };
  }>;
}

const golden = loadFixture<PreprocessGolden>('golden/preprocess.json');
const sha256 = (a: Uint8Array | Uint16Array | Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

/** Checks a transformed image against a golden encoding (sizes, full rows, all pixels, all floats). */
function expectEncoded(out: RawImage, g: Encoded): void {
  expect([out.width, out.height, out.channels]).toEqual([g.width, g.height, g.channels]);
  for (const [y, values] of Object.entries(g.rows)) {
    const row = out.data.subarray(Number(y) * g.width * g.channels, (Number(y) + 1) * g.width * g.channels);
    expect(Array.from(row), `row ${y}`).toEqual(values);
  }
  expect(sha256(out.data)).toBe(g.pixels_sha256);
  const floats = normalizeImage(out);
  expect(Array.from(floats.subarray(0, g.first_floats.length))).toEqual(g.first_floats.map((s) => Math.fround(Number(s))));
  expect(sha256(floats)).toBe(g.float_sha256);
}

function goldenSource(name: string): RawImage {
  const s = golden.sources[name]!;
  return { data: Uint8Array.from(s.input), width: s.width, height: s.height, channels: 3, bitDepth: 8 };
}

describe('every preprocess combination against the reference get_transform (tools/golden/preprocess.py)', () => {
  for (const g of golden.transforms) {
    const notes = [
      g.channels === 1 ? '1 channel' : '',
      g.no_flip ? 'no_flip' : '',
      g.dataroot ? g.dataroot : '',
      g.size ? `size ${g.size}` : '',
    ].filter(Boolean);
    it(`${g.preprocess} load ${g.load} crop ${g.crop} on ${g.source}${notes.length ? ` (${notes.join(', ')})` : ''}`, async () => {
      const src = g.source === 'demo' ? await decodeImage(golden.demo) : goldenSource(g.source);
      const o: TransformOptions = {
        ...DEFAULT_TRANSFORM_OPTIONS,
        preprocess: g.preprocess,
        loadSize: g.load,
        cropSize: g.crop,
        channels: g.channels,
        noFlip: g.no_flip ?? false,
        halfHeight: g.dataroot?.includes('gta2cityscapes') ?? false,
        ...(g.size && { fixSize: [g.size[1], g.size[0]] as [number, number] }),
      };
      const out = await transformImage(src, o, g.draws);
      expectEncoded(out, g);
      const zoom = g.draws.zoom ? ([zoomFactor(g.draws.zoom[0]), zoomFactor(g.draws.zoom[1])] as [number, number]) : undefined;
      expect(plannedSizes(src.width, src.height, o, zoom).final).toEqual([g.width, g.height]);
    });
  }
});

describe('the fine-tuning switch (load_size replaced by crop_size)', () => {
  it('gives what the reference gives with load_size = crop_size, for every case that uses load_size', async () => {
    for (const g of golden.transforms.filter((t) => t.load === t.crop)) {
      const src = goldenSource(g.source);
      const o: TransformOptions = {
        ...DEFAULT_TRANSFORM_OPTIONS,
        preprocess: g.preprocess,
        loadSize: 300,
        cropSize: g.crop,
        noFlip: g.no_flip ?? false,
        finetune: true,
      };
      expectEncoded(await transformImage(src, o, g.draws), g);
    }
    expect(golden.transforms.filter((t) => t.load === t.crop).length).toBeGreaterThan(0);
  });
});

describe('parsing --preprocess', () => {
  it('reads keywords as the reference does: substrings, resize before scale_width before scale_shortside, any order', () => {
    expect(parsePreprocess('zoom_and_patch')).toMatchObject({ zoom: true, patch: true, crop: false, resize: false });
    expect(parsePreprocess('resize_and_scale_width_and_scale_shortside')).toMatchObject({ resize: true, scaleWidth: false, scaleShortside: false });
    expect(parsePreprocess('scale_shortside_and_scale_width')).toMatchObject({ scaleWidth: true, scaleShortside: false });
    expect(parsePreprocess('trim_and_crop')).toMatchObject({ crop: true, trim: true });
    expect(Object.values(parsePreprocess('none')).some(Boolean)).toBe(false);
  });

  it('names an unknown word instead of ignoring it', () => {
    expect(() => parsePreprocess('resise_and_crop')).toThrow(/preprocess 'resise_and_crop' is not a combination .*: unknown 'resise'/);
    expect(() => parsePreprocess('')).toThrow(/is not a combination/);
    expect(() => parsePreprocess('resize_crop')).toThrow(/unknown 'resize_crop'/);
  });

  it('draws zoom, crop, patch, trim and flip in that order, only the steps named; the classic modes draw three numbers', () => {
    // How many uniforms a draw took: where the next one sits in a fresh stream.
    const position = (p: string) => {
      const rng = new SeededRng(9);
      drawImageParams(rng, p);
      const next = rng.random();
      const probe = new SeededRng(9);
      for (let k = 1; k <= 12; k++) if (probe.random() === next) return k - 1;
      return -1;
    };
    expect(position('resize_and_crop')).toBe(3);
    expect(position('zoom_and_patch')).toBe(2 + 2 + 3 + 1);
    expect(position('zoom_and_crop_and_trim')).toBe(2 + 2 + 2 + 1);
    const a = drawImageParams(new SeededRng(4), 'zoom_and_patch_and_trim');
    const r = new SeededRng(4);
    const u = Array.from({ length: 10 }, () => r.random());
    expect(a).toEqual({ zoom: [u[0], u[1]], cropY: u[2], cropX: u[3], patch: [u[4], u[5], u[6]], trim: [u[7], u[8]], flip: u[9] });
  });
});

describe("the aligned dataset (pix2pix's aligned_dataset.py) against the reference get_params + get_transform", () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  golden.aligned.forEach((g, n) => {
    const notes = [g.output_nc === 1 ? 'B 1 channel' : '', g.no_flip ? 'no_flip' : ''].filter(Boolean);
    it(`${g.preprocess} load ${g.load} crop ${g.crop} on ${g.source}${notes.length ? ` (${notes.join(', ')})` : ''}`, async () => {
      const src = goldenSource(g.source);
      const root = join(tmp.dir, `case${n}`);
      await writeImage(join(root, 'train', `${g.source}.png`), src.data as Uint8Array, src.width, src.height, 3);
      const ds = await AlignedDataset.create({
        ...defaultDataOptions('train'),
        dataroot: root,
        dataset_mode: 'aligned',
        preprocess: g.preprocess,
        load_size: g.load,
        crop_size: g.crop,
        no_flip: g.no_flip ?? false,
        input_nc: g.input_nc ?? 3,
        output_nc: g.output_nc ?? 3,
      });
      expect(ds.length).toBe(1);
      const half = Math.trunc(src.width / 2);
      expect(alignedParams(half, src.height, { preprocess: g.preprocess, load_size: g.load, crop_size: g.crop }, g.shared)).toEqual({
        cropPos: g.params.crop_pos,
        flip: g.params.flip,
      });
      const item = await ds.getItem(0, {
        bIndex: -1,
        a: { ...g.shared, ...(g.A.trim && { trim: g.A.trim }) },
        b: { ...g.shared, ...(g.B.trim && { trim: g.B.trim }) },
      });
      for (const [mine, ref] of [
        [item.A, g.A],
        [item.B, g.B],
      ] as const) {
        expect([mine.width, mine.height, mine.channels]).toEqual([ref.width, ref.height, ref.channels]);
        expect(Array.from(mine.data.subarray(0, ref.first_floats.length))).toEqual(ref.first_floats.map((s) => Math.fround(Number(s))));
        expect(sha256(mine.data)).toBe(ref.float_sha256);
      }
      expect([item.pathA, item.pathB]).toEqual([ds.pathsA[0], ds.pathsA[0]]);
    });
  });

  it("BtoA: the right half is real_A; draws are shared crop/flip then A's and B's own trims", async () => {
    const g = golden.aligned.find((c) => c.preprocess === 'resize_and_crop')!;
    const src = goldenSource(g.source);
    const root = join(tmp.dir, 'btoa');
    await writeImage(join(root, 'train', 'ab.png'), src.data as Uint8Array, src.width, src.height, 3);
    const o = {
      ...defaultDataOptions('train'),
      dataroot: root,
      dataset_mode: 'aligned',
      preprocess: g.preprocess,
      load_size: g.load,
      crop_size: g.crop,
    };
    const ab = await AlignedDataset.create(o);
    const ba = await AlignedDataset.create({ ...o, direction: 'BtoA' });
    const draws = { bIndex: -1, a: g.shared, b: g.shared };
    const [x, y] = [await ab.getItem(0, draws), await ba.getItem(0, draws)];
    expect(sha256(y.A.data)).toBe(sha256(x.B.data));
    expect(sha256(y.B.data)).toBe(sha256(x.A.data));
    const d = (await AlignedDataset.create({ ...o, preprocess: 'trim' })).drawItem(new SeededRng(3));
    const r = new SeededRng(3);
    const u = Array.from({ length: 7 }, () => r.random());
    expect(d).toEqual({
      bIndex: -1,
      a: { cropX: u[0], cropY: u[1], flip: u[2], trim: [u[3], u[4]] },
      b: { cropX: u[0], cropY: u[1], flip: u[2], trim: [u[5], u[6]] },
    });
  });

  it('refuses what the reference cannot run: zoom, patch, fixsize, load_size < crop_size; names a missing folder', async () => {
    const o = { ...defaultDataOptions('train'), dataroot: tmp.dir, dataset_mode: 'aligned' };
    await expect(AlignedDataset.create({ ...o, preprocess: 'zoom_and_patch' })).rejects.toThrow(/cannot zoom, patch .*scale_factor, patch_index/);
    await expect(AlignedDataset.create({ ...o, preprocess: 'fixsize' })).rejects.toThrow(/cannot fixsize/);
    await expect(AlignedDataset.create({ ...o, preprocess: 'crop', load_size: 100, crop_size: 128 })).rejects.toThrow(
      /load_size 100 is smaller than crop_size 128/,
    );
    await expect(AlignedDataset.create({ ...o, dataroot: join(tmp.dir, 'case0'), phase: 'test' })).rejects.toThrow(
      `${join(tmp.dir, 'case0', 'test')}: no such folder`,
    );
  });
});
