import * as tf from '@tensorflow/tfjs-core';
import { hwioToOihwArray, hwoiToIohwArray, SeededRng, tfToLinearArray, type HostArray } from '@cut/core-tensors';
import { patchNCELoss } from '@cut/nce-loss';
import { PatchSampleF } from '@cut/patch-sampler';
import { NLayerDiscriminator, ResnetGenerator, networkOptionsFrom, type SequentialNetwork, type TorchArray } from '@cut/networks';
import { ganLoss } from './gan-loss.js';
import { optionStrings, parseNceLayers, validateOptions, type CUTOptions } from './options.js';

/** The losses the reference logs, in its order (`NCE_Y` only with nce_idt). */
export type LossName = 'G_GAN' | 'D_real' | 'D_fake' | 'G' | 'NCE' | 'NCE_Y';
/** The three networks, by the reference's `model_names`. */
export type NetName = 'G' | 'D' | 'F';
/** Patch ids per feature level (id = y·W + x), as PatchSampleF draws them. */
export type PatchIds = number[][];

export interface CUTModelInit {
  /** Source of every random draw (initialisation, flips, patch ids). Default: from `seed`. */
  rng?: SeededRng;
  /** Seed for a new SeededRng; default the `seed` option, else a random one. */
  seed?: number;
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

/** tf's Adam with the reference's settings, whose learning rate the schedule can change. */
class Adam extends tf.AdamOptimizer {
  constructor(lr: number, beta1: number, beta2: number) {
    super(lr, beta1, beta2, 1e-8);
  }
  get lr(): number {
    return this.learningRate;
  }
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
}

type Named = Array<[string, tf.Variable]>;
/** Pooled key features of one PatchNCE pair (constants) and the ids drawn for them. */
type Keys = { feats: tf.Tensor2D[]; ids: PatchIds };

/**
 * The reference's `CUTModel` (CUT and FastCUT) on NHWC tensors: generator G, PatchGAN
 * discriminator D, patch-feature head F, their Adam optimisers, and one training iteration
 * in the reference's order (D step on the detached fake, then G and F against the updated D).
 */
export class CUTModel {
  readonly options: CUTOptions;
  readonly netG: ResnetGenerator;
  readonly netD: NLayerDiscriminator;
  readonly netF: PatchSampleF;
  readonly rng: SeededRng;
  /** The seed the rng was created from (null when an rng was passed in). */
  readonly seed: number | null;
  readonly nceLayers: readonly number[];
  readonly lossNames: readonly LossName[];

  private readonly optimizerG: Adam;
  private readonly optimizerD: Adam;
  private optimizerF: Adam | null = null;
  private initialized = false;
  private lastLosses: Partial<Record<LossName, tf.Scalar>> = {};
  private disposed = false;

  constructor(options: Partial<CUTOptions> = {}, init: CUTModelInit = {}) {
    const o = validateOptions(options as Record<string, unknown>, 'CUTModel');
    this.options = o;
    this.seed = init.rng ? null : (init.seed ?? o.seed ?? Math.floor(Math.random() * 0x100000000));
    this.rng = init.rng ?? new SeededRng(this.seed!);
    const nets = networkOptionsFrom(optionStrings(o), 'CUTModel options');
    // Same order of construction (and so of random draws) as the reference: G, F, D.
    this.netG = new ResnetGenerator({ ...nets.generator, rng: this.rng });
    this.netF = new PatchSampleF({
      useMlp: nets.patchSampler.useMlp,
      nc: nets.patchSampler.nc,
      initType: o.init_type,
      initGain: o.init_gain,
      rng: this.rng,
    });
    this.netD = new NLayerDiscriminator({ ...nets.discriminator, rng: this.rng });
    this.nceLayers = parseNceLayers(o.nce_layers, 'CUTModel');
    const layerCount = this.netG.modules.length;
    const bad = this.nceLayers.find((l) => l >= layerCount);
    if (bad !== undefined) {
      throw new Error(`CUTModel: --nce_layers: layer ${bad} does not exist (the generator has layers 0..${layerCount - 1})`);
    }
    this.lossNames = ['G_GAN', 'D_real', 'D_fake', 'G', 'NCE', ...(o.nce_idt ? (['NCE_Y'] as const) : [])];
    this.optimizerG = new Adam(o.lr, o.beta1, o.beta2);
    this.optimizerD = new Adam(o.lr, o.beta1, o.beta2);
  }

  /** Whether `dataDependentInitialize` has run (F's MLPs and optimiser exist). */
  get isInitialized(): boolean {
    return this.initialized;
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
   * skipped; the random draws (flip, patch ids) are made as in the reference.
   */
  dataDependentInitialize(realA: tf.Tensor4D, realB: tf.Tensor4D): void {
    this.checkAlive();
    this.checkInputs(realA, realB);
    this.drawFlip(); // the reference's forward draws it here too
    if (this.options.lambda_NCE > 0) {
      const keys = [this.keys(realA, null)];
      if (this.options.nce_idt) keys.push(this.keys(realB, null));
      for (const k of keys) tf.dispose(k.feats);
    }
    const fVars = this.netF.trainableVariables();
    if (this.options.lambda_NCE > 0 && fVars.length > 0 && !this.optimizerF) {
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

    // D step. The G step below recomputes G(real_A) on its own gradient tape (same weights,
    // same values): tfjs records a tape only inside the function it differentiates. D needs
    // only fake_B, so G runs on real_A alone here (instance norm is per image).
    const fakeB = this.generate(realA, flipped);
    const d = this.discriminatorGradients(fakeB, realB);
    fakeB.dispose();
    applyAdam(this.optimizerD, this.named('D'), d.grads);
    tf.dispose([d.value, ...Object.values(d.grads)]);

    // G and F step, with D frozen (not differentiated).
    const keys = this.pairKeys(realA, realB, {});
    const g = this.generatorGradients(realA, realB, flipped, keys);
    tf.dispose(keys.flatMap((k) => (k ? k.feats : [])));
    applyAdam(this.optimizerG, this.named('G'), g.grads);
    if (this.optimizerF) applyAdam(this.optimizerF, this.named('F'), g.grads);
    tf.dispose([g.value, ...Object.values(g.grads)]);

    tf.dispose(Object.values(this.lastLosses));
    this.lastLosses = { ...d.parts, ...g.parts };
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
    const fakeB = this.generate(realA, flipped);
    const idtB = this.options.nce_idt ? this.generate(realB, flipped) : null;
    const d = this.discriminatorGradients(fakeB, realB);
    const keys = this.pairKeys(realA, realB, options.patchIds ?? {});
    const g = this.generatorGradients(realA, realB, flipped, keys);
    tf.dispose(keys.flatMap((k) => (k ? k.feats : [])));
    const byName = (net: NetName, grads: tf.NamedTensorMap) => {
      const out = new Map<string, tf.Tensor>();
      for (const [name, v] of this.named(net)) {
        const grad = grads[v.name];
        if (grad) out.set(name, grad);
      }
      return out;
    };
    const result: LossEvaluation = {
      losses: { ...d.parts, ...g.parts },
      lossD: d.value,
      fakeB,
      idtB,
      grads: { G: byName('G', g.grads), D: byName('D', d.grads), F: byName('F', g.grads) },
      patchIds: { NCE: keys[0]?.ids ?? null, NCE_Y: keys[1]?.ids ?? null },
      flipped,
      dispose: () => {
        tf.dispose([...Object.values(result.losses), result.lossD, result.fakeB, g.value]);
        if (result.idtB) result.idtB.dispose();
        for (const m of Object.values(result.grads)) tf.dispose([...m.values()]);
      },
    };
    return result;
  }

  /** The test-time path: G(real_A), no flip, no identity batch. */
  translate(realA: tf.Tensor4D): tf.Tensor4D {
    this.checkAlive();
    return this.netG.forward(realA, false);
  }

  /** The trainable variables of one network under the reference's parameter names, in state_dict order. */
  named(net: NetName): Named {
    if (net === 'F') return Object.entries(this.netF.namedVariables());
    const n: SequentialNetwork = net === 'G' ? this.netG : this.netD;
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
    } else if (t.rank === 4) {
      const index = Number(/^model\.(\d+)\./.exec(name)?.[1]);
      const module = (net === 'G' ? this.netG : this.netD).modules[index];
      out = module?.type === 'ConvTranspose2d' ? hwoiToIohwArray(a) : hwioToOihwArray(a);
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

  /** FastCUT: flip the generator input with probability 0.5 (a draw only when flip_equivariance). */
  private drawFlip(): boolean {
    return this.options.flip_equivariance && this.rng.random() < 0.5;
  }

  /**
   * `forward` for one half of the reference's batch: G(real) in training mode, the input
   * flipped along W when asked. The reference runs G once on cat(real_A, real_B); G's
   * instance norms are per image, so G(real_A) and G(real_B) apart give the same images.
   */
  private generate(real: tf.Tensor4D, flipped: boolean): tf.Tensor4D {
    return tf.tidy(() => this.netG.forward(flipped ? (tf.reverse(real, 2) as tf.Tensor4D) : real, true));
  }

  /** `compute_D_loss` on a fake that is not on any tape (detached). */
  private discriminatorLoss(fakeB: tf.Tensor4D, realB: tf.Tensor4D) {
    const mode = this.options.gan_mode;
    const D_fake = ganLoss(this.netD.forward(fakeB), false, mode);
    const D_real = ganLoss(this.netD.forward(realB), true, mode);
    return { D_fake, D_real, D: tf.mul(0.5, tf.add(D_fake, D_real)) as tf.Scalar };
  }

  private discriminatorGradients(fakeB: tf.Tensor4D, realB: tf.Tensor4D) {
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
   * image, pooled by F at new ids (or the given ones). PatchNCE detaches the keys, so they
   * are computed here, off the gradient tape.
   */
  private keys(src: tf.Tensor4D, ids: PatchIds | null): Keys {
    const feats = this.netG.encode(src, this.nceLayers, true);
    const pooled = this.netF.forward(feats, this.options.num_patches, ids);
    tf.dispose(feats);
    return { feats: pooled.features as tf.Tensor2D[], ids: pooled.ids };
  }

  /** Keys of (real_A → fake_B) and, with nce_idt, (real_B → idt_B), drawn in the reference's order. */
  private pairKeys(realA: tf.Tensor4D, realB: tf.Tensor4D, given: NonNullable<EvaluateOptions['patchIds']>): [Keys?, Keys?] {
    if (!(this.options.lambda_NCE > 0)) return [];
    const a = this.keys(realA, given.NCE ?? null);
    return this.options.nce_idt ? [a, this.keys(realB, given.NCE_Y ?? null)] : [a];
  }

  /**
   * The query side and the loss: mean over layers of (lambda_NCE · mean over patches of
   * PatchNCE(q, k)), the queries being G's encoder features of the generated image (flipped
   * back along W when the input was flipped), pooled by F at the keys' ids.
   */
  private nceLoss(tgt: tf.Tensor4D, keys: Keys, flipped: boolean): tf.Scalar {
    let featQ = this.netG.encode(tgt, this.nceLayers, true);
    if (flipped) featQ = featQ.map((f) => tf.reverse(f, 2));
    const q = this.netF.forward(featQ, this.options.num_patches, keys.ids).features as tf.Tensor2D[];
    const nce = {
      batchSize: this.options.batch_size,
      temperature: this.options.nce_T,
      negatives: this.options.nce_includes_all_negatives_from_minibatch ? ('minibatch' as const) : ('image' as const),
    };
    const perLayer = q.map((ql, l) => tf.mean(tf.mul(patchNCELoss(ql, keys.feats[l]!, nce), this.options.lambda_NCE)));
    return tf.div(tf.addN(perLayer), perLayer.length) as tf.Scalar;
  }

  /**
   * `compute_G_loss` and its G and F gradients (D frozen), in two passes: loss_G =
   * G_GAN(fake_B) + w·NCE(real_A, fake_B) + w·NCE_Y(real_B, idt_B), w = 0.5 with nce_idt
   * (else 1, no NCE_Y). G's norms are per image, so the first two terms depend on real_A
   * alone and the last on real_B alone: each pass differentiates its terms on a tape of one
   * half of the reference's [real_A; real_B] batch, and the gradients are summed. The
   * result equals the reference's one pass over both, at about half its peak memory.
   */
  private generatorGradients(realA: tf.Tensor4D, realB: tf.Tensor4D, flipped: boolean, keys: [Keys?, Keys?]) {
    const o = this.options;
    const vars = [...this.named('G'), ...this.named('F')].map(([, v]) => v);
    const w = keys[1] ? 0.5 : 1;
    let G_GAN: tf.Scalar | null = null;
    let NCE: tf.Scalar | null = null;
    const a = tf.variableGrads(() => {
      const fakeB = this.generate(realA, flipped);
      G_GAN = tf.keep(o.lambda_GAN > 0 ? (tf.mul(ganLoss(this.netD.forward(fakeB), true, o.gan_mode), o.lambda_GAN) as tf.Scalar) : tf.scalar(0));
      NCE = tf.keep(keys[0] ? this.nceLoss(fakeB, keys[0], flipped) : tf.scalar(0));
      return tf.add(G_GAN, tf.mul(w, NCE)) as tf.Scalar;
    }, vars);
    const parts: Partial<Record<LossName, tf.Scalar>> = { G_GAN: G_GAN!, NCE: NCE! };
    let grads = a.grads;
    let value = a.value;
    if (o.nce_idt) {
      let NCE_Y: tf.Scalar | null = null;
      const keysB = keys[1];
      const b = keysB
        ? tf.variableGrads(() => {
            const idtB = this.generate(realB, flipped);
            NCE_Y = tf.keep(this.nceLoss(idtB, keysB, flipped));
            return tf.mul(w, NCE_Y) as tf.Scalar;
          }, vars)
        : null;
      parts.NCE_Y = NCE_Y ?? tf.scalar(0);
      if (b) {
        grads = sumGradients(a.grads, b.grads);
        value = tf.add(a.value, b.value) as tf.Scalar;
        tf.dispose([a.value, b.value]);
      }
    }
    parts.G = value.clone();
    return { value, grads, parts };
  }

  private checkInputs(realA: tf.Tensor4D, realB: tf.Tensor4D): void {
    const nc = this.options.input_nc;
    for (const [name, x] of [['realA', realA], ['realB', realB]] as const) {
      if (x.rank !== 4 || x.shape[3] !== nc) {
        throw new Error(`CUTModel: ${name} must be NHWC [B, H, W, ${nc}], got [${x.shape}]`);
      }
    }
    if (this.options.nce_idt && realA.shape.some((d, i) => d !== realB.shape[i])) {
      throw new Error(`CUTModel: realA [${realA.shape}] and realB [${realB.shape}] must have the same shape (with nce_idt the reference runs G on them as one batch)`);
    }
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('CUTModel: used after dispose()');
  }
}

/**
 * Applies gradients in the fixed order of `vars`, so tf's Adam (which keys its moment
 * estimates by position) always pairs a variable with its own moments; a variable without
 * a gradient is left unchanged, like a PyTorch parameter whose grad is None.
 */
function applyAdam(opt: Adam, vars: Named, grads: tf.NamedTensorMap): void {
  const list = vars.map(([, v]) => ({ name: v.name, tensor: grads[v.name] ?? null }));
  opt.applyGradients(list as unknown as Parameters<Adam['applyGradients']>[0]);
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
