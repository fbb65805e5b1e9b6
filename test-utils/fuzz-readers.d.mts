// Types of fuzz-readers.mjs (plain JavaScript, so that bench/fuzz-readers.mjs runs it under plain node).
export function rng(seed: number): () => number;
export interface PthCase {
  n: number;
  seed: string;
  kind: string;
  bytes: Uint8Array;
}
export function pthCase(seeds: readonly { name: string; bytes: Uint8Array }[], n: number): PthCase;
export interface TfjsCase {
  n: number;
  kind: string;
  modelJson: string;
  weights: Uint8Array;
}
export function tfjsCase(seed: { modelJson: string; weights: Uint8Array }, n: number): TfjsCase;
export interface Verdict {
  /** 'ok' (loaded), 'refused' (an Error naming the file) or 'bad: <why>'. */
  outcome: string;
  message: string;
  ms: number;
}
export function judge(name: string, run: () => unknown): Promise<Verdict>;
