// A network's forward pass computed tile by tile, with the same result as on the whole image.
//
// Instance normalisation needs statistics over the whole image, so independent tiles can't give
// the whole-image result. Here the network runs one stage at a time (the modules between two
// normalisations): every stage is computed in tiles, each read with a halo wide enough that its
// interior does not see the tile's edge, into a full feature map in host memory, gathering the
// map's per-channel moments on the way; the next stage applies the norm to each tile it reads.
// Backend memory holds one tile of one stage; host memory a few full feature maps (the stage's
// input and output, and a residual block's input).
import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from './contract.js';
import type { Module } from './modules.js';

/** An image or feature map in host memory: HWC float32, one sample. */
export interface HostMap {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

export interface TiledForwardOptions {
  /**
   * Tile side in input pixels: a multiple of 4, at least 16. Stages at lower resolution use
   * proportionally smaller tiles.
   */
  tile: number;
  /** Training mode (only dropout differs). Default false. */
  training?: boolean;
  /** Instance normalisation's epsilon (the reference's: 1e-5). */
  eps?: number;
  /** Called after each stage with the number done and the total. */
  onStage?: (done: number, total: number) => void;
  /**
   * Runs a stage's modules on one tile (an HWC host crop, its pending norm already applied) and
   * returns the whole result, HWC: another runtime for the stages (ONNX Runtime, `modulesToOnnx`).
   * Default: the modules' tfjs `apply` on the current backend.
   */
  runStage?: StageRunner;
}

/** A stage's modules on an HWC host crop, to an HWC host map (see `TiledForwardOptions.runStage`). */
export type StageRunner = (modules: readonly Module[], crop: HostMap) => Promise<HostMap>;

type Op = { kind: 'stage'; modules: Module[] } | { kind: 'norm' } | { kind: 'save' } | { kind: 'add' };

/**
 * The modules as a flat program: each run of modules between norms is one stage (computed in
 * tiles); residual blocks are opened up into save / branch / add.
 */
function program(modules: readonly Module[], ops: Op[] = []): Op[] {
  for (const m of modules) {
    const last = ops.at(-1);
    if (m.type === 'InstanceNorm2d') ops.push({ kind: 'norm' });
    else if (m.residual) {
      ops.push({ kind: 'save' });
      program(m.residual, ops);
      ops.push({ kind: 'add' });
    } else if (last?.kind === 'stage') last.modules.push(m);
    else ops.push({ kind: 'stage', modules: [m] });
  }
  return ops;
}

/** Per-channel statistics of a full map, gathered tile by tile: count, mean, sum of squared deviations (float64). */
class ChannelMoments {
  n = 0;
  mean: Float64Array;
  m2: Float64Array;

  constructor(channels: number) {
    this.mean = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
  }

  /** Merges a tile's moments (Chan et al.'s pairwise update, so no digits are lost to E[x^2] - E[x]^2). */
  add(n: number, mean: Float32Array, m2: Float32Array): void {
    const total = this.n + n;
    for (let k = 0; k < this.mean.length; k++) {
      const delta = mean[k]! - this.mean[k]!;
      this.mean[k]! += (delta * n) / total;
      this.m2[k]! += m2[k]! + (delta * delta * this.n * n) / total;
    }
    this.n = total;
  }

  /** Instance norm's shift and scale: mean and 1 / sqrt(biased variance + eps). */
  normalization(eps: number): PendingNorm {
    const c = this.mean.length;
    const rstd = new Float32Array(c);
    for (let k = 0; k < c; k++) rstd[k] = 1 / Math.sqrt(this.m2[k]! / this.n + eps);
    return { mean: Float32Array.from(this.mean), rstd };
  }
}

/** An instance norm not yet applied to a map: the next stage applies it to each tile it reads. */
interface PendingNorm {
  mean: Float32Array;
  rstd: Float32Array;
}

/** A full feature map in host memory, possibly with its instance norm still to apply. */
interface StageMap {
  map: HostMap;
  norm?: PendingNorm;
}

/**
 * A generator that declares tiles (`sizing.tiled`, its `tiledModules`) applied to one image in
 * tiles of `options.tile` pixels: the whole-image result (up to float rounding), with backend
 * memory for one tile at a time. The image's sides must be multiples of 4 (pad it first, as
 * whole-image translation does).
 */
export async function forwardTiled(
  network: Pick<Generator, 'tiledModules' | 'className'>,
  image: HostMap,
  options: TiledForwardOptions,
): Promise<HostMap> {
  if (!network.tiledModules) throw new Error(`tiled forward: this ${network.className} does not run in tiles`);
  const { tile, training = false, eps = 1e-5 } = options;
  if (!Number.isInteger(tile) || tile < 16 || tile % 4 !== 0) throw new Error(`tile must be a multiple of 4 and at least 16, got ${tile}`);
  if (image.height % 4 !== 0 || image.width % 4 !== 0)
    throw new Error(`tiled forward: image sides must be multiples of 4, got ${image.width}x${image.height}`);
  if (image.data.length !== image.height * image.width * image.channels) throw new Error('tiled forward: image data does not match its size');
  const ops = program(network.tiledModules);
  const total = ops.filter((op) => op.kind === 'stage').length;
  let done = 0;
  let current: StageMap = { map: image };
  /** Moments of the last stage's output, when a norm follows it. */
  let moments: ChannelMoments | null = null;
  /** Resolution of `current` relative to the input image. */
  let res = 1;
  const saved: HostMap[] = [];
  // Feature maps no longer needed are reused for later stages' outputs: fresh buffers of tens of
  // MiB cost their zeroing and, on VMs that charge for first-touched pages, their page faults.
  const pool = new MapPool();
  const doneWith = (m: HostMap) => {
    if (m !== image && !saved.includes(m)) pool.give(m.data);
  };
  for (const [i, op] of ops.entries()) {
    if (op.kind === 'stage') {
      const scale = op.modules.reduce((s, m) => s * m.scale, 1);
      const out = options.runStage
        ? await runHostStage(options.runStage, op.modules, current, tile * res * scale, ops[i + 1]?.kind === 'norm', pool)
        : await runStage(op.modules, current, tile * res * scale, training, ops[i + 1]?.kind === 'norm', pool);
      doneWith(current.map);
      current = { map: out.map };
      moments = out.moments;
      res *= scale;
      options.onStage?.(++done, total);
    } else if (op.kind === 'norm') {
      if (ops[i - 1]?.kind !== 'stage' || !moments) throw new Error('tiled forward: an instance norm must follow a convolution');
      current = { map: current.map, norm: moments.normalization(eps) };
    } else if (op.kind === 'save') {
      const map = materialize(current);
      current = { map };
      saved.push(map);
    } else {
      const skip = saved.pop()!;
      const map = current.map === skip || current.map === image ? { ...current.map, data: current.map.data.slice() } : current.map;
      addInPlace(map, skip, current.norm);
      current = { map };
      if (skip !== map) doneWith(skip);
    }
  }
  return materialize(current);
}

/** Float32Arrays handed back for reuse, by length. */
class MapPool {
  private readonly free = new Map<number, Float32Array[]>();

  give(data: Float32Array): void {
    const list = this.free.get(data.length) ?? [];
    if (!list.includes(data)) list.push(data);
    this.free.set(data.length, list);
  }

  /** A buffer of `length` floats, with whatever it held before (callers write every element). */
  take(length: number): Float32Array {
    return this.free.get(length)?.pop() ?? new Float32Array(length);
  }
}

/** The map with its pending norm applied, in place (a pending norm is only ever on a stage's own output). */
function materialize(m: StageMap): HostMap {
  if (!m.norm) return m.map;
  const { map } = m;
  const { mean, rstd } = m.norm;
  const { data, channels: c } = map;
  for (let i = 0; i < data.length; i += c) for (let k = 0; k < c; k++) data[i + k] = (data[i + k]! - mean[k]!) * rstd[k]!;
  m.norm = undefined;
  return map;
}

/**
 * One stage over the whole map in output tiles of `tileOut` pixels. Each tile's input is read with
 * a halo of the stage's reach (in input pixels), cut to the image: where the cut is the image's
 * own border the modules pad exactly as on the whole image, and elsewhere whatever the modules
 * do at the cut stays within the halo. With `moments`, also the per-channel moments of the
 * output, for the instance norm that follows.
 */
async function runStage(
  modules: readonly Module[],
  source: StageMap,
  tileOut: number,
  training: boolean,
  moments: boolean,
  pool: MapPool,
): Promise<{ map: HostMap; moments: ChannelMoments | null }> {
  const input = source.map;
  const { halo, scale, outH, outW } = stageGeometry(modules, input, tileOut);
  const norm = source.norm ? tf.tidy(() => [tf.tensor1d(source.norm!.mean), tf.tensor1d(source.norm!.rstd)] as const) : null;
  let out: Float32Array | undefined;
  let stats: ChannelMoments | null = null;
  // One buffer for every tile's input crop (tf.tensor4d copies it into the backend at once).
  const scratch = { data: new Float32Array(0) };
  let channels = 0;
  try {
    // Tiles don't overlap (their moments are added up); the last in a row or column may be smaller.
    for (const { oy, ox, th, tw, x0, y0, x1, y1 } of stageTiles(input, { halo, scale, outH, outW }, tileOut)) {
      const crop = cropMap(input, x0, y0, x1 - x0, y1 - y0, scratch);
      const result = tf.tidy(() => {
        let h: tf.Tensor4D = tf.tensor4d(crop.data, [1, crop.height, crop.width, crop.channels]);
        if (norm) h = tf.mul(tf.sub(h, norm[0]), norm[1]);
        for (const m of modules) h = m.apply(h, training);
        const [, hh, hw] = h.shape;
        if (hh !== crop.height * scale || hw !== crop.width * scale) {
          throw new Error(`tiled forward: a stage turned ${crop.width}x${crop.height} into ${hw}x${hh}, not a scale of ${scale}`);
        }
        // This tile's part of the output: rows oy.., columns ox..
        const interior = tf.slice(h, [0, oy - y0 * scale, ox - x0 * scale, 0], [1, th, tw, -1]);
        if (!moments) return [interior];
        const mean = tf.avgPool(interior, [th, tw], 1, 'valid');
        const m2 = tf.mul(tf.avgPool(tf.square(tf.sub(interior, mean)) as tf.Tensor4D, [th, tw], 1, 'valid'), th * tw);
        return [interior, mean, m2];
      });
      const [values, mean, m2] = (await Promise.all(result.map((t) => t.data()))) as Float32Array[];
      tf.dispose(result);
      channels = result[0]!.shape[3]!;
      // Every element is written: the tiles' interiors cover the map exactly.
      out ??= pool.take(outH * outW * channels);
      for (let r = 0; r < th; r++) out.set(values!.subarray(r * tw * channels, (r + 1) * tw * channels), ((oy + r) * outW + ox) * channels);
      if (moments) {
        stats ??= new ChannelMoments(channels);
        stats.add(th * tw, mean!, m2!);
      }
    }
  } finally {
    if (norm) tf.dispose([...norm]);
  }
  return { map: { data: out!, height: outH, width: outW, channels }, moments: stats };
}

/**
 * A stage's output tiles, row by row (they don't overlap; the last in a row or column may be
 * smaller), each with the window of the stage's input it reads: the tile scaled back, plus the halo.
 */
function* stageTiles(input: HostMap, g: { halo: number; scale: number; outH: number; outW: number }, tileOut: number) {
  for (let oy = 0; oy < g.outH; oy += tileOut) {
    const th = Math.min(tileOut, g.outH - oy);
    for (let ox = 0; ox < g.outW; ox += tileOut) {
      const tw = Math.min(tileOut, g.outW - ox);
      // Tile origins are multiples of tileOut, which is even where a stage upsamples: whole input pixels.
      const y0 = Math.max(0, oy / g.scale - g.halo);
      const x0 = Math.max(0, ox / g.scale - g.halo);
      const y1 = Math.min(input.height, (oy + th) / g.scale + g.halo);
      const x1 = Math.min(input.width, (ox + tw) / g.scale + g.halo);
      yield { oy, ox, th, tw, x0, y0, x1, y1 };
    }
  }
}

/** A stage's halo in its input's pixels (aligned to its stride), its scale and its output size. */
function stageGeometry(modules: readonly Module[], input: HostMap, tileOut: number) {
  // The halo: each module's reach, in pixels of the stage's input.
  let halo = 0;
  let scale = 1;
  for (const m of modules) {
    halo += m.reach / scale;
    scale *= m.scale;
  }
  // Downsampling stages start every tile on their stride, so the output grid stays aligned.
  const stride = scale < 1 ? Math.round(1 / scale) : 1;
  halo = Math.ceil(Math.ceil(halo) / stride) * stride;
  const outH = input.height * scale;
  const outW = input.width * scale;
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || !Number.isInteger(tileOut)) {
    throw new Error(`tiled forward: a ${input.width}x${input.height} map does not scale by ${scale} in whole pixels`);
  }
  return { halo, scale, outH, outW };
}

/**
 * `runStage` with the tiles computed by `runner` on host maps: the same tiles and halos; the
 * pending norm, the interior's copy and its moments (float64) on the host.
 */
async function runHostStage(
  runner: StageRunner,
  modules: readonly Module[],
  source: StageMap,
  tileOut: number,
  moments: boolean,
  pool: MapPool,
): Promise<{ map: HostMap; moments: ChannelMoments | null }> {
  const input = source.map;
  const { halo, scale, outH, outW } = stageGeometry(modules, input, tileOut);
  let out: Float32Array | undefined;
  let stats: ChannelMoments | null = null;
  let channels = 0;
  for (const { oy, ox, th, tw, x0, y0, x1, y1 } of stageTiles(input, { halo, scale, outH, outW }, tileOut)) {
    const crop = cropMap(input, x0, y0, x1 - x0, y1 - y0, { data: new Float32Array(0) });
    const data = crop.data === input.data ? crop.data.slice() : crop.data;
    if (source.norm) {
      const { mean, rstd } = source.norm;
      const c = crop.channels;
      for (let i = 0; i < data.length; i += c) for (let k = 0; k < c; k++) data[i + k] = (data[i + k]! - mean[k]!) * rstd[k]!;
    }
    const h = await runner(modules, { ...crop, data });
    if (h.height !== crop.height * scale || h.width !== crop.width * scale) {
      throw new Error(`tiled forward: a stage turned ${crop.width}x${crop.height} into ${h.width}x${h.height}, not a scale of ${scale}`);
    }
    channels = h.channels;
    out ??= pool.take(outH * outW * channels);
    const c = channels;
    const mean = new Float64Array(c);
    const m2 = new Float64Array(c);
    const top = oy - y0 * scale;
    const left = ox - x0 * scale;
    for (let r = 0; r < th; r++) {
      const from = ((top + r) * h.width + left) * c;
      const row = h.data.subarray(from, from + tw * c);
      out.set(row, ((oy + r) * outW + ox) * c);
      if (moments) for (let i = 0; i < row.length; i++) mean[i % c]! += row[i]!;
    }
    if (moments) {
      const n = th * tw;
      for (let k = 0; k < c; k++) mean[k]! /= n;
      for (let r = 0; r < th; r++) {
        const from = ((top + r) * h.width + left) * c;
        for (let i = 0; i < tw * c; i++) {
          const d = h.data[from + i]! - mean[i % c]!;
          m2[i % c]! += d * d;
        }
      }
      stats ??= new ChannelMoments(c);
      stats.add(n, Float32Array.from(mean), Float32Array.from(m2));
    }
  }
  return { map: { data: out!, height: outH, width: outW, channels }, moments: stats };
}

function cropMap(m: HostMap, x0: number, y0: number, w: number, h: number, scratch: { data: Float32Array }): HostMap {
  const c = m.channels;
  if (x0 === 0 && y0 === 0 && w === m.width && h === m.height) return m;
  if (scratch.data.length < w * h * c) scratch.data = new Float32Array(w * h * c);
  const data = scratch.data.subarray(0, w * h * c);
  for (let r = 0; r < h; r++) {
    const from = ((y0 + r) * m.width + x0) * c;
    data.set(m.data.subarray(from, from + w * c), r * w * c);
  }
  return { data, width: w, height: h, channels: c };
}

/** m += skip, or m = skip + norm(m) when m's instance norm is pending (a residual block's end). */
function addInPlace(m: HostMap, skip: HostMap, norm: PendingNorm | undefined): void {
  if (skip.data.length !== m.data.length) throw new Error('tiled forward: residual shapes differ');
  const { data, channels: c } = m;
  if (!norm) {
    for (let i = 0; i < data.length; i++) data[i]! += skip.data[i]!;
    return;
  }
  const { mean, rstd } = norm;
  for (let i = 0; i < data.length; i += c) for (let k = 0; k < c; k++) data[i + k] = skip.data[i + k]! + (data[i + k]! - mean[k]!) * rstd[k]!;
}
