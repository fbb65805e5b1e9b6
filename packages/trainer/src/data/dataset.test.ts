import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@cut/core-tensors';
import { createDataset } from './create-dataset.js';
import { defaultDataOptions, UnalignedDataset, type DataOptions } from './dataset.js';
import { BatchLoader } from './loader.js';
import { SingleDataset } from './single-dataset.js';
import { drawImageParams } from './transforms.js';
import { tempDir, writePattern, writeText } from './test-images.js';

const DEMO = 'datasets/horse2zebra_demo';
// Element-wise equality of large arrays (vitest's deep equality is slow on 200k elements).
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const demo = (o: Partial<DataOptions> = {}): DataOptions => ({ ...defaultDataOptions('train'), dataroot: DEMO, ...o });

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('UnalignedDataset on the demo data', () => {
  it('lists 24 + 24 train images (5 + 5 test), sorted, length max(|A|, |B|)', async () => {
    const train = await UnalignedDataset.create(demo());
    expect([train.pathsA.length, train.pathsB.length, train.length]).toEqual([24, 24, 24]);
    expect(train.pathsA.map((p) => basename(p))).toEqual([...train.pathsA.map((p) => basename(p))].sort());
    expect(train.dirA).toBe(join(DEMO, 'trainA'));
    const test = await UnalignedDataset.create({ ...defaultDataOptions('test'), dataroot: DEMO });
    expect([test.pathsA.length, test.pathsB.length, test.isTrain]).toEqual([5, 5, false]);
    const capped = await UnalignedDataset.create(demo({ max_dataset_size: 10 }));
    expect([capped.pathsA.length, capped.pathsB.length, capped.length]).toEqual([10, 10, 10]);
    expect(capped.pathsA).toEqual(train.pathsA.slice(0, 10));
  });

  it('serial_batches pairs A[i % |A|] with B[i % |B|]; otherwise B is drawn from the rng', async () => {
    const serial = await UnalignedDataset.create(demo({ serial_batches: true, preprocess: 'none', no_flip: true }));
    const rng = new SeededRng(1);
    const item = await serial.getItem(5, rng);
    expect([item.pathA, item.pathB]).toEqual([serial.pathsA[5], serial.pathsB[5]]);
    expect([item.A.height, item.A.width, item.A.channels]).toEqual([256, 256, 3]);

    const random = await UnalignedDataset.create(demo());
    const picked = new Set<number>();
    const draws = new SeededRng(2);
    for (let i = 0; i < 200; i++) picked.add(random.drawItem(draws).bIndex);
    // 200 uniform draws out of 24 reach (nearly) all of them, and only valid ones.
    expect(picked.size).toBeGreaterThan(20);
    expect(Math.min(...picked)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...picked)).toBeLessThan(24);
    const d = random.drawItem(new SeededRng(3));
    const it = await random.getItem(0, d);
    expect([it.pathA, it.pathB]).toEqual([random.pathsA[0], random.pathsB[d.bIndex]]);
  });

  it('the same draws give the same item; a seed gives the same draws', async () => {
    const ds = await UnalignedDataset.create(demo());
    const a = await ds.getItem(3, new SeededRng(42));
    const b = await ds.getItem(3, new SeededRng(42));
    const c = await ds.getItem(3, new SeededRng(43));
    expect(b.pathB).toBe(a.pathB);
    expect(same(b.A.data, a.A.data)).toBe(true);
    expect(same(b.B.data, a.B.data)).toBe(true);
    expect(same(c.A.data, a.A.data)).toBe(false);
  });

  it('BtoA swaps the domains, and channels follow the model (A: input_nc, B: output_nc)', async () => {
    const o = { serial_batches: true, preprocess: 'none', no_flip: true, input_nc: 1, output_nc: 3 } as const;
    const ab = await UnalignedDataset.create(demo(o));
    const ba = await UnalignedDataset.create(demo({ ...o, direction: 'BtoA' }));
    const x = await ab.getItem(2, new SeededRng(0));
    const y = await ba.getItem(2, new SeededRng(0));
    expect([x.pathA, x.pathB]).toEqual([ab.pathsA[2], ab.pathsB[2]]);
    expect([y.pathA, y.pathB]).toEqual([ab.pathsB[2], ab.pathsA[2]]);
    expect([x.A.channels, x.B.channels, y.A.channels, y.B.channels]).toEqual([1, 3, 1, 3]);
  });

  it('fine-tuning starts after n_epochs in training only', async () => {
    const train = await UnalignedDataset.create(demo({ n_epochs: 150 }));
    expect([train.isFinetuning(150), train.isFinetuning(151)]).toEqual([false, true]);
    expect(train.transformOptions('A', 151).finetune).toBe(true);
    const test = await UnalignedDataset.create({ ...defaultDataOptions('test'), dataroot: DEMO, n_epochs: 1 });
    expect(test.isFinetuning(400)).toBe(false);
  });

  it('index out of range is an error', async () => {
    const ds = await UnalignedDataset.create(demo());
    await expect(ds.getItem(24, new SeededRng(0))).rejects.toThrow(/index 24 out of range 0..23/);
  });
});

describe('UnalignedDataset on built folders', () => {
  it('length is max(|A|, |B|); A wraps modulo |A|', async () => {
    const root = join(tmp.dir, 'uneven');
    for (let i = 0; i < 3; i++) await writePattern(join(root, 'trainA', `a${i}.png`), 20, 20);
    for (let i = 0; i < 5; i++) await writePattern(join(root, 'trainB', `nested/b${i}.png`), 20, 20);
    const ds = await UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: root, serial_batches: true, load_size: 20, crop_size: 16 });
    expect(ds.length).toBe(5);
    const item = await ds.getItem(4, new SeededRng(0));
    expect([basename(item.pathA), basename(item.pathB)]).toEqual(['a1.png', 'b4.png']);
    expect([item.A.width, item.A.height]).toEqual([16, 16]);
  });

  it('test phase falls back to valA/valB when there is no testA', async () => {
    const root = join(tmp.dir, 'withval');
    await writePattern(join(root, 'valA', 'a.png'), 8, 8);
    await writePattern(join(root, 'valB', 'b.png'), 8, 8);
    const ds = await UnalignedDataset.create({ ...defaultDataOptions('test'), dataroot: root });
    expect([ds.dirA, ds.dirB]).toEqual([join(root, 'valA'), join(root, 'valB')]);
  });

  it('errors name the folder: missing trainB, empty trainA, missing dataroot', async () => {
    const root = join(tmp.dir, 'broken');
    await writePattern(join(root, 'trainA', 'a.png'), 8, 8);
    await expect(UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: root })).rejects.toThrow(
      `${join(root, 'trainB')}: no such folder (the unaligned dataset needs ${join(root, 'trainA')} and ${join(root, 'trainB')})`,
    );
    const empty = join(tmp.dir, 'empty');
    await mkdir(join(empty, 'trainA', 'sub'), { recursive: true });
    await writeText(join(empty, 'trainA', 'notes.txt'), 'no images here');
    await writePattern(join(empty, 'trainB', 'b.png'), 8, 8);
    await expect(UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: empty })).rejects.toThrow(`${join(empty, 'trainA')}: no images`);
    await expect(UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: join(tmp.dir, 'absent') })).rejects.toThrow(
      `${join(tmp.dir, 'absent')}: dataroot does not exist`,
    );
    const onlyB = join(tmp.dir, 'onlyB');
    await writePattern(join(onlyB, 'trainB', 'b.png'), 8, 8);
    await expect(UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: onlyB })).rejects.toThrow(
      `${join(onlyB, 'trainA')}: no such folder`,
    );
  });

  it('a bad file in the folder fails when its item is loaded, naming the file', async () => {
    const root = join(tmp.dir, 'badfile');
    await writePattern(join(root, 'trainA', 'a.png'), 20, 20);
    const bad = await writeText(join(root, 'trainB', 'b.jpg'), 'this is text');
    const ds = await UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: root, load_size: 20, crop_size: 16 });
    await expect(ds.getItem(0, new SeededRng(0))).rejects.toThrow(`${bad}: not a readable image`);
  });

  it('rejects options it cannot honour', async () => {
    const base = demo();
    await expect(UnalignedDataset.create({ ...base, preprocess: 'zoom_and_pach' })).rejects.toThrow(
      /preprocess 'zoom_and_pach' is not a combination .*: unknown 'pach'/,
    );
    await expect(UnalignedDataset.create({ ...base, preprocess: 'scale_width_and_crop', load_size: 200 })).rejects.toThrow(
      /load_size 200 is smaller than crop_size 256/,
    );
    await expect(UnalignedDataset.create({ ...base, dataroot: join(tmp.dir, 'gta2cityscapes'), load_size: 500 })).rejects.toThrow(
      /half height \(250/,
    );
    await expect(UnalignedDataset.create({ ...base, input_nc: 4 })).rejects.toThrow(/input_nc must be 1 or 3/);
    await expect(UnalignedDataset.create({ ...base, load_size: 200 })).rejects.toThrow(/load_size 200 is smaller than crop_size 256/);
    await expect(UnalignedDataset.create({ ...base, batch_size: 0 })).rejects.toThrow(/batch_size must be a positive integer/);
  });
});

describe('SingleDataset (single_dataset.py) and createDataset', () => {
  it('reads the images of dataroot itself, sorted; items and batches have no B', async () => {
    const root = join(tmp.dir, 'single');
    for (const n of ['c', 'a', 'b']) await writePattern(join(root, `${n}.png`), 40, 28);
    const ds = await createDataset({ ...defaultDataOptions('test'), dataroot: root, dataset_mode: 'single', preprocess: 'none' });
    expect(ds).toBeInstanceOf(SingleDataset);
    expect([ds.length, ds.pathsA.map((p) => basename(p)), ds.pathsB.length, ds.isTrain]).toEqual([3, ['a.png', 'b.png', 'c.png'], 0, false]);
    const item = await ds.getItem(1, new SeededRng(0));
    expect([item.pathA, item.B, item.pathB, item.A.width, item.A.height]).toEqual([join(root, 'b.png'), null, null, 40, 28]);
    const loader = new BatchLoader(ds, { seed: 0, shuffle: false, dropLast: false, endEpoch: 1 });
    const batches = [];
    for await (const b of loader.epochBatches()) batches.push(b);
    expect(batches.map((b) => [b.pathsA.map((p) => basename(p)), b.B, b.shapeB, b.pathsB])).toEqual([
      [['a.png'], null, null, []],
      [['b.png'], null, null, []],
      [['c.png'], null, null, []],
    ]);
    expect(loader.state().datasetMode).toBe('single');
  });

  it('draws one image per item, and a state of another mode does not fit', async () => {
    const root = join(tmp.dir, 'single2');
    for (const n of ['a', 'b']) await writePattern(join(root, `${n}.png`), 20, 20);
    const ds = await SingleDataset.create({
      ...defaultDataOptions('test'),
      dataroot: root,
      preprocess: 'zoom_and_crop',
      load_size: 20,
      crop_size: 16,
    });
    const r = new SeededRng(2);
    expect(ds.drawItem(new SeededRng(2))).toEqual({ bIndex: -1, a: drawImageParams(r, 'zoom_and_crop'), b: null });
    const state = new BatchLoader(ds, { seed: 1 }).state();
    const unaligned = await UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: DEMO, max_dataset_size: 2, batch_size: 1 });
    expect(() => new BatchLoader(unaligned, { state: { ...state, sizeB: 2 } })).toThrow(/dataset_mode single vs unaligned/);
  });

  it('errors: an unknown mode, an empty folder', async () => {
    await expect(createDataset({ ...defaultDataOptions('test'), dataroot: DEMO, dataset_mode: 'singleimage' })).rejects.toThrow(
      "dataset_mode 'singleimage' is not supported (unaligned, aligned, single)",
    );
    const empty = join(tmp.dir, 'single-empty');
    await mkdir(empty, { recursive: true });
    await expect(createDataset({ ...defaultDataOptions('test'), dataroot: empty, dataset_mode: 'single' })).rejects.toThrow(`${empty}: no images`);
  });
});
