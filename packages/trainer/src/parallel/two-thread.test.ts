import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends, type TestBackend } from '../../../../test-utils/backends';
import { maxAbsDiff } from '../../../../test-utils/golden';
import { CUTModel, TwoThreadTrainer } from '../index.js';

const TINY = { netG: 'resnet_2blocks', ngf: 8, ndf: 8, netF_nc: 16, num_patches: 8, crop_size: 24, load_size: 24 } as const;
const workerBackend = (backend: TestBackend) => ({ backend });

describeBackends(
  'TwoThreadTrainer',
  (backend) => {
    it('three CUT steps on two threads give the same weights, optimiser state and losses as on one', async () => {
      const one = new CUTModel(TINY, { seed: 4 });
      const two = new CUTModel(TINY, { seed: 4 });
      const trainer = await TwoThreadTrainer.start(two, workerBackend(backend));
      expect(trainer.workerBackend).toBe(backend);
      try {
        let after1 = 0;
        for (let step = 0; step < 3; step++) {
          const x = tf.randomUniform([1, 24, 24, 3], -1, 1, 'float32', 40 + step) as tf.Tensor4D;
          const y = tf.randomUniform([1, 24, 24, 3], -1, 1, 'float32', 50 + step) as tf.Tensor4D;
          if (step === 2) for (const m of [one, two]) m.setLearningRate(1e-4); // the worker follows
          one.optimizeParameters(x, y);
          await trainer.optimizeParameters(x, y);
          const [l1, l2] = [await one.currentLosses(), await two.currentLosses()];
          expect(Object.keys(l2)).toEqual(Object.keys(l1));
          for (const [name, v] of Object.entries(l1)) expect(l2[name as keyof typeof l2], `step ${step} ${name}`).toBe(v);
          tf.dispose([x, y]);
          if (step === 0) after1 = tf.memory().numTensors;
          else expect(tf.memory().numTensors, `tensors after step ${step + 1}`).toBe(after1);
        }
        for (const net of ['G', 'D', 'F'] as const) {
          const b = two.named(net);
          for (const [i, [name, v]] of one.named(net).entries()) {
            expect(maxAbsDiff(await v.data(), await b[i]![1].data()), `${net} ${name}`).toBe(0);
          }
          expect(one.optimizer(net)!.iterations).toBe(two.optimizer(net)!.iterations);
        }
        expect(two.rng.getState()).toEqual(one.rng.getState());
      } finally {
        await trainer.close();
        one.dispose();
        two.dispose();
      }
    });

    it('refuses a model without the identity half (FastCUT), and a backend the worker cannot load', async () => {
      const fast = new CUTModel({ ...TINY, CUT_mode: 'FastCUT' }, { seed: 1 });
      await expect(TwoThreadTrainer.start(fast, workerBackend(backend))).rejects.toThrow(/nce_idt/);
      fast.dispose();
      const cut = new CUTModel(TINY, { seed: 1 });
      await expect(TwoThreadTrainer.start(cut, { backend: 'cuda' as never })).rejects.toThrow(/failed to start.*unknown backend 'cuda'/);
      cut.dispose();
    });
  },
  { backends: ['wasm'] },
);
