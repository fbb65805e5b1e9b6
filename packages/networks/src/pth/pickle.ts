// Python pickle, reduced to what PyTorch state_dicts need.
//
// The unpickler runs the opcodes of protocols 0-5 that plain data uses, and resolves globals only
// through a caller-given whitelist: nothing in a file can name code to run. The torch whitelist below
// turns `torch.save(model.state_dict())` pickles into plain records (tensors reference their storage
// by key; index.ts reads the bytes). The pickler writes the protocol-2 stream `torch.save` writes for
// an OrderedDict of CPU tensors, which `torch.load` (also with `weights_only=True`) accepts.

/** A Python dict or collections.OrderedDict; `attrs` holds what BUILD set (e.g. `_metadata`). */
export class PyDict {
  readonly items = new Map<PyKey, unknown>();
  attrs: Map<string, unknown> | undefined;
  constructor(readonly ordered: boolean) {}
}

export type PyKey = string | number | bigint | boolean | null;

/** A callable or class a pickle may reference, as the whitelist resolves it. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: unknown[]) => unknown,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface UnpickleHooks {
  /** Returns the object for a `module.name` global, or throws if it is not allowed. */
  findGlobal(module: string, name: string): PyGlobal;
  /** Resolves a persistent id (BINPERSID / PERSID). */
  persistentLoad?(pid: unknown): unknown;
}

/** Decodes a pickle stream. Python tuples and lists both become JS arrays. */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let p = 0;

  const need = (n: number): void => {
    if (p + n > bytes.byteLength) throw new Error(`truncated pickle (needs ${p + n} bytes, has ${bytes.byteLength})`);
  };
  const u8 = (): number => (need(1), bytes[p++]!);
  const u16 = (): number => (need(2), (p += 2), dv.getUint16(p - 2, true));
  const u32 = (): number => (need(4), (p += 4), dv.getUint32(p - 4, true));
  const i32 = (): number => (need(4), (p += 4), dv.getInt32(p - 4, true));
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`pickle length ${v} is too large`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => (need(n), (p += n), bytes.subarray(p - n, p));
  const line = (): string => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) throw new Error('truncated pickle (unterminated text argument)');
    const s = latin1.decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new Error(`pickle stack underflow at byte ${p - 1}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new Error(`pickle stack underflow at byte ${p - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) throw new Error(`pickle MARK missing at byte ${p - 1}`);
    stack = prev;
    return items;
  };
  const getMemo = (i: number): unknown => {
    if (!memo.has(i)) throw new Error(`pickle memo ${i} is not defined`);
    return memo.get(i);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PyGlobal) || !fn.call) {
      throw new Error(`pickle calls ${fn instanceof PyGlobal ? fn.qualifiedName : typeof fn}, which is not callable here`);
    }
    if (!Array.isArray(args)) throw new Error(`pickle calls ${fn.qualifiedName} without an argument tuple`);
    return fn.call(args);
  };
  const setItems = (dict: unknown, kv: unknown[]): void => {
    if (!(dict instanceof PyDict)) throw new Error('pickle SETITEM(S) on something that is not a dict');
    if (kv.length % 2) throw new Error('pickle SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) dict.items.set(asKey(kv[i]), kv[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) throw new Error('pickle APPEND(S) on something that is not a list');
    list.push(...items);
  };
  const long = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
    if (raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(8 * raw.length);
    return smallInt(v);
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const proto = u8();
        if (proto > 5) throw new Error(`pickle protocol ${proto} is not supported`);
        break;
      }
      case 0x95: // FRAME (framing is only a buffering hint)
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) throw new Error('pickle ends with an unbalanced stack');
        return stack[0];
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) throw new Error('pickle LONG4 with a negative length');
        stack.push(long(take(n)));
        break;
      }
      case 0x49: {
        // INT (text; "00"/"01" are False/True)
        const s = line();
        stack.push(s === '00' ? false : s === '01' ? true : smallInt(BigInt(s)));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(smallInt(BigInt(line().replace(/L$/, ''))));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(line()));
        break;

      case 0x58: // BINUNICODE
        stack.push(text.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str, read as latin-1 like encoding='latin1')
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) throw new Error('pickle BINSTRING with a negative length');
        stack.push(latin1.decode(take(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;

      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: {
        // LIST
        const items = popMark(); // before touching `stack`, which popMark replaces
        stack.push(items);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict(false));
        break;
      case 0x64: {
        // DICT
        const d = new PyDict(false);
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }

      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT (text)
        memo.set(Number(line()), top());
        break;
      case 0x68: // BINGET
        stack.push(getMemo(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(getMemo(u32()));
        break;
      case 0x67: // GET (text)
        stack.push(getMemo(Number(line())));
        break;

      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(hooks.findGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error('pickle STACK_GLOBAL needs two strings');
        stack.push(hooks.findGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); the whitelisted classes build the same way
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PyDict) || kwargs.items.size) throw new Error('pickle NEWOBJ_EX with keyword arguments is not supported');
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) throw new Error('pickle has a persistent id but none is expected');
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!hooks.persistentLoad) throw new Error('pickle has a persistent id but none is expected');
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      default:
        throw new Error(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}

function smallInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function asKey(k: unknown): PyKey {
  if (k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k)) return k as PyKey;
  throw new Error(`unsupported dict key type in pickle (${Array.isArray(k) ? 'tuple' : typeof k})`);
}

/** BUILD: only dicts take state here (it becomes their attributes, as for an OrderedDict's `_metadata`). */
function build(inst: unknown, state: unknown): void {
  if (!(inst instanceof PyDict)) throw new Error('pickle BUILD on an object that is not a dict');
  // State is a dict of attributes, or a (dict | None, slot dict) pair.
  const parts = Array.isArray(state) && state.length === 2 ? state : [state];
  for (const part of parts) {
    if (part === null) continue;
    if (!(part instanceof PyDict)) throw new Error('pickle BUILD with a state that is not a dict');
    inst.attrs ??= new Map();
    for (const [k, v] of part.items) {
      if (typeof k !== 'string') throw new Error('pickle BUILD with a non-string attribute name');
      inst.attrs.set(k, v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PyTorch's side: storages, tensors and the globals a state_dict pickle references.

export type StorageDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Storage class names (`torch.<Name>`) and their element types. */
export const STORAGE_TYPES: Readonly<Record<string, StorageDtype>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

export const STORAGE_NAMES: Readonly<Record<StorageDtype, string>> = Object.fromEntries(
  Object.entries(STORAGE_TYPES).map(([name, dtype]) => [dtype, name]),
) as Record<StorageDtype, string>;

export const ITEM_SIZE: Readonly<Record<StorageDtype, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A storage named by a persistent id: its bytes are the archive record `data/<key>`. */
export class StorageRef {
  constructor(
    readonly dtype: StorageDtype,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it: a strided view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

class StorageClass extends PyGlobal {
  constructor(
    name: string,
    readonly dtype: StorageDtype,
  ) {
    super('torch', name);
  }
}

function intArg(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`tensor ${what} is not a non-negative integer`);
  return v;
}

function intTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new Error(`tensor ${what} is not a tuple`);
  return v.map((x) => intArg(x, what));
}

function rebuildTensor(args: unknown[], fn: string): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`${fn} got something that is not a storage`);
  const shape = intTuple(size, 'size');
  const strides = intTuple(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`${fn}: size ${shape} and stride ${strides} differ in length`);
  return new TensorRef(storage, intArg(offset, 'storage offset'), shape, strides);
}

function hooksArg(v: unknown): void {
  // Backward hooks cannot be restored without code; torch saves an empty OrderedDict.
  if (v !== null && v !== undefined && !(v instanceof PyDict && v.items.size === 0)) {
    throw new Error('tensor has backward hooks, which cannot be loaded');
  }
}

const TENSOR_CLASS = new PyGlobal('torch', 'Tensor');
const PARAMETER_CLASS = new PyGlobal('torch.nn.parameter', 'Parameter');

const torchGlobals = new Map<string, PyGlobal>();
function allow(g: PyGlobal): void {
  torchGlobals.set(g.qualifiedName, g);
}
for (const [name, dtype] of Object.entries(STORAGE_TYPES)) allow(new StorageClass(name, dtype));
allow(TENSOR_CLASS);
allow(PARAMETER_CLASS);
allow(
  new PyGlobal('collections', 'OrderedDict', (args) => {
    const d = new PyDict(true);
    if (args.length > 1) throw new Error('OrderedDict() with more than one argument');
    const init = args[0];
    if (init !== undefined && init !== null) {
      if (!Array.isArray(init)) throw new Error('OrderedDict() from something that is not a list of pairs');
      for (const pair of init) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new Error('OrderedDict() item is not a pair');
        d.items.set(asKey(pair[0]), pair[1]);
      }
    }
    return d;
  }),
);
allow(
  new PyGlobal('torch._utils', '_rebuild_tensor_v2', (args) => {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.length < 6 || args.length > 7) throw new Error(`_rebuild_tensor_v2 expects 6 or 7 arguments, got ${args.length}`);
    hooksArg(args[5]);
    return rebuildTensor(args, '_rebuild_tensor_v2');
  }),
);
allow(
  new PyGlobal('torch._utils', '_rebuild_tensor', (args) => {
    if (args.length !== 4) throw new Error(`_rebuild_tensor expects 4 arguments, got ${args.length}`);
    return rebuildTensor(args, '_rebuild_tensor');
  }),
);
allow(
  new PyGlobal('torch._utils', '_rebuild_parameter', (args) => {
    // (data, requires_grad, backward_hooks): a Parameter is its data here.
    if (!(args[0] instanceof TensorRef)) throw new Error('_rebuild_parameter got something that is not a tensor');
    hooksArg(args[2]);
    return args[0];
  }),
);
allow(
  new PyGlobal('torch._utils', '_rebuild_parameter_with_state', (args) => {
    if (!(args[0] instanceof TensorRef)) throw new Error('_rebuild_parameter_with_state got something that is not a tensor');
    hooksArg(args[2]);
    return args[0];
  }),
);
allow(
  new PyGlobal('torch._tensor', '_rebuild_from_type_v2', (args) => {
    // (func, new_type, args, state): a plain Tensor or Parameter rebuilt by a whitelisted func.
    const [func, newType, fnArgs, state] = args;
    if (newType !== TENSOR_CLASS && newType !== PARAMETER_CLASS) {
      throw new Error(`_rebuild_from_type_v2 to ${newType instanceof PyGlobal ? newType.qualifiedName : 'an unknown type'} is not supported`);
    }
    if (state instanceof PyDict && state.items.size) throw new Error('tensor with Python attributes is not supported');
    if (!(func instanceof PyGlobal) || !func.call || !Array.isArray(fnArgs)) throw new Error('_rebuild_from_type_v2 with a bad rebuild function');
    return func.call(fnArgs);
  }),
);
allow(
  new PyGlobal('torch.storage', '_load_from_bytes', () => {
    throw new Error(
      'storage saved as a legacy torch.save byte string (torch.storage._load_from_bytes) is not supported; ' +
        're-save the state_dict with torch >= 1.6 from a tensor-only state_dict',
    );
  }),
);

/** The whitelist for state_dict pickles: anything else is refused by name. */
export function findTorchGlobal(module: string, name: string): PyGlobal {
  const g = torchGlobals.get(`${module}.${name}`);
  if (!g) {
    throw new Error(
      `the pickle references the Python global '${module}.${name}', which is not allowed (only plain state_dicts of tensors can be read)`,
    );
  }
  return g;
}

/** Persistent ids of torch's zip format: ('storage', torch.<Type>Storage, key, location, numel). */
export function torchPersistentLoad(): (pid: unknown) => StorageRef {
  const storages = new Map<string, StorageRef>();
  return (pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) {
      throw new Error(`unsupported persistent id ${JSON.stringify(Array.isArray(pid) ? pid[0] : typeof pid)}`);
    }
    const [, type, key, location, numel] = pid;
    if (!(type instanceof StorageClass)) throw new Error(`persistent id has an unknown storage type`);
    if (typeof key !== 'string' || typeof location !== 'string') throw new Error('persistent id has a bad storage key');
    const n = intArg(numel, 'storage size');
    let s = storages.get(key);
    if (!s) {
      s = new StorageRef(type.dtype, key, location, n);
      storages.set(key, s);
    } else if (s.dtype !== type.dtype || s.numel !== n) {
      throw new Error(`storage '${key}' is referenced with two different types or sizes`);
    }
    return s;
  };
}

// ---------------------------------------------------------------------------------------------
// Pickler: the protocol-2 stream of `torch.save(OrderedDict(name -> tensor))`.

export interface PickledTensor {
  name: string;
  dtype: StorageDtype;
  shape: readonly number[];
  /** The storage's record key (`data/<key>` in the archive). */
  storageKey: string;
  numel: number;
}

/** Per-module `_metadata` entries (e.g. `{ version: 1 }`), keyed by module path ('' = root). */
export type StateDictMetadata = ReadonlyMap<string, Readonly<Record<string, number | string | boolean>>>;

class Pickler {
  private readonly out: number[] = [];
  private readonly memo = new Map<string, number>();
  private readonly encoder = new TextEncoder();

  byte(b: number): void {
    this.out.push(b);
  }
  u32(v: number): void {
    this.out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  int(v: number): void {
    if (!Number.isSafeInteger(v)) throw new Error(`cannot pickle ${v} as an int`);
    if (v >= 0 && v < 0x100)
      this.out.push(0x4b, v); // BININT1
    else if (v >= 0 && v < 0x10000)
      this.out.push(0x4d, v & 0xff, v >>> 8); // BININT2
    else if (v >= -0x80000000 && v < 0x80000000) {
      this.byte(0x4a); // BININT
      this.u32(v);
    } else {
      // LONG1: minimal two's-complement little-endian bytes
      const bytes: number[] = [];
      let x = BigInt(v);
      for (;;) {
        const b = Number(x & 0xffn);
        bytes.push(b);
        x >>= 8n;
        if ((x === 0n && !(b & 0x80)) || (x === -1n && b & 0x80)) break;
      }
      this.out.push(0x8a, bytes.length, ...bytes);
    }
  }
  str(s: string): void {
    const b = this.encoder.encode(s);
    this.byte(0x58); // BINUNICODE
    this.u32(b.length);
    for (const x of b) this.out.push(x);
  }
  float(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    this.out.push(0x47, ...b); // BINFLOAT
  }
  bool(v: boolean): void {
    this.byte(v ? 0x88 : 0x89);
  }
  /** GLOBAL, memoized so that later uses are a BINGET/LONG_BINGET. */
  global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const m = this.memo.get(key);
    if (m !== undefined) {
      this.get(m);
      return;
    }
    this.byte(0x63);
    for (const x of this.encoder.encode(`${module}\n${name}\n`)) this.out.push(x);
    this.put(key);
  }
  private put(key: string): void {
    const i = this.memo.size;
    this.memo.set(key, i);
    if (i < 0x100)
      this.out.push(0x71, i); // BINPUT
    else {
      this.byte(0x72); // LONG_BINPUT
      this.u32(i);
    }
  }
  private get(i: number): void {
    if (i < 0x100)
      this.out.push(0x68, i); // BINGET
    else {
      this.byte(0x6a); // LONG_BINGET
      this.u32(i);
    }
  }
  intTuple(values: readonly number[]): void {
    if (values.length === 0)
      this.byte(0x29); // EMPTY_TUPLE
    else if (values.length <= 3) {
      for (const v of values) this.int(v);
      this.byte(0x84 + values.length); // TUPLE1..3
    } else {
      this.byte(0x28); // MARK
      for (const v of values) this.int(v);
      this.byte(0x74); // TUPLE
    }
  }
  /** collections.OrderedDict() */
  emptyOrderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.out.push(0x29, 0x52); // EMPTY_TUPLE REDUCE
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** The `data.pkl` of a state_dict of contiguous CPU tensors, each in its own storage. */
export function pickleStateDict(tensors: readonly PickledTensor[], metadata?: StateDictMetadata): Uint8Array {
  const pk = new Pickler();
  pk.byte(0x80); // PROTO 2
  pk.byte(2);
  pk.emptyOrderedDict();
  if (tensors.length) {
    pk.byte(0x28); // MARK
    for (const t of tensors) {
      pk.str(t.name);
      pk.global('torch._utils', '_rebuild_tensor_v2');
      pk.byte(0x28); // MARK: the argument tuple
      pk.byte(0x28); // MARK: the persistent id
      pk.str('storage');
      pk.global('torch', STORAGE_NAMES[t.dtype]);
      pk.str(t.storageKey);
      pk.str('cpu');
      pk.int(t.numel);
      pk.byte(0x74); // TUPLE
      pk.byte(0x51); // BINPERSID
      pk.int(0); // storage offset
      pk.intTuple(t.shape);
      pk.intTuple(contiguousStrides(t.shape));
      pk.bool(false); // requires_grad
      pk.emptyOrderedDict(); // backward hooks
      pk.byte(0x74); // TUPLE
      pk.byte(0x52); // REDUCE
    }
    pk.byte(0x75); // SETITEMS
  }
  if (metadata) {
    // BUILD with {'_metadata': OrderedDict(module path -> {attr: value})}
    pk.byte(0x7d); // EMPTY_DICT
    pk.str('_metadata');
    pk.emptyOrderedDict();
    if (metadata.size) {
      pk.byte(0x28); // MARK
      for (const [path, attrs] of metadata) {
        pk.str(path);
        pk.byte(0x7d); // EMPTY_DICT
        const entries = Object.entries(attrs);
        if (entries.length) {
          pk.byte(0x28);
          for (const [k, v] of entries) {
            pk.str(k);
            if (typeof v === 'string') pk.str(v);
            else if (typeof v === 'boolean') pk.bool(v);
            else if (Number.isInteger(v)) pk.int(v);
            else pk.float(v);
          }
          pk.byte(0x75); // SETITEMS
        }
      }
      pk.byte(0x75); // SETITEMS
    }
    pk.byte(0x73); // SETITEM
    pk.byte(0x62); // BUILD
  }
  pk.byte(0x2e); // STOP
  return pk.bytes();
}
