import * as tf from '@tensorflow/tfjs-core';
import { hwioToOihwArray, offTape, SeededRng, tfToLinearArray, type HostArray } from '@cut/core-tensors';
import { hardNegativeDCELoss, hdceGammaAt, moNCELoss, patchNCELoss, semanticRelationLoss, semanticRelationWeights } from '@cut/nce-loss';
import { createFeatureHead, PatchSampleF, type FeatureHead, type NetFName, type QueryAttention } from '@cut/patch-sampler';
import { defineDiscriminator, defineGenerator, networkConfigs, type Discriminator, type Generator, type TorchArray } from '@cut/networks';
import { ganLoss } from './gan-loss.js';
import { Adam, applyAdam } from './optim/adam.js';
import { parseNceLayers, validateOptions, type CUTOptions } from './options.js';

/**
 * The losses the reference logs, in its order (`NCE_Y` only with nce_idt); with nce_loss hdce or
 * dce, Hneg-SRC's names instead of NCE and NCE_Y: HDCE, HDCE_Y (with dce_idt) and SRC.
 */
export type LossName = 'G_GAN' | 'D_real' | 'D_fake' | 'G' | 'NCE' | 'NCE_Y' | 'HDCE' | 'HDCE_Y' | 'SRC';
/** The three networks, by the reference's `model_names`. */
export type NetName = 'G' | 'D' | 'F';
/** Patch ids per feature level (id = y·W + x), as PatchSampleF draws them. */
export type PatchIds = number[][];

export interface CUTModelInit {
  /** Source of every random draw (initialisation, flips, patch ids). Default: from `seed`. */
  rng?: SeededRng;
  /** Seed for a new SeededRng; default the `seed` option, else a random one. */
  seed?: number;
  /**
   * Take the PatchNCE keys (G's encoder features of real_A / real_B) from the generator's own
   * forward pass on them instead of running the encoder again as the reference does: the same
   * weights and input, so the same numbers. Default true; false recomputes (for checks).
   */
  reuseEncoderFeatures?: boolean;
}

export interface EvaluateOptions {
  /**
   * Patch ids for the key (source-image) side of each PatchNCE pair, reused for its query
   * side: `NCE` for (real_A, fake_B), `NCE_Y` for (real_B, idt_B). Absent ones are drawn.
   */
  patchIds?: { NCE?: PatchIds; NCE_Y?: PatchIds };
  /** FastCUT's horizontal flip of the generator input; drawn like a training step when absent. */
  flipped?: boolean;
}

/** One evaluation of the losses and their gradients, without any optimiser step. */
export interface LossEvaluation {
  /** The logged losses (as scalars), keyed by the reference's names. */
  losses: Partial<Record<LossName, tf.Scalar>>;
  /** 0.5·(D_fake + D_real), the discriminator's objective. */
  lossD: tf.Scalar;
  fakeB: tf.Tensor4D;
  /** G(real_B), with nce_idt only. */
  idtB: tf.Tensor4D | null;
  /**
   * Gradients in our layout, by the reference's parameter names: D from loss_D (fake_B
   * detached), G and F from loss_G with D frozen, both at the current weights.
   */
  grads: Record<NetName, Map<string, tf.Tensor>>;
  /** The ids used by each PatchNCE pair (null when that pair did not run). */
  patchIds: { NCE: PatchIds | null; NCE_Y: PatchIds | null };
  flipped: boolean;
  dispose(): void;
}

type Named = Array<[string, tf.Variable]>;
/**
 * Pooled key features of one contrastive pair and the ids drawn for them; with QS-Attn's query
 * selection, the attention each level selected (reused by the query side; on the tape).
 */
type Keys = { feats: tf.Tensor2D[]; ids: PatchIds; attention: (QueryAttention | null)[] | null };
/** One pair's contrastive terms: what loss_G adds, and the logged parts. */
type Contrastive = { value: tf.Scalar; parts: Partial<Record<LossName, tf.Scalar>> };
/** The discriminator's loss parts and gradients of one D step. */
type DResult = { value: tf.Scalar; grads: tf.NamedTensorMap; parts: Partial<Record<LossName, tf.Scalar>> };
/** Work done on fake_B between G's forward on real_A and the G loss, off G's tape (the D step). */
export type BetweenHook = (fakeB: tf.Tensor4D) => void;
/** Whether a half step skips the other half's patch-id draws before or after its own. */
export type Skip = 'before' | 'after' | null;

/**
 * The reference's `CUTModel` (CUT and FastCUT) on NHWC tensors: generator G, PatchGAN
 * discriminator D, patch-feature head F, their Adam optimisers, and one training iteration
 * in the reference's order (D step on the detached fake, then G and F against the updated D).
 */
export class CUTModel {
  readonly options: CUTOptions;
  readonly netG: Generator;
  readonly netD: Discriminator;
  readonly netF: FeatureHead;
  readonly rng: SeededRng;
  /** The seed the rng was created from (null when an rng was passed in). */
  readonly seed: number | null;
  readonly nceLayers: readonly number[];
  readonly lossNames: readonly LossName[];

  private readonly optimizerG: Adam;
  private readonly optimizerD: Adam;
  private optimizerF: Adam | null = null;
  private readonly reuseFeatures: boolean;
  private initialized = false;
  private epoch: number;
  private lastLosses: Partial<Record<LossName, tf.Scalar>> = {};
  private disposed = false;

  constructor(options: Partial<CUTOptions> = {}, init: CUTModelInit = {}) {
    const o = validateOptions(options as Record<string, unknown>, 'CUTModel');
    this.options = o;
    this.seed = init.rng ? null : (init.seed ?? o.seed ?? Math.floor(Math.random() * 0x100000000));
    this.rng = init.rng ?? new SeededRng(this.seed!);
    this.reuseFeatures = init.reuseEncoderFeatures ?? true;
    const nets = networkConfigs(o, 'CUTModel options');
    // Same order of construction (and so of random draws) as the reference: G, F, D.
    this.netG = defineGenerator(nets.generator, { rng: this.rng });
    this.netF = createFeatureHead(nets.patchSampler.netF as NetFName, {
      nc: nets.patchSampler.nc,
      initType: o.init_type,
      initGain: o.init_gain,
      rng: this.rng,
      querySelection: o.QS_mode,
    });
    this.netD = defineDiscriminator(nets.discriminator, { rng: this.rng });
    this.nceLayers = parseNceLayers(o.nce_layers, 'CUTModel');
    const layerCount = this.netG.layers.length;
    const bad = this.nceLayers.find((l) => l >= layerCount);
    if (bad !== undefined) {
      throw new Error(`CUTModel: --nce_layers: layer ${bad} does not exist (the generator has layers 0..${layerCount - 1})`);
    }
    this.epoch = o.epoch_count;
    this.lossNames = this.hneg
      ? [
          'G_GAN',
          'D_real',
          'D_fake',
          'G',
          ...(o.lambda_HDCE > 0 ? (['HDCE', ...(o.dce_idt ? (['HDCE_Y'] as const) : [])] as const) : []),
          ...(o.lambda_SRC > 0 ? (['SRC'] as const) : []),
        ]
      : ['G_GAN', 'D_real', 'D_fake', 'G', 'NCE', ...(o.nce_idt ? (['NCE_Y'] as const) : [])];
    this.optimizerG = new Adam(o.lr, o.beta1, o.beta2);
    this.optimizerD = new Adam(o.lr, o.beta1, o.beta2);
  }

  /** Whether `dataDependentInitialize` has run (F's MLPs and optimiser exist). */
  get isInitialized(): boolean {
    return this.initialized;
  }

  /**
   * Sets the training epoch, as the successors' train.py does at the start of each (`set_epoch`):
   * Hneg-SRC's `--use_curriculum` takes γ from it. Default: `epoch_count`.
   */
  setEpoch(epoch: number): void {
    if (!Number.isFinite(epoch)) throw new Error(`CUTModel.setEpoch: epoch must be a finite number, got ${epoch}`);
    this.epoch = epoch;
  }

  /** Hneg-SRC's γ of the hard-negative weights at the current epoch (`--HDCE_gamma`, with `--use_curriculum` its schedule). */
  get hdceGamma(): number {
    const o = this.options;
    if (!o.use_curriculum) return o.HDCE_gamma;
    return hdceGammaAt(this.epoch, {
      gamma: o.HDCE_gamma,
      gammaMin: o.HDCE_gamma_min,
      nEpochs: o.n_epochs,
      nEpochsDecay: o.n_epochs_decay,
      stepGamma: o.step_gamma,
      stepGammaEpoch: o.step_gamma_epoch,
    });
  }

  /** Whether the loss is Hneg-SRC's (nce_loss hdce or dce): HDCE + SRC instead of NCE. */
  get hneg(): boolean {
    return this.options.nce_loss === 'hdce' || this.options.nce_loss === 'dce';
  }

  /** Whether the identity pair (real_B, idt_B) runs: nce_idt, or Hneg-SRC's dce_idt. */
  get identityPair(): boolean {
    return this.hneg ? this.options.dce_idt : this.options.nce_idt;
  }

  /** Whether a contrastive term has weight (lambda_NCE, or Hneg-SRC's lambda_HDCE or lambda_SRC): F is trained. */
  get contrastiveOn(): boolean {
    const o = this.options;
    return this.hneg ? o.lambda_HDCE > 0 || o.lambda_SRC > 0 : o.lambda_NCE > 0;
  }

  /** Whether the identity pair adds a gradient (its term has weight): a second half of the step. */
  get identityHalfTrains(): boolean {
    const o = this.options;
    return this.identityPair && (this.hneg ? o.lambda_HDCE > 0 : o.lambda_NCE > 0);
  }

  /** The current learning rate of the optimisers. */
  get learningRate(): number {
    return this.optimizerG.lr;
  }

  /** One network's Adam optimiser (F's exists after `dataDependentInitialize`), to save or restore its state. */
  optimizer(net: NetName): tf.AdamOptimizer | null {
    return net === 'G' ? this.optimizerG : net === 'D' ? this.optimizerD : this.optimizerF;
  }

  /** Sets the learning rate of all optimisers (G, D and F), as the reference's schedulers do once per epoch. */
  setLearningRate(lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`CUTModel.setLearningRate: lr must be a finite number >= 0, got ${lr}`);
    for (const opt of [this.optimizerG, this.optimizerD, this.optimizerF]) opt?.setLearningRate(lr);
  }

  /**
   * The reference's `data_dependent_initialize`, run on the first batch: F's MLPs are created
   * from the actual feature channel counts, then F's optimiser. The reference's D and G
   * backward passes here only produce gradients that are zeroed before use, so they are
   * skipped; the random draws (flip, patch ids) are made as in the reference. netF
   * `strided_conv` also sees the query side of both pairs, as in the reference's G loss here:
   * its running averages move with every call.
   */
  dataDependentInitialize(realA: tf.Tensor4D, realB: tf.Tensor4D): void {
    this.checkAlive();
    this.checkInputs(realA, realB);
    const flipped = this.drawFlip(); // the reference's forward draws it here too
    if (this.contrastiveOn) {
      const pairs = this.identityPair ? [realA, realB] : [realA];
      let idsA: PatchIds | null = null;
      for (const src of pairs) {
        // Hneg-SRC draws one set of ids per iteration, for both pairs.
        const k = offTape(() => this.keys(src, this.hneg ? idsA : null));
        idsA ??= k.ids;
        if (this.netF.netF === 'strided_conv')
          offTape(() => tf.tidy(() => this.contrastive(this.generate(src, flipped), k, flipped, src === realA ? 'A' : 'B').value));
        disposeKeys(k);
      }
    }
    // The reference steps F's optimiser only for mlp_sample (optimize_parameters): other heads' weights stay as initialised.
    const fVars = this.options.netF === 'mlp_sample' ? this.netF.trainableVariables() : [];
    if (this.contrastiveOn && fVars.length > 0 && !this.optimizerF) {
      this.optimizerF = new Adam(this.optimizerG.lr, this.options.beta1, this.options.beta2);
    }
    this.initialized = true;
  }

  /**
   * One training iteration (`optimize_parameters`): forward, D step on the detached fake
   * (loss_D = 0.5·(D_fake + D_real)), then the G and F step against the updated D
   * (loss_G = G_GAN + NCE, or G_GAN + 0.5·(NCE + NCE_Y) with nce_idt). The first call runs
   * `dataDependentInitialize` on the same batch first, as the reference's train.py does.
   * Read the losses with `currentLosses()`.
   */
  optimizeParameters(realA: tf.Tensor4D, realB: tf.Tensor4D): void {
    this.checkAlive();
    this.checkInputs(realA, realB);
    if (!this.initialized) this.dataDependentInitialize(realA, realB);
    const flipped = this.drawFlip();

    // The D step runs inside the G step, right after G's forward on real_A: D learns from that
    // fake_B (not differentiated into G), then the G loss sees the updated D, as in the
    // reference's order. G's forward thus runs once per image and iteration, not twice
    // (tfjs records a gradient tape only inside the function it differentiates).
    let dParts: Partial<Record<LossName, tf.Scalar>> = {};
    const g = this.generatorGradients(realA, realB, flipped, {}, (fakeB) => {
      dParts = this.stepDiscriminator(fakeB, realB).parts;
    });
    this.applyGeneratorGradients(g.grads);
    tf.dispose([g.value, g.fakeB, g.idtB ?? [], ...Object.values(g.grads)]);
    this.setCurrentLosses({ ...dParts, ...g.parts });
  }

  /**
   * The losses of the last `optimizeParameters`, as numbers in the reference's `loss_names`
   * order (one read from the device, so call it when you log, not every step).
   */
  async currentLosses(): Promise<Partial<Record<LossName, number>>> {
    this.checkAlive();
    const names = this.lossNames.filter((n) => this.lastLosses[n]);
    if (names.length === 0) return {};
    const stacked = tf.stack(names.map((n) => this.lastLosses[n]!));
    const values = await stacked.data();
    stacked.dispose();
    return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
  }

  /**
   * Losses and gradients at the current weights, without stepping any optimiser: D's
   * gradients of loss_D (fake detached) and G's and F's of loss_G with D frozen, each
   * exactly as one `optimizeParameters` computes them before its updates. Creates F's MLPs
   * if needed. The caller disposes the result.
   */
  computeLosses(realA: tf.Tensor4D, realB: tf.Tensor4D, options: EvaluateOptions = {}): LossEvaluation {
    this.checkAlive();
    this.checkInputs(realA, realB);
    const flipped = options.flipped ?? this.drawFlip();
    let d: DResult | null = null;
    const g = this.generatorGradients(realA, realB, flipped, options.patchIds ?? {}, (fakeB) => {
      d = this.discriminatorGradients(fakeB, realB);
      tf.keep(d.value);
      for (const t of Object.values(d.grads)) tf.keep(t);
    });
    const dr: DResult = d!;
    const byName = (net: NetName, grads: tf.NamedTensorMap) => {
      const out = new Map<string, tf.Tensor>();
      for (const [name, v] of this.named(net)) {
        const grad = grads[v.name];
        if (grad) out.set(name, grad);
      }
      return out;
    };
    const result: LossEvaluation = {
      losses: { ...dr.parts, ...g.parts },
      lossD: dr.value,
      fakeB: g.fakeB,
      idtB: g.idtB,
      grads: { G: byName('G', g.grads), D: byName('D', dr.grads), F: byName('F', g.grads) },
      patchIds: g.patchIds,
      flipped,
      dispose: () => {
        tf.dispose([...Object.values(result.losses), result.lossD, result.fakeB, g.value]);
        if (result.idtB) result.idtB.dispose();
        for (const m of Object.values(result.grads)) tf.dispose([...m.values()]);
      },
    };
    return result;
  }

  /** The variables a half step differentiates, in the order of `HalfStep.grads`: G's, then F's. */
  get generatorVariables(): tf.Variable[] {
    return [...this.named('G'), ...this.named('F')].map(([, v]) => v);
  }

  /**
   * The D step on a fake_B that is on no tape (detached): loss_D = 0.5·(D_fake + D_real), its
   * gradients applied by D's Adam. Returns the logged parts (D_real, D_fake) and, with
   * `keepGrads`, the gradients (the caller frees them; else they are freed here).
   */
  stepDiscriminator(
    fakeB: tf.Tensor4D,
    realB: tf.Tensor4D,
    keepGrads = false,
  ): { parts: Partial<Record<LossName, tf.Scalar>>; grads: tf.NamedTensorMap | null } {
    this.checkAlive();
    const d = this.discriminatorGradients(fakeB, realB);
    applyAdam(this.optimizerD, this.named('D'), d.grads);
    d.value.dispose();
    if (!keepGrads) {
      tf.dispose(Object.values(d.grads));
      return { parts: d.parts, grads: null };
    }
    for (const t of Object.values(d.grads)) tf.keep(t);
    return { parts: d.parts, grads: d.grads };
  }

  /**
   * One image's half of loss_G and its G and F gradients (D frozen), as `optimizeParameters`
   * computes them: 'A', G_GAN + w·NCE on real_A, with `between` run on fake_B first (the D step);
   * 'B', w·NCE_Y on real_B (no gradients when lambda_NCE is 0). `skip` steps the rng past the
   * other half's patch-id draws, before or after this half's own (two replicas each running one
   * half stay in step). The caller frees the result.
   */
  generatorHalf(
    half: 'A' | 'B',
    real: tf.Tensor4D,
    step: { flipped: boolean; ids?: PatchIds | null; between?: BetweenHook; skip?: Skip },
  ): { grads: tf.NamedTensorMap | null; value: tf.Scalar; losses: Partial<Record<LossName, tf.Scalar>>; out: tf.Tensor4D; ids: PatchIds | null } {
    this.checkAlive();
    const { flipped, ids = null, between = () => {}, skip = null } = step;
    if (half === 'A') {
      const a = this.halfA(real, flipped, ids, between, skip);
      return { grads: a.grads, value: a.value, losses: a.parts, out: a.fakeB, ids: a.ids };
    }
    const b = this.halfB(real, flipped, ids, skip);
    return { grads: b.grads, value: b.value, losses: b.parts, out: b.idtB, ids: b.ids };
  }

  /** G's and F's Adam steps with `grads` (by variable name; a variable without one is left as is). Frees nothing. */
  applyGeneratorGradients(grads: tf.NamedTensorMap): void {
    this.checkAlive();
    applyAdam(this.optimizerG, this.named('G'), grads);
    if (this.optimizerF) applyAdam(this.optimizerF, this.named('F'), grads);
  }

  /** D's Adam step with `grads` (by variable name). Frees nothing. */
  applyDiscriminatorGradients(grads: tf.NamedTensorMap): void {
    this.checkAlive();
    applyAdam(this.optimizerD, this.named('D'), grads);
  }

  /** Makes `losses` what `currentLosses()` reads (an iteration run by other means, e.g. on two threads); takes ownership. */
  setCurrentLosses(losses: Partial<Record<LossName, tf.Scalar>>): void {
    this.checkAlive();
    tf.dispose(Object.values(this.lastLosses));
    this.lastLosses = losses;
  }

  /**
   * For a replica whose F weights were set from an initialised model (`netF.setWeights`):
   * creates F's optimiser and marks the model initialised, as `dataDependentInitialize` does.
   */
  markInitialized(): void {
    this.checkAlive();
    if (this.contrastiveOn && this.netF.trainableVariables().length === 0 && this.options.netF === 'mlp_sample') {
      throw new Error('CUTModel.markInitialized: F has no MLP weights yet');
    }
    if (this.contrastiveOn && this.options.netF === 'mlp_sample' && this.netF.trainableVariables().length > 0 && !this.optimizerF) {
      this.optimizerF = new Adam(this.optimizerG.lr, this.options.beta1, this.options.beta2);
    }
    this.initialized = true;
  }

  /** The test-time path: G(real_A), no flip, no identity batch. */
  translate(realA: tf.Tensor4D): tf.Tensor4D {
    this.checkAlive();
    return this.netG.forward(realA, false);
  }

  /** The trainable variables of one network under the reference's parameter names, in state_dict order. */
  named(net: NetName): Named {
    if (net === 'F') return Object.entries(this.netF.namedVariables());
    const n = net === 'G' ? this.netG : this.netD;
    const vars = n.trainableVariables();
    return n.parameterNames().map((name, i) => [name, vars[i]!]);
  }

  /**
   * A gradient (or any tensor shaped like a parameter) of network `net` in PyTorch's layout:
   * OIHW conv weights, IOHW transposed-conv weights, [out, in] Linear weights.
   */
  async toTorchLayout(net: NetName, name: string, t: tf.Tensor): Promise<TorchArray> {
    const a: HostArray = { data: Float32Array.from(await t.data()), shape: [...t.shape] };
    let out: HostArray = a;
    if (net === 'F') {
      if (t.rank === 2) out = tfToLinearArray(a);
      if (t.rank === 4) out = hwioToOihwArray(a); // strided_conv
    } else {
      out = (net === 'G' ? this.netG : this.netD).parameterToTorch(name, a);
    }
    return { shape: out.shape, data: Float32Array.from(out.data) };
  }

  /** Frees the networks, the optimisers' state and the kept losses. */
  dispose(): void {
    if (this.disposed) return;
    tf.dispose(Object.values(this.lastLosses));
    this.lastLosses = {};
    this.netG.dispose();
    this.netD.dispose();
    this.netF.dispose();
    this.optimizerG.dispose();
    this.optimizerD.dispose();
    this.optimizerF?.dispose();
    this.disposed = true;
  }

  // --- the reference's computations ---

  /** FastCUT: flip the generator input with probability 0.5 (a draw only when flip_equivariance); each iteration draws it once. */
  drawFlip(): boolean {
    return this.options.flip_equivariance && this.rng.random() < 0.5;
  }

  /** `compute_D_loss` on a fake that is not on any tape (detached). */
  private discriminatorLoss(fakeB: tf.Tensor4D, realB: tf.Tensor4D) {
    const mode = this.options.gan_mode;
    const D_fake = ganLoss(this.netD.forward(fakeB), false, mode);
    const D_real = ganLoss(this.netD.forward(realB), true, mode);
    return { D_fake, D_real, D: tf.mul(0.5, tf.add(D_fake, D_real)) as tf.Scalar };
  }

  private discriminatorGradients(fakeB: tf.Tensor4D, realB: tf.Tensor4D): DResult {
    const parts: Partial<Record<LossName, tf.Scalar>> = {};
    const { value, grads } = tf.variableGrads(() => {
      const l = this.discriminatorLoss(fakeB, realB);
      parts.D_fake = tf.keep(l.D_fake);
      parts.D_real = tf.keep(l.D_real);
      return l.D;
    }, this.netD.trainableVariables());
    return { value, grads, parts };
  }

  /**
   * The key side of `calculate_NCE_loss` for one pair: G's encoder features of the source
   * image (given, or computed here), pooled by F at new ids (or the given ones). The losses
   * detach the keys, so they are computed off any gradient tape; with QS-Attn's query selection
   * on the tape instead (as theirs): the query side's attention rows come from the source
   * features, and its loss flows back into them through the attention.
   */
  private keys(src: tf.Tensor4D, ids: PatchIds | null, feats: tf.Tensor4D[] | null = null, skip: Skip = null): Keys {
    // tidy keeps the tensors of the returned object (null entries are skipped at run time).
    const run = () =>
      tf.tidy(() => {
        const f = feats ?? this.netG.encode(src, this.nceLayers, true);
        if (skip === 'before') this.skipPatchDraws(f);
        const pooled = this.netF.forward(f, this.options.num_patches, ids);
        if (skip === 'after') this.skipPatchDraws(f);
        const keys: Keys = { feats: pooled.features as tf.Tensor2D[], ids: pooled.ids, attention: pooled.attention ?? null };
        return keys as unknown as tf.TensorContainer;
      }) as unknown as Keys;
    return this.options.QS_mode === 'random' ? offTape(run) : run();
  }

  /**
   * Advances the rng past the patch ids F would draw for features of these sizes: a replica
   * that runs one half of an iteration skips the other half's draws, so that its rng stays in
   * step with a replica running the other half (both pairs have the same feature sizes).
   */
  private skipPatchDraws(feats: tf.Tensor4D[]): void {
    const n = this.options.num_patches;
    if (!(n > 0 && this.netF.samplesPatches)) return;
    // QS-Attn's attention levels select their patches: they draw no ids.
    const attendFrom = this.netF instanceof PatchSampleF && this.netF.querySelection !== 'random' ? this.netF.attentionFromLevel : Infinity;
    feats.forEach((f, level) => {
      if (level < attendFrom) this.rng.randomPatchIds(f.shape[1] * f.shape[2], n);
    });
  }

  /**
   * Whether G's full forward on the source image yields its PatchNCE keys: not when the input
   * was flipped (the keys are features of the unflipped image), and not when the last NCE layer
   * is followed by an in-place op (a full forward would overwrite what encode-only returns).
   */
  private sharesKeys(flipped: boolean): boolean {
    if (!this.reuseFeatures || flipped) return false;
    return this.netG.featuresMatchEncode(this.nceLayers);
  }

  /**
   * The query side of one pair ('A': real_A → fake_B, 'B': real_B → idt_B) and its contrastive
   * terms, the queries being G's encoder features of the generated image (flipped back along W
   * when the input was flipped), pooled by F at the keys' ids (and with the keys' attention).
   * Each term is a mean over layers of (lambda · mean over patches), as the authors' models:
   * - patchnce (CUT), monce (MoNCE's `calculate_MoNCE_loss`): NCE / NCE_Y, lambda_NCE;
   * - hdce, dce (Hneg-SRC's `compute_G_loss`): HDCE / HDCE_Y with lambda_HDCE, their weights
   *   from SRC on the same features (none for dce or --no_Hneg); on pair A also SRC, lambda_SRC.
   * `value` is what loss_G adds: w·NCE (w = 0.5 with the identity pair, else 1), or w·HDCE + SRC.
   */
  private contrastive(tgt: tf.Tensor4D, keys: Keys, flipped: boolean, pair: 'A' | 'B'): Contrastive {
    const o = this.options;
    let featQ = this.netG.encode(tgt, this.nceLayers, true);
    if (flipped) featQ = featQ.map((f) => tf.reverse(f, 2));
    const q = this.netF.forward(featQ, o.num_patches, keys.ids, keys.attention).features as tf.Tensor2D[];
    const nce = {
      batchSize: o.batch_size,
      temperature: o.nce_T,
      negatives: o.nce_includes_all_negatives_from_minibatch ? ('minibatch' as const) : ('image' as const),
    };
    const layerMean = (terms: tf.Scalar[]) => tf.div(tf.addN(terms), terms.length) as tf.Scalar;
    if (!this.hneg) {
      const lossOf =
        o.nce_loss === 'monce'
          ? (ql: tf.Tensor2D, kl: tf.Tensor2D) => moNCELoss(ql, kl, { ...nce, epsilon: o.eps, cost: o.cost_type, negTermWeight: o.neg_term_weight })
          : (ql: tf.Tensor2D, kl: tf.Tensor2D) => patchNCELoss(ql, kl, nce);
      const term = layerMean(q.map((ql, l) => tf.mean(tf.mul(lossOf(ql, keys.feats[l]!), o.lambda_NCE)) as tf.Scalar));
      return { value: tf.mul(this.nceWeight, term) as tf.Scalar, parts: { [pair === 'A' ? 'NCE' : 'NCE_Y']: term } };
    }
    // Hneg-SRC: SRC's weights for hDCE (A: with the SRC loss; B: their only_weight call).
    const relation = { batchSize: o.batch_size, negatives: nce.negatives, gamma: this.hdceGamma };
    const useWeights = o.nce_loss === 'hdce' && !o.no_Hneg;
    const srcTerms: tf.Scalar[] = [];
    const hdceTerms: tf.Scalar[] = [];
    q.forEach((ql, l) => {
      const kl = keys.feats[l]!;
      let weights: tf.Tensor | undefined;
      if (pair === 'A' && o.lambda_SRC > 0) {
        const r = semanticRelationLoss(ql, kl, relation);
        srcTerms.push(tf.mul(r.loss, o.lambda_SRC) as tf.Scalar);
        weights = r.weights;
      } else if (useWeights && o.lambda_HDCE > 0) {
        weights = semanticRelationWeights(kl, relation);
      }
      if (o.lambda_HDCE > 0) {
        hdceTerms.push(
          tf.mean(tf.mul(hardNegativeDCELoss(ql, kl, { ...nce, weights: useWeights ? weights : undefined }), o.lambda_HDCE)) as tf.Scalar,
        );
      }
    });
    const parts: Partial<Record<LossName, tf.Scalar>> = {};
    const hdce = hdceTerms.length > 0 ? layerMean(hdceTerms) : tf.scalar(0);
    parts[pair === 'A' ? 'HDCE' : 'HDCE_Y'] = hdce;
    let value = tf.mul(this.nceWeight, hdce) as tf.Scalar;
    if (pair === 'A') {
      const src = srcTerms.length > 0 ? layerMean(srcTerms) : tf.scalar(0);
      parts.SRC = src;
      value = tf.add(value, src) as tf.Scalar;
    }
    return { value, parts };
  }

  /**
   * One half of the reference's [real_A; real_B] batch through G on a gradient tape of G's and
   * F's variables: the translated image, then `between` on it (off the tape), then the keys of
   * the pair (from this forward when `sharesKeys`), then the loss terms `terms` returns.
   */
  private halfPass(
    real: tf.Tensor4D,
    flipped: boolean,
    ids: PatchIds | null,
    between: BetweenHook | null,
    terms: (out: tf.Tensor4D, keys: Keys | null) => tf.Scalar,
    skip: Skip = null,
  ) {
    const vars = [...this.named('G'), ...this.named('F')].map(([, v]) => v);
    let usedIds: PatchIds | null = null;
    let out: tf.Tensor4D | null = null;
    const r = tf.variableGrads(() => {
      const input = flipped ? (tf.reverse(real, 2) as tf.Tensor4D) : real;
      const needKeys = this.contrastiveOn;
      const share = needKeys && this.sharesKeys(flipped);
      const run = share ? this.netG.forwardWithFeatures(input, this.nceLayers, true) : { output: this.netG.forward(input, true), features: null };
      out = tf.keep(offTape(() => run.output.clone()));
      if (between) offTape(() => between(run.output));
      const keys = needKeys ? this.keys(real, ids, run.features, skip) : null;
      usedIds = keys?.ids ?? null;
      return terms(run.output, keys);
    }, vars);
    return { ...r, out: out!, ids: usedIds as PatchIds | null };
  }

  /**
   * `compute_G_loss` and its G and F gradients (D frozen), in two passes: loss_G =
   * G_GAN(fake_B) + w·NCE(real_A, fake_B) + w·NCE_Y(real_B, idt_B), w = 0.5 with nce_idt
   * (else 1, no NCE_Y). G's norms are per image, so the first two terms depend on real_A
   * alone and the last on real_B alone: each pass differentiates its terms on a tape of one
   * half of the reference's [real_A; real_B] batch, and the gradients are summed. The
   * result equals the reference's one pass over both, at about half its peak memory.
   * `between` runs on fake_B before the G loss (the D step).
   */
  private generatorGradients(
    realA: tf.Tensor4D,
    realB: tf.Tensor4D,
    flipped: boolean,
    given: NonNullable<EvaluateOptions['patchIds']>,
    between: BetweenHook,
  ) {
    const a = this.halfA(realA, flipped, given.NCE ?? null, between, null);
    const parts: Partial<Record<LossName, tf.Scalar>> = { ...a.parts };
    let grads = a.grads;
    let value = a.value;
    let idtB: tf.Tensor4D | null = null;
    let idsB: PatchIds | null = null;
    if (this.identityPair) {
      // Hneg-SRC's model draws one set of patch ids per iteration and uses it for both pairs (CUT draws per pair).
      const b = this.halfB(realB, flipped, given.NCE_Y ?? (this.hneg ? a.ids : null), null);
      Object.assign(parts, b.parts);
      idtB = b.idtB;
      idsB = b.ids;
      if (b.grads) {
        grads = sumGradients(a.grads, b.grads);
        value = tf.add(a.value, b.value) as tf.Scalar;
        tf.dispose([a.value, b.value]);
      } else {
        b.value.dispose();
      }
    }
    parts.G = value.clone();
    return { value, grads, parts, fakeB: a.fakeB, idtB, patchIds: { NCE: a.ids, NCE_Y: idsB } };
  }

  /** The weight of each NCE (HDCE) term in loss_G: 0.5 when NCE_Y (HDCE_Y) also counts, else 1. */
  private get nceWeight(): number {
    return this.identityHalfTrains ? 0.5 : 1;
  }

  /** real_A's half of loss_G, G_GAN + w·NCE (or + w·HDCE + SRC), and its G and F gradients; `between` (the D step) runs on fake_B first. */
  private halfA(realA: tf.Tensor4D, flipped: boolean, ids: PatchIds | null, between: BetweenHook, skip: Skip) {
    const o = this.options;
    const parts: Partial<Record<LossName, tf.Scalar>> = {};
    const r = this.halfPass(
      realA,
      flipped,
      ids,
      between,
      (fakeB, keys) => {
        const G_GAN = o.lambda_GAN > 0 ? (tf.mul(ganLoss(this.netD.forward(fakeB), true, o.gan_mode), o.lambda_GAN) as tf.Scalar) : tf.scalar(0);
        parts.G_GAN = tf.keep(G_GAN);
        if (!keys) {
          parts[this.hneg ? 'HDCE' : 'NCE'] = tf.keep(tf.scalar(0));
          return G_GAN.clone();
        }
        const c = this.contrastive(fakeB, keys, flipped, 'A');
        for (const [name, t] of Object.entries(c.parts)) parts[name as LossName] = tf.keep(t);
        return tf.add(G_GAN, c.value) as tf.Scalar;
      },
      skip,
    );
    return { grads: r.grads, value: r.value, parts, fakeB: r.out, ids: r.ids };
  }

  /** real_B's half, w·NCE_Y (w·HDCE_Y), and its G and F gradients (none when its term has no weight: then only idt_B). */
  private halfB(realB: tf.Tensor4D, flipped: boolean, ids: PatchIds | null, skip: Skip) {
    const name: LossName = this.hneg ? 'HDCE_Y' : 'NCE_Y';
    if (!this.identityHalfTrains) {
      return { grads: null, value: tf.scalar(0), parts: { [name]: tf.scalar(0) }, idtB: this.generate(realB, flipped), ids: null };
    }
    const parts: Partial<Record<LossName, tf.Scalar>> = {};
    const r = this.halfPass(
      realB,
      flipped,
      ids,
      null,
      (idtB, keys) => {
        const c = this.contrastive(idtB, keys!, flipped, 'B');
        for (const [n, t] of Object.entries(c.parts)) parts[n as LossName] = tf.keep(t);
        return c.value;
      },
      skip,
    );
    return { grads: r.grads, value: r.value, parts, idtB: r.out, ids: r.ids };
  }

  /** G(real) in training mode, the input flipped along W when asked (off any tape). */
  private generate(real: tf.Tensor4D, flipped: boolean): tf.Tensor4D {
    return offTape(() => tf.tidy(() => this.netG.forward(flipped ? (tf.reverse(real, 2) as tf.Tensor4D) : real, true)));
  }

  /** Throws unless real_A and real_B are NHWC batches of input_nc channels (of one shape with nce_idt). */
  checkInputs(realA: tf.Tensor4D, realB: tf.Tensor4D): void {
    const nc = this.options.input_nc;
    for (const [name, x] of [
      ['realA', realA],
      ['realB', realB],
    ] as const) {
      if (x.rank !== 4 || x.shape[3] !== nc) {
        throw new Error(`CUTModel: ${name} must be NHWC [B, H, W, ${nc}], got [${x.shape}]`);
      }
    }
    if (this.identityPair && realA.shape.some((d, i) => d !== realB.shape[i])) {
      throw new Error(
        `CUTModel: realA [${realA.shape}] and realB [${realB.shape}] must have the same shape (with nce_idt the reference runs G on them as one batch)`,
      );
    }
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('CUTModel: used after dispose()');
  }
}

/** Frees a pair's keys (pooled features and QS-Attn's attention tensors). */
function disposeKeys(k: Keys): void {
  tf.dispose(k.feats);
  for (const a of k.attention ?? []) if (a) tf.dispose([a.ids, a.weights]);
}

/** Sums two gradient maps name by name (a name in one only is kept as is); frees both inputs. */
function sumGradients(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[name];
    const y = b[name];
    out[name] = x && y ? tf.add(x, y) : (x ?? y)!.clone();
  }
  tf.dispose([...Object.values(a), ...Object.values(b)]);
  return out;
}
