// One CUT step with netD pixel and with netF reshape against the reference's own CUTModel
// (fixtures/golden/cut_step_*.json.gz from tools/golden/reference_cut_step.py): every loss,
// fake_B, idt_B, and every G, D and F gradient.
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiff } from '../../../test-utils/golden';
import { relDiff, stateDict, type CutStepGolden, type Named } from './cut-step.test-helper.js';
import { CUTModel, type CUTOptions, type NetName } from './index.js';
import { trainHalf } from './parallel/halves.js';

/** The reference step's golden, with the options it ran with. */
interface CutStepWithOptions extends CutStepGolden {
  /** The step's flip_equivariance draw (FastCUT). */
  flipped?: boolean;
  options: {
    CUT_mode?: string;
    netD: string;
    netF: string;
    netG: string;
    ngf: number;
    ndf: number;
    netF_nc: number;
    num_patches: number;
    nce_layers: string;
  };
}

describeBackends('CUTModel vs the reference CUTModel (netD pixel, netF reshape)', (backend) => {
  for (const file of ['cut_step_pixel.json.gz', 'cut_step_reshape.json.gz', 'cut_step_strided_conv.json.gz', 'cut_step_fastcut_flipped.json.gz']) {
    it(`${file}: losses, images and every G, D and F gradient match PyTorch`, async () => {
      const g = loadFixture<CutStepWithOptions>(`golden/${file}`);
      const o = g.options;
      const model = new CUTModel(
        {
          CUT_mode: (o.CUT_mode ?? 'CUT') as CUTOptions['CUT_mode'],
          netG: o.netG,
          ngf: o.ngf,
          ndf: o.ndf,
          netD: o.netD as CUTOptions['netD'],
          netF: o.netF as CUTOptions['netF'],
          netF_nc: o.netF_nc,
          num_patches: o.num_patches,
          nce_layers: o.nce_layers,
          crop_size: 32,
          load_size: 32,
        },
        { seed: 1 },
      );
      model.netG.loadStateDict(stateDict(g.weights_G), 'weights_G');
      model.netD.loadStateDict(stateDict(g.weights_D), 'weights_D');
      const fWeights = Object.fromEntries(g.weights_F.map((w) => [w.name, goldenTensor(w)]));
      model.netF.setWeights(fWeights);
      tf.dispose(Object.values(fWeights));

      const [kA, , kB] = g.netF_calls;
      const realA = goldenNHWC(g.inputs.real_A);
      const realB = goldenNHWC(g.inputs.real_B);
      // strided_conv: its running averages first see a data-dependent initialisation on the batch, as the golden's do.
      if (o.netF === 'strided_conv') model.dataDependentInitialize(realA, realB);
      const before = tf.memory().numTensors;
      // FastCUT: F's calls are kA, qA only (no identity pair), and the step is the flipped one.
      const r = model.computeLosses(realA, realB, { patchIds: { NCE: kA!.ids, ...(kB ? { NCE_Y: kB.ids } : {}) }, flipped: g.flipped ?? false });

      const report: Record<string, number> = {};
      for (const name of Object.keys(g.losses) as (keyof typeof g.losses)[]) {
        const ours = (await r.losses[name]!.data())[0]!;
        // Relative, with 0.1 as the smallest scale: FastCUT's D_fake is 0.009 (its float32 sums differ by 1.2e-7, 1.3e-5 of it).
        report[name] = Math.abs(ours - g.losses[name]) / Math.max(Math.abs(g.losses[name]), 0.1);
        expect(report[name], `${name}: ours ${ours}, reference ${g.losses[name]}`).toBeLessThan(1e-5);
      }
      report.loss_D = relDiff((await r.lossD.data())[0]!, g.loss_D_total);
      expect(report.loss_D).toBeLessThan(1e-5);
      for (const [name, ours, golden] of [['fake_B', r.fakeB, g.fake_B], ...(r.idtB ? [['idt_B', r.idtB, g.idt_B] as const] : [])] as const) {
        const nchw = tf.transpose(ours, [0, 3, 1, 2]);
        report[name] = maxAbsDiff(await nchw.data(), golden.data);
        nchw.dispose();
        expect(report[name], name).toBeLessThan(1e-4);
      }
      const goldenGrads: Record<NetName, Named[]> = { G: g.grads_G, D: g.grads_D, F: g.grads_F };
      for (const net of ['G', 'D', 'F'] as const) {
        const ours = r.grads[net];
        expect([...ours.keys()], `${net} gradient names`).toEqual(goldenGrads[net].map((w) => w.name));
        let worst = 0;
        for (const ref of goldenGrads[net]) {
          const torch = await model.toTorchLayout(net, ref.name, ours.get(ref.name)!);
          expect(torch.shape, ref.name).toEqual(ref.shape);
          // Relative to the tensor's largest gradient: G's span several orders of magnitude. On WebGPU
          // (lavapipe) G's gradients with netD pixel are off by up to 5.6e-4 (cpu and wasm: 1.5e-5;
          // WebGPU with the PatchGAN: 3e-5): not explained yet, so WebGPU has its own bound here.
          const d = maxAbsDiff(torch.data, ref.data) / Math.max(1, ...ref.data.map(Math.abs));
          expect(d, `grad ${net} ${ref.name}`).toBeLessThan(backend === 'webgpu' ? 1e-3 : 1e-4);
          worst = Math.max(worst, d);
        }
        report[`grads_${net}`] = worst;
      }
      r.dispose();
      expect(tf.memory().numTensors).toBe(before);
      console.log(`[${backend}] ${file} deviations`, JSON.stringify(report));
      tf.dispose([realA, realB]);
      model.dispose();
    });
  }
});

describeBackends(
  'CUTModel with the parameter-free and strided_conv heads',
  () => {
    const tiny = { netG: 'resnet_2blocks', ngf: 4, ndf: 4, crop_size: 32, load_size: 32, netF_nc: 8, num_patches: 4 } as const;
    const images = (seed: number) => {
      const x = (k: number) => tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', seed + k), 2), 1) as tf.Tensor4D);
      return [x(0), x(1)] as const;
    };

    it('strided_conv: one conv stack per feature size, created in the data-dependent init; trained with G but never stepped (as the reference)', async () => {
      const model = new CUTModel({ ...tiny, netF: 'strided_conv' }, { seed: 3 });
      expect(model.netF.samplesPatches).toBe(false);
      const [a, b] = images(1);
      model.dataDependentInitialize(a, b);
      // One conv stack per feature size C_H of G's NCE layers, equal sizes sharing one.
      const feats = model.netG.encode(a, model.nceLayers);
      const keys = [...new Set(feats.map((f) => `${f.shape[3]}_${f.shape[1]}`))];
      tf.dispose(feats);
      const names = Object.keys(model.netF.namedVariables());
      expect([...new Set(names.map((n) => /^child_(\d+_\d+)\./.exec(n)![1]))]).toEqual(keys);
      expect(model.optimizer('F')).toBeNull();
      const before = await Promise.all(Object.values(model.netF.namedVariables()).map((v) => v.data()));
      const g0 = model.named('G')[0]![1].clone();
      model.optimizeParameters(a, b);
      const losses = await model.currentLosses();
      for (const [name, v] of Object.entries(losses)) expect(Number.isFinite(v), name).toBe(true);
      const after = await Promise.all(Object.values(model.netF.namedVariables()).map((v) => v.data()));
      after.forEach((d, i) => expect(Array.from(d)).toEqual(Array.from(before[i]!)));
      expect(await maxAbsDiffTensorPair(g0, model.named('G')[0]![1])).toBeGreaterThan(0); // G did step
      expect(() => trainHalf(model, 'A', a, b)).toThrow(/strided_conv keeps running averages/);
      tf.dispose([a, b, g0]);
      model.dispose();
    });

    for (const netF of ['reshape', 'global_pool', 'sample'] as const) {
      it(`${netF}: no F parameters, no F optimiser; a training step runs and leaves no tensors behind`, async () => {
        const model = new CUTModel({ ...tiny, netF, nce_includes_all_negatives_from_minibatch: netF === 'global_pool' }, { seed: 4 });
        const [a, b] = images(5);
        model.optimizeParameters(a, b);
        const count = tf.memory().numTensors;
        model.optimizeParameters(a, b);
        expect(tf.memory().numTensors).toBe(count);
        expect(model.netF.trainableVariables()).toEqual([]);
        expect(model.optimizer('F')).toBeNull();
        const losses = await model.currentLosses();
        // global_pool gives one row per image: with a batch of 1 there are no negatives, and the
        // loss is log(1 + e^((-10 - l_pos)/T)), 0 in float32 (the reference's formula gives the same).
        if (netF === 'global_pool') expect(losses.NCE).toBe(0);
        else expect(losses.NCE! > 0 && Number.isFinite(losses.NCE!), `NCE ${losses.NCE}`).toBe(true);
        tf.dispose([a, b]);
        model.dispose();
      });
    }
  },
  { backends: ['cpu'] },
);

async function maxAbsDiffTensorPair(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  return maxAbsDiff(await a.data(), await b.data());
}
