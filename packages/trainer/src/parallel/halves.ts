// One CUT iteration split between two replicas of the model (`TwoThreadTrainer`): the main
// thread's runs half 'A' (the D step, then G_GAN + w·NCE on real_A), the worker's half 'B'
// (w·NCE_Y on real_B, CUT's identity term); both then take the same Adam steps.
import * as tf from '@tensorflow/tfjs-core';
import type { CUTModel, LossName } from '../cut-model.js';

/** One replica's share of a two-thread iteration (`trainHalf`). */
export interface HalfStep {
  /** Gradients of G's, then F's variables (`generatorVariables` order); zeros where none. */
  grads: tf.Tensor[];
  /** Half 'A': the D step's gradients (`named('D')` order), already applied to this replica's D. */
  dGrads: tf.Tensor[] | null;
  /** This half's part of loss_G (G_GAN + w·NCE, or w·NCE_Y). */
  value: tf.Scalar;
  /** This half's logged losses: D_real, D_fake, G_GAN, NCE for 'A'; NCE_Y for 'B'. */
  losses: Partial<Record<LossName, tf.Scalar>>;
}

/**
 * Whether an iteration of this model splits into two halves (CUT: the identity term on real_B;
 * also with MoNCE or QS-Attn's query selection, not with Hneg-SRC's losses).
 */
export function splitsIntoHalves(model: CUTModel): boolean {
  // Not netF strided_conv: its running averages would see only one half's calls on each replica.
  return !model.hneg && model.options.nce_idt && model.options.lambda_NCE > 0 && model.options.netF !== 'strided_conv';
}

/**
 * This replica's half of one `optimizeParameters`. 'A' (given real_A and real_B): the D step,
 * applied here, then the gradients of G_GAN + w·NCE; 'B' (given real_B): those of w·NCE_Y. Each
 * half draws the flip and steps the rng past the other half's patch ids, so two replicas in the
 * same state stay in step. Finish with `applyHalves` on both replicas. The caller frees the result.
 */
export function trainHalf(model: CUTModel, half: 'A' | 'B', real: tf.Tensor4D, realB?: tf.Tensor4D): HalfStep {
  if (!model.isInitialized) throw new Error('trainHalf: call dataDependentInitialize first');
  if (model.options.netF === 'strided_conv') {
    throw new Error('trainHalf: netF strided_conv keeps running averages over every call, which two replicas would split');
  }
  if (!splitsIntoHalves(model)) {
    throw new Error('trainHalf: two halves need nce_idt and lambda_NCE > 0 (CUT); otherwise B has no G loss');
  }
  const flipped = model.drawFlip();
  const vars = model.generatorVariables;
  const ordered = (grads: tf.NamedTensorMap) => vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
  if (half === 'A') {
    if (!realB) throw new Error("trainHalf: half 'A' needs real_B for the D step");
    model.checkInputs(real, realB);
    let d: ReturnType<CUTModel['stepDiscriminator']> | null = null;
    const a = model.generatorHalf('A', real, { flipped, between: (fakeB) => (d = model.stepDiscriminator(fakeB, realB, true)), skip: 'after' });
    const dr = d!;
    a.out.dispose();
    const dGrads = model.named('D').map(([, v]) => dr.grads![v.name] ?? tf.zerosLike(v));
    return { grads: ordered(a.grads!), dGrads, value: a.value, losses: { ...dr.parts, ...a.losses } };
  }
  model.checkInputs(real, real);
  const b = model.generatorHalf('B', real, { flipped, skip: 'before' });
  b.out.dispose();
  return { grads: ordered(b.grads!), dGrads: null, value: b.value, losses: b.losses };
}

/**
 * Ends a two-thread iteration on one replica: D's Adam step with `dGrads` (the replica that ran
 * half 'A' already took it: pass null), then G's and F's with the halves' gradients summed
 * (A + B, as `optimizeParameters` sums them). `losses` become `currentLosses()`. Takes ownership
 * of every tensor given.
 */
export function applyHalves(
  model: CUTModel,
  gradsA: tf.Tensor[],
  gradsB: tf.Tensor[],
  dGrads: tf.Tensor[] | null,
  losses: Partial<Record<LossName, tf.Scalar>> = {},
): void {
  const vars = model.generatorVariables;
  if (gradsA.length !== vars.length || gradsB.length !== vars.length) {
    throw new Error(`applyHalves: expected ${vars.length} gradients per half, got ${gradsA.length} and ${gradsB.length}`);
  }
  if (dGrads) model.applyDiscriminatorGradients(Object.fromEntries(model.named('D').map(([, v], i) => [v.name, dGrads[i]!])));
  const summed: tf.NamedTensorMap = {};
  vars.forEach((v, i) => (summed[v.name] = tf.add(gradsA[i]!, gradsB[i]!)));
  model.applyGeneratorGradients(summed);
  tf.dispose([...gradsA, ...gradsB, ...(dGrads ?? []), ...Object.values(summed)]);
  model.setCurrentLosses(losses);
}
