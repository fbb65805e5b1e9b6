// netF reshape / global_pool / strided_conv .pth files both ways with the reference's own define_F
// (tools/golden/reference_pixel_heads.py roundtrip): ours load strictly there (with the reference's
// `_metadata`) and give its outputs; its files (weights x -1.5) load strictly into ours and give
// its outputs. Skipped, with the reason printed, without PyTorch or the reference checkout.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { createFeatureHead, type FeatureHead, type NetFName } from '@cut/patch-sampler';
import { describeBackends } from '../../../test-utils/backends';
import { maxAbsDiff, type GoldenTensor } from '../../../test-utils/golden';
import { runTorchScript, torchUnavailable } from '../../../test-utils/torch';
import { loadPatchSamplerWeights, savePatchSamplerWeights } from './test-files.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'tools/golden/reference_pixel_heads.py');
const referenceDir = process.env.CUT_REFERENCE ?? '/work/ref/cut';
const noReference =
  torchUnavailable() ??
  (existsSync(join(referenceDir, 'models/networks.py')) ? undefined : `no reference checkout at ${referenceDir} (set CUT_REFERENCE)`);
if (noReference) console.warn(`skipping the reference round trip of the netF heads: ${noReference}`);

const work = mkdtempSync(join(tmpdir(), 'cut-netf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const heads: NetFName[] = ['reshape', 'global_pool', 'strided_conv'];
/** NHWC feature maps: strided_conv gets one downsampling stack (H 46) and one without (H 12). */
const shapes: Array<[number, number, number, number]> = [
  [2, 46, 7, 4],
  [2, 12, 5, 6],
];

/** One compared call, as the script makes it: strided_conv's on the negated maps after one on the maps (seeding its running averages). */
async function outputs(head: FeatureHead, feats: tf.Tensor4D[]): Promise<number[][]> {
  let input = feats;
  if (head.netF === 'strided_conv') {
    tf.dispose(head.forward(feats).features);
    input = feats.map((f) => tf.neg(f));
  }
  const out = head.forward(input).features;
  if (input !== feats) tf.dispose(input);
  const data = await Promise.all(out.map(async (t) => Array.from((await t.data()) as Float32Array)));
  tf.dispose(out);
  return data;
}

/** A PyTorch output as our rows: NCHW maps (strided_conv, global_pool) to NHWC order. */
function torchRows(t: GoldenTensor): number[] {
  if (t.shape.length !== 4) return t.data;
  const [n, c, h, w] = t.shape as [number, number, number, number];
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out.push(t.data[((b * c + k) * h + y) * w + x]!);
  return out;
}

describeBackends('netF heads: our .pth in the reference and back', (backend) => {
  it.skipIf(noReference !== undefined)('reshape, global_pool, strided_conv: strict loads both ways with define_F, same outputs', async () => {
    const dir = mkdtempSync(join(work, `${backend}-`));
    const rng = new SeededRng(5);
    const feats = shapes.map((s) =>
      tf.tensor4d(
        rng.uniformArray(
          s.reduce((a, b) => a * b, 1),
          -1,
          1,
        ),
        s,
      ),
    );
    const inputs = await Promise.all(
      feats.map(async (f) => {
        const t = nhwcToNchw(f);
        const out = { shape: t.shape, data: Array.from((await t.data()) as Float32Array) };
        t.dispose();
        return out;
      }),
    );
    const spec: { cases: unknown[] } = { cases: [] };
    const ours = new Map<string, { keys: string[]; out: number[][] }>();
    for (const netF of heads) {
      const head = createFeatureHead(netF, { rng, initType: 'normal', initGain: 0.5 });
      tf.dispose(head.forward(feats).features); // creates strided_conv's layers
      // Nonzero biases (the init's are zero).
      for (const [name, v] of Object.entries(head.namedVariables())) {
        if (name.endsWith('.bias')) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, -0.5, 0.5), v.shape)));
      }
      const pth = join(dir, `${netF}.pth`);
      await savePatchSamplerWeights(head, pth);
      // Our outputs from our file, on a head with fresh running averages.
      const loaded = createFeatureHead(netF);
      loadPatchSamplerWeights(loaded, pth);
      ours.set(netF, { keys: Object.keys(head.namedVariables()), out: await outputs(loaded, feats) });
      spec.cases.push({ id: netF, kind: 'F', config: { netF }, pth, out_pth: join(dir, `${netF}_torch.pth`), inputs });
      head.dispose();
      loaded.dispose();
    }
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    runTorchScript(script, ['roundtrip', join(dir, 'spec.json'), join(dir, 'out.json')]);
    const torch = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')).cases as Record<
      string,
      { keys: string[]; before: GoldenTensor[]; after: GoldenTensor[] }
    >;

    const report: string[] = [];
    for (const netF of heads) {
      const mine = ours.get(netF)!;
      const theirs = torch[netF]!;
      expect(theirs.keys, netF).toEqual(mine.keys);
      expect(theirs.keys.length > 0, `${netF} has parameters`).toBe(netF === 'strided_conv');
      let worst = 0;
      mine.out.forEach((o, i) => (worst = Math.max(worst, maxAbsDiff(o, torchRows(theirs.before[i]!)))));
      expect(worst, `${netF}: ours in PyTorch`).toBeLessThan(1e-5);
      // PyTorch's file back into ours.
      const back = createFeatureHead(netF);
      loadPatchSamplerWeights(back, join(dir, `${netF}_torch.pth`));
      const after = await outputs(back, feats);
      let worstBack = 0;
      after.forEach((o, i) => (worstBack = Math.max(worstBack, maxAbsDiff(o, torchRows(theirs.after[i]!)))));
      expect(worstBack, `${netF}: PyTorch's file in ours`).toBeLessThan(1e-5);
      back.dispose();
      report.push(`${netF} ${worst.toExponential(2)} / ${worstBack.toExponential(2)}`);
    }
    console.info(`[${backend}] netF heads .pth ours-in-torch / torch-in-ours, max |diff|: ${report.join(', ')}`);
    tf.dispose(feats);
  });
});
