// The optimiser of CUT's three networks: tf's Adam with the reference's settings.
import * as tf from '@tensorflow/tfjs-core';

/**
 * The fields of tf.AdamOptimizer (tfjs 4.x) that its typings mark private: the one place that
 * reaches into them (our Adam's step, and saving / restoring its state bit for bit).
 */
export interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  iterations_: number;
}

/** `opt`'s private fields, checked to be there (a tfjs other than 4.x may lack them). */
export function adamInternals(opt: tf.AdamOptimizer): AdamInternals {
  const a = opt as unknown as AdamInternals;
  if (!(a.accBeta1 instanceof tf.Variable) || !Array.isArray(a.accumulatedFirstMoment) || !Array.isArray(a.accumulatedSecondMoment)) {
    throw new Error('optimizer state: this tfjs AdamOptimizer does not have the fields of tfjs 4.x (accBeta1, accumulatedFirstMoment, ...)');
  }
  return a;
}

/**
 * tf's Adam with the reference's settings, whose learning rate the schedule can change.
 * `applyGradients` does tf's arithmetic, op for op, but with its constants (β1, 1-β1, β2, 1-β2,
 * ε, -lr) as scalars made once: tf's own turns each of them into a new tensor for every
 * variable of every step, which on webgpu is an upload (a new GPU buffer) each.
 */
export class Adam extends tf.AdamOptimizer {
  private readonly constants: Record<'one' | 'beta1' | 'oneMinusBeta1' | 'beta2' | 'oneMinusBeta2' | 'epsilon', tf.Scalar>;
  private negLr: tf.Scalar | null = null;

  constructor(lr: number, beta1: number, beta2: number) {
    super(lr, beta1, beta2, 1e-8);
    const c = (v: number) => tf.keep(tf.scalar(v));
    this.constants = { one: c(1), beta1: c(beta1), oneMinusBeta1: c(1 - beta1), beta2: c(beta2), oneMinusBeta2: c(1 - beta2), epsilon: c(1e-8) };
  }
  get lr(): number {
    return this.learningRate;
  }
  setLearningRate(lr: number): void {
    if (lr === this.learningRate) return;
    this.learningRate = lr;
    this.negLr?.dispose();
    this.negLr = null;
  }
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const a = this as unknown as AdamInternals;
    const k = this.constants;
    const list = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    this.negLr ??= tf.keep(tf.scalar(-this.learningRate));
    const negLr = this.negLr;
    tf.tidy(() => {
      const biasCorrection1 = tf.sub(k.one, a.accBeta1);
      const biasCorrection2 = tf.sub(k.one, a.accBeta2);
      list.forEach(({ name, tensor: gradient }, i) => {
        const value = tf.engine().registeredVariables[name]!;
        a.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        a.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        if (gradient == null) return;
        const m = a.accumulatedFirstMoment[i]!.variable;
        const v = a.accumulatedSecondMoment[i]!.variable;
        const newM = tf.add(tf.mul(m, k.beta1), tf.mul(gradient, k.oneMinusBeta1));
        const newV = tf.add(tf.mul(v, k.beta2), tf.mul(tf.square(gradient), k.oneMinusBeta2));
        m.assign(newM);
        v.assign(newV);
        const mHat = tf.div(newM, biasCorrection1);
        const vHat = tf.div(newV, biasCorrection2);
        value.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), k.epsilon)), negLr), value));
      });
      a.accBeta1.assign(tf.mul(a.accBeta1, k.beta1));
      a.accBeta2.assign(tf.mul(a.accBeta2, k.beta2));
    });
    this.incrementIterations();
  }
  override dispose(): void {
    super.dispose();
    tf.dispose([...Object.values(this.constants), ...(this.negLr ? [this.negLr] : [])]);
    this.negLr = null;
  }
}

/**
 * Applies gradients in the fixed order of `vars`, so tf's Adam (which keys its moment
 * estimates by position) always pairs a variable with its own moments; a variable without
 * a gradient is left unchanged, like a PyTorch parameter whose grad is None.
 */
export function applyAdam(opt: Adam, vars: ReadonlyArray<readonly [string, tf.Variable]>, grads: tf.NamedTensorMap): void {
  const list = vars.map(([, v]) => ({ name: v.name, tensor: grads[v.name] ?? null }));
  opt.applyGradients(list as unknown as Parameters<Adam['applyGradients']>[0]);
}
