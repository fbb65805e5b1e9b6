// PixelDiscriminator (netD `pixel`) against the reference's own class: forward and gradients
// (fixtures/golden/pixel_discriminator.json, tools/golden/reference_pixel_heads.py), and .pth
// files both ways with the reference's define_D loading ours strictly (skipped, with the reason
// printed, without PyTorch or the reference checkout).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../../test-utils/backends';
import { goldenNHWC, loadFixture, maxAbsDiff, maxAbsDiffTensor, type GoldenTensor } from '../../../../test-utils/golden';
import { runTorchScript, torchUnavailable } from '../../../../test-utils/torch';
import { defineDiscriminator, discriminatorNames, networkOptionsFrom, SequentialNetwork, type TorchStateDict } from '../index.js';
import { loadNetworkWeights, saveNetworkWeights } from '../test-files.js';

interface Named extends GoldenTensor {
  name: string;
}
interface PixelCase {
  norm: 'instance' | 'batch' | 'none';
  modules: string[];
  state_dict: Array<{ name: string; shape: number[] }>;
  state_before: Named[];
  input: GoldenTensor;
  output: GoldenTensor;
  R: GoldenTensor;
  grad_input: GoldenTensor;
  grads: Named[];
  state_after: Named[];
  eval_output?: GoldenTensor;
}

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const script = join(root, 'tools/golden/reference_pixel_heads.py');
export const referenceDir = process.env.CUT_REFERENCE ?? '/work/ref/cut';
const noReference =
  torchUnavailable() ??
  (existsSync(join(referenceDir, 'models/networks.py')) ? undefined : `no reference checkout at ${referenceDir} (set CUT_REFERENCE)`);
if (noReference) console.warn(`skipping the reference round trip of PixelDiscriminator: ${noReference}`);

const work = mkdtempSync(join(tmpdir(), 'cut-pixel-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const stateDict = (weights: Named[]): TorchStateDict => new Map(weights.map((w) => [w.name, { shape: w.shape, data: Float32Array.from(w.data) }]));

async function nchw(t: tf.Tensor4D): Promise<{ shape: number[]; data: number[] }> {
  const x = nhwcToNchw(t);
  const out = { shape: x.shape, data: Array.from((await x.data()) as Float32Array) };
  x.dispose();
  return out;
}

describeBackends('PixelDiscriminator vs the reference', (backend) => {
  const g = loadFixture<{ cases: PixelCase[] }>('golden/pixel_discriminator.json');

  it('is registered as netD pixel and names the options that rebuild it', () => {
    expect(discriminatorNames()).toContain('pixel');
    const net = defineDiscriminator('pixel', { skipInit: true });
    expect(net.className).toBe('PixelDiscriminator');
    expect(net.config).toMatchObject({ architecture: 'pixel', ndf: 64, norm: 'instance' });
    expect(networkOptionsFrom(net.referenceOptions()).discriminator).toEqual(net.config);
    net.dispose();
    expect(() => defineDiscriminator({ architecture: 'pixel', norm: 'group' as never })).toThrow(
      /PixelDiscriminator: norm 'group' is not one of instance, batch, none/,
    );
  });

  for (const c of g.cases) {
    it(`norm ${c.norm}: modules, state_dict, one training forward, its input and weight gradients${c.norm === 'batch' ? ', running statistics and the eval output' : ''} match PyTorch`, async () => {
      const net = defineDiscriminator({ architecture: 'pixel', ndf: 4, norm: c.norm });
      expect(net instanceof SequentialNetwork && net.modules.map((m) => m.type)).toEqual(c.modules);
      expect([...(await net.stateDict())].map(([name, t]) => ({ name, shape: t.shape }))).toEqual(c.state_dict);
      expect(networkOptionsFrom(net.referenceOptions()).discriminator).toEqual(net.config);
      net.loadStateDict(stateDict(c.state_before), 'pixel_discriminator.json');

      const x = goldenNHWC(c.input);
      const r = goldenNHWC(c.R);
      const xv = tf.variable(x, true);
      const vars = net.trainableVariables();
      const before = tf.memory().numTensors;
      // One training forward (batch norm updates its running statistics once), input gradient via a variable.
      let y: tf.Tensor4D | null = null;
      const { value, grads } = tf.variableGrads(() => {
        y = tf.keep(net.forward(xv as unknown as tf.Tensor4D));
        return tf.sum(tf.mul(y, r)) as tf.Scalar;
      }, [...vars, xv]);
      value.dispose();
      const yT = nhwcToNchw(y!);
      const report: Record<string, number> = { output: await maxAbsDiffTensor(yT, c.output.data) };
      expect(report.output).toBeLessThan(1e-5);
      const gx = nhwcToNchw(grads[xv.name] as tf.Tensor4D);
      report.grad_input = await maxAbsDiffTensor(gx, c.grad_input.data);
      expect(report.grad_input).toBeLessThan(1e-4);
      for (const [i, name] of net.parameterNames().entries()) {
        const ref = c.grads.find((w) => w.name === name)!;
        const t = grads[vars[i]!.name]!;
        const torch = net.parameterToTorch(name, { data: Float32Array.from(await t.data()), shape: [...t.shape] });
        expect(torch.shape, name).toEqual(ref.shape);
        report[name] = maxAbsDiff(torch.data, ref.data);
        expect(report[name], `grad ${name}`).toBeLessThan(1e-4);
      }
      tf.dispose([y!, yT, gx, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      // The state after the step: batch norm's running statistics and count.
      const after = await net.stateDict();
      for (const ref of c.state_after) {
        const d = maxAbsDiff(after.get(ref.name)!.data, ref.data.map(Number));
        expect(d, `${ref.name} after the forward`).toBeLessThan(1e-5);
      }
      if (c.eval_output) {
        const ye = net.forward(x, false);
        const yeT = nhwcToNchw(ye);
        report.eval_output = await maxAbsDiffTensor(yeT, c.eval_output.data);
        expect(report.eval_output).toBeLessThan(1e-5);
        tf.dispose([ye, yeT]);
      }
      console.log(`[${backend}] PixelDiscriminator norm ${c.norm} vs reference, max |diff|`, JSON.stringify(report));
      tf.dispose([x, r, xv]);
      net.dispose();
    });
  }

  for (const norm of ['instance', 'batch'] as const) {
    it.skipIf(noReference !== undefined)(
      `norm ${norm}: our .pth loads strictly into the reference's define_D('pixel'), and its .pth into ours: same outputs`,
      async () => {
        const dir = mkdtempSync(join(work, `${backend}-${norm}-`));
        const rng = new SeededRng(7);
        const net = defineDiscriminator({ architecture: 'pixel', ndf: 8, norm, init: { type: 'normal', gain: 0.5 } }, { seed: 3 });
        // Nonzero biases (the init's are zero).
        net.trainableVariables().forEach((v, i) => {
          if (net.parameterNames()[i]!.endsWith('.bias')) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, -0.5, 0.5), v.shape)));
        });
        const pth = join(dir, 'pixel_D.pth');
        const back = join(dir, 'pixel_D_torch.pth');
        await saveNetworkWeights(net, pth);
        const x = tf.tensor4d(rng.uniformArray(2 * 6 * 5 * 3, -1, 1), [2, 6, 5, 3]);
        // Training mode on both sides (batch norm: batch statistics).
        const y = net.forward(x);
        const spec = { cases: [{ id: 'pixel', kind: 'D', config: { ndf: 8, norm }, pth, out_pth: back, inputs: [await nchw(x)] }] };
        writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
        runTorchScript(script, ['roundtrip', join(dir, 'spec.json'), join(dir, 'out.json')]);
        const torch = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')).cases.pixel as {
          keys: string[];
          before: GoldenTensor[];
          after: GoldenTensor[];
        };
        expect(torch.keys).toEqual([...(await net.stateDict()).keys()]);
        const ours = await nchw(y);
        expect(torch.before[0]!.shape).toEqual(ours.shape);
        const report = { ours_in_torch: maxAbsDiff(ours.data, torch.before[0]!.data), torch_in_ours: 0 };
        expect(report.ours_in_torch).toBeLessThan(1e-5);
        // The reference's file (weights x -1.5) loaded strictly into ours gives PyTorch's output.
        loadNetworkWeights(net, back);
        const y2 = net.forward(x);
        const theirs = await nchw(y2);
        report.torch_in_ours = maxAbsDiff(theirs.data, torch.after[0]!.data);
        expect(report.torch_in_ours).toBeLessThan(1e-5);
        expect(maxAbsDiff(theirs.data, ours.data)).toBeGreaterThan(1e-2); // the weights did change
        console.info(`[${backend}] PixelDiscriminator norm ${norm} .pth both ways, max |diff|`, JSON.stringify(report));
        tf.dispose([x, y, y2]);
        net.dispose();
      },
    );
  }
});
