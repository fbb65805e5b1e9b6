// The reference's other netF heads (networks.py: ReshapeF, PoolingF, StridedConvF) and the
// choice of a head by name (define_F). Each head takes the list of feature maps CUT extracts
// and returns rows for PatchNCE, like PatchSampleF.
//
// The reference's CUT cannot run these three: its `--netF` accepts only sample, reshape and
// mlp_sample, and `calculate_NCE_loss` calls `netF(feats, num_patches, patch_ids)` while their
// forward takes one tensor (a TypeError). Here each head is applied to every level in turn (so
// StridedConvF keeps its per-size layers and moving averages as the reference's would), the
// patch count and ids are ignored, and the output is laid out as PatchNCE's rows, image-major:
// reshape gives 16 rows per image (its 4x4 grid), global_pool 1 (with CUT's negatives from the
// same image it has none: use --nce_includes_all_negatives_from_minibatch), strided_conv one
// per output position.
import {
  add,
  conv2d,
  matMul,
  max,
  relu,
  reshape,
  sub,
  tensor2d,
  tidy,
  transpose,
  variable,
  keep,
  mul,
  type Tensor,
  type Tensor2D,
  type Tensor4D,
  type Variable,
} from '@tensorflow/tfjs-core';
import { initBias, initWeight, l2Normalize, offTape, SeededRng, type InitType } from '@cut/core-tensors';
import { PatchSampleF, type PatchSampleFOptions, type PatchSampleResult } from './patch-sample-f.js';
import type { QueryAttention } from './query-selection.js';

/** The reference's `--netF` names. */
export const NET_F_NAMES = ['mlp_sample', 'sample', 'reshape', 'global_pool', 'strided_conv'] as const;
export type NetFName = (typeof NET_F_NAMES)[number];

/** What CUT needs of netF, whichever head it is. */
export interface FeatureHead {
  /** Its `--netF` name. */
  readonly netF: NetFName;
  /** Whether it samples patch positions (draws ids, or reuses given ones); the others ignore them. */
  readonly samplesPatches: boolean;
  /**
   * NHWC maps [B, H, W, C], one per level, to one [B·P, C'] tensor of unit rows per level
   * (row b·P + p). `attention`: what a source call returned as `attention`, for PatchSampleF's
   * query selection (the other heads ignore it). The caller owns the returned tensors.
   */
  forward(
    feats: Tensor4D[],
    numPatches?: number,
    patchIds?: readonly (Int32Array | readonly number[] | null | undefined)[] | null,
    attention?: readonly (QueryAttention | null | undefined)[] | null,
  ): PatchSampleResult;
  /** Trainable variables under the reference's names, in state_dict order. */
  namedVariables(): Record<string, Variable>;
  trainableVariables(): Variable[];
  /** Weights under the reference's names in PyTorch layout; new tensors the caller disposes. */
  getWeights(): Record<string, Tensor>;
  /** Strict load of weights named as `getWeights` returns them. */
  setWeights(weights: Record<string, Tensor>): void;
  dispose(): void;
}

/** netF by name, as the reference's `define_F` builds it (`nc`, init: see PatchSampleFOptions). */
export function createFeatureHead(netF: NetFName, options: Omit<PatchSampleFOptions, 'useMlp'> = {}): FeatureHead {
  switch (netF) {
    case 'mlp_sample':
    case 'sample':
      return new PatchSampleF({ ...options, useMlp: netF === 'mlp_sample' });
    case 'reshape':
      return new ReshapeF();
    case 'global_pool':
      return new PoolingF();
    case 'strided_conv':
      return new StridedConvF(options);
    default:
      throw new Error(`netF '${String(netF)}' is not one of ${NET_F_NAMES.join(', ')}`);
  }
}

function checkFeats(who: string, feats: Tensor4D[]): void {
  if (!Array.isArray(feats) || feats.length === 0) throw new Error(`${who}.forward: feats must be a non-empty list`);
  feats.forEach((f, i) => {
    if (f.rank !== 4) throw new Error(`${who}.forward: feats[${i}] must be NHWC rank 4, got [${f.shape}]`);
  });
}

/** A head without parameters: forward is one function per level. */
abstract class ParameterFreeHead implements FeatureHead {
  abstract readonly netF: NetFName;
  readonly samplesPatches = false;
  private disposed = false;

  protected abstract level(feat: Tensor4D): Tensor2D;

  forward(feats: Tensor4D[]): PatchSampleResult {
    if (this.disposed) throw new Error(`${this.constructor.name}: used after dispose()`);
    checkFeats(this.constructor.name, feats);
    return { features: feats.map((f) => tidy(() => this.level(f))), ids: feats.map(() => []) };
  }
  namedVariables(): Record<string, Variable> {
    return {};
  }
  trainableVariables(): Variable[] {
    return [];
  }
  getWeights(): Record<string, Tensor> {
    return {};
  }
  setWeights(weights: Record<string, Tensor>): void {
    const names = Object.keys(weights);
    if (names.length > 0) throw new Error(`${this.constructor.name}.setWeights: it has no parameters, got [${names.join(', ')}]`);
  }
  dispose(): void {
    this.disposed = true;
  }
}

/**
 * torch's `AdaptiveAvgPool2d` bins as a [out, n] averaging matrix: bin i covers
 * floor(i·n/out) .. ceil((i+1)·n/out) - 1 (bins overlap when out does not divide n).
 */
function adaptiveAverageMatrix(out: number, n: number): Tensor2D {
  const m = new Float32Array(out * n);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * n) / out);
    const end = Math.ceil(((i + 1) * n) / out);
    for (let j = start; j < end; j++) m[i * n + j] = 1 / (end - start);
  }
  return tensor2d(m, [out, n]);
}

/** [B, H, W, C] → AdaptiveAvgPool2d((oh, ow)) → [B, oh, ow, C], as two matrix products. */
function adaptiveAvgPool(x: Tensor4D, oh: number, ow: number): Tensor4D {
  const [b, h, w, c] = x.shape;
  // Rows first: [H, B·W·C] → [oh, B·W·C].
  const rows = matMul(adaptiveAverageMatrix(oh, h), reshape(transpose(x, [1, 0, 2, 3]), [h, b * w * c]));
  // Then columns: [W, B·oh·C] → [ow, B·oh·C].
  const byCol = reshape(transpose(reshape(rows, [oh, b, w, c]), [2, 1, 0, 3]), [w, b * oh * c]);
  const cols = matMul(adaptiveAverageMatrix(ow, w), byCol);
  return transpose(reshape(cols, [ow, b, oh, c]), [1, 2, 0, 3]);
}

/**
 * The reference's `ReshapeF` (netF `reshape`): AdaptiveAvgPool2d(4), then each of the 16 cells'
 * channel vectors L2-normalised: [B·16, C] per level (row b·16 + 4y + x).
 */
export class ReshapeF extends ParameterFreeHead {
  readonly netF = 'reshape' as const;
  protected level(feat: Tensor4D): Tensor2D {
    const c = feat.shape[3];
    return l2Normalize(reshape(adaptiveAvgPool(feat, 4, 4), [-1, c]) as Tensor2D, 1);
  }
}

/**
 * The reference's `PoolingF` (netF `global_pool`): AdaptiveMaxPool2d(1), then L2-normalised:
 * one [B, C] row per image per level.
 */
export class PoolingF extends ParameterFreeHead {
  readonly netF = 'global_pool' as const;
  protected level(feat: Tensor4D): Tensor2D {
    return l2Normalize(max(feat, [1, 2]) as Tensor2D, 1);
  }
}

/** One conv of a StridedConvF layer stack: HWIO weight, bias, stride; ReLU after all but the last. */
type StridedConv = { weight: Variable; bias: Variable; stride: 1 | 2 };

let stridedInstances = 0;

/**
 * The reference's `StridedConvF` (netF `strided_conv`). For each feature size (key `C_H`, H the
 * height) it creates, on first sight, a conv stack `child_<C>_<H>`: n = rint(log2(H/32)) times
 * [Conv2d(C, max(C/2, 64), 3, stride 2), ReLU] (C halving, at least 64), then Conv2d(C, 64, 3),
 * no padding, initialised by `init_type`/`init_gain` with zero biases. Each output is reduced by
 * a running average of that key's outputs (0.999 old + 0.001 new, updated before it is
 * subtracted, seeded with the first output; not saved, as in the reference), then L2-normalised
 * over channels. Levels with the same key share the stack and the average. Rows: one per output
 * position, [B·h·w, 64] (row (b·h + y)·w + x).
 *
 * The first call of a key subtracts (almost) its own output, leaving rounding noise: in the
 * reference too; CUT's data-dependent initialisation takes that call.
 */
export class StridedConvF implements FeatureHead {
  readonly netF = 'strided_conv' as const;
  readonly samplesPatches = false;
  readonly initType: InitType;
  readonly initGain: number;
  readonly rng: SeededRng;
  /** key `C_H` → conv stack, in creation (state_dict) order. */
  private readonly stacks = new Map<string, StridedConv[]>();
  private readonly averages = new Map<string, Tensor>();
  private readonly prefix = `StridedConvF${stridedInstances++}`;
  private disposed = false;

  constructor(options: Omit<PatchSampleFOptions, 'useMlp' | 'nc'> = {}) {
    this.initType = options.initType ?? 'xavier';
    this.initGain = options.initGain ?? 0.02;
    this.rng = options.rng ?? SeededRng.unseeded();
  }

  /** The keys (`C_H`) whose layers exist, in creation order. */
  get keys(): string[] {
    return [...this.stacks.keys()];
  }

  forward(feats: Tensor4D[]): PatchSampleResult {
    this.checkAlive();
    checkFeats('StridedConvF', feats);
    const features = feats.map((feat) => {
      const [, h, , c] = feat.shape;
      const key = `${c}_${h}`;
      if (!this.stacks.has(key)) this.stacks.set(key, this.createStack(key, c, h));
      const stack = this.stacks.get(key)!;
      return tidy(() => {
        const y = stack.reduce<Tensor4D>((x, conv, i) => {
          const out = add(conv2d(x, conv.weight as Tensor4D, conv.stride, 'valid'), conv.bias) as Tensor4D;
          return i < stack.length - 1 ? relu(out) : out;
        }, feat);
        this.updateAverage(key, y);
        const centred = sub(y, this.averages.get(key)!) as Tensor4D;
        return l2Normalize(reshape(centred, [-1, 64]) as Tensor2D, 1);
      });
    });
    return { features, ids: feats.map(() => []) };
  }

  /** The running average of a key's outputs (NHWC), or undefined before its first call. */
  movingAverage(key: string): Tensor | undefined {
    return this.averages.get(key);
  }

  private updateAverage(key: string, y: Tensor): void {
    offTape(() => {
      const old = this.averages.get(key);
      const seed = old ?? y;
      const next = keep(tidy(() => add(mul(seed, 0.999), mul(y, 0.001))));
      old?.dispose();
      this.averages.set(key, next);
    });
  }

  /** The layer shapes `create_mlp` makes for features of C channels and height H: [cin, cout, stride] per conv. */
  static layout(c: number, h: number): Array<[number, number, 1 | 2]> {
    const nDown = Math.round(Math.log2(h / 32));
    const out: Array<[number, number, 1 | 2]> = [];
    let ch = c;
    for (let i = 0; i < nDown; i++) {
      const next = Math.max(Math.floor(ch / 2), 64);
      out.push([ch, next, 2]);
      ch = next;
    }
    out.push([ch, 64, 1]);
    return out;
  }

  private createStack(key: string, c: number, h: number, values?: Array<{ weight: Tensor; bias: Tensor }>): StridedConv[] {
    const init = { type: this.initType, gain: this.initGain };
    return StridedConvF.layout(c, h).map(([cin, cout, stride], i) => {
      const name = `child_${key}.${2 * i}`;
      const w = values ? values[i]!.weight : initWeight([3, 3, cin, cout], 'conv2d', init, this.rng);
      const b = values ? values[i]!.bias : initBias(cout);
      const conv = {
        weight: variable(w, true, `${this.prefix}/${name}.weight`),
        bias: variable(b, true, `${this.prefix}/${name}.bias`),
        stride,
      };
      if (!values) {
        w.dispose();
        b.dispose();
      }
      return conv;
    });
  }

  namedVariables(): Record<string, Variable> {
    const out: Record<string, Variable> = {};
    for (const [key, stack] of this.stacks) {
      stack.forEach((conv, i) => {
        out[`child_${key}.${2 * i}.weight`] = conv.weight;
        out[`child_${key}.${2 * i}.bias`] = conv.bias;
      });
    }
    return out;
  }

  trainableVariables(): Variable[] {
    return Object.values(this.namedVariables());
  }

  /** `child_<C>_<H>.<2i>.weight` (OIHW) and `.bias`, in state_dict order. New tensors. */
  getWeights(): Record<string, Tensor> {
    this.checkAlive();
    const out: Record<string, Tensor> = {};
    for (const [name, v] of Object.entries(this.namedVariables())) {
      out[name] = tidy(() => (v.rank === 4 ? transpose(v, [3, 2, 0, 1]) : v.clone()));
    }
    return out;
  }

  /**
   * Strict load (PyTorch layout). Before a forward has created them, the stacks are created from
   * the names (each key `C_H` gives its layer shapes, as the reference's first forward would),
   * in the order the names come; afterwards the names must be exactly the existing ones.
   */
  setWeights(weights: Record<string, Tensor>): void {
    this.checkAlive();
    const names = Object.keys(weights);
    const keys = this.stacks.size > 0 ? this.keys : [...new Set(names.map((n) => /^child_(\d+_\d+)\./.exec(n)?.[1] ?? ''))];
    const expected = new Map<string, number[]>();
    for (const key of keys) {
      const m = /^(\d+)_(\d+)$/.exec(key);
      if (!m) throw new Error(`StridedConvF.setWeights: unexpected [${names.filter((n) => !/^child_\d+_\d+\./.test(n)).join(', ')}]`);
      StridedConvF.layout(Number(m[1]), Number(m[2])).forEach(([cin, cout], i) => {
        expected.set(`child_${key}.${2 * i}.weight`, [cout, cin, 3, 3]);
        expected.set(`child_${key}.${2 * i}.bias`, [cout]);
      });
    }
    const unknown = names.filter((n) => !expected.has(n));
    const missing = [...expected.keys()].filter((n) => !(n in weights));
    if (unknown.length > 0 || missing.length > 0) {
      throw new Error(
        'StridedConvF.setWeights: ' +
          [unknown.length ? `unexpected [${unknown.join(', ')}]` : '', missing.length ? `missing [${missing.join(', ')}]` : '']
            .filter(Boolean)
            .join('; '),
      );
    }
    for (const [name, shape] of expected) {
      const got = weights[name]!.shape;
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
        throw new Error(`StridedConvF.setWeights: ${name} must have shape [${shape}], got [${got}]`);
      }
    }
    const ours = (name: string) => tidy(() => (weights[name]!.rank === 4 ? transpose(weights[name]!, [2, 3, 1, 0]) : weights[name]!.clone()));
    if (this.stacks.size === 0) {
      for (const key of keys) {
        const [c, h] = key.split('_').map(Number) as [number, number];
        const values = StridedConvF.layout(c, h).map((_, i) => ({
          weight: ours(`child_${key}.${2 * i}.weight`),
          bias: ours(`child_${key}.${2 * i}.bias`),
        }));
        this.stacks.set(key, this.createStack(key, c, h, values));
        for (const v of values) {
          v.weight.dispose();
          v.bias.dispose();
        }
      }
      return;
    }
    for (const [name, v] of Object.entries(this.namedVariables())) {
      const value = ours(name);
      v.assign(value);
      value.dispose();
    }
  }

  /** Frees the layers and the running averages. */
  dispose(): void {
    for (const v of this.trainableVariables()) v.dispose();
    for (const t of this.averages.values()) t.dispose();
    this.stacks.clear();
    this.averages.clear();
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('StridedConvF: used after dispose()');
  }
}
