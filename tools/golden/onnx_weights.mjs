// Writes the tiny seeded generators of fixtures/golden/onnx/cases.json as .pth files with our writer
// (fixtures/golden/onnx/<id>.pth), for tools/golden/onnx_reference.py. Batch-norm cases get running
// statistics from two training-mode forwards first. Needs `pnpm build` (it imports the built package).
// Usage: node tools/golden/onnx_weights.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { defineGenerator, encodeNetworkWeights, generatorConfigFromDefine } from '../../packages/networks/dist/index.js';

const dir = new URL('../../fixtures/golden/onnx/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8'));
await tf.setBackend('cpu');

/** define_G's network for a case (its options in the reference's names), as the test builds it. */
export const caseConfig = (c) =>
  generatorConfigFromDefine({
    netG: c.netG,
    inputNc: 3,
    outputNc: 3,
    ngf: c.options.ngf,
    norm: c.options.normG ?? 'instance',
    useDropout: c.options.use_dropout ?? false,
    init: { type: 'xavier', gain: 1 }, // activations of order 1 (the reference's gain 0.02 leaves norm-free nets near zero)
    noAntialias: c.options.no_antialias ?? false,
    noAntialiasUp: c.options.no_antialias_up ?? false,
  });
for (const c of cases) {
  if (c.pth) continue; // a real checkpoint
  const G = defineGenerator(caseConfig(c), { seed: 21 });
  if (c.options.normG === 'batch') {
    const [, ch, h, w] = c.inputs[0];
    for (const seed of [1, 2]) tf.tidy(() => G.forward(tf.randomUniform([2, h, w, ch], -1, 1, 'float32', seed), true));
  }
  writeFileSync(new URL(`${c.id}.pth`, dir), await encodeNetworkWeights(G));
  console.log(`wrote fixtures/golden/onnx/${c.id}.pth (${G.parameterCount()} parameters)`);
  G.dispose();
}
