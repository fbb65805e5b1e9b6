import { tensor, tidy, transpose, zeros, type Tensor } from '@tensorflow/tfjs-core';
import type { SeededRng } from './rng.js';

/**
 * Weight initialisers with PyTorch `torch.nn.init` semantics, as the reference's
 * `init_weights` uses them, for weights stored in our (tfjs) layouts:
 *
 * | kind              | our layout                      | PyTorch layout          |
 * |-------------------|---------------------------------|-------------------------|
 * | `conv2d`          | HWIO `[kh, kw, in, out]`        | `[out, in, kh, kw]`     |
 * | `conv2dTranspose` | tfjs `[kh, kw, out, in]`        | `[in, out, kh, kw]`     |
 * | `linear`          | `[in, out]` (y = x W + b)       | `[out, in]` (y = x Wᵀ + b) |
 *
 * Values are drawn in PyTorch's layout and order, then transposed to ours, so a layer
 * gets the same distribution (fans, orthogonal rows) as the same layer in PyTorch.
 */
export type LayerKind = 'conv2d' | 'conv2dTranspose' | 'linear';

/** The reference's `--init_type` choices. */
export type InitType = 'normal' | 'xavier' | 'kaiming' | 'orthogonal';

export interface Fans {
  fanIn: number;
  fanOut: number;
}

function checkShape(shape: readonly number[], kind: LayerKind): void {
  const rank = kind === 'linear' ? 2 : 4;
  if (shape.length !== rank || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`init: a ${kind} weight needs a rank-${rank} shape of positive integers, got [${shape.join(', ')}]`);
  }
}

/** The PyTorch shape of a weight given in our layout. */
export function torchWeightShape(shape: readonly number[], kind: LayerKind): number[] {
  checkShape(shape, kind);
  const [a, b, c, d] = shape as [number, number, number, number];
  switch (kind) {
    case 'linear':
      return [b, a];
    case 'conv2d':
      return [d, c, a, b]; // HWIO -> OIHW
    case 'conv2dTranspose':
      return [d, c, a, b]; // [kh, kw, out, in] -> [in, out, kh, kw]
  }
}

/** Permutation taking a tensor in PyTorch layout to our layout (the same for both conv kinds). */
function torchToOurs(kind: LayerKind): number[] {
  return kind === 'linear' ? [1, 0] : [2, 3, 1, 0];
}

/**
 * PyTorch's fans (`_calculate_fan_in_and_fan_out`) for a weight in our layout: fan_in =
 * torch dim 1 × receptive field, fan_out = torch dim 0 × receptive field. For a transposed
 * convolution torch's dim 1 is the layer's *output* channels, and so is its fan_in.
 */
export function computeFans(shape: readonly number[], kind: LayerKind): Fans {
  const [out0, in1, ...rest] = torchWeightShape(shape, kind) as [number, number, ...number[]];
  const receptive = rest.reduce((p, d) => p * d, 1);
  return { fanIn: in1 * receptive, fanOut: out0 * receptive };
}

/**
 * The standard deviation an initialiser draws with. `kaiming` is the reference's
 * `kaiming_normal_(w, a=0, mode='fan_in')`: gain √2 (leaky_relu with slope 0), so the
 * reference's `init_gain` is ignored for it.
 */
export function initStd(type: Exclude<InitType, 'orthogonal'>, fans: Fans, gain: number): number {
  switch (type) {
    case 'normal':
      return gain;
    case 'xavier':
      return gain * Math.sqrt(2 / (fans.fanIn + fans.fanOut));
    case 'kaiming':
      return Math.SQRT2 / Math.sqrt(fans.fanIn);
  }
}

const count = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Builds our-layout tensor from values in PyTorch layout and order. */
function fromTorchLayout(values: Float32Array, shape: readonly number[], kind: LayerKind): Tensor {
  return tidy(() => transpose(tensor(values, torchWeightShape(shape, kind), 'float32'), torchToOurs(kind)));
}

/** `normal_(w, 0, gain)`. */
export function initNormal(shape: readonly number[], kind: LayerKind, gain: number, rng: SeededRng): Tensor {
  checkShape(shape, kind);
  return fromTorchLayout(rng.normalArray(count(shape), 0, gain), shape, kind);
}

/** `xavier_normal_(w, gain)`: std = gain·√(2 / (fan_in + fan_out)). */
export function initXavierNormal(shape: readonly number[], kind: LayerKind, gain: number, rng: SeededRng): Tensor {
  const std = initStd('xavier', computeFans(shape, kind), gain);
  return fromTorchLayout(rng.normalArray(count(shape), 0, std), shape, kind);
}

/** `kaiming_normal_(w, a=0, mode='fan_in')`: std = √2 / √fan_in. */
export function initKaimingNormal(shape: readonly number[], kind: LayerKind, rng: SeededRng): Tensor {
  const std = initStd('kaiming', computeFans(shape, kind), 1);
  return fromTorchLayout(rng.normalArray(count(shape), 0, std), shape, kind);
}

/**
 * `orthogonal_(w, gain)`: the PyTorch weight viewed as a [rows = dim 0, cols = rest]
 * matrix is (semi-)orthogonal times `gain`: orthonormal rows when rows ≤ cols, orthonormal
 * columns otherwise. As in PyTorch it is the Q of the QR decomposition of a standard
 * normal matrix (transposed when wide), with columns signed so that diag(R) > 0, which
 * makes Q unique and uniformly (Haar) distributed.
 */
export function initOrthogonal(shape: readonly number[], kind: LayerKind, gain: number, rng: SeededRng): Tensor {
  const torchShape = torchWeightShape(shape, kind);
  const rows = torchShape[0]!;
  const cols = count(torchShape) / rows;
  const wide = rows < cols;
  // A tall m×n matrix (m ≥ n): the transpose of the wide one, as PyTorch does.
  const m = wide ? cols : rows;
  const n = wide ? rows : cols;
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  const q = orthonormalColumns(a, m, n);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = gain * q[i * n + j]!;
      if (wide) out[j * cols + i] = v;
      else out[i * cols + j] = v;
    }
  }
  return fromTorchLayout(out, shape, kind);
}

/**
 * Q of the thin QR decomposition of the row-major m×n matrix `a` (m ≥ n) with diag(R) > 0,
 * by Householder reflections (stable for any full-rank input).
 */
function orthonormalColumns(a: Float64Array, m: number, n: number): Float64Array {
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  const rDiagSign = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // Householder vector for column k below the diagonal.
    let norm = 0;
    for (let i = k; i < m; i++) norm += r[i * n + k]! ** 2;
    norm = Math.sqrt(norm);
    const x0 = r[k * n + k]!;
    const alpha = x0 >= 0 ? -norm : norm; // the sign that avoids cancellation
    const v = new Float64Array(m - k);
    for (let i = k; i < m; i++) v[i - k] = r[i * n + k]!;
    v[0] = x0 - alpha;
    let vv = 0;
    for (let i = 0; i < v.length; i++) vv += v[i]! ** 2;
    if (vv > 0) {
      for (let j = k; j < n; j++) {
        let dot = 0;
        for (let i = k; i < m; i++) dot += v[i - k]! * r[i * n + j]!;
        const f = (2 * dot) / vv;
        for (let i = k; i < m; i++) r[i * n + j] = r[i * n + j]! - f * v[i - k]!;
      }
    }
    vs.push(v);
    rDiagSign[k] = r[k * n + k]! < 0 ? -1 : 1;
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * n + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k]!;
    let vv = 0;
    for (let i = 0; i < v.length; i++) vv += v[i]! ** 2;
    if (vv === 0) continue;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k]! * q[i * n + j]!;
      const f = (2 * dot) / vv;
      for (let i = k; i < m; i++) q[i * n + j] = q[i * n + j]! - f * v[i - k]!;
    }
  }
  // Sign fix: Q·diag(sign(diag R)) pairs with diag(sign)·R, whose diagonal is positive.
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) q[i * n + j] = q[i * n + j]! * rDiagSign[j]!;
  }
  return q;
}

export interface InitOptions {
  /** The reference's `--init_type` (default 'normal' as in `init_weights`; CUT uses 'xavier'). */
  type: InitType;
  /** The reference's `--init_gain` (default 0.02); unused by 'kaiming'. */
  gain?: number;
}

/**
 * A weight for a layer of `kind` in our layout, initialised as the reference's
 * `init_weights(net, init_type, init_gain)` does for the same PyTorch layer.
 */
export function initWeight(shape: readonly number[], kind: LayerKind, options: InitOptions, rng: SeededRng): Tensor {
  const gain = options.gain ?? 0.02;
  switch (options.type) {
    case 'normal':
      return initNormal(shape, kind, gain, rng);
    case 'xavier':
      return initXavierNormal(shape, kind, gain, rng);
    case 'kaiming':
      return initKaimingNormal(shape, kind, rng);
    case 'orthogonal':
      return initOrthogonal(shape, kind, gain, rng);
    default:
      throw new Error(`init: unknown init type '${String(options.type)}' (expected normal, xavier, kaiming or orthogonal)`);
  }
}

/** A zero bias, as `init_weights` sets every conv/linear bias. */
export function initBias(size: number): Tensor {
  return zeros([size], 'float32');
}
