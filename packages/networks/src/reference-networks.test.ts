// The generators and norms beyond the default ResNet/PatchGAN with instance norm (unet_128,
// unet_256, resnet_cat; normG/normD batch and none) against the reference's own define_G/define_D
// networks (tools/golden/reference_networks.py): module classes, state_dict keys and _metadata,
// training-mode output, input and weight gradients, BatchNorm running statistics, eval-mode
// output and encoder features.
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw, oihwToHwioArray } from '@cut/core-tensors';
import { describeBackends } from '../../../test-utils/backends';
import { loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import {
  SequentialNetwork,
  defineDiscriminator,
  defineGenerator,
  discriminatorConfigFromDefine,
  generatorConfigFromDefine,
  networkMetadata,
  type Discriminator,
  type Generator,
  type NormType,
  type TorchStateDict,
} from './index.js';

interface WaveWeight {
  name: string;
  shape: number[];
  a?: number;
  b?: number;
  scale?: number;
  offset?: number;
  fill?: number;
  tensor?: GoldenTensor;
}
interface Case {
  id: string;
  kind: 'G' | 'D';
  config: Record<string, string | number | boolean>;
  module_classes: string[];
  metadata: string[];
  weights: WaveWeight[];
  input_shape: number[];
  output: GoldenTensor;
  dinput?: GoldenTensor;
  grads: Array<GoldenTensor & { name: string }>;
  stats_after?: Array<GoldenTensor & { name: string }>;
  output_eval?: GoldenTensor;
  layers?: number[];
  features?: GoldenTensor[];
}
interface Golden {
  meta: { input: string };
  cases: Case[];
}

const golden = loadFixture<Golden>('golden/reference_networks.json.gz');
const X_WAVE = [0.37, 1.0] as const;
const DY_WAVE = [0.7, 0.3] as const;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** offset + scale * sin(i * a + b), rounded to float32, as the script computes it in float64. */
const wave = (n: number, a: number, b: number, scale = 1, offset = 0) =>
  Float32Array.from({ length: n }, (_, i) => offset + scale * Math.sin(i * a + b));
const nchwToNhwc = (data: Float32Array, s: number[]) =>
  tf.tidy(() => tf.transpose(tf.tensor4d(data, s as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D);

function stateFrom(weights: WaveWeight[]): TorchStateDict {
  return new Map(
    weights.map((w) => {
      const data =
        w.tensor !== undefined
          ? Float32Array.from(w.tensor.data)
          : w.fill !== undefined
            ? new Float32Array(Math.max(1, size(w.shape))).fill(w.fill)
            : wave(size(w.shape), w.a!, w.b!, w.scale, w.offset);
      return [w.name, { shape: w.shape, data }];
    }),
  );
}

/** The network through the registry's define_G / define_D mapping, as the script's define_G/define_D call builds it. */
function build(c: Case): Generator | Discriminator {
  const o = c.config;
  const init = { type: 'normal' as const, gain: 0.02 };
  const noAntialias = Boolean(o.no_antialias);
  if (c.kind === 'D') {
    const norm = (o.normD ?? 'instance') as NormType;
    const config = discriminatorConfigFromDefine({
      netD: String(o.netD),
      inputNc: Number(o.input_nc ?? 3),
      ndf: Number(o.ndf),
      nLayersD: 3,
      norm,
      init,
      noAntialias,
    });
    return defineDiscriminator(config, { skipInit: true });
  }
  const config = generatorConfigFromDefine({
    netG: String(o.netG),
    inputNc: Number(o.input_nc ?? 3),
    outputNc: Number(o.output_nc ?? 3),
    ngf: Number(o.ngf),
    norm: (o.normG ?? 'instance') as NormType,
    useDropout: false,
    init,
    noAntialias,
    noAntialiasUp: Boolean(o.no_antialias_up),
  });
  return defineGenerator(config, { skipInit: true });
}

async function nchw(t: tf.Tensor4D): Promise<Float32Array> {
  const n = nhwcToNchw(t);
  const d = (await n.data()) as Float32Array;
  n.dispose();
  return d;
}

/** max |ours - golden| / max |golden|: gradients range from 1e-4 to 1e2 here. */
function relDiff(ours: ArrayLike<number>, g: GoldenTensor): number {
  const scale = g.data.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
  return maxAbsDiff(ours, g.data) / scale;
}

/**
 * A conv bias right before an instance norm has zero gradient in exact arithmetic (the norm
 * removes any per-channel constant); float32 leaves sums of thousands of terms that cancel, as
 * noise of about 1e-4 in PyTorch and here alike.
 */
const zeroInExactArithmetic = (c: Case, g: GoldenTensor & { name: string }) =>
  (String(c.config.netG).startsWith('unet_') || c.config.netG === 'resnet_cat') &&
  (c.config.normG ?? 'instance') === 'instance' &&
  g.name.endsWith('.bias') &&
  g.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0) < 1e-3;

describeBackends('generators and norms vs the reference define_G/define_D', (backend) => {
  for (const c of golden.cases) {
    it(`${c.id}: output, input and weight gradients, running statistics, eval output, features`, async () => {
      const before = tf.memory().numTensors;
      const net = build(c);
      expect(net).toBeInstanceOf(SequentialNetwork);
      expect((net as unknown as SequentialNetwork).modules.map((m) => m.type)).toEqual(c.module_classes);
      const state = stateFrom(c.weights);
      net.loadStateDict(state, c.id);
      expect([...(await net.stateDict()).keys()]).toEqual(c.weights.map((w) => w.name));
      expect([...networkMetadata(net).keys()]).toEqual(c.metadata);

      const x = nchwToNhwc(wave(size(c.input_shape), ...X_WAVE), c.input_shape);
      const outShape = c.output.shape;
      const dy = nchwToNhwc(wave(size(outShape), ...DY_WAVE), outShape);
      const xv = tf.variable(x, true);
      let y: tf.Tensor4D | undefined;
      const vars = net.trainableVariables();
      const { value, grads } = tf.variableGrads(() => {
        const out = net.forward(xv, true);
        y = tf.keep(out.clone());
        return tf.sum(tf.mul(out, dy));
      }, [xv, ...vars]);
      const report: string[] = [];
      const outDiff = maxAbsDiff(await nchw(y!), c.output.data);
      expect(outDiff, 'output').toBeLessThan(1e-4);
      report.push(`out ${outDiff.toExponential(1)}`);
      if (c.dinput) {
        const d = relDiff(await nchw(grads[xv.name] as tf.Tensor4D), c.dinput);
        expect(d, 'input gradient').toBeLessThan(1e-4);
        report.push(`dx ${d.toExponential(1)}`);
      }
      const names = net.parameterNames();
      expect(names).toEqual(c.grads.map((g) => g.name));
      let worstGrad = 0;
      for (const [i, g] of c.grads.entries()) {
        const ours = grads[vars[i]!.name]!;
        const data = (await ours.data()) as Float32Array;
        const torchLayout = g.shape.length === 4 ? oihwToHwioArray({ data: Float32Array.from(g.data), shape: g.shape }) : { data: g.data };
        if (zeroInExactArithmetic(c, g)) {
          expect(
            data.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
            `gradient of ${g.name} (zero up to rounding)`,
          ).toBeLessThan(1e-3);
          continue;
        }
        const d = relDiff(data, { ...g, data: Array.from(torchLayout.data) });
        expect(d, `gradient of ${g.name}`).toBeLessThan(1e-4);
        worstGrad = Math.max(worstGrad, d);
      }
      report.push(`dW ${worstGrad.toExponential(1)}`);
      tf.dispose([value, ...Object.values(grads), y!, xv, dy]);

      if (c.stats_after) {
        const after = await net.stateDict();
        for (const s of c.stats_after) {
          const d = maxAbsDiff(after.get(s.name)!.data, s.data);
          expect(d, s.name).toBeLessThan(1e-5);
        }
        const yEval = net.forward(x, false);
        const d = maxAbsDiff(await nchw(yEval), c.output_eval!.data);
        expect(d, 'eval-mode output').toBeLessThan(1e-4);
        report.push(`eval ${d.toExponential(1)}`);
        yEval.dispose();
      }

      if (c.features) {
        net.loadStateDict(state, c.id); // the statistics before the training forward
        const feats = (net as Generator).encode(x, c.layers!, true);
        let worst = 0;
        for (const [k, f] of c.features.entries()) {
          expect(nhwcShape(feats[k]!.shape), `layer ${c.layers![k]}`).toEqual(f.shape);
          const d = maxAbsDiff(await nchw(feats[k]!), f.data);
          expect(d, `layer ${c.layers![k]}`).toBeLessThan(1e-4);
          worst = Math.max(worst, d);
        }
        report.push(`features ${worst.toExponential(1)}`);
        tf.dispose(feats);
      }
      x.dispose();
      net.dispose();
      expect(tf.memory().numTensors).toBe(before);
      console.info(`[${backend}] ${c.id}: ${report.join(', ')}`);
    });
  }
});

const nhwcShape = (s: number[]) => [s[0], s[3], s[1], s[2]];

describeBackends(
  'parameter counts at the reference defaults (ngf / ndf 64)',
  () => {
    it('equal sum(p.numel()) of the reference define_G / define_D networks', () => {
      // From /usr/bin/python3 with the reference's models/networks.py (opt.nz = 0 for resnet_cat).
      const init = { type: 'xavier' as const, gain: 0.02 };
      const g = (netG: string, norm: NormType) =>
        generatorConfigFromDefine({
          netG,
          inputNc: 3,
          outputNc: 3,
          ngf: 64,
          norm,
          useDropout: false,
          init,
          noAntialias: false,
          noAntialiasUp: false,
        });
      for (const [netG, norm, count] of [
        ['unet_256', 'instance', 54409603],
        ['unet_128', 'batch', 41828995],
        ['resnet_cat', 'instance', 11140483],
        ['resnet_9blocks', 'batch', 11383427],
        ['resnet_9blocks', 'none', 11372931],
      ] as const) {
        const net = defineGenerator(g(netG, norm), { skipInit: true });
        expect(net.parameterCount(), `${netG} ${norm}`).toBe(count);
        net.dispose();
      }
      for (const [norm, count] of [
        ['batch', 2765633],
        ['none', 2763841],
      ] as const) {
        const net = defineDiscriminator(
          discriminatorConfigFromDefine({ netD: 'basic', inputNc: 3, ndf: 64, nLayersD: 3, norm, init, noAntialias: false }),
          { skipInit: true },
        );
        expect(net.parameterCount(), `D ${norm}`).toBe(count);
        net.dispose();
      }
    });
  },
  { backends: ['cpu'] },
);
