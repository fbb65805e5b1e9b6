// Gradients of elementwise kernels with several inputs. Inputs broadcast against each
// other in the forward pass; each gradient is summed back to its input's shape.
import * as tf from '@tensorflow/tfjs-core';
import { Add, AddN, Maximum, Minimum, Multiply, Pow, RealDiv, Select, SquaredDifference, Sub, type GradConfig } from '@tensorflow/tfjs-core';
import { asFloat, keepWhere, savedAt, single, sumToShape } from './util.js';

/** A gradient for a kernel with inputs `a`, `b`: each partial is computed at the broadcast shape. */
function binary(
  kernelName: string,
  partials: (a: tf.Tensor, b: tf.Tensor, dy: tf.Tensor) => { a: () => tf.Tensor; b: () => tf.Tensor },
  extra: Partial<GradConfig> = {},
): GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    ...extra,
    gradFunc: (dy, saved) => {
      const a = savedAt(saved, 0);
      const b = savedAt(saved, 1);
      const p = partials(a, b, single(dy));
      return { a: () => sumToShape(p.a(), a.shape), b: () => sumToShape(p.b(), b.shape) };
    },
  };
}

/**
 * max/min: the gradient goes to the selected input; on a tie PyTorch splits it in
 * halves between both inputs, and so do we.
 */
function extremum(kernelName: string, wins: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): GradConfig {
  return binary(kernelName, (a, b, dy) => {
    const share = (won: tf.Tensor) => tf.where(won, dy, keepWhere(tf.equal(a, b), tf.mul(dy, 0.5)));
    return { a: () => share(wins(a, b)), b: () => share(wins(b, a)) };
  });
}

export const binaryGradients: GradConfig[] = [
  binary(Add, (_a, _b, dy) => ({ a: () => dy, b: () => dy })),
  binary(Sub, (_a, _b, dy) => ({ a: () => dy, b: () => tf.neg(dy) })),
  binary(Multiply, (a, b, dy) => ({ a: () => tf.mul(dy, asFloat(b)), b: () => tf.mul(dy, asFloat(a)) })),
  // d(a/b) = da/b - a·db/b².
  binary(RealDiv, (a, b, dy) => ({
    a: () => tf.div(dy, asFloat(b)),
    b: () => tf.neg(tf.div(tf.mul(dy, asFloat(a)), tf.square(asFloat(b)))),
  })),
  // d(a-b)² = 2(a-b)(da - db).
  binary(SquaredDifference, (a, b, dy) => ({
    a: () => tf.mul(dy, tf.mul(tf.sub(a, b), 2)),
    b: () => tf.mul(dy, tf.mul(tf.sub(b, a), 2)),
  })),
  // y = a^b: dy/da = b·a^(b-1) (0 where b = 0, as PyTorch);
  // dy/db = y·ln(a) for a > 0, and 0 elsewhere (PyTorch gives NaN for a < 0).
  binary(Pow, (a, b, dy) => ({
    a: () => {
      const fa = asFloat(a);
      const fb = asFloat(b);
      const d = tf.mul(fb, tf.pow(fa, tf.sub(fb, 1)));
      return tf.mul(dy, tf.where(tf.equal(fb, 0), tf.zerosLike(d), d));
    },
    b: () => {
      const fa = asFloat(a);
      const y = tf.pow(fa, asFloat(b));
      const positive = tf.greater(fa, 0);
      const logA = tf.where(positive, tf.log(tf.where(positive, fa, tf.onesLike(fa))), tf.zerosLike(fa));
      return tf.mul(dy, tf.mul(y, logA));
    },
  })),
  extremum(Maximum, (x, y) => tf.greater(x, y)),
  extremum(Minimum, (x, y) => tf.less(x, y)),
  // Every summand receives the whole upstream gradient.
  // (Inputs are saved only to count them: saving shares their data, copies nothing.)
  {
    kernelName: AddN,
    saveAllInputs: true,
    gradFunc: (dy, saved) => {
      const g = single(dy);
      return Object.fromEntries(saved.map((_, i) => [String(i), () => tf.clone(g)]));
    },
  },
  // where(c, t, e): the gradient goes to t where c holds and to e elsewhere; none to c.
  {
    kernelName: Select,
    inputsToSave: ['condition', 't', 'e'],
    gradFunc: (dy, saved) => {
      const g = single(dy);
      const condition = savedAt(saved, 0);
      const t = savedAt(saved, 1);
      const e = savedAt(saved, 2);
      const zeros = () => tf.zerosLike(g);
      return {
        condition: () => tf.zeros(condition.shape, 'float32'),
        t: () => sumToShape(tf.where(condition, g, zeros()), t.shape),
        e: () => sumToShape(tf.where(condition, zeros(), g), e.shape),
      };
    },
  },
];
