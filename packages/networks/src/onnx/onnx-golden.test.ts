// generatorToOnnx against PyTorch (issue 21): for each case of fixtures/golden/onnx/cases.json (h2z_tiny,
// and tiny weights of every architecture written by our .pth writer), our ONNX under onnxruntime-node
// gives the reference's eval-mode outputs (tools/golden/onnx_reference.py) within 1e-4, and the same as
// the ONNX torch.onnx.export made from the reference's define_G with the same weights; Debian's
// python3-onnx checker (full_check) accepts our files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-node';
import { loadFixture } from '../../../../test-utils/golden.js';
import { generatorConfigFromDefine } from '../registry.js';
import { defineGenerator } from '../registry.js';
import { loadNetworkWeights } from '../checkpoint.js';
import { ONNX_INPUT, ONNX_OUTPUT, generatorToOnnx } from './export.js';

const ROOT = join(import.meta.dirname, '../../../..');
const DIR = join(ROOT, 'fixtures/golden/onnx');

interface Case {
  id: string;
  netG: string;
  pth?: string;
  options: { ngf: number; normG?: 'instance' | 'batch' | 'none'; use_dropout?: boolean; no_antialias?: boolean; no_antialias_up?: boolean };
  inputs: number[][];
}
interface Run {
  input: number[];
  shape: number[];
  stride: number;
  sum: number;
  abs_sum: number;
  values: number[];
}

const { cases } = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Case[] };
const golden = loadFixture<{ cases: { id: string; runs: Run[] }[] }>('golden/onnx_reference.json.gz');

/** The input onnx_reference.py feeds: value i = float32(sin(i * 0.37 + 1)). */
const fixedInput = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + 1));

/** define_G's network of a case, with the case's weights. */
function caseGenerator(c: Case) {
  const o = c.options;
  const config = generatorConfigFromDefine({
    netG: c.netG,
    inputNc: 3,
    outputNc: 3,
    ngf: o.ngf,
    norm: o.normG ?? 'instance',
    useDropout: o.use_dropout ?? false,
    init: { type: 'xavier', gain: 0.02 },
    noAntialias: o.no_antialias ?? false,
    noAntialiasUp: o.no_antialias_up ?? false,
  });
  const G = defineGenerator(config, { skipInit: true });
  const pth = c.pth ? join(ROOT, c.pth) : join(DIR, `${c.id}.pth`);
  loadNetworkWeights(G, readFileSync(pth), { name: pth });
  return G;
}

async function run(model: Uint8Array | string, shape: number[]): Promise<Float32Array> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', fixedInput(shape), shape) });
  const y = out[session.outputNames[0] ?? ONNX_OUTPUT]!.data as Float32Array;
  await session.release();
  return y;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

const tmp = mkdtempSync(join(tmpdir(), 'cut-onnx-'));
const written: string[] = [];
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('generatorToOnnx against torch.onnx.export of the reference', () => {
  for (const c of cases) {
    it(`${c.id}: ours equals torch's outputs within 1e-4, and torch's ONNX under onnxruntime-node`, async () => {
      const G = caseGenerator(c);
      const ours = await generatorToOnnx(G);
      G.dispose();
      const file = join(tmp, `${c.id}.onnx`);
      writeFileSync(file, ours);
      written.push(file);
      const runs = golden.cases.find((g) => g.id === c.id)!.runs;
      for (const r of runs) {
        const y = await run(ours, r.input);
        expect(y.length).toBe(r.shape.reduce((a, b) => a * b, 1));
        const picked = Array.from({ length: r.values.length }, (_, i) => y[i * r.stride]!);
        expect(maxDiff(picked, r.values), `${c.id} [${r.input}] vs torch`).toBeLessThan(1e-4);
        expect(Math.abs(y.reduce((s, v) => s + v, 0) - r.sum)).toBeLessThan(1e-4 * y.length);
        expect(Math.abs(y.reduce((s, v) => s + Math.abs(v), 0) - r.abs_sum)).toBeLessThan(1e-4 * y.length);
        const theirs = await run(join(DIR, `${c.id}.torch.onnx`), r.input);
        expect(maxDiff(y, theirs), `${c.id} [${r.input}] vs torch's ONNX`).toBeLessThan(1e-4);
      }
    });
  }

  it('float16: h2z_tiny within 1e-2 of torch', async () => {
    const c = cases.find((k) => k.id === 'h2z_tiny')!;
    const G = caseGenerator(c);
    const half = await generatorToOnnx(G, { dtype: 'float16' });
    G.dispose();
    const file = join(tmp, 'h2z_tiny.float16.onnx');
    writeFileSync(file, half);
    written.push(file);
    const r = golden.cases.find((g) => g.id === 'h2z_tiny')!.runs[0]!;
    const y = await run(half, r.input);
    expect(
      maxDiff(
        Array.from({ length: r.values.length }, (_, i) => y[i * r.stride]!),
        r.values,
      ),
    ).toBeLessThan(1e-2);
  });

  const python = '/usr/bin/python3';
  const hasOnnx = spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasOnnx)("Debian's python3-onnx checker accepts every file (full_check)", () => {
    expect(written.length).toBe(cases.length + 1);
    const script = [
      'import sys, onnx',
      'for path in sys.argv[1:]:',
      '    onnx.checker.check_model(onnx.load(path), full_check=True)',
      '    print("ok", path)',
    ].join('\n');
    const r = spawnSync(python, ['-c', script, ...written], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(written.length);
  });
});
