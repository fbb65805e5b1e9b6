/**
 * A small seeded pseudo-random generator: xoshiro128** (Blackman & Vigna) on four 32-bit
 * words, seeded from one number through splitmix32. Only 32-bit integer arithmetic is used
 * (`Math.imul`, shifts), so a seed gives the same stream on every platform and engine.
 * It is not numpy's generator: the reference's draws cannot be reproduced bit for bit,
 * only their distribution.
 */

/** Plain JSON-able snapshot of a `SeededRng`, for resuming a run exactly. */
export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four state words, as unsigned 32-bit integers. */
  s: [number, number, number, number];
  /** Second normal of the last Box–Muller pair, not yet returned (null when none). */
  spareNormal: number | null;
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** splitmix32: spreads a (possibly poor) seed over well-mixed 32-bit words. */
function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Folds any finite number (integers beyond 2^32 and fractions included) into 32 bits. */
function seedWord(seed: number): number {
  if (!Number.isFinite(seed)) throw new Error(`SeededRng: seed must be a finite number, got ${seed}`);
  if (Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff) return seed >>> 0;
  // Mix the two halves of the float64 bit pattern so that nearby seeds differ.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, seed);
  return (view.getUint32(0) ^ Math.imul(view.getUint32(4), 0x9e3779b1)) >>> 0;
}

export class SeededRng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed: number = 0) {
    const next = splitmix32(seedWord(seed));
    for (let i = 0; i < 4; i++) this.s[i] = next();
    // The all-zero state is the one fixed point of xoshiro; splitmix32 cannot produce it
    // for all four words, but guard anyway.
    if (this.s.every((w) => w === 0)) this.s[0] = 1;
  }

  /** A generator seeded from `Math.random` (not reproducible, like the reference's numpy draws). */
  static unseeded(): SeededRng {
    return new SeededRng(Math.floor(Math.random() * 0x100000000));
  }

  /** Restores a generator from `getState()`. */
  static fromState(state: RngState): SeededRng {
    const rng = new SeededRng(0);
    rng.setState(state);
    return rng;
  }

  /** Next raw unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.s;
    let s0 = s[0]!,
      s1 = s[1]!,
      s2 = s[2]!,
      s3 = s[3]!;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    // The Uint32Array store wraps the signed intermediates back to unsigned words.
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.random();
  }

  /** Uniform integer in [0, n), without modulo bias. `n` up to 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new Error(`SeededRng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Reject the top partial block of the 32-bit range so every residue is equally likely.
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform integer in [low, high) (high exclusive). */
  integer(low: number, high: number): number {
    return low + this.int(high - low);
  }

  /** Standard normal (or N(mean, std²)) by the Box–Muller transform; pairs are cached. */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.spare !== null) {
      z = this.spare;
      this.spare = null;
    } else {
      // 1 - random() is in (0, 1], so the log is finite.
      const r = Math.sqrt(-2 * Math.log(1 - this.random()));
      const theta = 2 * Math.PI * this.random();
      z = r * Math.cos(theta);
      this.spare = r * Math.sin(theta);
    }
    return mean + std * z;
  }

  /** `n` normals N(mean, std²) as float32. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** `n` uniforms in [low, high) as float32. */
  uniformArray(n: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /**
   * A uniformly random permutation of 0..n-1 (forward Fisher–Yates: position i takes a
   * random element of positions i..n-1). Its first k entries depend on the first k draws
   * only, which is what `randomPatchIds` relies on.
   */
  permutation(n: number): Int32Array {
    return this.partialShuffle(n, n);
  }

  /**
   * `min(k, n)` distinct ids drawn uniformly from 0..n-1, in random order: the first
   * entries of `permutation(n)` from the same state (the reference's
   * `np.random.permutation(H*W)[:min(k, H*W)]`), at the cost of k draws instead of n.
   */
  randomPatchIds(n: number, k: number): number[] {
    return Array.from(this.partialShuffle(n, Math.min(k, n)));
  }

  private partialShuffle(n: number, k: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new Error(`SeededRng: n must be a non-negative integer, got ${n}`);
    if (!Number.isInteger(k) || k < 0) throw new Error(`SeededRng: k must be a non-negative integer, got ${k}`);
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    for (let i = 0; i < k && i < n - 1; i++) {
      const j = i + this.int(n - i);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return k === n ? a : a.slice(0, k);
  }

  getState(): RngState {
    const [a, b, c, d] = this.s;
    return { algorithm: 'xoshiro128**', s: [a!, b!, c!, d!], spareNormal: this.spare };
  }

  setState(state: RngState): void {
    if (state?.algorithm !== 'xoshiro128**' || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new Error('SeededRng.setState: not a xoshiro128** state');
    }
    const words = state.s.map((w) => {
      if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new Error(`SeededRng.setState: bad state word ${w}`);
      return w;
    });
    if (words.every((w) => w === 0)) throw new Error('SeededRng.setState: the all-zero state is invalid');
    this.s.set(words);
    this.spare = state.spareNormal ?? null;
  }

  /** An independent copy at the same point of the stream. */
  clone(): SeededRng {
    return SeededRng.fromState(this.getState());
  }
}
