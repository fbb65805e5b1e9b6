// Test helper (not exported): FID Inception weights that tests can make without the 92 MB file.
// Every conv weight comes from a hash formula that tools/golden/fid_inception.py reproduces bit for
// bit; the batch norms come from a small golden file (calibrated on photos) or are the identity.
import type { StateDict } from '@cut/networks';
import { FID_INCEPTION_CONVS } from './inception.js';

/** FNV-1a over the key's bytes, then a murmur3 finaliser per element: uniform in [-1, 1) * sqrt(3 / fan_in), as float32. */
export function formulaConvWeight(key: string, count: number, fanIn: number): Float32Array {
  let seed = 0x811c9dc5;
  for (const ch of Buffer.from(key, 'ascii')) seed = Math.imul(seed ^ ch, 0x01000193) >>> 0;
  const scale = Math.sqrt(3 / fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let h = (seed ^ Math.imul(i, 0x9e3779b9)) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    out[i] = (((h >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** A full FID Inception state_dict: formula conv weights; batch norms from `bn` (a state_dict) or identity. */
export function formulaInceptionStateDict(bn?: StateDict): StateDict {
  const sd: StateDict = new Map();
  for (const c of FID_INCEPTION_CONVS) {
    const [kh, kw] = c.kernel;
    const key = `${c.name}.conv.weight`;
    sd.set(key, {
      dtype: 'float32',
      shape: [c.outChannels, c.inChannels, kh, kw],
      data: formulaConvWeight(key, c.outChannels * c.inChannels * kh * kw, c.inChannels * kh * kw),
    });
    for (const [p, v] of [
      ['weight', 1],
      ['bias', 0],
      ['running_mean', 0],
      ['running_var', 1],
    ] as const) {
      const name = `${c.name}.bn.${p}`;
      const given = bn?.get(name);
      sd.set(name, given ?? { dtype: 'float32', shape: [c.outChannels], data: new Float32Array(c.outChannels).fill(v) });
    }
  }
  return sd;
}
