import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, testBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiffTensor, type GoldenTensor } from '../../../test-utils/golden';
import { BackendError } from './errors.js';
import { loadBackend } from './load.js';
import { checkAdapter, probeWebGpu, type AdapterInfo } from './webgpu.js';

interface ConvCase {
  name: string;
  stride: number;
  tfjs_pad: 'same' | 'valid';
  x: GoldenTensor;
  weight: GoldenTensor;
  bias: GoldenTensor;
  y: GoldenTensor;
  dy: GoldenTensor;
  dx: GoldenTensor;
  dweight: GoldenTensor;
  dbias: GoldenTensor;
}

// PyTorch's conv2d and its gradients (tools/golden/webgpu_smoke.py).
const { cases } = loadFixture<{ cases: ConvCase[] }>('golden/webgpu_smoke.json');
// Values are O(1..10) sums of 27 products: float32 rounding stays far below this.
const TOL = 2e-5;

/** OIHW (PyTorch) weights as HWIO (tfjs). */
const hwio = (g: GoldenTensor) => tf.tidy(() => tf.transpose(goldenTensor(g), [2, 3, 1, 0]) as tf.Tensor4D);

describe('loadBackend', () => {
  for (const backend of testBackends()) {
    it(`loads ${backend} and makes it the active backend`, async () => {
      const info = await loadBackend(backend);
      console.log(`backend ${info.name}: ${info.detail}`);
      expect(info.name).toBe(backend);
      expect(tf.getBackend()).toBe(backend);
      if (backend === 'webgpu') {
        // The adapter's own description, e.g. "mesa software llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)".
        expect(info.detail).toMatch(/^Dawn, adapter \S/);
      }
    });
  }

  it('rejects an unknown backend by name', async () => {
    await expect(loadBackend('cuda' as never)).rejects.toThrow(/unknown backend 'cuda'/);
  });

  it('auto: one summary line naming what runs and, briefly, why each faster backend was skipped', async () => {
    const info = await loadBackend('auto');
    expect(info.summary).not.toContain('\n');
    for (const s of info.skipped) {
      expect(info.summary).toContain(`${s.backend} (${s.brief})`);
      expect(s.reason.length).toBeGreaterThan(s.brief.length);
    }
    if (info.name === 'wasm') {
      expect(info.skipped.map((s) => s.backend)).toEqual(['tensorflow', 'webgpu']);
      expect(info.summary).toMatch(
        /^wasm (with native oneDNN kernels \(\d+ threads?\)|\(1 thread; native kernels off.*\)); skipped tensorflow \(.+\) and webgpu \(.+\)$/,
      );
    }
    await loadBackend(testBackends()[0]!);
  });
});

describe('WebGPU adapter checks', () => {
  const adapter = (description: string, architecture = ''): AdapterInfo => ({ vendor: 'v', architecture, description, device: 'd' });

  it('no adapter: says so, with what Dawn printed kept aside', () => {
    const e = (() => {
      try {
        checkAdapter({ adapter: null, output: "Warning: Couldn't load Vulkan" }, false);
      } catch (err) {
        return err as BackendError;
      }
    })();
    expect(e).toBeInstanceOf(BackendError);
    expect(e!.message).toMatch(/^no WebGPU adapter found .*lavapipe/);
    expect(e!.brief).toBe('no WebGPU adapter');
    expect(e!.output).toBe("Warning: Couldn't load Vulkan");
  });

  it('a software rasteriser is refused only where hardware is required (auto)', () => {
    const soft = adapter('llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', 'software');
    expect(checkAdapter({ adapter: soft, output: '' }, false)).toBe(soft);
    expect(() => checkAdapter({ adapter: soft, output: '' }, true)).toThrow('only a software adapter (llvmpipe: Mesa 25.0.7 (LLVM 15.0.6))');
    const gpu = adapter('NVIDIA GeForce RTX 4090');
    expect(checkAdapter({ adapter: gpu, output: '' }, true)).toBe(gpu);
  });

  it('the probe runs Dawn in a child process and returns what it printed instead of printing it', () => {
    const probe = probeWebGpu();
    expect(typeof probe.output).toBe('string');
    // CUT_TEST_WEBGPU=1: lavapipe is set up (.ci/setup-webgpu.sh), so there is an adapter.
    if (process.env.CUT_TEST_WEBGPU === '1') expect(probe.adapter?.description).toMatch(/llvmpipe/);
  });
});

describeBackends('conv2d smoke test against PyTorch', (backend) => {
  for (const c of cases) {
    it(`${c.name}: forward`, async () => {
      expect(tf.getBackend()).toBe(backend);
      const y = tf.tidy(() => tf.add(tf.conv2d(goldenNHWC(c.x), hwio(c.weight), c.stride, c.tfjs_pad), goldenTensor(c.bias)));
      const expected = goldenNHWC(c.y);
      expect(y.shape).toEqual(expected.shape);
      expect(await maxAbsDiffTensor(y, expected)).toBeLessThan(TOL);
      tf.dispose([y, expected]);
    });

    it(`${c.name}: gradients of sum(y * dy) w.r.t. input, filter and bias`, async () => {
      const before = tf.memory().numTensors;
      const [x, w, b, dy] = [goldenNHWC(c.x), hwio(c.weight), goldenTensor(c.bias), goldenNHWC(c.dy)];
      const loss = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
        tf.sum(tf.mul(tf.add(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.tfjs_pad), bi), dy));
      const [dx, dw, db] = tf.grads(loss)([x, w, b]);
      const expected = [goldenNHWC(c.dx), hwio(c.dweight), goldenTensor(c.dbias)];
      for (const [got, want] of [
        [dx!, expected[0]!],
        [dw!, expected[1]!],
        [db!, expected[2]!],
      ] as const) {
        expect(got.shape).toEqual(want.shape);
        expect(await maxAbsDiffTensor(got, want)).toBeLessThan(TOL);
      }
      tf.dispose([x, w, b, dy, dx!, dw!, db!, ...expected]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
