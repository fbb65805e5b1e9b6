import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeBackends } from '../../../../test-utils/backends';
import { loadFixture, type GoldenTensor } from '../../../../test-utils/golden';
import { stopGradient } from '../stop-gradient.js';
import { gradientConfigs, registerGradients } from './index.js';
import { zeroGradients } from './zero.js';

// Golden numbers from PyTorch 1.13 (tools/golden/gradients.py), stored in tfjs layouts
// (NHWC, HWIO, ...): per case the forward output(s), a seeded upstream gradient dy and
// the gradients of sum(output * dy) w.r.t. the inputs named in `wrt`.
interface GradientCase {
  name: string;
  op: string;
  // biome-ignore lint/suspicious/noExplicitAny: each op reads its own golden parameters (numbers, arrays, strings)
  params: Record<string, any>;
  inputs: Record<string, GoldenTensor>;
  wrt: string[];
  dy: GoldenTensor | GoldenTensor[];
  output: GoldenTensor | GoldenTensor[];
  grads: Record<string, GoldenTensor>;
}
const golden = loadFixture<{ cases: GradientCase[] }>('golden/gradients.json');

/** |actual − expected| ≤ TOL·max(1, |expected|): absolute near zero, relative for large values. */
const TOL = 1e-4;

type Inputs = Record<string, tf.Tensor>;
// biome-ignore lint/suspicious/noExplicitAny: as GoldenCase.params
type Op = (t: Inputs, p: Record<string, any>) => tf.Tensor | tf.Tensor[];

const get = (t: Inputs, name: string): tf.Tensor => {
  const v = t[name];
  if (!v) throw new Error(`case input '${name}' missing`);
  return v;
};
const x4 = (t: Inputs, name = 'x') => get(t, name) as tf.Tensor4D;

/** The tfjs call each golden case stands for (params as the Python generator wrote them). */
const ops: Record<string, Op> = {
  conv2d: (t, p) => tf.conv2d(x4(t), x4(t, 'filter'), p.strides, p.pad, 'NHWC', p.dilations, p.dimRoundingMode),
  conv2dTranspose: (t, p) => tf.conv2dTranspose(x4(t), x4(t, 'filter'), p.outputShape, p.strides, p.pad),
  depthwiseConv2d: (t, p) => tf.depthwiseConv2d(x4(t), x4(t, 'filter'), p.strides, p.pad, 'NHWC', p.dilations),
  // tfjs has no op for the grouped transposed convolution: call its kernel.
  depthwiseConv2dTranspose: (t, p) =>
    tf
      .engine()
      .runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: get(t, 'x'), filter: get(t, 'filter') },
        { strides: p.strides, pad: p.pad, dilations: 1, inputShape: p.inputShape },
      ),
  matMul: (t, p) => tf.matMul(get(t, 'a'), get(t, 'b'), p.transposeA, p.transposeB),
  relu: (t) => tf.relu(get(t, 'x')),
  leakyRelu: (t, p) => tf.leakyRelu(get(t, 'x'), p.alpha),
  elu: (t) => tf.elu(get(t, 'x')),
  tanh: (t) => tf.tanh(get(t, 'x')),
  sigmoid: (t) => tf.sigmoid(get(t, 'x')),
  softplus: (t) => tf.softplus(get(t, 'x')),
  neg: (t) => tf.neg(get(t, 'x')),
  square: (t) => tf.square(get(t, 'x')),
  sqrt: (t) => tf.sqrt(get(t, 'x')),
  rsqrt: (t) => tf.rsqrt(get(t, 'x')),
  exp: (t) => tf.exp(get(t, 'x')),
  log: (t) => tf.log(get(t, 'x')),
  log1p: (t) => tf.log1p(get(t, 'x')),
  abs: (t) => tf.abs(get(t, 'x')),
  reciprocal: (t) => tf.reciprocal(get(t, 'x')),
  clone: (t) => tf.clone(get(t, 'x')),
  cast: (t, p) => tf.cast(get(t, 'x'), p.dtype),
  expandDims: (t, p) => tf.expandDims(get(t, 'x'), p.axis),
  softmax: (t, p) => tf.softmax(get(t, 'x'), p.dim),
  clipByValue: (t, p) => tf.clipByValue(get(t, 'x'), p.min, p.max),
  add: (t) => tf.add(get(t, 'a'), get(t, 'b')),
  sub: (t) => tf.sub(get(t, 'a'), get(t, 'b')),
  mul: (t) => tf.mul(get(t, 'a'), get(t, 'b')),
  div: (t) => tf.div(get(t, 'a'), get(t, 'b')),
  squaredDifference: (t) => tf.squaredDifference(get(t, 'a'), get(t, 'b')),
  pow: (t) => tf.pow(get(t, 'a'), get(t, 'b')),
  maximum: (t) => tf.maximum(get(t, 'a'), get(t, 'b')),
  minimum: (t) => tf.minimum(get(t, 'a'), get(t, 'b')),
  addN: (t) => tf.addN([get(t, 'a'), get(t, 'b'), get(t, 'c')]),
  where: (t) => tf.where(tf.cast(get(t, 'condition'), 'bool'), get(t, 't'), get(t, 'e')),
  sum: (t, p) => tf.sum(get(t, 'x'), p.axis ?? undefined, p.keepDims),
  mean: (t, p) => tf.mean(get(t, 'x'), p.axis ?? undefined, p.keepDims),
  max: (t, p) => tf.max(get(t, 'x'), p.axis ?? undefined, p.keepDims),
  min: (t, p) => tf.min(get(t, 'x'), p.axis ?? undefined, p.keepDims),
  reshape: (t, p) => tf.reshape(get(t, 'x'), p.shape),
  transpose: (t, p) => tf.transpose(get(t, 'x'), p.perm),
  reverse: (t, p) => tf.reverse(get(t, 'x'), p.axis),
  slice: (t, p) => tf.slice(get(t, 'x'), p.begin, p.size),
  stridedSlice: (t, p) => tf.stridedSlice(get(t, 'x'), p.begin, p.end, p.strides, p.beginMask, p.endMask, 0, 0, p.shrinkAxisMask),
  concat: (t, p) => tf.concat(Object.values(t), p.axis),
  stack: (t, p) => tf.stack(Object.values(t), p.axis),
  unstack: (t, p) => tf.unstack(get(t, 'x'), p.axis),
  split: (t, p) => tf.split(get(t, 'x'), p.sizes, p.axis),
  tile: (t, p) => tf.tile(get(t, 'x'), p.reps),
  broadcastTo: (t, p) => tf.broadcastTo(get(t, 'x'), p.shape),
  pad: (t, p) => tf.pad(get(t, 'x'), p.paddings, p.value),
  mirrorPad: (t, p) => tf.mirrorPad(get(t, 'x'), p.paddings, p.mode),
  gather: (t, p) => tf.gather(get(t, 'x'), get(t, 'indices'), p.axis, p.batchDims),
  unsortedSegmentSum: (t, p) => tf.unsortedSegmentSum(get(t, 'x'), get(t, 'segmentIds') as tf.Tensor1D, p.numSegments),
  resizeBilinear: (t, p) => tf.image.resizeBilinear(x4(t), p.size, p.alignCorners, p.halfPixelCenters),
  resizeNearestNeighbor: (t, p) => tf.image.resizeNearestNeighbor(x4(t), p.size, p.alignCorners, p.halfPixelCenters),
  // Zero-gradient kernels (Floor, Greater) on the path from x.
  floorTimesX: (t) => tf.mul(get(t, 'x'), tf.floor(get(t, 'x'))),
  whereGreater: (t) => {
    const x = get(t, 'x');
    return tf.where(tf.greater(x, 0), tf.mul(x, 2), tf.mul(x, x));
  },
  // Compositions of tfjs ops used by the CUT code: moments, logSoftmax, norm, losses.
  instanceNorm: (t, p) => {
    const x = get(t, 'x');
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, p.epsilon)));
  },
  logSoftmaxCrossEntropy: (t) => {
    const logits = get(t, 'logits');
    const onehot = tf.oneHot(tf.cast(get(t, 'labels'), 'int32') as tf.Tensor1D, logits.shape[1]!);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.cast(onehot, 'float32'), tf.logSoftmax(logits)), 1)));
  },
  l2Normalize: (t, p) => tf.div(get(t, 'x'), tf.add(tf.norm(get(t, 'x'), 'euclidean', 1, true), p.epsilon)),
  meanSquaredError: (t) => tf.losses.meanSquaredError(get(t, 'labels'), get(t, 'predictions')),
  sigmoidCrossEntropy: (t) => tf.losses.sigmoidCrossEntropy(get(t, 'labels'), get(t, 'logits')),
  convReluMean: (t, p) => tf.mean(tf.relu(tf.conv2d(x4(t), x4(t, 'filter'), p.strides, p.pad))),
};

const toTensor = (g: GoldenTensor): tf.Tensor => tf.tensor(g.data, g.shape, g.dtype === 'int64' ? 'int32' : 'float32');
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Worst |a − e| / max(1, |e|) over a tensor; checks the shape too. */
async function deviation(actual: tf.Tensor, expected: GoldenTensor, what: string): Promise<number> {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  const a = await actual.data();
  let worst = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i]!;
    const d = Math.abs(a[i]! - e) / Math.max(1, Math.abs(e));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

function opOf(c: GradientCase): Op {
  const op = ops[c.op];
  if (!op) throw new Error(`no tfjs op for golden case op '${c.op}'`);
  return op;
}

function inputsOf(c: GradientCase): Inputs {
  const inputs: Inputs = {};
  for (const [name, g] of Object.entries(c.inputs)) inputs[name] = toTensor(g);
  return inputs;
}

/** Forward value(s) and gradients (w.r.t. `wrt`, upstream `dy`) of one golden case. */
function evaluate(c: GradientCase): { outputs: tf.Tensor[]; grads: tf.Tensor[] } {
  const op = opOf(c);
  return tf.tidy(() => {
    const inputs = inputsOf(c);
    const xs = c.wrt.map((name) => get(inputs, name));
    const withWatched = (watched: tf.Tensor[]): Inputs => {
      const t = { ...inputs };
      c.wrt.forEach((name, i) => (t[name] = watched[i]!));
      return t;
    };
    const outputs = list(op(inputs, c.params));
    const dys = list(c.dy).map(toTensor);
    // One output: tfjs's own dy argument. Several: the scalar sum(out_i * dy_i), whose
    // gradient is the same vector-Jacobian product.
    const grads =
      dys.length === 1
        ? tf.grads((...w: tf.Tensor[]) => op(withWatched(w), c.params) as tf.Tensor)(xs, dys[0])
        : tf.grads((...w: tf.Tensor[]) => tf.addN(list(op(withWatched(w), c.params)).map((o, i) => tf.sum(tf.mul(o, dys[i]!)))))(xs);
    return { outputs, grads };
  });
}

const ourKernels = new Set(gradientConfigs.map((c) => c.kernelName));

describe('gradient registry', () => {
  beforeAll(() => {
    registerGradients();
  });

  it('has one config per kernel', () => {
    expect(ourKernels.size).toBe(gradientConfigs.length);
  });

  it('registers our config for every kernel it covers (tfjs-core registers none)', () => {
    for (const config of gradientConfigs) {
      expect(tf.getGradient(config.kernelName), config.kernelName).toBe(config);
    }
  });

  it('is idempotent and leaves a gradient registered by someone else in place', () => {
    expect(registerGradients()).toEqual([]);
    const ours = gradientConfigs.find((c) => c.kernelName === 'Tanh')!;
    const theirs: tf.GradConfig = { kernelName: 'Tanh', gradFunc: () => ({}) };
    tf.unregisterGradient('Tanh');
    tf.registerGradient(theirs);
    try {
      expect(registerGradients()).toEqual([]);
      expect(tf.getGradient('Tanh')).toBe(theirs);
      tf.unregisterGradient('Tanh');
      expect(registerGradients()).toEqual(['Tanh']);
      expect(tf.getGradient('Tanh')).toBe(ours);
    } finally {
      if (tf.getGradient('Tanh') !== ours) {
        tf.unregisterGradient('Tanh');
        tf.registerGradient(ours);
      }
    }
  });
});

/**
 * Forward kernels of a backend known to compute a case wrongly (a bug of the backend, not
 * of a gradient): there the test asserts the forward value is still wrong, so it tells
 * when the bug is fixed, and checks the gradients as usual.
 */
const knownForwardBugs: Partial<Record<string, Record<string, string>>> = {
  wasm: { gather_batch_dims1: 'tfjs-backend-wasm 4.22 GatherV2 mis-gathers when batchDims > 0' },
};

describeBackends('kernel gradients vs PyTorch', (backend) => {
  for (const c of golden.cases) {
    it(c.name, async () => {
      const before = tf.memory().numTensors;
      const { outputs, grads } = evaluate(c);
      const forwardBug = knownForwardBugs[backend]?.[c.name];
      try {
        const expectedOutputs = list(c.output);
        expect(outputs.length).toBe(expectedOutputs.length);
        for (let i = 0; i < outputs.length; i++) {
          const dev = await deviation(outputs[i]!, expectedOutputs[i]!, `output ${i}`);
          if (forwardBug) expect(dev, `${c.name}: fixed upstream? (${forwardBug})`).toBeGreaterThan(TOL);
          else expect(dev, `${c.name}: output ${i}`).toBeLessThanOrEqual(TOL);
        }
        for (let i = 0; i < c.wrt.length; i++) {
          const name = c.wrt[i]!;
          expect(await deviation(grads[i]!, c.grads[name]!, `d/d${name}`), `${c.name}: d/d${name}`).toBeLessThanOrEqual(TOL);
        }
      } finally {
        tf.dispose([...outputs, ...grads]);
      }
      expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
    });
  }

  it('BroadcastTo (no backend runs this kernel; its gradient is called directly)', async () => {
    const c = golden.cases.find((k) => k.name === 'broadcast_to')!;
    const config = tf.getGradient('BroadcastTo');
    expect(config.kernelName).toBe('BroadcastTo');
    const dy = toTensor(c.dy as GoldenTensor);
    const dx = tf.tidy(() => config.gradFunc(dy, [], { shape: c.params.shape, inputShape: c.inputs.x!.shape }).x!());
    expect(await deviation(dx, c.grads.x!, 'd/dx')).toBeLessThanOrEqual(TOL);
    tf.dispose([dy, dx]);
  });

  it('zero-gradient kernels on the path from x pass no gradient', async () => {
    // y = x + k(x) (k cast to float, summed when it reduces): dy/dx must be exactly 1.
    const kernels: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
      ['Floor', (x) => tf.floor(x)],
      ['Ceil', (x) => tf.ceil(x)],
      ['Round', (x) => tf.round(x)],
      ['Sign', (x) => tf.sign(x)],
      ['Step', (x) => tf.step(x)],
      ['IsNan', (x) => tf.isNaN(x)],
      ['IsInf', (x) => tf.isInf(x)],
      ['IsFinite', (x) => tf.isFinite(x)],
      ['LogicalNot', (x) => tf.logicalNot(tf.greater(x, 0))],
      ['ZerosLike', (x) => tf.zerosLike(x)],
      ['OnesLike', (x) => tf.onesLike(x)],
      ['ArgMax', (x) => tf.argMax(x, 1)],
      ['ArgMin', (x) => tf.argMin(x, 1)],
      ['Equal', (x) => tf.equal(x, tf.round(x))],
      ['NotEqual', (x) => tf.notEqual(x, 0.5)],
      ['Greater', (x) => tf.greater(x, 0)],
      ['GreaterEqual', (x) => tf.greaterEqual(x, 0)],
      ['Less', (x) => tf.less(x, 0)],
      ['LessEqual', (x) => tf.lessEqual(x, 0)],
      ['LogicalAnd', (x) => tf.logicalAnd(tf.greater(x, -1), tf.less(x, 1))],
      ['LogicalOr', (x) => tf.logicalOr(tf.greater(x, 1), tf.less(x, -1))],
    ];
    const covered = new Set(kernels.map(([k]) => k));
    expect(zeroGradients.map((c) => c.kernelName).filter((k) => !covered.has(k))).toEqual([]);
    const x = tf.tensor2d([
      [-1.5, 0, 0.5, 2.25],
      [3, -0.25, 1, -2],
    ]);
    for (const [name, k] of kernels) {
      const dx = tf.grad((v: tf.Tensor) => tf.add(tf.sum(v), tf.sum(tf.cast(k(v), 'float32'))))(x);
      expect(Array.from(await dx.data()), name).toEqual(new Array(8).fill(1));
      dx.dispose();
    }
    x.dispose();
  });

  if (backend === 'cpu') {
    it('golden cases run every kernel we differentiate (profiled on cpu)', async () => {
      const seen = new Set<string>();
      for (const c of golden.cases) {
        // Forward only: kernels that merely run inside some backward pass do not count.
        const info = await tf.profile(() => tf.tidy(() => list(opOf(c)(inputsOf(c), c.params))));
        for (const k of info.kernels) seen.add(k.name);
        tf.dispose(info.result as tf.Tensor[]);
      }
      // Covered by the two tests above.
      const elsewhere = new Set(['BroadcastTo', ...zeroGradients.map((c) => c.kernelName)]);
      const untested = [...ourKernels].filter((k) => !seen.has(k) && !elsewhere.has(k));
      expect(untested).toEqual([]);
    });
  }

  describe('stopGradient', () => {
    it('keeps the values and shares the data (no copy)', async () => {
      const x = tf.tensor2d([
        [1, -2, 3],
        [4, 5, -6],
      ]);
      const buffers = tf.memory().numDataBuffers;
      const y = stopGradient(x);
      expect(y).not.toBe(x);
      expect(y.shape).toEqual(x.shape);
      expect(y.dtype).toBe('float32');
      expect(tf.memory().numDataBuffers).toBe(buffers);
      expect(Array.from(await y.data())).toEqual([1, -2, 3, 4, 5, -6]);
      // Either handle can be disposed first; the data lives until both are.
      x.dispose();
      expect(Array.from(await y.data())).toEqual([1, -2, 3, 4, 5, -6]);
      y.dispose();
      expect(tf.memory().numDataBuffers).toBe(buffers - 1);
    });

    it('lets no gradient through: d/dx sum(stop(x) * x) = x, as torch (x.detach() * x)', async () => {
      const x = tf.tensor1d([0.5, -1.5, 2, 3]);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(stopGradient(v), v)))(x);
      expect(Array.from(await dx.data())).toEqual([0.5, -1.5, 2, 3]);
      // With stop(x) as the only path, x is not connected to the result at all.
      expect(() => tf.grad((v: tf.Tensor) => tf.sum(stopGradient(v)))(x)).toThrow(/Cannot compute gradient/);
      tf.dispose([x, dx]);
    });

    it('gives an optimizer no gradient for a variable seen only through it', async () => {
      const a = tf.variable(tf.tensor1d([1, 2, 3]), true, 'stopgrad_a');
      const b = tf.variable(tf.tensor1d([4, 5, 6]), true, 'stopgrad_b');
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(stopGradient(a), b)) as tf.Scalar, [a, b]);
      expect(Object.keys(grads)).toEqual(['stopgrad_b']);
      expect(Array.from(await grads.stopgrad_b!.data())).toEqual([1, 2, 3]);
      expect(await value.data()).toEqual(new Float32Array([32]));
      tf.dispose([value, ...Object.values(grads), a, b]);
    });

    it('is tracked by tf.tidy and leaves memory flat', () => {
      const x = tf.randomNormal([8, 8]);
      const start = tf.memory();
      for (let i = 0; i < 5; i++) {
        tf.tidy(() => {
          stopGradient(x);
          tf.grad((v: tf.Tensor) => tf.sum(tf.mul(stopGradient(v), v)))(x);
        });
      }
      const end = tf.memory();
      expect(end.numTensors).toBe(start.numTensors);
      expect(end.numDataBuffers).toBe(start.numDataBuffers);
      expect(end.numBytes).toBe(start.numBytes);
      x.dispose();
    });
  });
});
