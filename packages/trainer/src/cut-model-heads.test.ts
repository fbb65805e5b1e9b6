// One CUT step with netD pixel and with netF reshape against the reference's own CUTModel
// (fixtures/golden/cut_step_*.json.gz from tools/golden/reference_cut_step.py): every loss,
// fake_B, idt_B, and every G, D and F gradient.
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, goldenTensor, loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { CUTModel, type CUTOptions, type LossName, type NetName } from './index.js';

interface Named extends GoldenTensor {
  name: string;
}
interface CutStepGolden {
  options: { netD: string; netF: string; netG: string; ngf: number; ndf: number; netF_nc: number; num_patches: number; nce_layers: string };
  inputs: { real_A: GoldenTensor; real_B: GoldenTensor };
  weights_G: Named[];
  weights_D: Named[];
  weights_F: Named[];
  netF_calls: Array<{ given: boolean; ids: number[][] }>;
  fake_B: GoldenTensor;
  idt_B: GoldenTensor;
  losses: Record<LossName, number>;
  loss_D_total: number;
  grads_D: Named[];
  grads_G: Named[];
  grads_F: Named[];
}

const stateDict = (weights: Named[]) => new Map(weights.map((w) => [w.name, { shape: w.shape, data: Float32Array.from(w.data) }]));
const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describeBackends('CUTModel vs the reference CUTModel (netD pixel, netF reshape)', (backend) => {
  for (const file of ['cut_step_pixel.json.gz', 'cut_step_reshape.json.gz']) {
    it(`${file}: losses, images and every G, D and F gradient match PyTorch`, async () => {
      const g = loadFixture<CutStepGolden>(`golden/${file}`);
      const o = g.options;
      const model = new CUTModel(
        {
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
      const before = tf.memory().numTensors;
      const r = model.computeLosses(realA, realB, { patchIds: { NCE: kA!.ids, NCE_Y: kB!.ids } });

      const report: Record<string, number> = {};
      for (const name of ['G_GAN', 'D_real', 'D_fake', 'G', 'NCE', 'NCE_Y'] as const) {
        const ours = (await r.losses[name]!.data())[0]!;
        report[name] = relDiff(ours, g.losses[name]);
        expect(report[name], `${name}: ours ${ours}, reference ${g.losses[name]}`).toBeLessThan(1e-5);
      }
      report.loss_D = relDiff((await r.lossD.data())[0]!, g.loss_D_total);
      expect(report.loss_D).toBeLessThan(1e-5);
      for (const [name, ours, golden] of [
        ['fake_B', r.fakeB, g.fake_B],
        ['idt_B', r.idtB!, g.idt_B],
      ] as const) {
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
          // Relative to the tensor's largest gradient: G's span several orders of magnitude.
          const d = maxAbsDiff(torch.data, ref.data) / Math.max(1, ...ref.data.map(Math.abs));
          expect(d, `grad ${net} ${ref.name}`).toBeLessThan(1e-4);
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
