import {
  add,
  gather,
  matMul,
  relu,
  reshape,
  tensor1d,
  tidy,
  transpose,
  variable,
  type Tensor,
  type Tensor2D,
  type Tensor4D,
  type Variable,
} from '@tensorflow/tfjs-core';
import { initBias, initWeight, l2Normalize, SeededRng, type InitType } from '@cut/core-tensors';
import { attendLevel, QUERY_SELECTIONS, type QueryAttention, type QuerySelection } from './query-selection.js';

export interface PatchSampleFOptions {
  /** Per-level MLP head (netF 'mlp_sample'); false is netF 'sample' (L2 norm only). Default true. */
  useMlp?: boolean;
  /** MLP width (the reference's `--netF_nc`). Default 256. */
  nc?: number;
  /** Initialiser of the MLP weights (the reference's `--init_type`). Default 'xavier'. */
  initType?: InitType;
  /** Its gain (the reference's `--init_gain`). Default 0.02. */
  initGain?: number;
  /**
   * Source of the patch ids and of the initial weights. Default: a generator seeded from
   * `Math.random` (not reproducible, like the reference's numpy draws).
   */
  rng?: SeededRng;
  /**
   * How patches are picked: `'random'` (CUT, the default), or QS-Attn's query selection
   * `'global'`, `'local'` or `'local_global'` at the levels from `attentionFromLevel` on.
   */
  querySelection?: QuerySelection;
  /**
   * The first level that selects queries by attention (levels below draw random ids). Default 3:
   * QS-Attn's code hard-codes it for its five nce_layers 0,4,8,12,16 (so 12 and 16 attend).
   */
  attentionFromLevel?: number;
  /** Side of the square window of `'local'` and `'local_global'` (odd). Default 7, as theirs. */
  localWindow?: number;
}

export interface PatchSampleResult {
  /**
   * One tensor per level: [B·P, nc] (row b·P + p), rows unit-L2; or for numPatches = 0
   * the whole map [B, H, W, nc], each channel map unit-L2 over H·W (the reference quirk).
   * Without MLP, nc is the level's channel count.
   */
  features: Tensor[];
  /**
   * Spatial ids used per level (id = y·W + x), the same for every image; [] per level for
   * numPatches = 0, and at the attention levels (their ids differ per image: see `attention`).
   */
  ids: number[][];
  /**
   * With a query selection other than `'random'`: per level, what its attention selected
   * (ids per image and the attention rows), null at the random levels and for numPatches = 0.
   * Pass it to the call on the translated features, as `forward`'s fourth argument. A reused
   * entry is returned as given (the same tensors).
   */
  attention?: (QueryAttention | null)[];
}

/** One level's MLP: Linear(C, nc) → ReLU → Linear(nc, nc), weights in our [in, out] layout. */
type Mlp = {
  w1: Variable;
  b1: Variable;
  w2: Variable;
  b2: Variable;
};

/** The reference's parameter names of level i, in `state_dict` order. */
const paramNames = (level: number) =>
  ({
    w1: `mlp_${level}.0.weight`,
    b1: `mlp_${level}.0.bias`,
    w2: `mlp_${level}.2.weight`,
    b2: `mlp_${level}.2.bias`,
  }) as const;

const LINEAR_WEIGHTS = ['w1', 'w2'] as const;
const PARAMS = ['w1', 'b1', 'w2', 'b2'] as const;

let instances = 0;

/**
 * PatchSampleF of the CUT reference (`networks.py`): samples the same random spatial
 * positions from every image of a batch, at each feature level, passes the sampled
 * feature vectors through a per-level 2-layer MLP and L2-normalises them.
 *
 * The MLPs are created on the first `forward` from the actual channel counts (the
 * reference's data-dependent `create_mlp`), or by `setWeights` when loading a checkpoint.
 */
export class PatchSampleF {
  readonly useMlp: boolean;
  readonly nc: number;
  readonly initType: InitType;
  readonly initGain: number;
  readonly rng: SeededRng;
  readonly querySelection: QuerySelection;
  readonly attentionFromLevel: number;
  readonly localWindow: number;
  private mlps: Mlp[] | null = null;
  private readonly prefix = `PatchSampleF${instances++}`;
  private disposed = false;

  constructor(options: PatchSampleFOptions = {}) {
    this.useMlp = options.useMlp ?? true;
    this.nc = options.nc ?? 256;
    this.initType = options.initType ?? 'xavier';
    this.initGain = options.initGain ?? 0.02;
    this.rng = options.rng ?? SeededRng.unseeded();
    this.querySelection = options.querySelection ?? 'random';
    this.attentionFromLevel = options.attentionFromLevel ?? 3;
    this.localWindow = options.localWindow ?? 7;
    if (!Number.isInteger(this.nc) || this.nc < 1) throw new Error(`PatchSampleF: nc must be a positive integer, got ${this.nc}`);
    if (!QUERY_SELECTIONS.includes(this.querySelection)) {
      throw new Error(`PatchSampleF: querySelection must be one of ${QUERY_SELECTIONS.join(', ')}, got ${this.querySelection}`);
    }
    if (!Number.isInteger(this.attentionFromLevel) || this.attentionFromLevel < 0) {
      throw new Error(`PatchSampleF: attentionFromLevel must be a non-negative integer, got ${this.attentionFromLevel}`);
    }
    if (!Number.isInteger(this.localWindow) || this.localWindow < 1 || this.localWindow % 2 === 0) {
      throw new Error(`PatchSampleF: localWindow must be a positive odd integer, got ${this.localWindow}`);
    }
  }

  /** Its `--netF` name. */
  get netF(): 'mlp_sample' | 'sample' {
    return this.useMlp ? 'mlp_sample' : 'sample';
  }

  /** It samples patch positions (FeatureHead). */
  readonly samplesPatches = true;

  /** Whether the MLPs exist (after the first forward or a setWeights). */
  get mlpInitialized(): boolean {
    return this.mlps !== null;
  }

  /** Input channel count of each level's MLP, or null before creation. */
  get levelChannels(): number[] | null {
    return this.mlps?.map((m) => m.w1.shape[0]!) ?? null;
  }

  /**
   * `feats`: NHWC maps [B, H, W, C], one per level. `numPatches` (default 64): patches per
   * image; 0 keeps the whole map. `patchIds[i]`: ids to reuse at level i (as returned by an
   * earlier call), or null/absent to draw `min(numPatches, H·W)` distinct ids from the rng.
   * `attention[i]` (query selection only): the `attention` the source features' call returned,
   * reused at attention level i (QS-Attn's second call); absent, the level selects its own.
   * The caller owns the returned tensors.
   */
  forward(
    feats: Tensor4D[],
    numPatches: number = 64,
    patchIds: readonly (Int32Array | readonly number[] | null | undefined)[] | null = null,
    attention: readonly (QueryAttention | null | undefined)[] | null = null,
  ): PatchSampleResult {
    this.checkAlive();
    if (!Array.isArray(feats) || feats.length === 0) throw new Error('PatchSampleF.forward: feats must be a non-empty list');
    if (!Number.isInteger(numPatches) || numPatches < 0) {
      throw new Error(`PatchSampleF.forward: numPatches must be a non-negative integer, got ${numPatches}`);
    }
    feats.forEach((f, i) => {
      if (f.rank !== 4) throw new Error(`PatchSampleF.forward: feats[${i}] must be NHWC rank 4, got [${f.shape}]`);
    });
    if (this.useMlp) this.ensureMlps(feats.map((f) => f.shape[3]));

    const features: Tensor[] = [];
    const ids: number[][] = [];
    const attended: (QueryAttention | null)[] = [];
    const mode = this.querySelection;
    feats.forEach((feat, level) => {
      const [b, h, w, c] = feat.shape;
      const hw = h * w;
      attended.push(null);
      if (mode !== 'random' && numPatches > 0 && level >= this.attentionFromLevel) {
        const out = tidy(() => {
          const { rows, attention: a } = attendLevel(feat, mode, numPatches, this.localWindow, attention?.[level]);
          return { features: l2Normalize(this.head(rows, level), 1), weights: a.weights, ids: a.ids };
        });
        features.push(out.features);
        attended[level] = { ids: out.ids, weights: out.weights };
        ids.push([]);
        return;
      }
      let levelIds: number[] = [];
      if (numPatches > 0) {
        const given = patchIds?.[level];
        levelIds = given != null ? checkIds(Array.from(given), hw, level) : this.rng.randomPatchIds(hw, numPatches);
      }
      features.push(
        tidy(() => {
          const flat = reshape(feat, [b, hw, c]);
          if (numPatches > 0) {
            const p = levelIds.length;
            const picked = gather(flat, tensor1d(levelIds, 'int32'), 1); // [B, P, C]
            const x = this.head(reshape(picked, [b * p, c]), level);
            return l2Normalize(x, 1);
          }
          // Whole map. The reference normalises the [B, H·W, C'] tensor over dim 1, i.e.
          // each channel map over space, not each position over channels; reproduced.
          const x = this.head(reshape(flat, [b * hw, c]), level);
          const cOut = x.shape[1]!;
          const normalised = l2Normalize(reshape(x, [b, hw, cOut]), 1);
          return reshape(normalised, [b, h, w, cOut]);
        }),
      );
      ids.push(levelIds);
    });
    return mode === 'random' ? { features, ids } : { features, ids, attention: attended };
  }

  /** The MLP of one level (identity without MLP) on rows [R, C]. */
  private head(x: Tensor2D, level: number): Tensor2D {
    if (!this.useMlp) return x;
    const mlp = this.mlps![level]!;
    const hidden = relu(add(matMul(x, mlp.w1), mlp.b1));
    return add(matMul(hidden, mlp.w2), mlp.b2);
  }

  /** Creates the MLPs from the channel counts on first use; checks them afterwards. */
  private ensureMlps(channels: number[]): void {
    if (this.mlps) {
      const have = this.levelChannels!;
      if (have.length !== channels.length || have.some((c, i) => c !== channels[i])) {
        throw new Error(`PatchSampleF.forward: the MLPs were created for channels [${have}], got feature maps with channels [${channels}]`);
      }
      return;
    }
    const init = { type: this.initType, gain: this.initGain };
    this.mlps = channels.map((c, level) =>
      tidy(() =>
        this.makeMlp(level, {
          w1: initWeight([c, this.nc], 'linear', init, this.rng),
          b1: initBias(this.nc),
          w2: initWeight([this.nc, this.nc], 'linear', init, this.rng),
          b2: initBias(this.nc),
        }),
      ),
    );
  }

  /** Wraps our-layout tensors of one level into trainable variables. */
  private makeMlp(level: number, values: Record<(typeof PARAMS)[number], Tensor>): Mlp {
    const names = paramNames(level);
    const v = (key: (typeof PARAMS)[number]) => variable(values[key], true, `${this.prefix}/${names[key]}`);
    return { w1: v('w1'), b1: v('b1'), w2: v('w2'), b2: v('b2') };
  }

  /**
   * The MLP variables under the reference's parameter names, in `state_dict` order (empty
   * before creation). Linear weights are in our [in, out] layout (see `getWeights`).
   */
  namedVariables(): Record<string, Variable> {
    const out: Record<string, Variable> = {};
    (this.mlps ?? []).forEach((mlp, level) => {
      const names = paramNames(level);
      for (const key of PARAMS) out[names[key]] = mlp[key];
    });
    return out;
  }

  /** Trainable variables in the reference's `state_dict` order (empty before creation). */
  trainableVariables(): Variable[] {
    return Object.values(this.namedVariables());
  }

  /**
   * The weights under the reference's names (`mlp_<i>.0.weight` [nc, C], `mlp_<i>.0.bias`,
   * `mlp_<i>.2.weight` [nc, nc], `mlp_<i>.2.bias`), Linear weights in PyTorch's [out, in]
   * layout. New tensors: the caller disposes them.
   */
  getWeights(): Record<string, Tensor> {
    this.checkAlive();
    const out: Record<string, Tensor> = {};
    (this.mlps ?? []).forEach((mlp, level) => {
      const names = paramNames(level);
      for (const key of PARAMS) {
        out[names[key]] = tidy(() => ((LINEAR_WEIGHTS as readonly string[]).includes(key) ? transpose(mlp[key]) : mlp[key].clone()));
      }
    });
    return out;
  }

  /**
   * Loads weights named as `getWeights` returns them (PyTorch layout). Strict: every
   * parameter must be given, with its shape, and no other name. Before the first forward
   * this creates the MLPs from the weights (loading a checkpoint), so their level count
   * and channels come from the names and shapes. The given tensors are copied.
   */
  setWeights(weights: Record<string, Tensor>): void {
    this.checkAlive();
    const names = Object.keys(weights);
    if (!this.useMlp) {
      if (names.length > 0) throw new Error(`PatchSampleF.setWeights: no MLP (useMlp false), got weights [${names.join(', ')}]`);
      return;
    }
    const levels = this.mlps?.length ?? countLevels(names);
    const expected = new Set<string>(Array.from({ length: levels }, (_, i) => Object.values(paramNames(i))).flat());
    const unknown = names.filter((n) => !expected.has(n));
    const missing = [...expected].filter((n) => !(n in weights));
    if (unknown.length > 0 || missing.length > 0) {
      throw new Error(
        `PatchSampleF.setWeights: ` +
          [unknown.length ? `unexpected [${unknown.join(', ')}]` : '', missing.length ? `missing [${missing.join(', ')}]` : '']
            .filter(Boolean)
            .join('; '),
      );
    }
    // Check every shape first so a failure leaves the module unchanged.
    const channels: number[] = [];
    for (let level = 0; level < levels; level++) {
      const n = paramNames(level);
      const c = this.mlps ? this.mlps[level]!.w1.shape[0]! : weights[n.w1]!.shape[1]!;
      channels.push(c);
      const want: Record<string, number[]> = {
        [n.w1]: [this.nc, c],
        [n.b1]: [this.nc],
        [n.w2]: [this.nc, this.nc],
        [n.b2]: [this.nc],
      };
      for (const [name, shape] of Object.entries(want)) {
        const got = weights[name]!.shape;
        if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
          throw new Error(`PatchSampleF.setWeights: ${name} must have shape [${shape}], got [${got}]`);
        }
      }
    }
    const ours = (level: number) =>
      tidy(() => {
        const n = paramNames(level);
        return {
          w1: transpose(weights[n.w1]!),
          b1: weights[n.b1]!.clone(),
          w2: transpose(weights[n.w2]!),
          b2: weights[n.b2]!.clone(),
        };
      });
    if (!this.mlps) {
      this.mlps = channels.map((_, level) => {
        const values = ours(level);
        const mlp = this.makeMlp(level, values);
        for (const t of Object.values(values)) t.dispose();
        return mlp;
      });
      return;
    }
    this.mlps.forEach((mlp, level) => {
      const values = ours(level);
      for (const key of PARAMS) mlp[key].assign(values[key]);
      for (const t of Object.values(values)) t.dispose();
    });
  }

  /** Frees the MLP variables. The module cannot be used afterwards. */
  dispose(): void {
    for (const v of this.trainableVariables()) v.dispose();
    this.mlps = null;
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('PatchSampleF: used after dispose()');
  }
}

function checkIds(ids: number[], hw: number, level: number): number[] {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= hw) {
      throw new Error(`PatchSampleF.forward: patch id ${id} at level ${level} is outside 0..${hw - 1}`);
    }
  }
  return ids;
}

/** Number of levels named `mlp_<i>.*` (levels must be 0..L-1; gaps show up as missing names). */
function countLevels(names: string[]): number {
  let levels = 0;
  for (const name of names) {
    const m = /^mlp_(\d+)\./.exec(name);
    if (m) levels = Math.max(levels, Number(m[1]) + 1);
  }
  return levels;
}
