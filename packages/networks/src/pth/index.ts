// PyTorch `.pth` state_dicts without PyTorch: read what `torch.save(model.state_dict(), f)` writes
// (the zip format of torch >= 1.6) and write files that `torch.load` + `load_state_dict(strict=True)`
// accept.
import {
  ITEM_SIZE,
  PyDict,
  StorageRef,
  TensorRef,
  findTorchGlobal,
  pickleStateDict,
  torchPersistentLoad,
  unpickle,
  type PickledTensor,
  type StateDictMetadata,
  type StorageDtype,
} from './pickle.js';
import { ZipReader, bytesSource, concatBytes, writeZip, type ByteSource } from './zip.js';

export type { StateDictMetadata } from './pickle.js';
export type { ByteSource } from './zip.js';

export type PthDtype = StorageDtype;

/**
 * A tensor read from a checkpoint, contiguous and row-major in its PyTorch shape (so conv weights
 * are OIHW). Floating types are widened or narrowed to float32 (`dtype` says what the file held);
 * int64 stays exact as a BigInt64Array; bool is a Uint8Array of 0/1.
 */
export type PthTensor =
  | { dtype: 'float32' | 'float64' | 'float16' | 'bfloat16'; shape: number[]; data: Float32Array }
  | { dtype: 'int64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array }
  | { dtype: 'int16'; shape: number[]; data: Int16Array }
  | { dtype: 'int8'; shape: number[]; data: Int8Array }
  | { dtype: 'uint8' | 'bool'; shape: number[]; data: Uint8Array };

/** Name -> tensor, in the file's order. */
export type StateDict = Map<string, PthTensor>;

export interface PthArchive {
  tensors: StateDict;
  /**
   * The OrderedDict's `_metadata` (module path -> e.g. `{ version: 1 }`), when the file has one;
   * attributes other than numbers, strings and booleans are left out.
   */
  metadata: Map<string, Record<string, number | string | boolean>> | undefined;
  /** The archive's top folder (`latest_net_G` for torch 1.x, `archive` for torch 2.x). */
  archiveName: string;
}

export interface ReadPthOptions {
  /** Names an in-memory checkpoint in error messages. */
  name?: string;
  /**
   * Checks the tensors' names and shapes (file order) before any tensor is read, e.g. against the
   * network the weights are for; throws to refuse the file (the message gets the file name in front).
   */
  expect?: (shapes: ReadonlyMap<string, readonly number[]>) => void;
  /**
   * The most bytes of tensor storage the file may hold (default 1 GiB): checked before anything is
   * inflated or copied, so a small hostile file cannot make the reader allocate without bound.
   */
  maxBytes?: number;
}

/** What a state_dict may hold unless the caller says otherwise (the largest CUT networks need ~50 MB). */
export const DEFAULT_MAX_PTH_BYTES = 2 ** 30;
/** data.pkl of a state_dict is a few bytes per tensor; anything near this is not one. */
const MAX_PICKLE_BYTES = 64 * 2 ** 20;

/** An error about one checkpoint; the message starts with the file name. */
export class PthError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'PthError';
  }
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads a state_dict checkpoint from the file's bytes (or random access to them, e.g. an open
 * file, so that a large file need not be read whole). `name` names the file in errors.
 */
export function readPth(source: Uint8Array | ByteSource, options: ReadPthOptions = {}): StateDict {
  return readPthArchive(source, options).tensors;
}

/** Like `readPth`, with the file's `_metadata` and archive name. */
export function readPthArchive(source: Uint8Array | ByteSource, options: ReadPthOptions = {}): PthArchive {
  const file = options.name ?? '<in-memory checkpoint>';
  try {
    return parseArchive(source instanceof Uint8Array ? bytesSource(source) : source, options);
  } catch (e) {
    if (e instanceof PthError) throw e;
    const err = e as Error & { code?: string };
    throw new PthError(file, err.code ? `cannot read the file (${err.message})` : err.message, { cause: e });
  }
}

function parseArchive(source: ByteSource, options: ReadPthOptions): PthArchive {
  if (source.size === 0) throw new Error('the file is empty');
  const magic = source.read(0, Math.min(2, source.size));
  if (magic[0] === 0x80 && magic[1] !== undefined && magic[1] <= 5) {
    throw new Error(
      'this is the legacy (pre-1.6, non-zip) torch.save format, which is not supported; ' +
        're-save it with torch >= 1.6 (torch.save(torch.load(f), g))',
    );
  }
  let zip: ZipReader;
  try {
    zip = new ZipReader(source);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg === 'not a zip archive' ? 'not a PyTorch checkpoint (not a zip archive)' : msg, { cause: e });
  }

  const archiveName = findArchiveName(zip);
  const record = (name: string, maxSize: number): Uint8Array | undefined => {
    const entry = zip.get(`${archiveName}/${name}`);
    return entry && zip.readEntry(entry, maxSize);
  };

  let littleEndian = true;
  const order = record('byteorder', 16);
  if (order) {
    const s = new TextDecoder().decode(order).trim();
    if (s !== 'little' && s !== 'big') throw new Error(`unknown byteorder '${s}'`);
    littleEndian = s === 'little';
  }

  const pkl = record('data.pkl', MAX_PICKLE_BYTES)!;
  let root: unknown;
  try {
    root = unpickle(pkl, { findGlobal: findTorchGlobal, persistentLoad: torchPersistentLoad() });
  } catch (e) {
    throw new Error(`${archiveName}/data.pkl: ${(e as Error).message}`, { cause: e });
  }
  if (!(root instanceof PyDict)) {
    throw new Error(`data.pkl holds ${describe(root)}, not a state_dict (a dict of tensors)`);
  }

  // Everything is checked before any storage is read: the names and shapes (against what the
  // caller expects), each tensor's layout within its storage, and the storages' sizes.
  const refs = new Map<string, TensorRef>();
  for (const [key, value] of root.items) {
    if (typeof key !== 'string') throw new Error(`state_dict key ${String(key)} is not a string`);
    if (!(value instanceof TensorRef)) {
      throw new Error(`state_dict entry '${key}' is ${describe(value)}, not a tensor (only plain state_dicts can be read)`);
    }
    refs.set(key, value);
  }
  options.expect?.(new Map([...refs].map(([key, t]) => [key, t.shape])));
  const storageNeeds = new Map<StorageRef, number>();
  for (const [key, t] of refs) {
    const reach = checkLayout(key, t);
    storageNeeds.set(t.storage, Math.max(storageNeeds.get(t.storage) ?? 0, reach));
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PTH_BYTES;
  let total = 0;
  for (const [s, reach] of storageNeeds) {
    const name = `${archiveName}/data/${s.key}`;
    // torch writes a storage whole; one longer than every tensor in it reaches is not a state_dict's.
    if (s.numel > reach) throw new Error(`storage '${name}' holds ${s.numel} elements, but its tensors use only ${reach}`);
    total += s.numel * ITEM_SIZE[s.dtype];
    if (total > maxBytes) throw new Error(`its tensors' storages hold more than ${maxBytes} bytes, the most accepted here`);
    const entry = zip.get(name);
    if (!entry) throw new Error(`storage record '${name}' is missing`);
    const need = s.numel * ITEM_SIZE[s.dtype];
    if (entry.size < need) throw new Error(`storage '${name}' is truncated: ${entry.size} bytes, needs ${need}`);
    if (entry.size > need) throw new Error(`storage '${name}' has ${entry.size} bytes, its ${s.numel} ${s.dtype} elements need ${need}`);
  }

  const storages = new Map<StorageRef, Uint8Array>();
  const tensors: StateDict = new Map();
  for (const [key, t] of refs) {
    let bytes = storages.get(t.storage);
    if (!bytes) {
      bytes = zip.readEntry(zip.get(`${archiveName}/data/${t.storage.key}`)!, t.storage.numel * ITEM_SIZE[t.storage.dtype]);
      storages.set(t.storage, bytes);
    }
    tensors.set(key, materialize(t, bytes, littleEndian));
  }

  let metadata: PthArchive['metadata'];
  const meta = root.attrs?.get('_metadata');
  if (meta instanceof PyDict) {
    metadata = new Map();
    for (const [path, attrs] of meta.items) {
      if (typeof path !== 'string' || !(attrs instanceof PyDict)) continue;
      const plain: Record<string, number | string | boolean> = {};
      for (const [k, v] of attrs.items) {
        if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') plain[String(k)] = v;
      }
      metadata.set(path, plain);
    }
  }
  return { tensors, metadata, archiveName };
}

/** The top folder holding `data.pkl` (torch names it after the file in 1.x, `archive` in 2.x). */
function findArchiveName(zip: ZipReader): string {
  const folders = zip.entries.map((e) => /^([^/]+)\/data\.pkl$/.exec(e.name)?.[1]).filter((f): f is string => f !== undefined);
  if (folders.length === 0) {
    const names = zip.entries.map((e) => e.name);
    if (names.some((n) => /(^|\/)constants\.pkl$/.test(n))) {
      throw new Error('this is a TorchScript archive (torch.jit.save), not a torch.save state_dict');
    }
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} entries)` : '');
    throw new Error(`zip archive without data.pkl, so not a torch.save checkpoint (entries: ${shown || 'none'})`);
  }
  // Like torch, prefer the folder of the archive's first entry.
  const first = zip.entries[0]!.name.split('/')[0]!;
  return folders.includes(first) ? first : folders[0]!;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a tuple or list';
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof StorageRef) return 'a bare storage';
  return `a ${typeof v === 'number' || typeof v === 'bigint' ? 'number' : typeof v}`;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that a tensor is a plain view of its storage: no dimension repeats elements (stride 0, or
 * strides that make elements overlap, as `expand` does) and every element lies inside the storage.
 * Returns how many storage elements it reaches (offset + extent).
 */
function checkLayout(name: string, t: TensorRef): number {
  const what = () => `tensor '${name}' (shape [${t.shape}], stride [${t.stride}], offset ${t.offset})`;
  const numel = product(t.shape);
  if (numel === 0) return 0;
  if (!Number.isSafeInteger(numel)) throw new Error(`${what()} has too many elements`);
  // Dimensions by increasing stride: each must step past everything the smaller ones cover.
  const dims = t.shape.map((n, i) => ({ n, stride: t.stride[i]! })).filter((d) => d.n > 1);
  dims.sort((a, b) => a.stride - b.stride);
  let extent = 0; // last element reached by the dimensions so far, relative to the offset
  for (const { n, stride } of dims) {
    if (stride <= extent)
      throw new Error(`${what()} repeats or interleaves elements (a stride-0 or overlapping view, e.g. from expand()); save a contiguous copy`);
    extent += (n - 1) * stride;
  }
  const reach = t.offset + extent + 1;
  if (!Number.isSafeInteger(reach) || reach > t.storage.numel) {
    throw new Error(`${what()} reaches past its storage of ${t.storage.numel} elements`);
  }
  return reach;
}

/** A tensor's elements as contiguous row-major bytes, honouring storage offset and strides (layout checked). */
function tensorBytes(t: TensorRef, storage: Uint8Array): Uint8Array {
  const size = ITEM_SIZE[t.storage.dtype];
  const numel = product(t.shape);
  if (numel === 0) return new Uint8Array(0);
  let contiguous = true;
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i]! !== 1 && t.stride[i]! !== expected) contiguous = false;
    expected *= t.shape[i]!;
  }
  if (contiguous) return storage.subarray(t.offset * size, (t.offset + numel) * size);

  const out = new Uint8Array(numel * size);
  const nd = t.shape.length;
  const index = new Array<number>(nd).fill(0);
  let src = t.offset;
  for (let o = 0; o < numel; o++) {
    const s = src * size;
    const d = o * size;
    for (let b = 0; b < size; b++) out[d + b] = storage[s + b]!;
    for (let k = nd - 1; k >= 0; k--) {
      index[k]!++;
      src += t.stride[k]!;
      if (index[k]! < t.shape[k]!) break;
      src -= t.stride[k]! * t.shape[k]!;
      index[k] = 0;
    }
  }
  return out;
}

function materialize(t: TensorRef, storage: Uint8Array, littleEndian: boolean): PthTensor {
  const bytes = tensorBytes(t, storage);
  const shape = [...t.shape];
  const size = ITEM_SIZE[t.storage.dtype];
  const n = bytes.byteLength / size;
  // Same byte order as this machine: one aligned copy reinterpreted; otherwise element by element.
  const native = littleEndian === HOST_LITTLE_ENDIAN;
  const aligned = (): ArrayBuffer => new Uint8Array(bytes).buffer;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = littleEndian;
  switch (t.storage.dtype) {
    case 'float32': {
      if (native) return { dtype: 'float32', shape, data: new Float32Array(aligned()) };
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, le);
      return { dtype: 'float32', shape, data };
    }
    case 'float64': {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = dv.getFloat64(8 * i, le);
      return { dtype: 'float64', shape, data };
    }
    case 'float16': {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = halfToFloat(dv.getUint16(2 * i, le));
      return { dtype: 'float16', shape, data };
    }
    case 'bfloat16': {
      const data = new Float32Array(n);
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, le) << 16;
      return { dtype: 'bfloat16', shape, data };
    }
    case 'int64': {
      if (native) return { dtype: 'int64', shape, data: new BigInt64Array(aligned()) };
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = dv.getBigInt64(8 * i, le);
      return { dtype: 'int64', shape, data };
    }
    case 'int32': {
      if (native) return { dtype: 'int32', shape, data: new Int32Array(aligned()) };
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = dv.getInt32(4 * i, le);
      return { dtype: 'int32', shape, data };
    }
    case 'int16': {
      if (native) return { dtype: 'int16', shape, data: new Int16Array(aligned()) };
      const data = new Int16Array(n);
      for (let i = 0; i < n; i++) data[i] = dv.getInt16(2 * i, le);
      return { dtype: 'int16', shape, data };
    }
    case 'int8':
      return { dtype: 'int8', shape, data: new Int8Array(aligned()) };
    case 'uint8':
      return { dtype: 'uint8', shape, data: new Uint8Array(bytes) };
    case 'bool':
      return { dtype: 'bool', shape, data: new Uint8Array(bytes).map((b) => (b ? 1 : 0)) };
  }
}

const halfBits = new Uint32Array(1);
const halfFloat = new Float32Array(halfBits.buffer);

/** IEEE half (as bits) -> float32, exact (subnormals, infinities and NaN included). */
function halfToFloat(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return (sign ? -1 : 1) * frac * 2 ** -24;
  if (exp === 0x1f) halfBits[0] = sign | 0x7f800000 | (frac << 13);
  else halfBits[0] = sign | ((exp + 112) << 23) | (frac << 13);
  return halfFloat[0]!;
}

/** float32 -> IEEE half bits, rounded to nearest even as PyTorch's `.half()` does (overflow: infinity). */
export function floatToHalf(x: number): number {
  halfFloat[0] = x;
  const b = halfBits[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  // Below the smallest normal half: a subnormal, in units of 2^-24 (0 below half of one unit).
  const [kept, shift] = e <= 0 ? [(mant | 0x800000) >>> 0, 126 - exp] : [(e << 23) | mant, 13];
  if (shift > 24) return sign;
  const whole = kept >>> shift;
  const rest = kept & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  // A carry out of the mantissa rounds into the exponent: the next binade, or infinity.
  return sign | (whole + (rest > halfway || (rest === halfway && whole & 1) ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * A tensor to write: row-major data in its PyTorch shape. The stored type follows the array
 * (Float32Array -> float32, Float64Array -> float64, BigInt64Array -> int64, Int32Array -> int32,
 * Int16Array -> int16, Int8Array -> int8, Uint8Array -> uint8, or bool with `dtype: 'bool'`;
 * Float32Array with `dtype: 'float16'` is stored as half precision, rounded to nearest even), so a
 * `PthTensor` read from a float16/float64 file is written back as float32 unless it asks.
 */
export interface WritableTensor {
  shape: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
  dtype?: PthDtype;
}

export interface WritePthOptions {
  /** Prepended to every name (e.g. 'module.' for code that loads into a DataParallel model). */
  prefix?: string;
  /** `_metadata` to attach (module path -> attributes such as `{ version: 1 }`); none by default. */
  metadata?: StateDictMetadata;
  /** The archive's top folder; 'archive', as torch 2.x writes it, by default. */
  archiveName?: string;
}

function storageDtype(t: WritableTensor): StorageDtype {
  const d = t.data;
  if (d instanceof Float32Array) return t.dtype === 'float16' ? 'float16' : 'float32';
  if (d instanceof Float64Array) return 'float64';
  if (d instanceof BigInt64Array) return 'int64';
  if (d instanceof Int32Array) return 'int32';
  if (d instanceof Int16Array) return 'int16';
  if (d instanceof Int8Array) return 'int8';
  if (d instanceof Uint8Array) return t.dtype === 'bool' ? 'bool' : 'uint8';
  throw new Error('tensor data is not a supported typed array');
}

/** The element bytes in little-endian order (a view when this machine is little-endian). */
function littleEndianBytes(t: WritableTensor, dtype: StorageDtype): Uint8Array {
  const d = t.data;
  if (dtype === 'bool') return Uint8Array.from(d as Uint8Array, (b) => (b ? 1 : 0));
  if (dtype === 'float16') {
    const out = new Uint8Array(d.length * 2);
    const view = new DataView(out.buffer);
    for (let i = 0; i < d.length; i++) view.setUint16(2 * i, floatToHalf((d as Float32Array)[i]!), true);
    return out;
  }
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  const size = ITEM_SIZE[dtype];
  if (HOST_LITTLE_ENDIAN || size === 1) return bytes;
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += size) {
    for (let b = 0; b < size; b++) out[i + b] = bytes[i + size - 1 - b]!;
  }
  return out;
}

/** The archive as chunks, in order. */
function encodeChunks(entries: Iterable<readonly [string, WritableTensor]>, options: WritePthOptions): Uint8Array[] {
  const prefix = options.prefix ?? '';
  const archive = options.archiveName ?? 'archive';
  if (!/^[A-Za-z0-9_.-]+$/.test(archive)) throw new Error(`archive name '${archive}' must be a plain folder name`);
  const pickled: PickledTensor[] = [];
  const records: { name: string; data: Uint8Array }[] = [];
  const seen = new Set<string>();
  for (const [rawName, t] of entries) {
    const name = prefix + rawName;
    if (seen.has(name)) throw new Error(`duplicate tensor name '${name}'`);
    seen.add(name);
    if (!t.shape.every((s) => Number.isInteger(s) && s >= 0)) throw new Error(`tensor '${name}' has a bad shape [${t.shape}]`);
    const numel = product(t.shape);
    if (t.data.length !== numel) {
      throw new Error(`tensor '${name}' has ${t.data.length} values for shape [${t.shape}] (${numel})`);
    }
    const dtype = storageDtype(t);
    const key = String(pickled.length);
    pickled.push({ name, dtype, shape: t.shape, storageKey: key, numel });
    records.push({ name: `${archive}/data/${key}`, data: littleEndianBytes(t, dtype) });
  }
  let metadata = options.metadata;
  if (metadata && prefix) {
    // Module paths move under the prefix too: '' -> 'module', 'model.1' -> 'module.model.1'.
    metadata = new Map([...metadata].map(([path, attrs]) => [path ? prefix + path : prefix.replace(/\.$/, ''), attrs]));
  }
  const text = new TextEncoder();
  return writeZip([
    { name: `${archive}/data.pkl`, data: pickleStateDict(pickled, metadata) },
    { name: `${archive}/byteorder`, data: text.encode('little') },
    ...records,
    { name: `${archive}/version`, data: text.encode('3\n') },
  ]);
}

/** The bytes of a `.pth` file holding `entries` (in order) as a state_dict. */
export function encodePth(entries: Iterable<readonly [string, WritableTensor]>, options: WritePthOptions = {}): Uint8Array {
  return concatBytes(encodeChunks(entries, options));
}

/**
 * Drops a leading `module.` (what the reference's CPU training adds through DataParallel) from every
 * name that has it; other names are kept. Order is preserved.
 */
export function stripModulePrefix<T>(dict: ReadonlyMap<string, T>, prefix = 'module.'): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of dict) {
    const name = k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (out.has(name)) throw new Error(`stripping '${prefix}' makes two entries named '${name}'`);
    out.set(name, v);
  }
  return out;
}
