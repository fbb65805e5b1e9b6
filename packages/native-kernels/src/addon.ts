import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions (native/conv.cc). */
export interface NativeAddon {
  /** op 0 forward, 1 input gradient, 2 filter gradient; byte offsets [a, b, bias, out] into `buffer`. */
  conv(op: number, buffer: ArrayBuffer, offsets: Float64Array, dims: Int32Array, alpha?: number): void;
  /** out = a op b (0 add, 1 sub, 2 mul, 3 copy a) over `shape`, with element strides per input (0: broadcast); offsets [a, b, out]. */
  binary(buffer: ArrayBuffer, offsets: Float64Array, op: number, shape: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  /** offsets [dy, x, out]: dy where x > 0, else alpha * dy. */
  leakyReluGrad(buffer: ArrayBuffer, offsets: Float64Array, n: number, alpha: number): void;
  /** offsets [x, out]; x's NHWC shape; pads [top, bottom, left, right]. */
  mirrorPad(buffer: ArrayBuffer, offsets: Float64Array, xShape: Int32Array, pads: Int32Array, symmetric: boolean): void;
  /** offsets [dy, out]; x's NHWC shape; pads as mirrorPad. */
  mirrorPadGrad(buffer: ArrayBuffer, offsets: Float64Array, xShape: Int32Array, pads: Int32Array, symmetric: boolean): void;
  /** offsets [x, out]: out[o, i] = sum over r of x[o, r, i]. */
  sum(buffer: ArrayBuffer, offsets: Float64Array, outer: number, reduce: number, inner: number): void;
  /** offsets [x, y, rstd]: instance norm of n samples of hw positions by c channels. */
  instanceNorm(buffer: ArrayBuffer, offsets: Float64Array, n: number, hw: number, c: number, eps: number): void;
  /** offsets [dy, y, rstd, dx]. */
  instanceNormGrad(buffer: ArrayBuffer, offsets: Float64Array, n: number, hw: number, c: number): void;
  /** madvise(MADV_HUGEPAGE) over `span` bytes from the buffer's start; whether it took. */
  adviseHugePages(buffer: ArrayBuffer, span: number): boolean;
  /** glibc malloc keeps freed memory for reuse (no mmap, no trim); whether it took. */
  keepFreedMemory(): boolean;
  /** offsets [x, out]: out[o, i, :] = x[o, n - 1 - i, :]. */
  reverse(buffer: ArrayBuffer, offsets: Float64Array, outer: number, n: number, inner: number): void;
  setThreads(n: number): void;
  getThreads(): number;
  version(): string;
}

export type AddonLoad = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string };

/** The platform package a prebuilt binary comes in (scripts/make-prebuilt.mjs makes it). */
export const PLATFORM_PACKAGE = `@cut/native-kernels-${process.platform}-${process.arch}`;

let loaded: AddonLoad | undefined;

/** This package's root: dist/ or src/ sits right under it. */
function packageRoot(): string {
  // ESM: import.meta.url; the CommonJS build (where esbuild empties import.meta): __dirname.
  const url = import.meta.url as string | undefined;
  const here = url ? dirname(fileURLToPath(url)) : __dirname;
  return join(here, '..');
}

/**
 * Loads the addon once: the prebuilt platform package if installed, else the build from
 * source (build/Release). CUT_NATIVE=0 disables it. Never throws: says why instead.
 */
export function loadAddon(): AddonLoad {
  if (loaded) return loaded;
  if (process.env.CUT_NATIVE === '0') return (loaded = { ok: false, reason: 'disabled by CUT_NATIVE=0' });
  const require = createRequire(join(packageRoot(), 'package.json'));
  const errors: string[] = [];
  const candidates: string[] = [];
  try {
    candidates.push(join(dirname(require.resolve(`${PLATFORM_PACKAGE}/package.json`)), 'cut_native_kernels.node'));
  } catch {
    // not installed: fine
  }
  candidates.push(join(packageRoot(), 'build/Release/cut_native_kernels.node'));
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const addon = require(path) as NativeAddon;
      return (loaded = { ok: true, addon, path });
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const reason = errors.length
    ? errors.join('; ')
    : `no ${PLATFORM_PACKAGE} and no build from source (install libdnnl-dev, then rebuild @cut/native-kernels)`;
  return (loaded = { ok: false, reason });
}

/** The machine's cores: the default thread count. */
export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
