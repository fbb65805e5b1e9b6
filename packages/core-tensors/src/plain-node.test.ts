// The built @cut/core-tensors under plain `node`, outside vitest: an ES module and a
// CommonJS script, each loading the package's dist the way its package.json exports it,
// plus tfjs-core's CommonJS bundle (which registers no gradients of its own) and the cpu
// backend, compute tf.grads of mean(relu(conv2d(x, filter))). The gradients must match
// PyTorch (tools/golden/gradients.py, case conv_relu_mean, dy = 1).
// Needs the build (`pnpm --filter @cut/core-tensors build`; the root test script builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';

interface ConvReluMeanCase {
  name: string;
  inputs: { x: GoldenTensor; filter: GoldenTensor };
  unit_dy_grads: { x: GoldenTensor; filter: GoldenTensor };
}
const golden = loadFixture<{ cases: ConvReluMeanCase[] }>('golden/gradients.json').cases.find((c) => c.name === 'conv_relu_mean')!;

const root = fileURLToPath(new URL('../../../', import.meta.url));
const packageDir = join(root, 'packages', 'core-tensors');
const exportsMap = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).exports['.'];
const esmEntry = join(packageDir, exportsMap.import.default);
const cjsEntry = join(packageDir, exportsMap.require.default);
// What a user of the repo root resolves: tfjs-core's `main` (the CommonJS bundle) and the cpu backend.
const fromRoot = createRequire(join(root, 'package.json'));
const tfCore = fromRoot.resolve('@tensorflow/tfjs-core');
const tfCpu = fromRoot.resolve('@tensorflow/tfjs-backend-cpu');

// The computation both scripts run; prints one RESULT line of JSON.
const body = (tf: string, ours: string) => `
  const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  await ${tf}.setBackend('cpu');
  const x = ${tf}.tensor4d(input.x.data, input.x.shape);
  const filter = ${tf}.tensor4d(input.filter.data, input.filter.shape);
  const f = (a, b) => ${tf}.mean(${tf}.relu(${tf}.conv2d(a, b, 1, 'same')));
  const [gx, gf] = ${tf}.grads(f)([x, filter]);
  const conv = ${ours}.gradientConfigs.find((c) => c.kernelName === 'Conv2D');
  console.log('RESULT ' + JSON.stringify({
    ours: ${tf}.getGradient('Conv2D') === conv,
    x: Array.from(await gx.data()),
    filter: Array.from(await gf.data()),
  }));
`;

const esmScript = `
import { readFileSync } from 'node:fs';
import * as tf from ${JSON.stringify(pathToFileURL(tfCore).href)};
import ${JSON.stringify(pathToFileURL(tfCpu).href)};
import * as cut from ${JSON.stringify(pathToFileURL(esmEntry).href)};
${body('tf', 'cut')}
`;

const cjsScript = `
const { readFileSync } = require('node:fs');
const tf = require(${JSON.stringify(tfCore)});
require(${JSON.stringify(tfCpu)});
const cut = require(${JSON.stringify(cjsEntry)});
(async () => {
${body('tf', 'cut')}
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('built @cut/core-tensors under plain node (tfjs-core CommonJS, cpu)', () => {
  let dir = '';
  let inputFile = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cut-plain-node-'));
    inputFile = join(dir, 'input.json');
    writeFileSync(inputFile, JSON.stringify(golden.inputs));
    writeFileSync(join(dir, 'grad.mjs'), esmScript);
    writeFileSync(join(dir, 'grad.cjs'), cjsScript);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [kind, file, entry] of [
    ['ES module', 'grad.mjs', esmEntry],
    ['CommonJS', 'grad.cjs', cjsEntry],
  ] as const) {
    it(`${kind}: tf.grads of mean(relu(conv2d)) matches PyTorch`, () => {
      expect(existsSync(entry), `${entry} missing: run 'pnpm --filter @cut/core-tensors build' first`).toBe(true);
      const run = spawnSync(process.execPath, [join(dir, file), inputFile], { encoding: 'utf8', timeout: 60_000 });
      const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      expect(line, `no result from node (exit ${run.status}):\n${run.stderr}`).toBeDefined();
      const result = JSON.parse(line!.slice('RESULT '.length)) as { ours: boolean; x: number[]; filter: number[] };
      // One tfjs-core instance shared by the script and our dist, holding our gradient.
      expect(result.ours).toBe(true);
      expect(maxAbsDiff(result.x, golden.unit_dy_grads.x.data)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(result.filter, golden.unit_dy_grads.filter.data)).toBeLessThanOrEqual(1e-5);
    });
  }
});
