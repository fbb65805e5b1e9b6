// .pth files both ways with the reference's own define_G / define_D networks
// (tools/golden/reference_networks.py imports its models/networks.py) for unet_128, unet_256,
// resnet_cat and normG/normD batch and none: our file loaded with load_state_dict(strict=True) gives
// our outputs, and the file the reference saves loads strictly here and gives its outputs. Skipped,
// with the reason printed, where PyTorch or the reference checkout ($CUT_REFERENCE, else
// /work/ref/cut) is missing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { maxAbsDiff } from '../../../test-utils/golden';
import { runTorchScript, torchUnavailable } from '../../../test-utils/torch';
import {
  defineDiscriminator,
  defineGenerator,
  discriminatorConfigFromDefine,
  generatorConfigFromDefine,
  type Discriminator,
  type Generator,
  type NormType,
} from './index.js';
import { loadNetworkWeights, saveNetworkWeights } from './test-files.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'tools/golden/reference_networks.py');

function unavailable(): string | undefined {
  const noTorch = torchUnavailable();
  if (noTorch) return noTorch;
  try {
    runTorchScript(script, ['available']);
    return undefined;
  } catch (e) {
    if (process.env.CUT_REQUIRE_TORCH === '1') throw e;
    return `the reference's models/networks.py does not import (${(e as Error).message.split('\n').pop()})`;
  }
}
const skip = unavailable();
if (skip) console.warn(`skipping the reference-network .pth round trips: ${skip}`);

const work = mkdtempSync(join(tmpdir(), 'cut-reference-roundtrip-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  id: string;
  kind: 'G' | 'D';
  /** In the reference's option names, for define_G / define_D on both sides. */
  config: { netG?: string; netD?: string; ngf?: number; ndf?: number; normG?: NormType; normD?: NormType; no_antialias?: boolean };
  /** NHWC input shape. */
  input: [number, number, number, number];
}

const cases: Case[] = [
  { id: 'G_unet_256', kind: 'G', config: { netG: 'unet_256', ngf: 2 }, input: [1, 256, 256, 3] },
  { id: 'G_unet_128_batch', kind: 'G', config: { netG: 'unet_128', ngf: 2, normG: 'batch' }, input: [2, 128, 128, 3] },
  { id: 'G_unet_128_none', kind: 'G', config: { netG: 'unet_128', ngf: 2, normG: 'none' }, input: [1, 128, 128, 3] },
  { id: 'G_resnet_cat', kind: 'G', config: { netG: 'resnet_cat', ngf: 4 }, input: [2, 24, 32, 3] },
  { id: 'G_resnet_6blocks_batch', kind: 'G', config: { netG: 'resnet_6blocks', ngf: 4, normG: 'batch' }, input: [2, 24, 32, 3] },
  { id: 'G_resnet_6blocks_none', kind: 'G', config: { netG: 'resnet_6blocks', ngf: 4, normG: 'none' }, input: [1, 24, 32, 3] },
  { id: 'D_basic_batch', kind: 'D', config: { netD: 'basic', ndf: 4, normD: 'batch' }, input: [2, 40, 32, 3] },
  { id: 'D_basic_none', kind: 'D', config: { netD: 'basic', ndf: 4, normD: 'none' }, input: [1, 40, 32, 3] },
  { id: 'D_basic_batch_no_antialias', kind: 'D', config: { netD: 'basic', ndf: 4, normD: 'batch', no_antialias: true }, input: [2, 32, 32, 3] },
];

const init = { type: 'normal' as const, gain: 0.05 };

function build(c: Case, seed: number | 'load'): Generator | Discriminator {
  const b = seed === 'load' ? { skipInit: true } : { seed };
  const noAntialias = c.config.no_antialias ?? false;
  if (c.kind === 'D') {
    const config = discriminatorConfigFromDefine({
      netD: c.config.netD!,
      inputNc: 3,
      ndf: c.config.ndf!,
      nLayersD: 3,
      norm: c.config.normD ?? 'instance',
      init,
      noAntialias,
    });
    return defineDiscriminator(config, b);
  }
  const config = generatorConfigFromDefine({
    netG: c.config.netG!,
    inputNc: 3,
    outputNc: 3,
    ngf: c.config.ngf!,
    norm: c.config.normG ?? 'instance',
    useDropout: false,
    init,
    noAntialias,
    noAntialiasUp: noAntialias,
  });
  return defineGenerator(config, b);
}

/** Non-trivial weights: the seeded init, plus random biases (the init's are zero). */
function randomizeBiases(net: Generator | Discriminator, rng: SeededRng): void {
  const vars = net.trainableVariables();
  net.parameterNames().forEach((name, i) => {
    const v = vars[i]!;
    if (name.endsWith('.bias') || name.endsWith('.beta')) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, -0.3, 0.3), v.shape)));
  });
}

async function nchwArray(t: tf.Tensor4D): Promise<{ shape: number[]; data: number[] }> {
  const nchw = nhwcToNchw(t);
  const data = Array.from((await nchw.data()) as Float32Array);
  const shape = nchw.shape;
  nchw.dispose();
  return { shape, data };
}

interface TorchResult {
  keys: string[];
  dtypes: Record<string, string>;
  output: { shape: number[]; data: number[] };
  theirs_output: { shape: number[]; data: number[] };
}

describeBackends('.pth both ways with the reference define_G / define_D (unet, resnet_cat, batch and none norms)', (backend) => {
  it.skipIf(skip !== undefined)('ours load strictly there with the same eval outputs; theirs load strictly here with theirs', async () => {
    const before = tf.memory().numTensors;
    const dir = mkdtempSync(join(work, `${backend}-`));
    const rng = new SeededRng(7);
    const ours = new Map<string, { keys: string[]; output: { shape: number[]; data: number[] } }>();
    const spec: { cases: unknown[] } = { cases: [] };
    const inputs = new Map<string, tf.Tensor4D>();
    for (const [i, c] of cases.entries()) {
      const net = build(c, 300 + i);
      randomizeBiases(net, rng);
      const x = tf.tensor4d(
        rng.uniformArray(
          c.input.reduce((a, b) => a * b, 1),
          -1,
          1,
        ),
        c.input,
      );
      // One training-mode forward first: batch norm's running statistics move off 0 and 1.
      tf.dispose(net.forward(x, true));
      const pth = join(dir, `${c.id}.pth`);
      await saveNetworkWeights(net, pth);
      const y = net.forward(x, false);
      ours.set(c.id, { keys: [...(await net.stateDict()).keys()], output: await nchwArray(y) });
      spec.cases.push({ id: c.id, kind: c.kind, config: c.config, pth, theirs: join(dir, `${c.id}.theirs.pth`), input: await nchwArray(x) });
      inputs.set(c.id, x);
      y.dispose();
      net.dispose();
    }

    const specPath = join(dir, 'spec.json');
    const outPath = join(dir, 'out.json');
    writeFileSync(specPath, JSON.stringify(spec));
    runTorchScript(script, ['run', specPath, outPath]);
    const torch = JSON.parse(readFileSync(outPath, 'utf8')) as { cases: Record<string, TorchResult> };

    const report: string[] = [];
    for (const c of cases) {
      const mine = ours.get(c.id)!;
      const theirs = torch.cases[c.id]!;
      expect(theirs.keys, c.id).toEqual(mine.keys);
      for (const [key, dtype] of Object.entries(theirs.dtypes)) {
        expect(dtype, `${c.id} ${key}`).toBe(key.endsWith('num_batches_tracked') ? 'torch.int64' : 'torch.float32');
      }
      expect(theirs.output.shape, c.id).toEqual(mine.output.shape);
      const spread = mine.output.data.reduce((a, b) => Math.max(a, b), -Infinity) - mine.output.data.reduce((a, b) => Math.min(a, b), Infinity);
      expect(spread, `${c.id} output spread`).toBeGreaterThan(c.kind === 'G' ? 0.1 : 0.01);
      const d1 = maxAbsDiff(mine.output.data, theirs.output.data);
      expect(d1, `${c.id}: our file in the reference`).toBeLessThan(1e-4);

      // Theirs here: strict load into a network built for loading, then the same eval forward.
      const net = build(c, 'load');
      loadNetworkWeights(net, join(dir, `${c.id}.theirs.pth`));
      const y = net.forward(inputs.get(c.id)!, false);
      const back = await nchwArray(y);
      const d2 = maxAbsDiff(back.data, theirs.theirs_output.data);
      expect(d2, `${c.id}: the reference's file here`).toBeLessThan(1e-4);
      // The counter came through as the reference wrote it (set to 3, then one training forward).
      const sd = await net.stateDict();
      for (const [key, t] of sd) if (key.endsWith('num_batches_tracked')) expect(t.data[0], key).toBe(4);
      tf.dispose([y, inputs.get(c.id)!]);
      net.dispose();
      report.push(`${c.id} ${d1.toExponential(1)}/${d2.toExponential(1)}`);
    }
    expect(tf.memory().numTensors).toBe(before);
    console.info(`[${backend}] ours -> reference / reference -> ours, max |diff|: ${report.join(', ')}`);
  });
});
