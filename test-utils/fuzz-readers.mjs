// Fuzz cases for the checkpoint readers (issue 22): the `.pth` reader (@cut/networks readPth and
// loadNetworkWeights) and the tfjs model reader (loadTfjsModel on model.json + weights). Plain
// JavaScript with the readers passed in, so that the CI test (packages/networks/src/fuzz.test.ts,
// on the sources) and the opt-in benchmark (bench/fuzz-readers.mjs, on the built packages) share it.
//
// Every case is a seed file changed one way (deterministic from the case number): a truncation, bit
// flips (with the zip's CRCs left wrong, or fixed up so that the damage reaches the pickle and the
// tensors), a zip header field or a pickled integer (shape, stride, offset, storage size) set to an
// extreme, or for model.json a field set to an extreme or a hostile path. A case passes when it
// loads, or throws an Error whose message starts with the file's name and that is not an engine
// error (TypeError/RangeError: a missed check).

/** mulberry32: a small seeded generator, so case N is the same case on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EXTREMES_32 = [0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

let crcTable;
function crc32(data) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The stored entries of a well-formed zip (no zip64 in the seeds): where each one's data and CRC fields are. */
function zipLayout(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= 0; i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const entries = [];
  const headers = [
    {
      at: eocd,
      fields: [
        [8, 2],
        [10, 2],
        [12, 4],
        [16, 4],
        [20, 2],
      ],
    },
  ];
  for (let i = 0; i < count && p + 46 <= bytes.length; i++) {
    if (dv.getUint32(p, true) !== 0x02014b50) return undefined;
    const method = dv.getUint16(p + 10, true);
    const size = dv.getUint32(p + 20, true);
    const local = dv.getUint32(p + 42, true);
    const nameLength = dv.getUint16(p + 28, true);
    const dataAt = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLength));
    entries.push({ name, method, central: p, local, dataAt, size });
    headers.push({
      at: p,
      fields: [
        [10, 2],
        [16, 4],
        [20, 4],
        [24, 4],
        [28, 2],
        [30, 2],
        [32, 2],
        [42, 4],
      ],
    });
    headers.push({
      at: local,
      fields: [
        [8, 2],
        [14, 4],
        [18, 4],
        [22, 4],
        [26, 2],
        [28, 2],
      ],
    });
    p += 46 + nameLength + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return { entries, headers };
}

/** Recomputes the CRC of every stored entry (after in-place damage), in both headers. */
function fixCrcs(bytes, layout) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const e of layout.entries) {
    if (e.method !== 0 || e.dataAt + e.size > bytes.length) continue;
    const crc = crc32(bytes.subarray(e.dataAt, e.dataAt + e.size));
    dv.setUint32(e.central + 16, crc, true);
    dv.setUint32(e.local + 14, crc, true);
  }
}

/** Offsets and widths of the integer operands in a pickle (BININT1/2/4, the ints of shapes, strides, offsets, sizes). */
function pickleInts(pkl) {
  const out = [];
  for (let i = 0; i < pkl.length - 1; i++) {
    const op = pkl[i];
    if (op === 0x4b) out.push([i + 1, 1]);
    else if (op === 0x4d && i + 2 < pkl.length) out.push([i + 1, 2]);
    else if (op === 0x4a && i + 4 < pkl.length) out.push([i + 1, 4]);
  }
  return out;
}

function setField(bytes, at, width, value) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + width > bytes.length) return;
  if (width === 1) dv.setUint8(at, value & 0xff);
  else if (width === 2) dv.setUint16(at, value & 0xffff, true);
  else dv.setUint32(at, value >>> 0, true);
}

const pick = (r, list) => list[Math.floor(r() * list.length)];

/**
 * Case `n` of the .pth fuzz: `{ n, seed, kind, bytes }` from one of `seeds` ({ name, bytes }).
 */
export function pthCase(seeds, n) {
  const r = rng(0x9e3779b9 ^ (n * 2654435761));
  const seed = seeds[n % seeds.length];
  const bytes = new Uint8Array(seed.bytes);
  const layout = zipLayout(bytes);
  const kind = pick(r, ['truncate', 'flip', 'flip+crc', 'zip-field', 'pickle-int', 'pickle-int', 'storage-flip+crc']);
  const pkl = layout?.entries.find((e) => e.name.endsWith('/data.pkl') && e.method === 0);
  if (kind === 'truncate') {
    return { n, seed: seed.name, kind, bytes: bytes.subarray(0, Math.floor(r() * bytes.length)) };
  }
  if (kind === 'flip' || kind === 'flip+crc') {
    // Mostly inside data.pkl when fixing CRCs (so the damage reaches the unpickler), anywhere otherwise.
    const region = kind === 'flip+crc' && pkl ? [pkl.dataAt, pkl.size] : [0, bytes.length];
    const flips = 1 + Math.floor(r() * 8);
    for (let i = 0; i < flips; i++) bytes[region[0] + Math.floor(r() * region[1])] ^= 1 << Math.floor(r() * 8);
    if (kind === 'flip+crc' && layout) fixCrcs(bytes, layout);
    return { n, seed: seed.name, kind, bytes };
  }
  if (kind === 'zip-field' && layout) {
    const h = pick(r, layout.headers);
    const [off, width] = pick(r, h.fields);
    const value = r() < 0.8 ? pick(r, EXTREMES_32) : Math.floor(r() * 2 ** 32);
    setField(bytes, h.at + off, width, value);
    return { n, seed: seed.name, kind: `${kind}@${h.at}+${off}=${value}`, bytes };
  }
  if ((kind === 'pickle-int' || kind === 'zip-field') && pkl) {
    const ints = pickleInts(bytes.subarray(pkl.dataAt, pkl.dataAt + pkl.size));
    if (ints.length) {
      const [at, width] = pick(r, ints);
      const value = r() < 0.8 ? pick(r, EXTREMES_32) : Math.floor(r() * 2 ** 32);
      setField(bytes, pkl.dataAt + at, width, value);
      fixCrcs(bytes, layout);
      return { n, seed: seed.name, kind: `pickle-int@${at}=${value}`, bytes };
    }
  }
  // storage-flip+crc (or a fallback): damage the values themselves; the file stays loadable.
  const storages = layout?.entries.filter((e) => /\/data\/\d+$/.test(e.name) && e.method === 0 && e.size > 0) ?? [];
  if (storages.length) {
    const s = pick(r, storages);
    bytes[s.dataAt + Math.floor(r() * s.size)] ^= 0xff;
    fixCrcs(bytes, layout);
  } else {
    bytes[Math.floor(r() * bytes.length)] ^= 0xff;
  }
  return { n, seed: seed.name, kind: 'storage-flip+crc', bytes };
}

const JSON_EXTREMES = [0, -1, 1.5, 2 ** 31, 2 ** 53, 1e308, -1e308, null, '7', [], {}, true];
const HOSTILE_PATHS = [
  '../../secret/stolen.bin',
  '../../../../etc/passwd',
  '../../../../dev/zero',
  '/dev/zero',
  '/etc/passwd',
  'C:\\Windows\\win.ini',
  '..\\..\\x.bin',
  'http://example.com/w.bin',
  'a/../../w.bin',
  '',
  'weights.bin\u0000.txt',
  'x'.repeat(5000),
];

/** Every [holder, key] of a JSON value's numbers and arrays (where an extreme can go). */
function slots(value, out = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (typeof v === 'number' || typeof v === 'string') out.push([value, i]);
      else slots(v, out);
    });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'number' || typeof v === 'boolean' || Array.isArray(v)) out.push([value, k]);
      if (v && typeof v === 'object') slots(v, out);
    }
  }
  return out;
}

/**
 * Case `n` of the model.json fuzz: `{ n, kind, modelJson, weights }` from a seed `{ modelJson: string, weights: Uint8Array }`.
 */
export function tfjsCase(seed, n) {
  const r = rng(0x85ebca6b ^ (n * 2246822519));
  const kind = pick(r, [
    'json-truncate',
    'json-flip',
    'json-flip',
    'json-field',
    'json-field',
    'json-path',
    'weights-flip',
    'weights-truncate',
    'weights-extend',
  ]);
  let modelJson = seed.modelJson;
  let weights = seed.weights;
  let what = kind;
  if (kind === 'json-truncate') modelJson = modelJson.slice(0, Math.floor(r() * modelJson.length));
  else if (kind === 'json-flip') {
    const chars = [...modelJson];
    const i = Math.floor(r() * chars.length);
    chars[i] = String.fromCharCode(chars[i].charCodeAt(0) ^ (1 << Math.floor(r() * 7)));
    modelJson = chars.join('');
  } else if (kind === 'json-field') {
    const json = JSON.parse(modelJson);
    const [holder, key] = pick(r, slots(json));
    const value = pick(r, JSON_EXTREMES);
    holder[key] = value;
    what = `json-field ${String(key)}=${JSON.stringify(value)}`;
    modelJson = JSON.stringify(json);
  } else if (kind === 'json-path') {
    const json = JSON.parse(modelJson);
    const path = pick(r, HOSTILE_PATHS);
    json.weightsManifest[0].paths = [path];
    what = `json-path ${JSON.stringify(path.slice(0, 40))}`;
    modelJson = JSON.stringify(json);
  } else if (kind === 'weights-flip') {
    // Any bytes are float32 values (NaN included): this loads.
    weights = new Uint8Array(weights);
    for (let i = 0; i < 8; i++) weights[Math.floor(r() * weights.length)] ^= 1 << Math.floor(r() * 8);
  } else if (kind === 'weights-truncate') weights = weights.subarray(0, Math.floor(r() * weights.length));
  else {
    const longer = new Uint8Array(weights.length + 1 + Math.floor(r() * 64));
    longer.set(weights);
    weights = longer;
  }
  return { n, kind: what, modelJson, weights };
}

/**
 * Runs one case with `run` (which loads it, or throws) and judges the result: `ok` (loaded),
 * `refused` (an Error naming `name`), or `bad` with why.
 */
export async function judge(name, run) {
  const t0 = performance.now();
  let outcome = 'ok';
  let message = '';
  try {
    await run();
  } catch (e) {
    outcome = 'refused';
    message = e instanceof Error ? e.message : String(e);
    const engine = [e, e?.cause].find((x) => x instanceof TypeError || x instanceof RangeError);
    if (!(e instanceof Error)) outcome = 'bad: threw something that is not an Error';
    else if (!e.message) outcome = 'bad: an Error without a message';
    else if (!e.message.startsWith(`${name}: `)) outcome = 'bad: the message does not start with the file name';
    else if (engine) outcome = `bad: an engine error (${engine.name}) slipped through`;
  }
  return { outcome, message, ms: performance.now() - t0 };
}
