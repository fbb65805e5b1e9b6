// Hostile checkpoints (issue 22): a deflate bomb, size claims the file cannot back, stride-0 views.
// Each is refused with an error naming the file and the problem, before the reader allocates
// anything near what the file claims (the peak RSS growth of each load is measured and bounded).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deflate } from 'fflate';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { defineDiscriminator } from '../registry.js';
import { loadCheckpoint, loadNetworkWeights } from '../checkpoint.js';
import { PthError, readPth, type ByteSource } from './index.js';
import { pickleStateDict } from './pickle.js';
import { crc32 } from './zip.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const hostile = (name: string) => join(root, 'fixtures/checkpoints/hostile', name);

const MiB = 2 ** 20;

/**
 * Runs `fn` and returns its error and how far the process's peak RSS (so far) lies above the RSS
 * before the call, in MiB: an upper bound of what the call itself took at its peak (an earlier
 * peak counts too, so it reads ~15-25 MiB for a call that takes nothing; the unbounded readers took
 * hundreds of MiB to GiB on these files).
 */
function measure(fn: () => unknown): { error: unknown; peakMiB: number; ms: number } {
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  return { error, peakMiB: Math.max(0, peak - before) / MiB, ms };
}

function expectRefused(r: { error: unknown }, file: string, pattern: RegExp): void {
  expect(r.error).toBeInstanceOf(PthError);
  expect((r.error as PthError).file).toBe(file);
  expect((r.error as Error).message.startsWith(`${file}: `)).toBe(true);
  expect((r.error as Error).message).toMatch(pattern);
}

/** Raw deflate of `n` zero bytes, made in 1 MiB steps (so building the bomb needs little memory). */
function deflatedZeros(n: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const d = new Deflate({ level: 9 }, (chunk) => parts.push(chunk));
  const zeros = new Uint8Array(MiB);
  for (let done = 0; done < n; done += MiB) d.push(zeros.subarray(0, Math.min(MiB, n - done)), done + MiB >= n);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

interface RawEntry {
  name: string;
  /** The bytes as stored in the archive (already deflated for method 8). */
  stored: Uint8Array;
  method: 0 | 8;
  /** The sizes and CRC the headers claim. */
  size: number;
  crc: number;
}

/** A zip whose headers say whatever the entries claim (no zip64: sizes up to 4 GiB). */
function rawZip(entries: RawEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const l = new Uint8Array(30 + name.length);
    const lv = new DataView(l.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.method, true);
    lv.setUint32(14, e.crc, true);
    lv.setUint32(18, e.stored.length, true);
    lv.setUint32(22, e.size, true);
    lv.setUint16(26, name.length, true);
    l.set(name, 30);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, e.method, true);
    cv.setUint32(16, e.crc, true);
    cv.setUint32(20, e.stored.length, true);
    cv.setUint32(24, e.size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    locals.push(l, e.stored);
    central.push(c);
    offset += l.length + e.stored.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const parts = [...locals, ...central, eocd];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

const stored = (name: string, data: Uint8Array): RawEntry => ({ name, stored: data, method: 0, size: data.length, crc: crc32(data) });
/** One float32 tensor 'w' of `shape` in a storage of `numel` elements. */
const pkl = (shape: number[], numel: number) => pickleStateDict([{ name: 'w', dtype: 'float32', shape, storageKey: '0', numel }]);

describe('stride-0 tensors (torch.zeros(1).expand(20000, 20000), written by tools/golden/pth_hostile.py)', () => {
  const big = hostile('expand.pth');

  it('is refused before anything is materialised, naming the key and its layout', () => {
    expect(readFileSync(big).length).toBeLessThan(1024);
    const bytes = readFileSync(big);
    const r = measure(() => readPth(bytes, { name: big }));
    expectRefused(
      r,
      big,
      /tensor 'model\.0\.weight' \(shape \[20000,20000\], stride \[0,0\], offset 0\) repeats or interleaves elements \(a stride-0 or overlapping view/,
    );
    console.log(`stride-0 [20000, 20000] (${readFileSync(big).length} B file): peak RSS +${r.peakMiB.toFixed(1)} MiB, ${r.ms.toFixed(0)} ms`);
    expect(r.peakMiB).toBeLessThan(64);
    expect(r.ms).toBeLessThan(1000);

    const small = hostile('expand_small.pth');
    expect(() => readPth(readFileSync(small), { name: small })).toThrow(
      /tensor 'w' \(shape \[3,4\], stride \[0,0\], offset 0\) repeats or interleaves elements/,
    );
  });

  it('loading it into a network: the shape is checked against the network first', () => {
    const D = defineDiscriminator({ architecture: 'n_layers', ndf: 8 }, { skipInit: true });
    try {
      const r = measure(() => loadNetworkWeights(D, readFileSync(big), { name: big }));
      expectRefused(r, big, /'model\.0\.weight' has shape \[20000,20000\], the configured network needs \[8,3,4,4\]$/);
      expect(r.peakMiB).toBeLessThan(64);
    } finally {
      D.dispose();
    }
  });
});

describe('a deflate bomb is stopped at its declared size', () => {
  // 256 MiB of zeros deflate to ~256 KB; before the fix the whole of it was inflated (unbounded).
  const bombSize = 256 * MiB;
  const bomb = deflatedZeros(bombSize);

  it('an entry that inflates past its declared size: refused after at most one small step', () => {
    const file = rawZip([stored('a/data.pkl', pkl([4], 4)), { name: 'a/data/0', stored: bomb, method: 8, size: 16, crc: 0 }]);
    const r = measure(() => readPth(file, { name: 'bomb.pth' }));
    expectRefused(r, 'bomb.pth', /'a\/data\/0' inflates to more than its declared 16 bytes/);
    console.log(
      `deflate bomb (${(bomb.length / 1024).toFixed(0)} KB -> 256 MiB, declared 16 B): peak RSS +${r.peakMiB.toFixed(1)} MiB, ${r.ms.toFixed(0)} ms`,
    );
    expect(r.peakMiB).toBeLessThan(64);
  });

  it('an honest size the tensors cannot need, or more than the caller allows: refused before inflating', () => {
    const file = rawZip([stored('a/data.pkl', pkl([4], 4)), { name: 'a/data/0', stored: bomb, method: 8, size: bombSize, crc: 0 }]);
    let r = measure(() => readPth(file, { name: 'bomb.pth' }));
    expectRefused(r, 'bomb.pth', /storage 'a\/data\/0' has 268435456 bytes, its 4 float32 elements need 16/);
    expect(r.peakMiB).toBeLessThan(64);

    const honest = rawZip([
      stored('a/data.pkl', pkl([bombSize / 4], bombSize / 4)),
      { name: 'a/data/0', stored: bomb, method: 8, size: bombSize, crc: 0 },
    ]);
    r = measure(() => readPth(honest, { name: 'big.pth', maxBytes: 64 * MiB }));
    expectRefused(r, 'big.pth', /storages hold more than 67108864 bytes, the most accepted here/);
    expect(r.peakMiB).toBeLessThan(64);
  });

  it('a declared size past what deflate can reach from the compressed bytes: corrupt', () => {
    const file = rawZip([stored('a/data.pkl', pkl([4], 4)), { name: 'a/data/0', stored: bomb, method: 8, size: 0xfffffff0, crc: 0 }]);
    const r = measure(() => readPth(file, { name: 'liar.pth' }));
    expectRefused(r, 'liar.pth', /corrupt zip archive \('a\/data\/0' claims to inflate \d+ bytes to 4294967280, more than deflate can\)/);
    expect(r.peakMiB).toBeLessThan(64);
  });
});

describe('stored entries: sizes are checked against the file and the tensors before reading', () => {
  it('a 1 GB stored entry in a small file: corrupt, named', () => {
    const file = rawZip([stored('a/data.pkl', pkl([4], 4)), stored('a/data/0', new Uint8Array(16))]);
    // Claim 1 GB for the storage in the central directory (sizes at +20 and +24 of its record).
    const dv = new DataView(file.buffer);
    const cdAt = dv.getUint32(file.length - 6, true);
    const second = cdAt + 46 + 'a/data.pkl'.length;
    dv.setUint32(second + 20, 1e9, true);
    dv.setUint32(second + 24, 1e9, true);
    const r = measure(() => readPth(file, { name: 'claim.pth' }));
    expectRefused(r, 'claim.pth', /corrupt zip archive \('a\/data\/0' claims 1000000000 bytes at offset \d+, the file has \d+\)/);
  });

  it('a real 1 GB storage behind a 4-element tensor: refused without reading it', () => {
    // A 1 GB file, read through a ByteSource that counts what is read (its middle is never stored).
    const head = rawZip([stored('a/data.pkl', pkl([4], 2.5e8))]);
    const headCd = new DataView(head.buffer).getUint32(head.length - 6, true);
    const prefix = head.subarray(0, headCd); // the pickle's local header and data
    const name = new TextEncoder().encode('a/data/0');
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint32(18, 1e9, true);
    lv.setUint32(22, 1e9, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const storageAt = prefix.length;
    const tailAt = storageAt + local.length + 1e9;
    const cdPkl = head.subarray(headCd, head.length - 22);
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(20, 1e9, true);
    cv.setUint32(24, 1e9, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, storageAt, true);
    cd.set(name, 46);
    const eocd = new Uint8Array(22);
    const ev = new DataView(eocd.buffer);
    ev.setUint32(0, 0x06054b50, true);
    ev.setUint16(8, 2, true);
    ev.setUint16(10, 2, true);
    ev.setUint32(12, cdPkl.length + cd.length, true);
    ev.setUint32(16, tailAt, true);
    const tail = new Uint8Array([...cdPkl, ...cd, ...eocd]);
    let bytesRead = 0;
    const source: ByteSource = {
      size: tailAt + tail.length,
      read(offset, length) {
        bytesRead += length;
        const out = new Uint8Array(length);
        for (let i = 0; i < length; i++) {
          const at = offset + i;
          out[i] = at < prefix.length ? prefix[at]! : at < storageAt + local.length ? local[at - storageAt]! : at >= tailAt ? tail[at - tailAt]! : 0;
        }
        return out;
      },
    };
    const r = measure(() => readPth(source, { name: 'gigabyte.pth' }));
    expectRefused(r, 'gigabyte.pth', /storage 'a\/data\/0' holds 250000000 elements, but its tensors use only 4/);
    expect(bytesRead).toBeLessThan(128 * 1024);
    expect(r.peakMiB).toBeLessThan(64);
  });

  it('a tensor reaching past its storage, and a record longer than its storage: refused, named', () => {
    const past = rawZip([stored('a/data.pkl', pkl([4], 2)), stored('a/data/0', new Uint8Array(8))]);
    expect(() => readPth(past, { name: 'p.pth' })).toThrow(
      /^p\.pth: tensor 'w' \(shape \[4\], stride \[1\], offset 0\) reaches past its storage of 2 elements/,
    );
    const long = rawZip([stored('a/data.pkl', pkl([4], 4)), stored('a/data/0', new Uint8Array(20))]);
    expect(() => readPth(long, { name: 'l.pth' })).toThrow(/^l\.pth: storage 'a\/data\/0' has 20 bytes, its 4 float32 elements need 16/);
  });
});

describe('options that ask for a network far larger than its file', () => {
  it("are refused before the network is built (a stranger's train_opt.txt with ngf 100000)", () => {
    const G = readFileSync(join(root, 'fixtures/checkpoints/h2z_tiny/latest_net_G.pth'));
    // (netG resnet_99999blocks is refused by name before this check: more than 32 blocks.)
    for (const [key, value] of [
      ['ngf', '100000'],
      ['ngf', '1000'],
      ['netG', 'resnet_32blocks'],
    ] as const) {
      const r = measure(() => loadCheckpoint({ G, options: new Map([[key, value]]), names: { G: 'g.pth' } }));
      expect(r.error, `${key} ${value}`).toBeInstanceOf(Error);
      expect((r.error as Error).message).toMatch(
        /^g\.pth: \d+ bytes cannot hold the \d+\+ weights of a ResnetGenerator configured by the given options \(.*ngf \d+, nBlocks \d+/,
      );
      expect(r.peakMiB).toBeLessThan(64);
    }
    expect(() => loadCheckpoint({ G, options: new Map([['netG', 'resnet_99999blocks']]), names: { G: 'g.pth' } })).toThrow(
      /more than 32 residual blocks/,
    );
    const D = readFileSync(join(root, 'fixtures/checkpoints/h2z_tiny/latest_net_D.pth'));
    expect(() =>
      loadCheckpoint({
        G,
        D,
        options: new Map([
          ['ngf', '8'],
          ['ndf', '5000'],
        ]),
        names: { D: 'd.pth' },
      }),
    ).toThrow(/^d\.pth: \d+ bytes cannot hold the \d+\+ weights of a NLayerDiscriminator configured by the given options \(.*ndf 5000, nLayers 3\b/);
  });
});
