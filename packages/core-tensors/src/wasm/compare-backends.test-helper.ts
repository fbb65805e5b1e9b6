// Test-only helpers: run one kernel on the cpu backend (tfjs's reference kernels) and on
// wasm (with our patches installed), and compare.
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../../../../test-utils/backends';

export async function loadCpuAndWasm(): Promise<void> {
  await loadBackend('cpu');
  // These tests are of our own wasm kernels: keep @cut/native-kernels' oneDNN ones (tested
  // against these in packages/native-kernels) out of this test file's process.
  await loadBackend('wasm', { nativeKernels: false });
}

/** Deterministic values in [-1, 1) (a small LCG; tests must not depend on Math.random). */
export function randomValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

export interface InputSpec {
  shape: number[];
  dtype?: 'float32' | 'int32';
  /** Values; random from `seed` when absent. */
  values?: ArrayLike<number>;
}

export interface KernelResult {
  shape: number[];
  dtype: string;
  values: Float32Array | Int32Array;
}

/** Runs `kernelName` on `backend` through the engine (as ops do) and reads the output. */
export async function runKernelOn(
  backend: 'cpu' | 'wasm',
  kernelName: string,
  inputs: Record<string, InputSpec>,
  attrs: Record<string, unknown>,
  seed = 1,
): Promise<KernelResult> {
  await tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  let i = 0;
  for (const [name, spec] of Object.entries(inputs)) {
    const size = spec.shape.reduce((p, d) => p * d, 1);
    const values = spec.values ?? randomValues(size, seed * 101 + i++);
    tensors[name] = tf.tensor(Array.from(values), spec.shape, spec.dtype ?? 'float32');
  }
  const out = tf.engine().runKernel(kernelName, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { shape: out.shape, dtype: out.dtype, values: (await out.data()) as Float32Array | Int32Array };
  tf.dispose([out, ...Object.values(tensors)]);
  return result;
}

/** max |wasm - cpu| / max(1, max |cpu|), after checking shapes match. */
export async function relativeDiffWasmVsCpu(
  kernelName: string,
  inputs: Record<string, InputSpec>,
  attrs: Record<string, unknown>,
  seed = 1,
): Promise<{ diff: number; cpu: KernelResult; wasm: KernelResult }> {
  const cpu = await runKernelOn('cpu', kernelName, inputs, attrs, seed);
  const wasm = await runKernelOn('wasm', kernelName, inputs, attrs, seed);
  if (cpu.shape.join() !== wasm.shape.join()) {
    throw new Error(`${kernelName}: wasm shape [${wasm.shape}] != cpu shape [${cpu.shape}]`);
  }
  let scale = 1;
  for (const v of cpu.values) scale = Math.max(scale, Math.abs(v));
  let diff = 0;
  for (let i = 0; i < cpu.values.length; i++) {
    const d = Math.abs(wasm.values[i]! - cpu.values[i]!) / scale;
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
  }
  return { diff, cpu, wasm };
}

/** Tensors and backend data ids in use on the active backend. */
export function memoryCounts(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() };
}
