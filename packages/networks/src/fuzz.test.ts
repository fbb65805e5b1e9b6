// A few hundred fuzz cases over the .pth and model.json readers (issue 22; the same cases as
// bench/fuzz-readers.mjs, which runs thousands): truncations, bit flips, zip and pickle length
// fields set to extremes, hostile model.json fields and paths. Each either loads or is refused with
// an Error naming the file (never an engine error), in bounded time and memory.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { judge, pthCase, tfjsCase, type Verdict } from '../../../test-utils/fuzz-readers.mjs';
import { encodeNetworkWeights, loadNetworkWeights } from './checkpoint.js';
import type { Discriminator } from './contract.js';
import { defineDiscriminator, defineGenerator } from './registry.js';
import { readPth } from './pth/index.js';
import { ZipReader, bytesSource, concatBytes, writeZip } from './pth/zip.js';
import { loadTfjsModel, tfjsModelArtifacts } from './tfjs-model.js';

const fixture = (p: string) => fileURLToPath(new URL(`../../../fixtures/${p}`, import.meta.url));
const PTH_CASES = Number(process.env.CUT_FUZZ_PTH_CASES ?? 400);
const TFJS_CASES = Number(process.env.CUT_FUZZ_TFJS_CASES ?? 150);
/** A case that takes longer is a hang in the making (the readers take milliseconds on these files). */
const CASE_MS = 2000;

const seeds: { name: string; bytes: Uint8Array }[] = [];
const tfjsSeeds: { modelJson: string; weights: Uint8Array }[] = [];
let D: Discriminator;

/** The same entries, deflated (torch stores; other zip tools deflate): fuzzes the bounded inflater. */
function deflated(bytes: Uint8Array): Uint8Array {
  const zip = new ZipReader(bytesSource(bytes));
  return concatBytes(writeZip(zip.entries.map((e) => ({ name: e.name, data: zip.readEntry(e), deflate: true }))));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  D = defineDiscriminator({ architecture: 'n_layers', ndf: 2, nLayers: 1 }, { seed: 1 });
  const tinyD = await encodeNetworkWeights(D);
  seeds.push({ name: 'tinyD', bytes: tinyD }, { name: 'tinyD-deflated', bytes: deflated(tinyD) });
  seeds.push({ name: 'pth_views', bytes: readFileSync(fixture('checkpoints/pth_views.pth')) });
  for (const net of [D, defineGenerator({ architecture: 'resnet', ngf: 2, nBlocks: 1 }, { seed: 1 })]) {
    const { modelJson, weights } = await tfjsModelArtifacts(net);
    tfjsSeeds.push({ modelJson: JSON.stringify(modelJson), weights: new Uint8Array(weights) });
    if (net !== D) net.dispose();
  }
});

function summarise(verdicts: Verdict[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of verdicts) counts[v.outcome] = (counts[v.outcome] ?? 0) + 1;
  return counts;
}

describe('fuzzing the readers', () => {
  it(`${PTH_CASES} damaged .pth files: each loads or is refused with an Error naming the file`, async () => {
    const rssBefore = process.memoryUsage().rss;
    const verdicts: Verdict[] = [];
    const bad: string[] = [];
    for (let n = 0; n < PTH_CASES; n++) {
      const c = pthCase(seeds, n);
      const name = `case-${n}.pth`;
      const v = await judge(name, () => (c.seed.startsWith('tinyD') ? loadNetworkWeights(D, c.bytes, { name }) : readPth(c.bytes, { name })));
      verdicts.push(v);
      if (v.outcome.startsWith('bad') || v.ms > CASE_MS)
        bad.push(`case ${n} (${c.seed}, ${c.kind}): ${v.outcome} in ${v.ms.toFixed(0)} ms: ${v.message}`);
    }
    const peakMiB = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20;
    console.log(
      `.pth fuzz: ${JSON.stringify(summarise(verdicts))}, slowest ${Math.max(...verdicts.map((v) => v.ms)).toFixed(0)} ms, peak RSS +${peakMiB.toFixed(0)} MiB`,
    );
    expect(bad).toEqual([]);
    // Both outcomes occur: the cases reach past the first check.
    expect(verdicts.filter((v) => v.outcome === 'ok').length).toBeGreaterThan(PTH_CASES / 20);
    expect(verdicts.filter((v) => v.outcome === 'refused').length).toBeGreaterThan(PTH_CASES / 4);
    expect(peakMiB).toBeLessThan(512);
  });

  it(`${TFJS_CASES} damaged model.json + weights: each loads or is refused with an Error naming the file`, async () => {
    const rssBefore = process.memoryUsage().rss;
    const verdicts: Verdict[] = [];
    const bad: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    for (let n = 0; n < TFJS_CASES; n++) {
      const c = tfjsCase(tfjsSeeds[n % tfjsSeeds.length]!, n);
      const name = `case-${n}/model.json`;
      const v = await judge(name, async () => {
        const net = await loadTfjsModel({ modelJson: c.modelJson, weights: c.weights, name });
        net.dispose();
      });
      verdicts.push(v);
      if (v.outcome.startsWith('bad') || v.ms > CASE_MS) bad.push(`case ${n} (${c.kind}): ${v.outcome} in ${v.ms.toFixed(0)} ms: ${v.message}`);
    }
    const peakMiB = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20;
    console.log(
      `model.json fuzz: ${JSON.stringify(summarise(verdicts))}, slowest ${Math.max(...verdicts.map((v) => v.ms)).toFixed(0)} ms, peak RSS +${peakMiB.toFixed(0)} MiB`,
    );
    expect(bad).toEqual([]);
    expect(verdicts.filter((v) => v.outcome === 'ok').length).toBeGreaterThan(TFJS_CASES / 20);
    expect(verdicts.filter((v) => v.outcome === 'refused').length).toBeGreaterThan(TFJS_CASES / 4);
    // Refused loads free what they built.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(peakMiB).toBeLessThan(512);
  });
});
