// The three Adam optimisers' state (moment estimates, the running β^t products, step counts)
// as one self-describing binary file, restored bit for bit so that a resumed run takes exactly
// the steps an uninterrupted one would.
//
// tfjs's own `getWeights`/`setWeights` are not enough: `setWeights` recomputes β^t as
// pow(β, t + 1), which differs in the last bits from the running product that `applyGradients`
// keeps (so a resumed run would drift), and it leaks the moment variables it replaces.
import * as tf from '@tensorflow/tfjs-core';
import type { CUTModel, NetName } from '../cut-model.js';
import { adamInternals } from './adam.js';

const MAGIC = 'CUTADAM1';
const NETS: readonly NetName[] = ['G', 'D', 'F'];

/** One optimiser's state: moments per parameter (reference name, shape), in the model's parameter order. */
export interface AdamStateHeader {
  /** Steps taken. */
  iterations: number;
  /** β1^(t+1) and β2^(t+1) as float32 values (the running products Adam divides by). */
  accBeta1: number;
  accBeta2: number;
  params: Array<{ name: string; shape: number[] }>;
}

export type OptimizerStates = Partial<Record<NetName, AdamStateHeader>>;

/**
 * Encodes the state of the model's optimisers: an 8-byte magic, a little-endian uint32 header
 * length, the JSON header ({ G, D, F } → `AdamStateHeader`), zero padding to a multiple of 4,
 * then every parameter's first moment followed by its second moment, as little-endian float32,
 * G's parameters first, then D's, then F's.
 */
export async function encodeOptimizerStates(model: CUTModel): Promise<Uint8Array[]> {
  const header: OptimizerStates = {};
  const tensors: tf.Tensor[] = [];
  for (const net of NETS) {
    const opt = model.optimizer(net);
    if (!opt) continue;
    const a = adamInternals(opt);
    const named = model.named(net);
    const count = a.accumulatedFirstMoment.length;
    if (count !== 0 && count !== named.length) {
      throw new Error(`optimizer state: ${net}'s Adam has moments for ${count} variables, the network has ${named.length} parameters`);
    }
    const [b1, b2] = (await Promise.all([a.accBeta1.data(), a.accBeta2.data()])) as Float32Array[];
    header[net] = {
      iterations: opt.iterations,
      accBeta1: b1![0]!,
      accBeta2: b2![0]!,
      params: count === 0 ? [] : named.map(([name, v]) => ({ name, shape: [...v.shape] })),
    };
    for (let i = 0; i < count; i++) tensors.push(a.accumulatedFirstMoment[i]!.variable, a.accumulatedSecondMoment[i]!.variable);
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  const head = Buffer.alloc(MAGIC.length + 4 + json.length + pad);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.length, MAGIC.length);
  json.copy(head, MAGIC.length + 4);
  const chunks: Uint8Array[] = [head];
  for (const t of tensors) {
    const data = (await t.data()) as Float32Array;
    chunks.push(littleEndianFloat32(data));
  }
  return chunks;
}

const LITTLE_ENDIAN = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

/** Float32 values as little-endian bytes (a copy, so later writes to the source do not matter). */
function littleEndianFloat32(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/** Parses `encodeOptimizerStates` bytes; `file` names them in errors. */
export function decodeOptimizerStates(bytes: Uint8Array, file: string): { header: OptimizerStates; moments: Map<string, Float32Array> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new Error(`${file}: not an optimizer state file (no ${MAGIC} magic)`);
  }
  const len = buf.readUInt32LE(MAGIC.length);
  let header: OptimizerStates;
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + len)) as OptimizerStates;
  } catch (e) {
    throw new Error(`${file}: corrupt header (${(e as Error).message})`, { cause: e });
  }
  let offset = MAGIC.length + 4 + len;
  offset += (4 - (offset % 4)) % 4;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const moments = new Map<string, Float32Array>();
  for (const net of NETS) {
    for (const p of header[net]?.params ?? []) {
      const n = p.shape.reduce((x, y) => x * y, 1);
      for (const which of ['m', 'v']) {
        if (offset + n * 4 > buf.length) throw new Error(`${file}: truncated (${buf.length} bytes; ${net} ${p.name} ${which} needs more)`);
        let a: Float32Array;
        if (LITTLE_ENDIAN) a = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + n * 4));
        else {
          a = new Float32Array(n);
          for (let i = 0; i < n; i++) a[i] = view.getFloat32(offset + i * 4, true);
        }
        moments.set(`${net}/${p.name}/${which}`, a);
        offset += n * 4;
      }
    }
  }
  if (offset !== buf.length) throw new Error(`${file}: ${buf.length - offset} unexpected trailing bytes`);
  return { header, moments };
}

/**
 * Puts saved optimiser state into the model's optimisers (F's must exist: call
 * `dataDependentInitialize` first). Parameters are matched by name and shape; any mismatch
 * is an error naming the file and the parameter, before anything is changed.
 */
export function restoreOptimizerStates(model: CUTModel, bytes: Uint8Array, file: string): void {
  const { header, moments } = decodeOptimizerStates(bytes, file);
  const plans: Array<{ net: NetName; opt: tf.AdamOptimizer; state: AdamStateHeader; named: ReturnType<CUTModel['named']> }> = [];
  for (const net of NETS) {
    const state = header[net];
    const opt = model.optimizer(net);
    if (!state && !opt) continue;
    if (!state) throw new Error(`${file}: no state for ${net}'s optimizer`);
    if (!opt) throw new Error(`${file}: has state for ${net}'s optimizer, but this model has none (different netF or lambda_NCE?)`);
    const named = model.named(net);
    if (state.params.length > 0) {
      if (state.params.length !== named.length) {
        throw new Error(`${file}: ${net}'s optimizer state covers ${state.params.length} parameters, the network has ${named.length}`);
      }
      state.params.forEach((p, i) => {
        const [name, v] = named[i]!;
        if (p.name !== name || p.shape.length !== v.shape.length || p.shape.some((d, k) => d !== v.shape[k])) {
          throw new Error(`${file}: ${net} parameter ${i} is ${p.name} [${p.shape}] in the state, ${name} [${v.shape}] in the model`);
        }
      });
    }
    plans.push({ net, opt, state, named });
  }
  for (const { net, opt, state, named } of plans) {
    const a = adamInternals(opt);
    tf.dispose([...a.accumulatedFirstMoment, ...a.accumulatedSecondMoment].flatMap((m) => (m ? [m.variable] : [])));
    const make = (which: 'm' | 'v') =>
      state.params.map((p, i) => {
        const values = tf.tensor(moments.get(`${net}/${p.name}/${which}`)!, p.shape, 'float32');
        const variable = tf.variable(values, false);
        values.dispose(); // the variable holds its own reference to the data
        return { originalName: `${named[i]![1].name}/${which}`, variable };
      });
    a.accumulatedFirstMoment = make('m');
    a.accumulatedSecondMoment = make('v');
    for (const [target, value] of [
      [a.accBeta1, state.accBeta1],
      [a.accBeta2, state.accBeta2],
    ] as const) {
      const s = tf.scalar(value, 'float32');
      target.assign(s);
      s.dispose();
    }
    a.iterations_ = state.iterations;
  }
}
