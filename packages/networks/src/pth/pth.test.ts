import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { torchPython, torchUnavailable } from '../../../../test-utils/torch';
import { PthError, encodePth, stripModulePrefix, type PthTensor, type WritableTensor } from './index.js';
import { readPth, readPthArchive, writePth } from '../test-files.js';
import { pickleStateDict, unpickle, findTorchGlobal, torchPersistentLoad } from './pickle.js';
import { ZipReader, bytesSource, concatBytes, writeZip } from './zip.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const fixture = (p: string) => join(root, 'fixtures', p);
const golden = <T>(name: string): T => JSON.parse(readFileSync(fixture(`golden/${name}`), 'utf8')) as T;

const work = mkdtempSync(join(tmpdir(), 'cut-pth-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface H2zGolden {
  files: Record<
    string,
    {
      keys: string[];
      tensors: Record<string, { shape: number[]; dtype: string; sum: number; abs_sum: number; first: number[] }>;
      metadata: Record<string, Record<string, unknown>> | null;
    }
  >;
}

interface ViewsGolden {
  tensors: Record<string, { shape: number[]; dtype: string; data: (number | string)[] }>;
}

function values(t: PthTensor): (number | bigint)[] {
  return Array.from(t.data as ArrayLike<number | bigint>);
}

/** Element-wise identity (Object.is: -0 differs from 0, NaN equals NaN); quick on long arrays. */
function expectSame(actual: ArrayLike<number | bigint>, expected: ArrayLike<number | bigint>, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect(`${label}[${i}] = ${actual[i]}`).toBe(`${label}[${i}] = ${expected[i]}`);
  }
}

describe('readPth on the reference checkpoints (h2z_tiny)', () => {
  const g = golden<H2zGolden>('pth_h2z_tiny.json');

  for (const file of ['latest_net_G.pth', 'latest_net_D.pth', 'latest_net_F.pth']) {
    it(`${file}: keys, shapes, values and _metadata match torch.load`, () => {
      const want = g.files[file]!;
      const { tensors, metadata, archiveName } = readPthArchive(fixture(`checkpoints/h2z_tiny/${file}`));
      expect(archiveName).toBe(file.replace('.pth', ''));
      expect([...tensors.keys()]).toEqual(want.keys);
      for (const [key, t] of tensors) {
        const w = want.tensors[key]!;
        expect(t.shape, key).toEqual(w.shape);
        expect(t.dtype, key).toBe(w.dtype);
        expect(t.data).toBeInstanceOf(Float32Array);
        expect(t.data.length, key).toBe(w.shape.reduce((a, b) => a * b, 1));
        expect(values(t).slice(0, 8), key).toEqual(w.first);
        let sum = 0;
        let abs = 0;
        for (const v of t.data as Float32Array) {
          sum += v;
          abs += Math.abs(v);
        }
        expect(Math.abs(sum - w.sum), key).toBeLessThanOrEqual(1e-5 * Math.max(Math.abs(w.sum), 1e-3));
        expect(Math.abs(abs - w.abs_sum), key).toBeLessThanOrEqual(1e-5 * w.abs_sum);
      }
      expect(metadata && Object.fromEntries(metadata)).toEqual(want.metadata);
    });
  }

  it('gives the same result from bytes as from the path, and strips the module. prefix', () => {
    const path = fixture('checkpoints/h2z_tiny/latest_net_G.pth');
    const a = readPth(path);
    const b = readPth(readFileSync(path));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, t] of a) expectSame(b.get(k)!.data, t.data, k);

    const plain = stripModulePrefix(a);
    expect([...plain.keys()].slice(0, 3)).toEqual(['model.1.weight', 'model.1.bias', 'model.4.weight']);
    expect([...plain.keys()].some((k) => k.startsWith('module.'))).toBe(false);
    // The blur buffers travel too: [C, 1, 3, 3] filters of the 1-2-1 binomial kernel (sum 1 per channel).
    const filt = plain.get('model.7.filt')!;
    expect(filt.shape).toEqual([16, 1, 3, 3]);
    expect(Array.from(filt.data as Float32Array).slice(0, 9)).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16));
  });
});

describe('readPth on strided views and every dtype (fixtures/checkpoints/pth_views.pth)', () => {
  it('honours storage offsets and strides and converts each dtype', () => {
    const g = golden<ViewsGolden>('pth_views.json');
    const { tensors, metadata } = readPthArchive(fixture('checkpoints/pth_views.pth'));
    expect([...tensors.keys()]).toEqual(Object.keys(g.tensors));
    for (const [key, t] of tensors) {
      const w = g.tensors[key]!;
      expect(t.shape, key).toEqual(w.shape);
      expect(t.dtype, key).toBe(w.dtype);
      const want =
        w.dtype === 'int64'
          ? w.data.map((v) => BigInt(v))
          : w.dtype.startsWith('float') || w.dtype === 'bfloat16'
            ? w.data.map((v) => Math.fround(Number(v)))
            : w.data.map(Number);
      expectSame(values(t), want, key);
    }
    expect(tensors.get('i64')!.data).toBeInstanceOf(BigInt64Array);
    expect(tensors.get('f16')!.data).toBeInstanceOf(Float32Array);
    expect(Object.is(tensors.get('f16')!.data[1], -0)).toBe(true);
    expect(tensors.get('flag')!.data).toBeInstanceOf(Uint8Array);
    expect(tensors.get('scalar')!.shape).toEqual([]);
    expect(metadata?.get('bn')).toEqual({ version: 2 });
  });
});

const conv = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.fround(Math.sin(i * 0.37) * 0.1));
/** Tensors named after tools/golden/pth_roundtrip.py's Net: conv, batch norm, linear, blur buffer. */
function netTensors(): [string, WritableTensor][] {
  return [
    ['model.0.weight', { shape: [4, 3, 3, 3], data: conv }],
    ['model.0.bias', { shape: [4], data: new Float32Array([0.5, -0.25, 1e-8, -3.5e7]) }],
    ['model.1.weight', { shape: [4], data: new Float32Array([1, 2, 3, 4]) }],
    ['model.1.bias', { shape: [4], data: new Float32Array([0, -0, 0.1, Math.fround(1 / 3)]) }],
    ['model.1.running_mean', { shape: [4], data: new Float32Array([0.01, 0.02, 0.03, 0.04]) }],
    ['model.1.running_var', { shape: [4], data: new Float32Array([1.5, 1.25, 1.125, 1.0625]) }],
    ['model.1.num_batches_tracked', { shape: [], data: new BigInt64Array([2n ** 40n + 3n]) }],
    ['model.4.weight', { shape: [2, 5], data: Float32Array.from({ length: 10 }, (_, i) => i - 4.5) }],
    ['model.4.bias', { shape: [2], data: new Float32Array([Number.MIN_VALUE, 3.4e38]) }],
    ['filt', { shape: [4, 1, 3, 3], data: Float32Array.from({ length: 36 }, (_, i) => [1, 2, 1, 2, 4, 2, 1, 2, 1][i % 9]! / 16) }],
  ];
}

describe('writePth', () => {
  it('round-trips every writable dtype, the prefix and _metadata through our reader', () => {
    const entries: [string, WritableTensor][] = [
      ...netTensors(),
      ['f64', { shape: [2], data: new Float64Array([0.1, -2]) }],
      ['i32', { shape: [2, 1], data: new Int32Array([-7, 2 ** 31 - 1]) }],
      ['i16', { shape: [1], data: new Int16Array([-300]) }],
      ['i8', { shape: [2], data: new Int8Array([-128, 5]) }],
      ['u8', { shape: [2], data: new Uint8Array([0, 255]) }],
      ['flag', { shape: [3], data: new Uint8Array([1, 0, 7]), dtype: 'bool' }],
      ['empty', { shape: [0, 3], data: new Float32Array(0) }],
      ['big', { shape: [70000], data: Float32Array.from({ length: 70000 }, (_, i) => i) }],
    ];
    const path = join(work, 'ours.pth');
    writePth(path, entries, {
      prefix: 'module.',
      metadata: new Map([
        ['', { version: 1 }],
        ['model.1', { version: 2 }],
      ]),
    });
    const { tensors, metadata, archiveName } = readPthArchive(path);
    expect(archiveName).toBe('archive');
    expect([...tensors.keys()]).toEqual(entries.map(([k]) => `module.${k}`));
    for (const [k, t] of entries) {
      const r = tensors.get(`module.${k}`)!;
      expect(r.shape, k).toEqual(t.shape);
      const want = k === 'flag' ? [1, 0, 1] : k === 'f64' ? [Math.fround(0.1), -2] : Array.from(t.data as ArrayLike<number>);
      expectSame(values(r), want, k);
    }
    expect(tensors.get('module.f64')!.dtype).toBe('float64');
    expect(tensors.get('module.flag')!.dtype).toBe('bool');
    expect(tensors.get('module.model.1.num_batches_tracked')!.data).toEqual(new BigInt64Array([2n ** 40n + 3n]));
    expect(metadata).toEqual(
      new Map([
        ['module', { version: 1 }],
        ['module.model.1', { version: 2 }],
      ]),
    );

    // In-memory encoding gives the same bytes; no temporary file is left behind.
    const inMemory = encodePth(entries, {
      prefix: 'module.',
      metadata: new Map([
        ['', { version: 1 }],
        ['model.1', { version: 2 }],
      ]),
    });
    expect(Buffer.compare(inMemory, readFileSync(path))).toBe(0);
    expect(readdirSync(work)).toEqual(['ours.pth']);
  });

  it("writes float16 as PyTorch's .half() rounds (nearest even, subnormals, overflow to infinity)", () => {
    // Values and their half bits from torch.from_numpy(v).half() (torch 1.13; numpy's astype(float16) agrees).
    const values32 = [
      0,
      -0,
      1,
      -2.5,
      0.10000000149011612,
      65504,
      65520,
      65519.98828125,
      9.99999993922529e-9,
      2 ** -24,
      2 ** -25,
      2.980232594040899e-8,
      3 * 2 ** -25,
      6.0999998822808266e-5,
      -6.097555160522461e-5,
      1.00048828125,
      1.00146484375,
      0.33333298563957214,
      Infinity,
      -Infinity,
      12345.677734375,
      -0.0016601562965661287,
    ];
    const torchBits = [
      0, 32768, 15360, 49408, 11878, 31743, 31744, 31743, 0, 1, 0, 1, 2, 1023, 33791, 15360, 15362, 13653, 31744, 64512, 29191, 38605,
    ];
    const bytes = encodePth([['w', { shape: [values32.length], data: Float32Array.from(values32), dtype: 'float16' }]]);
    const read = readPthArchive(bytes).tensors.get('w')!;
    expect(read.dtype).toBe('float16');
    // Our reader's half decoding is exact: equal floats mean equal bits.
    const decodeHalf = (h: number) => {
      const e = (h >> 10) & 0x1f;
      const f = h & 0x3ff;
      const v = e === 0 ? f * 2 ** -24 : e === 0x1f ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15);
      return h & 0x8000 ? -v : v;
    };
    expectSame(values(read), torchBits.map(decodeHalf), 'float16');
  });

  it('re-writes a reference checkpoint losslessly (names, order, values, _metadata)', () => {
    const original = readPthArchive(fixture('checkpoints/h2z_tiny/latest_net_D.pth'));
    const again = readPthArchive(encodePth(original.tensors, { metadata: original.metadata }));
    expect([...again.tensors.keys()]).toEqual([...original.tensors.keys()]);
    for (const [k, t] of original.tensors) {
      expect(again.tensors.get(k)!.shape, k).toEqual(t.shape);
      expectSame(again.tensors.get(k)!.data, t.data, k);
    }
    expect(again.metadata).toEqual(original.metadata);
  });

  it('lays out a zip whose entries start on 64-byte boundaries, like torch', () => {
    const bytes = encodePth(netTensors());
    const zip = new ZipReader(bytesSource(bytes));
    expect(zip.entries.map((e) => e.name)).toEqual([
      'archive/data.pkl',
      'archive/byteorder',
      ...netTensors().map((_, i) => `archive/data/${i}`),
      'archive/version',
    ]);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    for (const e of zip.entries) {
      const at = e.localHeaderOffset;
      const dataAt = at + 30 + dv.getUint16(at + 26, true) + dv.getUint16(at + 28, true);
      expect(dataAt % 64, e.name).toBe(0);
      expect(e.method).toBe(0);
    }
  });
});

const noTorch = torchUnavailable();
if (noTorch) console.warn(`skipping the PyTorch round trip: ${noTorch}`);

describe('writePth -> PyTorch -> readPth', () => {
  it.skipIf(noTorch !== undefined)("torch.load + load_state_dict(strict=True) accept our file, and we read torch's", () => {
    const entries = netTensors();
    const inPath = join(work, 'to_torch.pth');
    const outPath = join(work, 'from_torch.pth');
    const expPath = join(work, 'expected.json');
    const metadata = new Map([
      ['', { version: 1 }],
      ['model.1', { version: 2 }],
    ]);
    writePth(inPath, entries, { prefix: 'module.', metadata });
    const tensors = Object.fromEntries(
      entries.map(([k, t]) => [
        `module.${k}`,
        {
          shape: t.shape,
          dtype: t.data instanceof BigInt64Array ? 'int64' : 'float32',
          data: Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v)),
        },
      ]),
    );
    const expectedMetadata = { module: { version: 1 }, 'module.model.1': { version: 2 } };
    writeFileSync(expPath, JSON.stringify({ prefix: 'module.', metadata: expectedMetadata, tensors }));
    const r = spawnSync(torchPython, [join(root, 'tools/golden/pth_roundtrip.py'), expPath, inPath, outPath], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; torch: string; weights_only_checked: boolean };
    expect(report.ok).toBe(true);
    // torch >= 1.13 also loads it with its restricted weights_only unpickler.
    if (!/^1\.([0-9]|1[0-2])\./.test(report.torch)) expect(report.weights_only_checked).toBe(true);

    // torch's own file: the module's state_dict order (own buffer first), floats doubled, counter + 1.
    const back = readPthArchive(outPath);
    expect([...back.tensors.keys()]).toEqual(['filt', ...entries.map(([k]) => k).filter((k) => k !== 'filt')]);
    for (const [k, t] of entries) {
      const r2 = back.tensors.get(k)!;
      expect(r2.shape, k).toEqual(t.shape);
      if (t.data instanceof BigInt64Array) expect(r2.data).toEqual(new BigInt64Array([t.data[0]! + 1n]));
      else
        expectSame(
          r2.data,
          Array.from(t.data as Float32Array, (v) => Math.fround(v * 2)),
          k,
        );
    }
    expect(back.metadata?.get('model.1')).toEqual({ version: 2 });
  });
});

describe('corrupt or foreign inputs give clear errors naming the file', () => {
  const G = fixture('checkpoints/h2z_tiny/latest_net_G.pth');
  const write = (name: string, bytes: Uint8Array | string) => {
    const p = join(work, name);
    writeFileSync(p, bytes);
    return p;
  };
  const expectError = (fn: () => unknown, file: string, pattern: RegExp) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PthError);
    expect((err as PthError).file).toBe(file);
    expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
    expect((err as Error).message).toMatch(pattern);
  };

  it('a text file, an empty file, a legacy pickle (a missing file: @cut/files)', () => {
    const text = write('notes.pth', 'these are not weights\n'.repeat(10));
    expectError(() => readPth(text), text, /not a PyTorch checkpoint \(not a zip archive\)/);
    const empty = write('empty.pth', '');
    expectError(() => readPth(empty), empty, /empty/);
    const legacy = write('legacy.pth', new Uint8Array([0x80, 0x02, 0x8a, 0x0a]));
    expectError(() => readPth(legacy), legacy, /legacy \(pre-1\.6, non-zip\) torch\.save format/);
  });

  it('a truncated zip, and a zip whose storage bytes are damaged', () => {
    const bytes = readFileSync(G);
    const cut = write('cut.pth', bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectError(() => readPth(cut), cut, /truncated zip archive/);
    expectError(() => readPth(bytes.subarray(0, bytes.length - 30), { name: 'G-in-memory' }), 'G-in-memory', /truncated|corrupt/);

    const damaged = new Uint8Array(bytes);
    const zip = new ZipReader(bytesSource(damaged));
    const entry = zip.get('latest_net_G/data/0')!;
    const dv = new DataView(damaged.buffer);
    const at = entry.localHeaderOffset;
    damaged[at + 30 + dv.getUint16(at + 26, true) + dv.getUint16(at + 28, true) + 5]! ^= 0xff;
    const bad = write('damaged.pth', damaged);
    expectError(() => readPth(bad), bad, /corrupt data in 'latest_net_G\/data\/0' \(CRC-32/);
  });

  it('a zip without data.pkl, a storage shorter than its tensor, an unsupported global', () => {
    const noPkl = write('other.zip', concatBytes(writeZip([{ name: 'x/readme.txt', data: new TextEncoder().encode('hi') }])));
    expectError(() => readPth(noPkl), noPkl, /zip archive without data\.pkl.*x\/readme\.txt/);

    const pkl = pickleStateDict([{ name: 'w', dtype: 'float32', shape: [4], storageKey: '0', numel: 4 }]);
    const short = write(
      'short.pth',
      concatBytes(
        writeZip([
          { name: 'a/data.pkl', data: pkl },
          { name: 'a/data/0', data: new Uint8Array(12) },
        ]),
      ),
    );
    expectError(() => readPth(short), short, /storage 'a\/data\/0' is truncated: 12 bytes, needs 16/);
    const missing = write('nostorage.pth', concatBytes(writeZip([{ name: 'a/data.pkl', data: pkl }])));
    expectError(() => readPth(missing), missing, /storage record 'a\/data\/0' is missing/);

    // GLOBAL 'os system' REDUCE: refused by name before anything could run.
    const evil = new Uint8Array([0x80, 0x02, ...new TextEncoder().encode('cos\nsystem\n'), 0x58, 2, 0, 0, 0, 0x6c, 0x73, 0x85, 0x52, 0x2e]);
    const evilPath = write('evil.pth', concatBytes(writeZip([{ name: 'a/data.pkl', data: evil }])));
    expectError(() => readPth(evilPath), evilPath, /a\/data\.pkl: the pickle references the Python global 'os\.system', which is not allowed/);

    // A pickled whole model (not a state_dict) names its classes, which are refused.
    const model = new Uint8Array([0x80, 0x02, ...new TextEncoder().encode('cmodels.networks\nResnetGenerator\n'), 0x29, 0x81, 0x2e]);
    const modelPath = write('model.pth', concatBytes(writeZip([{ name: 'a/data.pkl', data: model }])));
    expectError(() => readPth(modelPath), modelPath, /'models\.networks\.ResnetGenerator'/);

    const legacyStorage = new Uint8Array([
      0x80,
      0x02,
      ...new TextEncoder().encode('ctorch.storage\n_load_from_bytes\n'),
      0x43,
      1,
      0,
      0x85,
      0x52,
      0x2e,
    ]);
    const lsPath = write('ls.pth', concatBytes(writeZip([{ name: 'a/data.pkl', data: legacyStorage }])));
    expectError(() => readPth(lsPath), lsPath, /_load_from_bytes\) is not supported/);
  });

  it('a checkpoint dict that is not a state_dict', () => {
    // {'epoch': 3}: a dict holding a number.
    const pkl = new Uint8Array([0x80, 0x02, 0x7d, 0x58, 5, 0, 0, 0, ...new TextEncoder().encode('epoch'), 0x4b, 3, 0x73, 0x2e]);
    const p = write('ckpt.pth', concatBytes(writeZip([{ name: 'a/data.pkl', data: pkl }])));
    expectError(() => readPth(p), p, /entry 'epoch' is a number, not a tensor/);
  });
});

describe('zip and pickle details', () => {
  it('reads deflated entries', () => {
    const pkl = pickleStateDict([{ name: 'w', dtype: 'float32', shape: [2, 2], storageKey: '0', numel: 4 }]);
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const bytes = concatBytes(
      writeZip([
        { name: 'a/data.pkl', data: pkl, deflate: true },
        { name: 'a/data/0', data, deflate: true },
      ]),
    );
    expect(new ZipReader(bytesSource(bytes)).entries.map((e) => e.method)).toEqual([8, 8]);
    const t = readPth(bytes).get('w')!;
    expect(t.shape).toEqual([2, 2]);
    expect(t.data).toEqual(new Float32Array([1, 2, 3, 4]));
  });

  it('reads zip64 archives (64-bit sizes and offsets in extra fields and the zip64 end record)', () => {
    // Rewrite a small checkpoint's central directory the way a writer past 4 GiB must.
    const bytes = encodePth([['w', { shape: [3], data: new Float32Array([1, -2, 3]) }]]);
    const zip = new ZipReader(bytesSource(bytes));
    const localEnd = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 6, true); // EOCD: CD offset
    const enc = new TextEncoder();
    const parts: Uint8Array[] = [bytes.subarray(0, localEnd)];
    let cdSize = 0;
    for (const e of zip.entries) {
      const name = enc.encode(e.name);
      const c = new Uint8Array(46 + name.length + 28);
      const v = new DataView(c.buffer);
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(4, 45, true);
      v.setUint16(6, 45, true);
      v.setUint32(16, e.crc32, true);
      v.setUint32(20, 0xffffffff, true);
      v.setUint32(24, 0xffffffff, true);
      v.setUint16(28, name.length, true);
      v.setUint16(30, 28, true);
      v.setUint32(42, 0xffffffff, true);
      c.set(name, 46);
      const x = 46 + name.length;
      v.setUint16(x, 0x0001, true);
      v.setUint16(x + 2, 24, true);
      v.setBigUint64(x + 4, BigInt(e.size), true); // uncompressed, compressed, offset: in this order
      v.setBigUint64(x + 12, BigInt(e.compressedSize), true);
      v.setBigUint64(x + 20, BigInt(e.localHeaderOffset), true);
      parts.push(c);
      cdSize += c.length;
    }
    const end = new Uint8Array(56 + 20 + 22);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06064b50, true);
    v.setBigUint64(4, 44n, true);
    v.setBigUint64(24, BigInt(zip.entries.length), true);
    v.setBigUint64(32, BigInt(zip.entries.length), true);
    v.setBigUint64(40, BigInt(cdSize), true);
    v.setBigUint64(48, BigInt(localEnd), true);
    v.setUint32(56, 0x07064b50, true);
    v.setBigUint64(56 + 8, BigInt(localEnd + cdSize), true); // where the zip64 end record starts
    v.setUint32(56 + 16, 1, true);
    v.setUint32(76, 0x06054b50, true);
    v.setUint16(76 + 8, 0xffff, true);
    v.setUint16(76 + 10, 0xffff, true);
    v.setUint32(76 + 12, 0xffffffff, true);
    v.setUint32(76 + 16, 0xffffffff, true);
    const zip64 = concatBytes([...parts, end]);
    expect(readPth(zip64).get('w')!.data).toEqual(new Float32Array([1, -2, 3]));
    // Without the locator, saturated 32-bit fields are an error, not a misread.
    const noLocator = concatBytes([...parts, end.subarray(76)]);
    expect(() => readPth(noLocator, { name: 'z64' })).toThrow(/z64: corrupt zip archive \(zip64 sizes without a zip64 locator\)/);
  });

  it('reads big-endian checkpoints (byteorder record)', () => {
    const pkl = pickleStateDict([
      { name: 'f', dtype: 'float32', shape: [2], storageKey: '0', numel: 2 },
      { name: 'h', dtype: 'float16', shape: [1], storageKey: '1', numel: 1 },
      { name: 'l', dtype: 'int64', shape: [1], storageKey: '2', numel: 1 },
    ]);
    const f = new Uint8Array(8);
    new DataView(f.buffer).setFloat32(0, 1.5, false);
    new DataView(f.buffer).setFloat32(4, -0.1, false);
    const h = new Uint8Array([0xc0, 0x00]); // -2 as a big-endian half
    const l = new Uint8Array(8);
    new DataView(l.buffer).setBigInt64(0, -5n, false);
    const bytes = concatBytes(
      writeZip([
        { name: 'a/data.pkl', data: pkl },
        { name: 'a/byteorder', data: new TextEncoder().encode('big') },
        { name: 'a/data/0', data: f },
        { name: 'a/data/1', data: h },
        { name: 'a/data/2', data: l },
      ]),
    );
    const sd = readPth(bytes);
    expect(sd.get('f')!.data).toEqual(new Float32Array([1.5, -0.1]));
    expect(sd.get('h')!.data).toEqual(new Float32Array([-2]));
    expect(sd.get('l')!.data).toEqual(new BigInt64Array([-5n]));
  });

  it('unpickles protocol 4-5 opcodes (FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL, LONG1)', () => {
    const enc = new TextEncoder();
    const s = (x: string) => [0x8c, x.length, ...enc.encode(x)];
    // {'k': [OrderedDict(), 2**64, -1.5, None, True]} with a frame and memoized values
    const body = [
      0x7d,
      0x94,
      ...s('k'),
      0x94,
      0x28,
      ...s('collections'),
      ...s('OrderedDict'),
      0x93,
      0x94,
      0x29,
      0x52,
      0x94,
      0x8a,
      9,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      0x47,
      0xbf,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0,
      0x4e,
      0x88,
      0x6c,
      0x94,
      0x73,
      0x2e,
    ];
    const frame = new Uint8Array(8);
    new DataView(frame.buffer).setBigUint64(0, BigInt(body.length), true);
    const bytes = new Uint8Array([0x80, 0x05, 0x95, ...frame, ...body]);
    const v = unpickle(bytes, { findGlobal: findTorchGlobal, persistentLoad: torchPersistentLoad() }) as {
      items: Map<string, unknown[]>;
    };
    const list = v.items.get('k')!;
    expect(list.slice(1)).toEqual([2n ** 64n, -1.5, null, true]);
    expect(() => unpickle(bytes.subarray(0, 20), { findGlobal: findTorchGlobal })).toThrow(/truncated pickle/);
  });
});
