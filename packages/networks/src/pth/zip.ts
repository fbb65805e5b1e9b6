// A small zip reader and writer, enough for PyTorch checkpoints (`torch.save` since 1.6 writes a zip
// archive of stored entries whose data start on 64-byte boundaries).
//
// Reader: central directory (with zip64 records), stored and deflated entries, CRC-32 checked.
// Writer: stored entries (deflate on request), each entry's data aligned by padding the local header's
// extra field the way PyTorch does, no zip64 (an archive past 4 GiB is refused with a clear error).
// fflate: raw deflate in plain JavaScript, so that this runs in a browser as well as in Node.
// Archives come from strangers: every entry's sizes are checked against the file before anything
// is read, and inflating stops as soon as an entry would grow past its declared size.
import { Inflate, deflateSync } from 'fflate';

/** Random access to the bytes of an archive (a buffer in memory, or an open file). */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset`; the caller checks bounds first. */
  read(offset: number, length: number): Uint8Array;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** Deflate's best ratio is 1032:1 (258-byte matches in 2 bits); more is a lie, e.g. a bomb's header. */
const MAX_DEFLATE_RATIO = 1032;
/** Input handed to the inflater at a time, so one step's output stays small (at most ~1 MiB). */
const INFLATE_STEP = 1024;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip64 ${what} ${v} is too large`);
  return Number(v);
}

/** Reads the central directory of a zip archive. Entry data is read on demand by `readEntry`. */
export class ZipReader {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();

  constructor(private readonly source: ByteSource) {
    const { size } = source;
    // The end-of-central-directory record sits in the last 22 + (up to 65535 comment) bytes.
    const tailLength = Math.min(size, EOCD_SIZE + U16_MAX);
    const tail = source.read(size - tailLength, tailLength);
    const tv = view(tail);
    let eocd = -1;
    for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) <= tailLength) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      throw new Error(
        size >= 4 && view(source.read(0, 4)).getUint32(0, true) === SIG_LOCAL
          ? 'truncated zip archive (no end-of-central-directory record)'
          : 'not a zip archive',
      );
    }
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    const eocdAt = size - tailLength + eocd;

    // Zip64: a locator right before the EOCD points at the zip64 EOCD record, whose 64-bit
    // fields are authoritative (PyTorch always writes them; others only past the 32-bit limits).
    const locatorAt = eocdAt - 20;
    if (locatorAt >= 0 && view(source.read(locatorAt, 4)).getUint32(0, true) === SIG_ZIP64_LOCATOR) {
      const zip64At = u64(view(source.read(locatorAt, 20)), 8, 'end record offset');
      if (zip64At + 56 > size) throw new Error('truncated zip archive (zip64 end record out of bounds)');
      const z = view(source.read(zip64At, 56));
      if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new Error('corrupt zip archive (bad zip64 end record)');
      count = u64(z, 32, 'entry count');
      cdSize = u64(z, 40, 'central directory size');
      cdOffset = u64(z, 48, 'central directory offset');
    } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      throw new Error('corrupt zip archive (zip64 sizes without a zip64 locator)');
    }
    if (cdOffset + cdSize > size) {
      throw new Error(`truncated zip archive (central directory ends at byte ${cdOffset + cdSize}, file has ${size})`);
    }

    const cd = source.read(cdOffset, cdSize);
    const dv = view(cd);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + CENTRAL_SIZE > cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) {
        throw new Error(`corrupt zip archive (central directory entry ${i} of ${count} is damaged)`);
      }
      const flags = dv.getUint16(p + 8, true);
      const method = dv.getUint16(p + 10, true);
      const crc32 = dv.getUint32(p + 16, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let entrySize = dv.getUint32(p + 24, true);
      const nameLength = dv.getUint16(p + 28, true);
      const extraLength = dv.getUint16(p + 30, true);
      const commentLength = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      const end = p + CENTRAL_SIZE + nameLength + extraLength + commentLength;
      if (end > cdSize) throw new Error(`corrupt zip archive (central directory entry ${i} runs past its end)`);
      const name = utf8.decode(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLength));

      // Zip64 extended information: 64-bit values for exactly those fields saturated above, in order.
      if (entrySize === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX) {
        let e = p + CENTRAL_SIZE + nameLength;
        const extraEnd = e + extraLength;
        let found = false;
        while (e + 4 <= extraEnd) {
          const id = dv.getUint16(e, true);
          const len = dv.getUint16(e + 2, true);
          if (id === 0x0001) {
            let q = e + 4;
            const next = (what: string): number => {
              if (q + 8 > e + 4 + len) throw new Error(`corrupt zip64 extra field for '${name}'`);
              const v = u64(dv, q, what);
              q += 8;
              return v;
            };
            if (entrySize === U32_MAX) entrySize = next('entry size');
            if (compressedSize === U32_MAX) compressedSize = next('compressed size');
            if (localHeaderOffset === U32_MAX) localHeaderOffset = next('local header offset');
            found = true;
            break;
          }
          e += 4 + len;
        }
        if (!found) throw new Error(`corrupt zip archive ('${name}' has saturated sizes but no zip64 extra field)`);
      }

      // Sizes that cannot be true of this file are refused now, before anything is read or allocated.
      if (localHeaderOffset + LOCAL_SIZE + compressedSize > size) {
        throw new Error(`corrupt zip archive ('${name}' claims ${compressedSize} bytes at offset ${localHeaderOffset}, the file has ${size})`);
      }
      if (method === 0 && compressedSize !== entrySize) throw new Error(`corrupt zip archive (stored '${name}' has two sizes)`);
      if (method === 8 && entrySize > compressedSize * MAX_DEFLATE_RATIO + 1024) {
        throw new Error(`corrupt zip archive ('${name}' claims to inflate ${compressedSize} bytes to ${entrySize}, more than deflate can)`);
      }
      const entry: ZipEntry = { name, method, flags, crc32, compressedSize, size: entrySize, localHeaderOffset };
      this.entries.push(entry);
      this.byName.set(name, entry);
      p = end;
    }
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The uncompressed bytes of an entry, CRC-checked. `maxSize`: the most bytes the caller can use;
   * a larger declared size is refused before anything is read.
   */
  readEntry(entry: ZipEntry, maxSize = Infinity): Uint8Array {
    const { name, localHeaderOffset: at, compressedSize } = entry;
    const { size } = this.source;
    if (entry.flags & 1) throw new Error(`'${name}' is encrypted`);
    if (entry.size > maxSize) throw new Error(`'${name}' declares ${entry.size} bytes, more than the ${maxSize} it can hold`);
    if (at + LOCAL_SIZE > size) throw new Error(`truncated zip archive ('${name}' starts past the end)`);
    const lh = view(this.source.read(at, LOCAL_SIZE));
    if (lh.getUint32(0, true) !== SIG_LOCAL) throw new Error(`corrupt zip archive (bad local header for '${name}')`);
    // The local header's name and extra lengths may differ from the central directory's.
    const dataAt = at + LOCAL_SIZE + lh.getUint16(26, true) + lh.getUint16(28, true);
    if (dataAt + compressedSize > size) {
      throw new Error(`truncated zip archive ('${name}' needs bytes up to ${dataAt + compressedSize}, file has ${size})`);
    }
    const raw = this.source.read(dataAt, compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (compressedSize !== entry.size) throw new Error(`corrupt zip archive (stored '${name}' has two sizes)`);
      data = raw;
    } else if (entry.method === 8) {
      data = inflateBounded(raw, entry.size, name);
    } else {
      throw new Error(`'${name}' uses zip compression method ${entry.method} (only stored and deflate are supported)`);
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) {
      throw new Error(`corrupt data in '${name}' (CRC-32 ${hex(crc)}, expected ${hex(entry.crc32)})`);
    }
    return data;
  }
}

/**
 * Inflates raw deflate data into exactly `size` bytes: fed in small steps, and stopped at the first
 * byte past `size`, so a header that lies about the size cannot make this allocate more.
 */
function inflateBounded(raw: Uint8Array, size: number, name: string): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  const inflater = new Inflate((chunk) => {
    if (at + chunk.byteLength > size) throw new Error(`'${name}' inflates to more than its declared ${size} bytes`);
    out.set(chunk, at);
    at += chunk.byteLength;
  });
  try {
    for (let i = 0; i < raw.byteLength || i === 0; i += INFLATE_STEP) {
      inflater.push(raw.subarray(i, i + INFLATE_STEP), i + INFLATE_STEP >= raw.byteLength);
    }
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(`'${name}'`) ? msg : `cannot inflate '${name}': ${msg}`, { cause: e });
  }
  if (at !== size) throw new Error(`'${name}' inflates to ${at} bytes, expected ${size}`);
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

let crcTable: Uint32Array | undefined;

export function crc32(data: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
  /** Deflate instead of storing (torch stores everything; this exists for other tools' archives). */
  deflate?: boolean;
}

/** PyTorch marks its alignment padding with extra-field id "FB" filled with 'Z'. */
const PAD_FIELD_ID = 0x4246;
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;

/**
 * Lays out a zip archive and returns it as chunks (stored entry data is not copied).
 * Each entry's data starts at a multiple of `align` bytes.
 */
export function writeZip(entries: readonly ZipWriteEntry[], align = 64): Uint8Array[] {
  if (entries.length >= U16_MAX) throw new Error(`too many zip entries (${entries.length}); zip64 is not supported`);
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const { name } = entry;
    const nameBytes = encoder.encode(name);
    const crc = crc32(entry.data);
    const method = entry.deflate ? 8 : 0;
    const data = entry.deflate ? deflateSync(entry.data) : entry.data;
    const dataAt = offset + LOCAL_SIZE + nameBytes.length + 4;
    const pad = (align - (dataAt % align)) % align;
    if (offset > U32_MAX || entry.data.byteLength > U32_MAX || dataAt + pad + data.byteLength > U32_MAX) {
      throw new Error(`archive would exceed 4 GiB at '${name}'; writing zip64 archives is not supported`);
    }
    const local = new Uint8Array(LOCAL_SIZE + nameBytes.length + 4 + pad);
    const lv = view(local);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, 20, true); // version needed: 2.0
    lv.setUint16(6, 0x0800, true); // names are UTF-8
    lv.setUint16(8, method, true);
    lv.setUint16(10, 0, true);
    lv.setUint16(12, DOS_DATE_1980_01_01, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.byteLength, true);
    lv.setUint32(22, entry.data.byteLength, true);
    lv.setUint16(26, nameBytes.length, true);
    lv.setUint16(28, 4 + pad, true);
    local.set(nameBytes, LOCAL_SIZE);
    lv.setUint16(LOCAL_SIZE + nameBytes.length, PAD_FIELD_ID, true);
    lv.setUint16(LOCAL_SIZE + nameBytes.length + 2, pad, true);
    local.fill(0x5a, LOCAL_SIZE + nameBytes.length + 4);

    const c = new Uint8Array(CENTRAL_SIZE + nameBytes.length);
    const cv = view(c);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, 20, true); // made by: 2.0, MS-DOS attributes
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, method, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, DOS_DATE_1980_01_01, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.byteLength, true);
    cv.setUint32(24, entry.data.byteLength, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    c.set(nameBytes, CENTRAL_SIZE);

    chunks.push(local, data);
    central.push(c);
    offset += local.byteLength + data.byteLength;
  }
  const cdSize = central.reduce((s, c) => s + c.byteLength, 0);
  if (offset + cdSize > U32_MAX) throw new Error('archive would exceed 4 GiB; writing zip64 archives is not supported');
  const eocd = new Uint8Array(EOCD_SIZE);
  const ev = view(eocd);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return [...chunks, ...central, eocd];
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
