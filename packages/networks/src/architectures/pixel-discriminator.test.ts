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
import { hwioToOihwArray, nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../../test-utils/backends';
import { goldenNHWC, loadFixture, maxAbsDiff, maxAbsDiffTensor, type GoldenTensor } from '../../../../test-utils/golden';
import { runTorchScript, torchUnavailable } from '../../../../test-utils/torch';
import { defineDiscriminator, discriminatorNames, networkOptionsFrom, SequentialNetwork, type TorchStateDict } from '../index.js';
import { loadNetworkWeights, saveNetworkWeights } from '../test-files.js';

interface Named extends GoldenTensor {
  name: string;
}
interface PixelGolden {
  modules: string[];
  state_dict: Array<{ name: string; shape: number[] }>;
  weights: Named[];
  input: GoldenTensor;
  output: GoldenTensor;
  R: GoldenTensor;
  grad_input: GoldenTensor;
  grads: Named[];
}

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const script = join(root, 'tools/golden/reference_pixel_heads.py');
export const referenceDir = process.env.CUT_REFERENCE ?? '/work/ref/cut';
const noReference = torchUnavailable() ?? (existsSync(join(referenceDir, 'models/networks.py')) ? undefined : `no reference checkout at ${referenceDir} (set CUT_REFERENCE)`);
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
  const g = loadFixture<PixelGolden>('golden/pixel_discriminator.json');

  it('modules, state_dict keys, output and the gradients of input and weights match PyTorch', async () => {
    const net = defineDiscriminator({ architecture: 'pixel', ndf: 4 });
    expect(net.className).toBe('PixelDiscriminator');
    expect(discriminatorNames()).toContain('pixel');
    const byName = defineDiscriminator('pixel');
    expect(byName.referenceOptions().get('netD')).toBe('pixel');
    // The options it names (train_opt.txt's) rebuild it.
    expect(networkOptionsFrom(net.referenceOptions()).discriminator).toEqual(net.config);
    byName.dispose();
    expect(net instanceof SequentialNetwork && net.modules.map((m) => m.type)).toEqual(g.modules);
    const sd = await net.stateDict();
    expect([...sd].map(([name, t]) => ({ name, shape: t.shape }))).toEqual(g.state_dict);
    net.loadStateDict(stateDict(g.weights), 'pixel_discriminator.json');

    const x = goldenNHWC(g.input);
    const r = goldenNHWC(g.R);
    const before = tf.memory().numTensors;
    const y = net.forward(x);
    const yT = nhwcToNchw(y);
    const outDiff = await maxAbsDiffTensor(yT, g.output.data);
    expect(outDiff).toBeLessThan(1e-5);
    tf.dispose([y, yT]);

    const vars = net.trainableVariables();
    const { grads } = tf.tidy(() => {
      const f = (input: tf.Tensor) => tf.sum(tf.mul(net.forward(input as tf.Tensor4D), r));
      const gx = tf.grad(f)(x);
      const gw = tf.variableGrads(() => f(x) as tf.Scalar, vars).grads;
      return { grads: { x: tf.keep(nhwcToNchw(gx as tf.Tensor4D)), w: Object.fromEntries(Object.entries(gw).map(([k, v]) => [k, tf.keep(v)])) } };
    });
    const report: Record<string, number> = { output: outDiff, grad_input: await maxAbsDiffTensor(grads.x, g.grad_input.data) };
    expect(report.grad_input).toBeLessThan(1e-4);
    for (const [i, name] of net.parameterNames().entries()) {
      const ref = g.grads.find((w) => w.name === name)!;
      const t = grads.w[vars[i]!.name]!;
      const a = { data: Float32Array.from(await t.data()), shape: [...t.shape] };
      const torch = t.rank === 4 ? hwioToOihwArray(a) : a;
      expect(torch.shape, name).toEqual(ref.shape);
      report[name] = maxAbsDiff(torch.data, ref.data);
      expect(report[name], `grad ${name}`).toBeLessThan(1e-4);
    }
    tf.dispose([grads.x, ...Object.values(grads.w)]);
    expect(tf.memory().numTensors).toBe(before);
    console.log(`[${backend}] PixelDiscriminator vs reference, max |diff|`, JSON.stringify(report));
    tf.dispose([x, r]);
    net.dispose();
  });

  it.skipIf(noReference !== undefined)("our .pth loads strictly into the reference's define_D('pixel'), and its .pth into ours: same outputs", async () => {
    const dir = mkdtempSync(join(work, `${backend}-`));
    const rng = new SeededRng(7);
    const net = defineDiscriminator({ architecture: 'pixel', ndf: 8, init: { type: 'normal', gain: 0.5 } }, { seed: 3 });
    // Nonzero biases (the init's are zero).
    net.trainableVariables().forEach((v, i) => {
      if (net.parameterNames()[i]!.endsWith('.bias')) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, -0.5, 0.5), v.shape)));
    });
    const pth = join(dir, 'pixel_D.pth');
    const back = join(dir, 'pixel_D_torch.pth');
    await saveNetworkWeights(net, pth);
    const x = tf.tensor4d(rng.uniformArray(2 * 6 * 5 * 3, -1, 1), [2, 6, 5, 3]);
    const y = net.forward(x);
    const spec = { cases: [{ id: 'pixel', kind: 'D', config: { ndf: 8 }, pth, out_pth: back, inputs: [await nchw(x)] }] };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    runTorchScript(script, ['roundtrip', join(dir, 'spec.json'), join(dir, 'out.json')]);
    const torch = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')).cases.pixel as {
      keys: string[];
      before: GoldenTensor[];
      after: GoldenTensor[];
    };
    expect(torch.keys).toEqual(net.parameterNames());
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
    console.info(`[${backend}] PixelDiscriminator .pth both ways, max |diff|`, JSON.stringify(report));
    tf.dispose([x, y, y2]);
    net.dispose();
  });
});
