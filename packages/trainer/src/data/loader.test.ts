import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@cut/core-tensors';
import { defaultDataOptions, UnalignedDataset, type DataOptions } from './dataset.js';
import { BatchLoader, type Batch, type LoaderState } from './loader.js';
import { patternPixels, tempDir, writeImage, writePattern, writeText } from './test-images.js';

const DEMO = 'datasets/horse2zebra_demo';
const hash = (a: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
/** What identifies a batch: position, files and pixel content. */
const fingerprint = (b: Batch) => ({ epoch: b.epoch, index: b.index, pathsA: b.pathsA, pathsB: b.pathsB, A: hash(b.A), B: hash(b.B!) });
const take = async (loader: BatchLoader, n: number) => {
  const out: ReturnType<typeof fingerprint>[] = [];
  for (let i = 0; i < n; i++) out.push(fingerprint(await loader.next()));
  return out;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tmp: { dir: string; cleanup: () => Promise<void> };
/** 7 A and 5 B small images, each with different content. */
let small: string;
const smallOpts = (o: Partial<DataOptions> = {}): DataOptions => ({
  ...defaultDataOptions('train'),
  dataroot: small,
  load_size: 36,
  crop_size: 32,
  ...o,
});

beforeAll(async () => {
  tmp = await tempDir();
  small = join(tmp.dir, 'small');
  for (let i = 0; i < 7; i++) {
    await writeImage(
      join(small, 'trainA', `a${i}.png`),
      patternPixels(40, 40, 3, (x, y, c) => (x * (i + 1) + y * 3 + c * 40) % 256),
      40,
      40,
      3,
    );
  }
  for (let i = 0; i < 5; i++) {
    await writeImage(
      join(small, 'trainB', `b${i}.png`),
      patternPixels(40, 40, 3, (x, y, c) => (x * 2 + y * (i + 5) + c * 70) % 256),
      40,
      40,
      3,
    );
  }
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('BatchLoader: epochs and order', () => {
  it('training drops the last partial batch (⌊7/3⌋ = 2 batches); test keeps it', async () => {
    const train = new BatchLoader(await UnalignedDataset.create(smallOpts({ batch_size: 3 })), { seed: 1 });
    expect(train.batchesPerEpoch).toBe(2);
    const batches = [await train.next(), await train.next(), await train.next()];
    expect(batches.map((b) => [b.epoch, b.index, b.shapeA[0]])).toEqual([
      [1, 0, 3],
      [1, 1, 3],
      [2, 0, 3],
    ]);
    expect(batches[0]!.shapeA).toEqual([3, 32, 32, 3]);
    expect(batches[0]!.A.length).toBe(3 * 32 * 32 * 3);

    const test = new BatchLoader(await UnalignedDataset.create({ ...defaultDataOptions('test'), dataroot: DEMO, batch_size: 2 }), { seed: 1 });
    expect(test.batchesPerEpoch).toBe(3);
    const sizes: number[] = [];
    for await (const b of test.epochBatches()) sizes.push(b.shapeA[0]);
    expect(sizes).toEqual([2, 2, 1]);
    expect(test.epoch).toBe(2);
  });

  it('shuffled: every A once per epoch, a new order each epoch; serial: in order with B[i % |B|]', async () => {
    const loader = new BatchLoader(await UnalignedDataset.create(smallOpts({ batch_size: 1 })), { seed: 5 });
    const epochs: string[][] = [[], [], []];
    for (let e = 0; e < 3; e++) for await (const b of loader.epochBatches()) epochs[e]!.push(basename(b.pathsA[0]!));
    for (const order of epochs) expect([...order].sort()).toEqual(['a0.png', 'a1.png', 'a2.png', 'a3.png', 'a4.png', 'a5.png', 'a6.png']);
    expect(new Set(epochs.map((o) => o.join())).size).toBe(3);

    const serial = new BatchLoader(await UnalignedDataset.create(smallOpts({ batch_size: 2, serial_batches: true })), { seed: 5 });
    // serial_batches: no shuffle, B by index (7 A for 2-image batches: the 4th, partial batch is dropped in training).
    const b = [await serial.next(), await serial.next(), await serial.next()];
    expect(b.map((x) => x.pathsA.map((p) => basename(p)))).toEqual([
      ['a0.png', 'a1.png'],
      ['a2.png', 'a3.png'],
      ['a4.png', 'a5.png'],
    ]);
    expect(b.map((x) => x.pathsB.map((p) => basename(p)))).toEqual([
      ['b0.png', 'b1.png'],
      ['b2.png', 'b3.png'],
      ['b4.png', 'b0.png'],
    ]);
  });

  it('batch k of the stack is the dataset item with the same draws (NHWC layout)', async () => {
    const ds = await UnalignedDataset.create(smallOpts({ batch_size: 3 }));
    const loader = new BatchLoader(ds, { seed: 9 });
    const batch = await loader.next();
    // Replay the plan: the permutation, then per item its draws.
    const rng = new SeededRng(9);
    const order = rng.permutation(ds.length);
    const draws = Array.from({ length: 6 }, () => ds.drawItem(rng));
    for (let k = 0; k < 3; k++) {
      const item = await ds.getItem(order[k]!, draws[k]!, 1);
      const size = 32 * 32 * 3;
      expect(hash(batch.A.subarray(k * size, (k + 1) * size))).toBe(hash(item.A.data));
      expect(hash(batch.B!.subarray(k * size, (k + 1) * size))).toBe(hash(item.B.data));
      expect([batch.pathsA[k], batch.pathsB[k]]).toEqual([item.pathA, item.pathB]);
    }
  });

  it('startEpoch/endEpoch bound the stream; the fine-tuning flag follows n_epochs', async () => {
    const loader = new BatchLoader(await UnalignedDataset.create(smallOpts({ batch_size: 3, n_epochs: 3 })), { seed: 2, startEpoch: 3, endEpoch: 4 });
    const seen: [number, number, boolean][] = [];
    while (loader.hasNext) {
      const b = await loader.next();
      seen.push([b.epoch, b.index, b.finetuning]);
    }
    expect(seen).toEqual([
      [3, 0, false],
      [3, 1, false],
      [4, 0, true],
      [4, 1, true],
    ]);
    await expect(loader.next()).rejects.toThrow(/past the last epoch \(4\)/);
  });

  it('too few images for one training batch is an error', async () => {
    const ds = await UnalignedDataset.create(smallOpts({ batch_size: 8 }));
    expect(() => new BatchLoader(ds, { seed: 0 })).toThrow(/7 images per epoch, fewer than batch_size 8/);
  });
});

describe('BatchLoader: determinism, prefetching and resume', () => {
  it('a seed fixes the stream, whatever the prefetch depth; another seed changes it', async () => {
    const ds = await UnalignedDataset.create(smallOpts({ batch_size: 2 }));
    const a = await take(new BatchLoader(ds, { seed: 11, prefetch: 0 }), 7);
    const b = await take(new BatchLoader(ds, { seed: 11, prefetch: 4 }), 7);
    const c = await take(new BatchLoader(ds, { seed: 12, prefetch: 2 }), 7);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // 7 batches of 2 = 2 epochs of 3 batches + 1: the epoch boundary is crossed.
    expect(a.map((x) => x.epoch)).toEqual([1, 1, 1, 2, 2, 2, 3]);
  });

  it('on the demo photos too (default 286 -> 256 pipeline, batch 2, across an epoch boundary)', async () => {
    const ds = await UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: DEMO, batch_size: 2, max_dataset_size: 4 });
    const first = new BatchLoader(ds, { seed: 3, prefetch: 1 });
    const a = await take(first, 3);
    first.close();
    const b = await take(new BatchLoader(ds, { seed: 3, prefetch: 0 }), 3);
    expect(b).toEqual(a);
    expect(a.map((x) => [x.epoch, x.index])).toEqual([
      [1, 0],
      [1, 1],
      [2, 0],
    ]);
  });

  it('decodes the next batches while the consumer is busy (prefetch counter), and not with prefetch 0', async () => {
    const ds = await UnalignedDataset.create(smallOpts({ batch_size: 2 }));
    const eager = new BatchLoader(ds, { seed: 1, prefetch: 2 });
    await eager.next();
    // The consumer "trains" and does not call next(): the two batches ahead still get decoded.
    for (let waited = 0; eager.readyCount < 2 && waited < 30_000; waited += 20) await sleep(20);
    expect(eager.readyCount).toBe(2);
    const t0 = performance.now();
    await eager.next();
    const readyWait = performance.now() - t0;
    expect(readyWait).toBeLessThan(50);

    const lazy = new BatchLoader(ds, { seed: 1, prefetch: 0 });
    await lazy.next();
    await sleep(200);
    expect(lazy.readyCount).toBe(0);
  });

  it('resumes from a saved state (JSON round trip) with the same next batches, mid-epoch and at an epoch boundary', async () => {
    const ds = await UnalignedDataset.create(smallOpts({ batch_size: 2 }));
    const original = new BatchLoader(ds, { seed: 21, prefetch: 3 });
    await take(original, 2);
    const mid = JSON.parse(JSON.stringify(original.state())) as LoaderState;
    expect([mid.epoch, mid.batch]).toEqual([1, 2]);
    const after = await take(original, 5);
    const resumed = new BatchLoader(ds, { state: mid, prefetch: 1 });
    expect(await take(resumed, 5)).toEqual(after);

    const boundary = new BatchLoader(ds, { seed: 21 });
    await take(boundary, 3);
    const atEnd = JSON.parse(JSON.stringify(boundary.state())) as LoaderState;
    expect([atEnd.epoch, atEnd.batch]).toEqual([2, 0]);
    expect(await take(new BatchLoader(ds, { state: atEnd }), 4)).toEqual(await take(boundary, 4));
  });

  it('refuses a state saved for different data or batch size', async () => {
    const ds = await UnalignedDataset.create(smallOpts({ batch_size: 2 }));
    const state = new BatchLoader(ds, { seed: 1 }).state();
    const other = await UnalignedDataset.create(smallOpts({ batch_size: 3 }));
    expect(() => new BatchLoader(other, { state })).toThrow(/batch_size 2 vs 3/);
    const fewer = await UnalignedDataset.create(smallOpts({ batch_size: 2, max_dataset_size: 4 }));
    expect(() => new BatchLoader(fewer, { state })).toThrow(/\|A\| 7 vs 4/);
  });
});

describe('BatchLoader: errors', () => {
  it('a bad file fails the batch that holds it, naming the file, even when prefetched', async () => {
    const root = join(tmp.dir, 'onebad');
    await writePattern(join(root, 'trainA', 'a0.png'), 40, 40);
    const bad = await writeText(join(root, 'trainA', 'a1.jpg'), 'text, not a JPEG');
    await writePattern(join(root, 'trainB', 'b0.png'), 40, 40);
    const ds = await UnalignedDataset.create({ ...defaultDataOptions('train'), dataroot: root, serial_batches: true, load_size: 36, crop_size: 32 });
    const loader = new BatchLoader(ds, { seed: 0, prefetch: 2 });
    const first = await loader.next();
    expect(first.pathsA).toEqual([join(root, 'trainA', 'a0.png')]);
    // Let the prefetched (failing) batch settle before asking for it: no unhandled rejection.
    await sleep(100);
    await expect(loader.next()).rejects.toThrow(`${bad}: not a readable image`);
  });

  it("images of different sizes cannot share a batch with preprocess 'none'", async () => {
    const root = join(tmp.dir, 'sizes');
    await writePattern(join(root, 'trainA', 'a0.png'), 40, 40);
    await writePattern(join(root, 'trainA', 'a1.png'), 48, 40);
    await writePattern(join(root, 'trainB', 'b0.png'), 40, 40);
    const ds = await UnalignedDataset.create({
      ...defaultDataOptions('train'),
      dataroot: root,
      serial_batches: true,
      preprocess: 'none',
      batch_size: 2,
    });
    await expect(new BatchLoader(ds, { seed: 0 }).next()).rejects.toThrow(/cannot batch .*a0\.png \(40x40x3\) with .*a1\.png \(48x40x3\)/);
  });
});
