// The successors' losses and QS-Attn's query selection in the CUT step (--nce_loss, Hneg-SRC's and
// MoNCE's flags, --QS_mode): each logged term equals the @cut/nce-loss function called by hand on
// the same features (G's encoder, F at the step's patch ids), combined as the authors' models do.
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '../../../test-utils/backends';
import { maxAbsDiff } from '../../../test-utils/golden';
import { stopGradient } from '@cut/core-tensors';
import { hardNegativeDCELoss, moNCELoss, patchNCELoss, semanticRelationLoss, semanticRelationWeights } from '@cut/nce-loss';
import type { QueryAttention } from '@cut/patch-sampler';
import { relDiff } from './cut-step.test-helper.js';
import { CUTModel, type CUTOptions, type LossName, type PatchIds } from './index.js';

const TINY = { netG: 'resnet_2blocks', ngf: 8, ndf: 8, netF_nc: 16, num_patches: 8, crop_size: 32, load_size: 32 } as const;

type Pooled = { q: tf.Tensor2D[]; k: tf.Tensor2D[]; attention: (QueryAttention | null)[] | null };

/** One pair by hand: keys from G's encoder on `src`, queries from it on `out`, F at the step's ids (and the keys' attention). */
function pool(model: CUTModel, src: tf.Tensor4D, out: tf.Tensor4D, ids: PatchIds): Pooled {
  const n = model.options.num_patches;
  const k = model.netF.forward(model.netG.encode(src, model.nceLayers), n, ids);
  const q = model.netF.forward(model.netG.encode(out, model.nceLayers), n, ids, k.attention);
  return { q: q.features as tf.Tensor2D[], k: k.features as tf.Tensor2D[], attention: k.attention ?? null };
}

const layerMean = (terms: tf.Tensor[]) => tf.div(tf.addN(terms), terms.length) as tf.Scalar;
const value = async (t: tf.Tensor) => (await t.data())[0]!;

async function expectLosses(r: Awaited<ReturnType<CUTModel['computeLosses']>>, expected: Partial<Record<LossName, tf.Scalar>>) {
  for (const [name, t] of Object.entries(expected)) {
    const ours = await value(r.losses[name as LossName]!);
    const theirs = await value(t);
    expect(relDiff(ours, theirs), `${name}: step ${ours}, by hand ${theirs}`).toBeLessThan(2e-6);
  }
}

/** The step's losses at fixed inputs, with F's MLPs created first (so the count of tensors is comparable). */
function evaluate(options: Partial<CUTOptions>, seed = 5) {
  const model = new CUTModel({ ...TINY, ...options }, { seed });
  const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 21) as tf.Tensor4D;
  const y = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 22) as tf.Tensor4D;
  model.dataDependentInitialize(x, y);
  const r = model.computeLosses(x, y, { flipped: false });
  return { model, x, y, r };
}

describeBackends(
  "CUTModel with the successors' losses: each term as the nce-loss functions give it",
  () => {
    it('default: patchnce, random sampling, the option table unchanged for CUT', () => {
      const m = new CUTModel(TINY, { seed: 1 });
      expect(m.options).toMatchObject({ nce_loss: 'patchnce', QS_mode: 'random', dce_idt: false });
      expect(m.lossNames).toEqual(['G_GAN', 'D_real', 'D_fake', 'G', 'NCE', 'NCE_Y']);
      m.dispose();
    });

    it('monce: NCE and NCE_Y are MoNCE (eps, cost_type, neg_term_weight), loss_G = G_GAN + 0.5·(NCE + NCE_Y)', async () => {
      const { model, x, y, r } = evaluate({ nce_loss: 'monce', eps: 0.1, cost_type: 'easy', neg_term_weight: 0.5, lambda_NCE: 2 });
      expect(model.lossNames).toEqual(['G_GAN', 'D_real', 'D_fake', 'G', 'NCE', 'NCE_Y']);
      const opts = { batchSize: 1, epsilon: 0.1, cost: 'easy' as const, negTermWeight: 0.5 };
      const term = (p: Pooled) => layerMean(p.q.map((q, l) => tf.mul(tf.mean(moNCELoss(q, p.k[l]!, opts)), 2)));
      const NCE = term(pool(model, x, r.fakeB, r.patchIds.NCE!));
      const NCE_Y = term(pool(model, y, r.idtB!, r.patchIds.NCE_Y!));
      const G = tf.add(r.losses.G_GAN!, tf.mul(0.5, tf.add(NCE, NCE_Y))) as tf.Scalar;
      await expectLosses(r, { NCE, NCE_Y, G });
      // MoNCE is not PatchNCE on these features.
      const p = pool(model, x, r.fakeB, r.patchIds.NCE!);
      const plain = layerMean(p.q.map((q, l) => tf.mul(tf.mean(patchNCELoss(q, p.k[l]!, { batchSize: 1 })), 2)));
      expect(Math.abs((await value(plain)) - (await value(NCE)))).toBeGreaterThan(1e-3);
      r.dispose();
      model.dispose();
    });

    it('hdce: HDCE (SRC-weighted, gamma of the curriculum), HDCE_Y (dce_idt), SRC; loss_G = G_GAN + 0.5·(HDCE + HDCE_Y) + SRC', async () => {
      const options = {
        nce_loss: 'hdce',
        lambda_HDCE: 2,
        lambda_SRC: 0.5,
        dce_idt: true,
        nce_idt: false,
        HDCE_gamma: 50,
        HDCE_gamma_min: 10,
        use_curriculum: true,
        n_epochs: 2,
        n_epochs_decay: 2,
      } as const;
      const model0 = new CUTModel({ ...TINY, ...options }, { seed: 5 });
      expect(model0.lossNames).toEqual(['G_GAN', 'D_real', 'D_fake', 'G', 'HDCE', 'HDCE_Y', 'SRC']);
      model0.setEpoch(3);
      expect(model0.hdceGamma).toBeCloseTo(20, 12); // 50 + (10 − 50)·3/4
      model0.dispose();

      const model = new CUTModel({ ...TINY, ...options }, { seed: 5 });
      model.setEpoch(3);
      const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 21) as tf.Tensor4D;
      const y = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 22) as tf.Tensor4D;
      const r = model.computeLosses(x, y, { flipped: false });
      expect(r.idtB).not.toBeNull();
      expect(r.patchIds.NCE_Y).toEqual(r.patchIds.NCE); // one draw per iteration for both pairs, as theirs
      const rel = { batchSize: 1, gamma: 20 };
      const a = pool(model, x, r.fakeB, r.patchIds.NCE!);
      const srcA = a.q.map((q, l) => semanticRelationLoss(q, a.k[l]!, rel));
      const SRC = layerMean(srcA.map((s) => tf.mul(s.loss, 0.5)));
      const HDCE = layerMean(a.q.map((q, l) => tf.mul(tf.mean(hardNegativeDCELoss(q, a.k[l]!, { batchSize: 1, weights: srcA[l]!.weights })), 2)));
      const b = pool(model, y, r.idtB!, r.patchIds.NCE_Y!);
      const HDCE_Y = layerMean(
        b.q.map((q, l) => tf.mul(tf.mean(hardNegativeDCELoss(q, b.k[l]!, { batchSize: 1, weights: semanticRelationWeights(b.k[l]!, rel) })), 2)),
      );
      const G = tf.addN([r.losses.G_GAN!, tf.mul(0.5, tf.add(HDCE, HDCE_Y)), SRC]) as tf.Scalar;
      await expectLosses(r, { HDCE, HDCE_Y, SRC, G });
      // Another gamma gives another HDCE (the weights matter).
      const gamma1 = layerMean(
        a.q.map((q, l) =>
          tf.mul(
            tf.mean(hardNegativeDCELoss(q, a.k[l]!, { batchSize: 1, weights: semanticRelationWeights(a.k[l]!, { batchSize: 1, gamma: 1 }) })),
            2,
          ),
        ),
      );
      expect(Math.abs((await value(gamma1)) - (await value(HDCE)))).toBeGreaterThan(1e-4);
      r.dispose();
      model.dispose();
    });

    it('dce (and hdce --no_Hneg): hDCE without weights, SRC still logged; no identity pair without dce_idt', async () => {
      for (const options of [{ nce_loss: 'dce' }, { nce_loss: 'hdce', no_Hneg: true }] as const) {
        const { model, x, r } = evaluate(options);
        expect(model.lossNames).toEqual(['G_GAN', 'D_real', 'D_fake', 'G', 'HDCE', 'SRC']);
        expect(r.idtB).toBeNull(); // nce_idt (CUT's preset) is PatchNCE's: Hneg-SRC's identity term is dce_idt
        const a = pool(model, x, r.fakeB, r.patchIds.NCE!);
        const SRC = layerMean(a.q.map((q, l) => semanticRelationLoss(q, a.k[l]!, { batchSize: 1 }).loss));
        const HDCE = layerMean(a.q.map((q, l) => tf.mean(hardNegativeDCELoss(q, a.k[l]!, { batchSize: 1 }))));
        const G = tf.addN([r.losses.G_GAN!, HDCE, SRC]) as tf.Scalar;
        await expectLosses(r, { HDCE, SRC, G });
        r.dispose();
        model.dispose();
      }
    });

    it('QS_mode global: NCE and NCE_Y on the attention-selected patches; the G gradient flows into the source features through the attention', async () => {
      const { model, x, y, r } = evaluate({ QS_mode: 'global' });
      expect(r.patchIds.NCE!.map((ids) => ids.length)).toEqual([8, 8, 8, 0, 0]); // levels 3 and 4 select by attention
      const term = (p: Pooled) => layerMean(p.q.map((q, l) => tf.mean(patchNCELoss(q, p.k[l]!, { batchSize: 1 }))));
      const pa = pool(model, x, r.fakeB, r.patchIds.NCE!);
      expect(pa.attention!.map((a) => a !== null)).toEqual([false, false, false, true, true]);
      const NCE = term(pa);
      const NCE_Y = term(pool(model, y, r.idtB!, r.patchIds.NCE_Y!));
      await expectLosses(r, { NCE, NCE_Y });

      // loss_G by hand on a tape of G's and F's variables, the keys' attention on the tape (as
      // QS-Attn's code): G's gradients equal the step's; with the keys off the tape they differ.
      const vars = model.generatorVariables;
      const lossG = (keysOnTape: boolean) =>
        tf.variableGrads(() => {
          // Off the tape: the source features cut from it (no path through the attention).
          const enc = (src: tf.Tensor4D) => model.netG.encode(src, model.nceLayers).map((f) => (keysOnTape ? f : (stopGradient(f) as tf.Tensor4D)));
          const pair = (src: tf.Tensor4D, ids: PatchIds) => {
            const out = model.netG.forward(src, true);
            const k = model.netF.forward(enc(src), 8, ids);
            const q = model.netF.forward(model.netG.encode(out, model.nceLayers), 8, ids, k.attention);
            return { out, nce: layerMean(q.features.map((ql, l) => tf.mean(patchNCELoss(ql, k.features[l]!, { batchSize: 1 })))) };
          };
          const a = pair(x, r.patchIds.NCE!);
          const b = pair(y, r.patchIds.NCE_Y!);
          const gan = tf.mean(tf.square(tf.sub(model.netD.forward(a.out), 1)));
          return tf.add(gan, tf.mul(0.5, tf.add(a.nce, b.nce))) as tf.Scalar;
        }, vars);
      const onTape = lossG(true);
      let worst = 0;
      let scale = 0;
      for (const [name, v] of model.named('G')) {
        const ours = await r.grads.G.get(name)!.data();
        worst = Math.max(worst, maxAbsDiff(ours, await onTape.grads[v.name]!.data()));
        scale = Math.max(scale, ...Array.from(ours, Math.abs));
      }
      expect(worst / scale).toBeLessThan(1e-5);
      const offTape = lossG(false);
      let apart = 0;
      for (const [name, v] of model.named('G'))
        apart = Math.max(apart, maxAbsDiff(await r.grads.G.get(name)!.data(), await offTape.grads[v.name]!.data()));
      expect(apart / scale).toBeGreaterThan(1e-4);
      tf.dispose([onTape.value, offTape.value, ...Object.values(onTape.grads), ...Object.values(offTape.grads)]);
      r.dispose();
      model.dispose();
    });
  },
  { backends: ['wasm'] },
);

describeBackends(
  "CUTModel with the successors' losses: training steps",
  () => {
    for (const options of [
      { nce_loss: 'monce', eps: 0.1 },
      { nce_loss: 'hdce', dce_idt: true, HDCE_gamma: 50 },
      { nce_loss: 'dce' },
      { QS_mode: 'global' },
      { QS_mode: 'local_global', CUT_mode: 'FastCUT' },
    ] as const) {
      it(`${JSON.stringify(options)}: finite losses, the weights move, no tensor left behind after the first step`, async () => {
        const model = new CUTModel({ ...TINY, ...options }, { seed: 7 });
        const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 11) as tf.Tensor4D;
        const y = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 12) as tf.Tensor4D;
        const g0 = await model.netG.trainableVariables()[0]!.data();
        model.optimizeParameters(x, y);
        const after1 = tf.memory().numTensors;
        model.optimizeParameters(x, y);
        model.optimizeParameters(x, y);
        expect(tf.memory().numTensors).toBe(after1);
        const losses = await model.currentLosses();
        expect(Object.keys(losses)).toEqual([...model.lossNames]);
        for (const [name, v] of Object.entries(losses)) expect(Number.isFinite(v), `${name} ${v}`).toBe(true);
        expect(maxAbsDiff(await model.netG.trainableVariables()[0]!.data(), g0)).toBeGreaterThan(0);
        tf.dispose([x, y]);
        model.dispose();
      });
    }
  },
  { backends: ['wasm'] },
);
