import {
  add,
  gather,
  isInf,
  log,
  matMul,
  mul,
  neg,
  pad,
  range,
  reshape,
  slice,
  softmax,
  stack,
  sum,
  tidy,
  topk,
  transpose,
  where,
  zerosLike,
  type Tensor,
  type Tensor2D,
  type Tensor3D,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { offTape } from '@cut/core-tensors';

/**
 * How PatchSampleF picks the patches of a level:
 * - `'random'`: random positions, the same for every image (CUT).
 * - `'global'`, `'local'`, `'local_global'`: QS-Attn's query selection (Hu et al., CVPR 2022; their
 *   `--QS_mode` names) at the attention levels; see `QueryAttention`.
 */
export type QuerySelection = 'random' | 'global' | 'local' | 'local_global';

export const QUERY_SELECTIONS: readonly QuerySelection[] = ['random', 'global', 'local', 'local_global'];

/**
 * What the source-side call of an attention level selected, to be reused by the call on the
 * translated image's features (QS-Attn computes the attention once, on real_A's features).
 */
export interface QueryAttention {
  /** The selected spatial ids (y·W + x) per image: int32 [B, P], lowest entropy first. */
  ids: Tensor2D;
  /**
   * The selected attention rows: [B, P, H·W] for `'global'` and `'local_global'` (rows of the
   * softmax over all positions), [B·P, 1, k²] for `'local'` (rows of the softmax over the window).
   * On the tape when the source call was. The caller owns (disposes) both tensors.
   */
  weights: Tensor;
}

/** A level's pooled rows [B·P, C] and the attention that produced them. */
export interface AttendedLevel {
  rows: Tensor2D;
  attention: QueryAttention;
}

/**
 * The entropy of each attention row, −Σ a·log a with 0·log 0 taken as 0 (as their code does,
 * zeroing the infinite −log 0), and the ids of the `p` lowest per image, ascending: int32 [B, P].
 * Ranked on the device (topk of the negated entropies; no read-back), off the gradient tape (the
 * ids are discrete, as their torch.sort indices). Ties: the cpu and wasm backends' topk keep the
 * lower id first (tested); torch.sort, as their code calls it (not stable), leaves them in no
 * particular order.
 */
export function lowestEntropyIds(attn: Tensor3D, p: number): Tensor2D {
  return offTape(() =>
    tidy(() => {
      const nlog = neg(log(attn));
      const entropy = sum(mul(attn, where(isInf(nlog), zerosLike(nlog), nlog)), 2);
      return topk(neg(entropy), p, true).indices as Tensor2D;
    }),
  );
}

/** Rows `ids[b]` of each image of `x` [B, L, D], as [B·P, D] (row b·P + p). */
function rowsPerImage(x: Tensor3D, ids: Tensor2D): Tensor2D {
  const [b, l, d] = x.shape;
  const offsets = reshape(range(0, b * l, l, 'int32'), [b, 1]);
  const flatIds = reshape(add(ids, offsets), [-1]);
  return gather(reshape(x, [b * l, d]), flatIds, 0) as Tensor2D;
}

/**
 * The k×k windows around every position of an NHWC map (zero padding (k−1)/2, stride 1), as
 * [B, H·W, C·k²] with entry c·k² + (dy·k + dx): torch's `F.unfold` output, transposed to
 * positions first (their `feat_local.permute(0, 2, 1)`).
 */
function windows(feat: Tensor4D, k: number): Tensor3D {
  const [b, h, w, c] = feat.shape;
  const r = (k - 1) / 2;
  const padded = pad(feat, [
    [0, 0],
    [r, r],
    [r, r],
    [0, 0],
  ]);
  const shifts: Tensor4D[] = [];
  for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) shifts.push(slice(padded, [0, dy, dx, 0], [b, h, w, c]));
  return reshape(stack(shifts, 4), [b, h * w, c * k * k]);
}

/**
 * The window attention of their 'local' mode, [B, H·W, k²]. **Reference quirk, kept:** their code
 * reads each position's unfolded [C·k²] vector as k² rows of C (a reshape, while unfold's order is
 * channel-major), so the "keys" are interleaved channels of the window, not its positions' feature
 * vectors (the same for C = 1).
 */
function localAttention(flat: Tensor3D, unfolded: Tensor3D, k: number): Tensor3D {
  const [b, l, c] = flat.shape;
  const keys = reshape(unfolded, [b * l, k * k, c]);
  const dots = matMul(keys, reshape(flat, [b * l, c, 1])); // [B·L, k², 1]
  return softmax(reshape(dots, [b, l, k * k])) as Tensor3D;
}

/** Their 'global' attention: softmax over all positions of the dot products, [B, H·W, H·W]. */
function globalAttention(flat: Tensor3D): Tensor3D {
  return softmax(matMul(flat, flat, false, true)) as Tensor3D;
}

/**
 * The values of their 'local' mode: the selected positions' unfolded vectors gathered per image
 * ([B, P, C·k²]), then, as their code does, transposed to [B, C·k², P] and reshaped to
 * [B·P, k², C]. **Reference quirk, kept:** that reshape mixes the P selected windows, so a
 * query's k² "values" are not its own window's features.
 */
function localValues(unfolded: Tensor3D, ids: Tensor2D, k: number): Tensor3D {
  const [b] = unfolded.shape;
  const p = ids.shape[1];
  const c = unfolded.shape[2] / (k * k);
  const picked = reshape(rowsPerImage(unfolded, ids), [b, p, c * k * k]);
  return reshape(transpose(picked, [0, 2, 1]), [b * p, k * k, c]);
}

/**
 * One attention level of QS-Attn's PatchSampleF: selects `min(numPatches, H·W)` queries per image
 * by the entropy of their attention rows (or reuses `given`, from the source image's call) and
 * returns the attention-weighted features [B·P, C] (before the MLP). Must run inside a tidy.
 */
export function attendLevel(
  feat: Tensor4D,
  mode: Exclude<QuerySelection, 'random'>,
  numPatches: number,
  window: number,
  given: QueryAttention | null | undefined,
): AttendedLevel {
  const [b, h, w, c] = feat.shape;
  const hw = h * w;
  const flat = reshape(feat, [b, hw, c]) as Tensor3D;
  if (given != null) checkAttention(given, mode, b, hw, window);
  if (mode === 'local') {
    const unfolded = windows(feat, window);
    let attention = given;
    if (attention == null) {
      const attn = localAttention(flat, unfolded, window);
      const p = Math.min(numPatches, hw);
      const ids = lowestEntropyIds(attn, p);
      attention = { ids, weights: reshape(rowsPerImage(attn, ids), [b * p, 1, window * window]) };
    }
    const values = localValues(unfolded, attention.ids, window);
    const rows = reshape(matMul(attention.weights as Tensor3D, values), [values.shape[0], c]) as Tensor2D;
    return { rows, attention };
  }
  let attention = given;
  if (attention == null) {
    const ranked = mode === 'global' ? globalAttention(flat) : localAttention(flat, windows(feat, window), window);
    const p = Math.min(numPatches, hw);
    const ids = lowestEntropyIds(ranked, p);
    const attn = mode === 'global' ? ranked : globalAttention(flat);
    attention = { ids, weights: reshape(rowsPerImage(attn, ids), [b, p, hw]) };
  }
  const weights = attention.weights as Tensor3D;
  const rows = reshape(matMul(weights, flat), [b * weights.shape[1], c]) as Tensor2D;
  return { rows, attention };
}

function checkAttention(a: QueryAttention, mode: Exclude<QuerySelection, 'random'>, b: number, hw: number, window: number): void {
  const p = a.ids.shape[1];
  const want = mode === 'local' ? [b * p, 1, window * window] : [b, p, hw];
  const ok =
    a.ids.rank === 2 &&
    a.ids.shape[0] === b &&
    a.ids.dtype === 'int32' &&
    a.weights.shape.length === want.length &&
    a.weights.shape.every((d, i) => d === want[i]);
  if (!ok) {
    throw new Error(
      `PatchSampleF.forward: the given '${mode}' attention (ids [${a.ids.shape}] ${a.ids.dtype}, weights [${a.weights.shape}]) ` +
        `does not fit these features (batch ${b}, ${hw} positions; ids must be int32 [${b}, P], weights [${want}])`,
    );
  }
}
