// Our networks -> .pth -> real PyTorch (tools/golden/torch_networks.py, strict load_state_dict)
// -> the same outputs. Skipped, with the reason printed, where PyTorch is not installed
// (Debian: apt-get install -y --no-install-recommends python3-torch).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { runTorchScript, torchUnavailable } from '../../../test-utils/torch';
import { defineDiscriminator, defineGenerator, type Discriminator, type Generator, type Network } from './index.js';
import { saveNetworkWeights } from './test-files.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'tools/golden/torch_networks.py');
const noTorch = torchUnavailable();
if (noTorch) console.warn(`skipping the PyTorch round trip of @cut/networks: ${noTorch}`);

const work = mkdtempSync(join(tmpdir(), 'cut-roundtrip-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NCE_LAYERS = [0, 4, 8, 12, 16];
const init = { type: 'normal' as const, gain: 0.05 };

interface Case {
  id: string;
  kind: 'generator' | 'discriminator';
  /** The network in the reference's option names, for the script. */
  config: Record<string, number | boolean>;
  build: (seed: number) => Generator | Discriminator;
  /** NHWC input shape. */
  input: [number, number, number, number];
}

const generator = (noAntialias: boolean, useDropout: boolean): Case => ({
  id: `G_${noAntialias ? 'no_antialias' : 'antialias'}${useDropout ? '_dropout' : ''}`,
  kind: 'generator',
  config: { input_nc: 3, output_nc: 3, ngf: 8, n_blocks: 2, no_antialias: noAntialias, no_antialias_up: noAntialias, use_dropout: useDropout },
  build: (seed) =>
    defineGenerator({ architecture: 'resnet', ngf: 8, nBlocks: 2, noAntialias, noAntialiasUp: noAntialias, useDropout, init }, { seed }),
  input: [2, 24, 32, 3],
});
const discriminator = (noAntialias: boolean): Case => ({
  id: `D_${noAntialias ? 'no_antialias' : 'antialias'}`,
  kind: 'discriminator',
  config: { input_nc: 3, ndf: 8, n_layers: 3, no_antialias: noAntialias },
  build: (seed) => defineDiscriminator({ architecture: 'n_layers', ndf: 8, nLayers: 3, noAntialias, init }, { seed }),
  input: [2, 32, 40, 3],
});
const cases = [generator(false, false), generator(true, false), generator(false, true), discriminator(false), discriminator(true)];

/** Non-trivial weights: the seeded normal init, plus random biases (the init's are zero). */
function randomizeBiases(net: Network, rng: SeededRng): void {
  const vars = net.trainableVariables();
  net.parameterNames().forEach((name, i) => {
    const v = vars[i]!;
    if (name.endsWith('.bias')) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, -0.5, 0.5), v.shape)));
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
  output: GoldenTensor;
  features?: Array<GoldenTensor & { layer: number }>;
}

describe('tools/golden/torch_networks.py', () => {
  it.skipIf(noTorch !== undefined)('its PyTorch networks reproduce the reference goldens and load h2z_tiny strictly', () => {
    const out = JSON.parse(
      runTorchScript(script, ['check', join(root, 'fixtures')])
        .trim()
        .split('\n')
        .pop()!,
    ) as {
      max_abs_diff: number;
      report: Record<string, Record<string, number | boolean>>;
    };
    expect(Object.keys(out.report).sort()).toEqual([
      'h2z_tiny',
      'nlayer_discriminator_antialias.json',
      'nlayer_discriminator_no_antialias.json',
      'resnet_generator_tiny_antialias.json',
      'resnet_generator_tiny_no_antialias.json',
    ]);
    expect(out.report.h2z_tiny).toMatchObject({ strict_load: true });
    expect(typeof out.report.h2z_tiny!.output).toBe('number');
    expect(out.max_abs_diff).toBeLessThanOrEqual(1e-5);
  });
});

describeBackends('our .pth files in PyTorch', (backend) => {
  it.skipIf(noTorch !== undefined)(
    'G (antialias, no_antialias, dropout layout) and D (antialias, no_antialias): strict load, same outputs and features within 1e-4',
    async () => {
      const before = tf.memory().numTensors;
      const dir = mkdtempSync(join(work, `${backend}-`));
      const rng = new SeededRng(42);
      const ours = new Map<
        string,
        { keys: string[]; output: { shape: number[]; data: number[] }; features: Array<{ shape: number[]; data: number[] }> }
      >();
      const spec: { cases: unknown[] } = { cases: [] };
      for (const [i, c] of cases.entries()) {
        const net = c.build(100 + i);
        randomizeBiases(net, rng);
        const pth = join(dir, `${c.id}.pth`);
        await saveNetworkWeights(net, pth);
        const x = tf.tensor4d(
          rng.uniformArray(
            c.input.reduce((a, b) => a * b, 1),
            -1,
            1,
          ),
          c.input,
        );
        const y = net.forward(x);
        const feats = net.role === 'generator' ? net.encode(x, NCE_LAYERS) : [];
        ours.set(c.id, {
          keys: [...(await net.stateDict()).keys()],
          output: await nchwArray(y),
          features: await Promise.all(feats.map(nchwArray)),
        });
        spec.cases.push({
          id: c.id,
          kind: c.kind,
          config: c.config,
          pth,
          input: await nchwArray(x),
          ...(c.kind === 'generator' ? { nce_layers: NCE_LAYERS } : {}),
        });
        tf.dispose([x, y, ...feats]);
        net.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);

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
        expect(theirs.output.shape, c.id).toEqual(mine.output.shape);
        // Non-trivial outputs: not saturated, not constant.
        const spread = Math.max(...mine.output.data) - Math.min(...mine.output.data);
        expect(spread, `${c.id} output spread`).toBeGreaterThan(0.5);
        let worst = maxAbsDiff(mine.output.data, theirs.output.data);
        expect(worst, `${c.id} output`).toBeLessThan(1e-4);
        if (c.kind === 'generator') {
          expect(theirs.features!.map((f) => f.layer)).toEqual(NCE_LAYERS);
          theirs.features!.forEach((f, k) => {
            expect(f.shape, `${c.id} layer ${f.layer}`).toEqual(mine.features[k]!.shape);
            const d = maxAbsDiff(mine.features[k]!.data, f.data);
            expect(d, `${c.id} layer ${f.layer}`).toBeLessThan(1e-4);
            worst = Math.max(worst, d);
          });
        }
        report.push(`${c.id} ${worst.toExponential(2)}`);
      }
      console.info(`[${backend}] ours vs PyTorch on our .pth files, max |diff|: ${report.join(', ')}`);
    },
  );
});
