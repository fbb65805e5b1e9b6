// Fuzz pass over the checkpoint readers (issue 22): thousands of damaged `.pth` files (through
// `loadNetworkWeights` / `readPth` of @cut/networks) and damaged tfjs model folders (model.json +
// weights.bin written to a temporary folder, read by `readTfjsModelDir` of @cut/trainer and built
// by `loadTfjsModel`). The cases are test-utils/fuzz-readers.mjs's, the same as the CI test's
// (packages/networks/src/fuzz.test.ts runs the first few hundred).
// A case passes when it loads or is refused with an Error whose message starts with the file's name
// (no engine TypeError/RangeError); the cases run in a worker thread that is stopped and counted
// as a hang when one case takes over --case-limit seconds. Peak RSS is the whole process's.
// Run with `pnpm bench:fuzz` (builds first) or `node bench/fuzz-readers.mjs` after a build.
// Flags: --pth N (default 4000), --tfjs N (default 2000), --case-limit S (default 20),
// --readme-only (rewrite the README section from the saved JSON).
// Writes bench/results/fuzz-readers.json and the "Fuzzing the readers" section of bench/README.md;
// exits 1 when a case is bad or hangs.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';
import { judge, pthCase, tfjsCase } from '../test-utils/fuzz-readers.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};

if (!isMainThread) {
  // The worker: builds the seeds, then runs cases [from, to) of one reader, reporting each.
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const net = await import('../packages/networks/dist/index.js');
  const { readTfjsModelDir } = await import('../packages/trainer/dist/index.js');
  const { reader, from, to, dir } = workerData;
  const D = net.defineDiscriminator({ architecture: 'n_layers', ndf: 2, nLayers: 1 }, { seed: 1 });
  const G = net.defineGenerator({ architecture: 'resnet', ngf: 2, nBlocks: 1 }, { seed: 1 });
  const tinyD = await net.encodeNetworkWeights(D);
  const seeds = [
    { name: 'tinyD', bytes: tinyD },
    // The same entries deflated: written by our writer with `deflate` (torch stores).
    { name: 'tinyD-deflated', bytes: rezipDeflated(tinyD) },
    { name: 'pth_views', bytes: readFileSync(here('../fixtures/checkpoints/pth_views.pth')) },
  ];
  const tfjsSeeds = [];
  for (const n of [D, G]) {
    const { modelJson, weights } = await net.tfjsModelArtifacts(n);
    tfjsSeeds.push({ modelJson: JSON.stringify(modelJson), weights: new Uint8Array(weights) });
  }
  const modelDir = join(dir, 'model');
  mkdirSync(modelDir, { recursive: true });
  for (let n = from; n < to; n++) {
    parentPort.postMessage({ type: 'start', n });
    let c;
    let v;
    if (reader === 'pth') {
      c = pthCase(seeds, n);
      const name = `case-${n}.pth`;
      v = await judge(name, () => (c.seed.startsWith('tinyD') ? net.loadNetworkWeights(D, c.bytes, { name }) : net.readPth(c.bytes, { name })));
    } else {
      c = tfjsCase(tfjsSeeds[n % tfjsSeeds.length], n);
      writeFileSync(join(modelDir, 'model.json'), c.modelJson);
      writeFileSync(join(modelDir, 'weights.bin'), c.weights);
      v = await judge(join(modelDir, 'model.json'), async () => (await net.loadTfjsModel(readTfjsModelDir(modelDir))).dispose());
    }
    parentPort.postMessage({ type: 'done', n, kind: c.kind.split(/[@ ]/)[0], seed: c.seed ?? '', ...v, message: v.message.slice(0, 300) });
  }
  parentPort.postMessage({ type: 'finished' });
} else {
  await main();
}

/** The zip's entries again, deflated (local/central headers rebuilt; no zip64 in these seeds). */
function rezipDeflated(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = bytes.length - 22;
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const size = dv.getUint32(p + 24, true);
    const nameLength = dv.getUint16(p + 28, true);
    const local = dv.getUint32(p + 42, true);
    const dataAt = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    entries.push({ name: bytes.subarray(p + 46, p + 46 + nameLength), data: bytes.subarray(dataAt, dataAt + size), crc: dv.getUint32(p + 16, true) });
    p += 46 + nameLength + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return deflateEntries(entries);
}

function deflateEntries(entries) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const e of entries) {
    const packed = new Uint8Array(deflateRawSync(e.data));
    const l = new Uint8Array(30 + e.name.length);
    const lv = new DataView(l.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(14, e.crc, true);
    lv.setUint32(18, packed.length, true);
    lv.setUint32(22, e.data.length, true);
    lv.setUint16(26, e.name.length, true);
    l.set(e.name, 30);
    const c = new Uint8Array(46 + e.name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(16, e.crc, true);
    cv.setUint32(20, packed.length, true);
    cv.setUint32(24, e.data.length, true);
    cv.setUint16(28, e.name.length, true);
    cv.setUint32(42, offset, true);
    c.set(e.name, 46);
    parts.push(l, packed);
    central.push(c);
    offset += l.length + packed.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return new Uint8Array(Buffer.concat([...parts, ...central, end]));
}

/** Runs cases [0, count) of one reader in a worker, restarting it after a hang. */
async function runReader(reader, count, caseLimitS, dir, onVerdict) {
  const hangs = [];
  let next = 0;
  while (next < count) {
    await new Promise((resolve, reject) => {
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { reader, from: next, to: count, dir } });
      let current = next;
      let startedAt = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - startedAt > caseLimitS * 1000) {
          clearInterval(watchdog);
          hangs.push(current);
          console.log(`${reader} case ${current}: no answer after ${caseLimitS} s, stopping the worker`);
          next = current + 1;
          worker.terminate().then(resolve, reject);
        }
      }, 250);
      worker.on('message', (m) => {
        if (m.type === 'start') {
          current = m.n;
          startedAt = Date.now();
        } else if (m.type === 'done') {
          onVerdict(m);
          next = m.n + 1;
        } else if (m.type === 'finished') {
          clearInterval(watchdog);
          next = count;
          worker.terminate().then(resolve, reject);
        }
      });
      worker.on('error', (e) => {
        // A crash of the worker itself (out of memory, ...): the case it was on is bad.
        clearInterval(watchdog);
        onVerdict({
          n: current,
          kind: 'crash',
          seed: '',
          outcome: `bad: the worker died (${e.message})`,
          message: String(e.stack ?? e),
          ms: Date.now() - startedAt,
        });
        next = current + 1;
        resolve();
      });
    });
  }
  return hangs;
}

async function main() {
  const jsonPath = here('./results/fuzz-readers.json');
  let report;
  if (process.argv.includes('--readme-only')) report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  else {
    const counts = { pth: Number(argValue('--pth', 4000)), tfjs: Number(argValue('--tfjs', 2000)) };
    const caseLimitS = Number(argValue('--case-limit', 20));
    const dir = mkdtempSync(join(os.tmpdir(), 'cut-fuzz-'));
    const started = Date.now();
    const loadAtStart = os.loadavg()[0];
    report = { machine: {}, readers: {}, caseLimitS };
    try {
      for (const reader of ['pth', 'tfjs']) {
        const outcomes = {};
        const byKind = {};
        const bad = [];
        let slowest = { ms: 0 };
        const t0 = Date.now();
        const hangs = await runReader(reader, counts[reader], caseLimitS, dir, (v) => {
          const outcome = v.outcome.startsWith('bad') ? 'bad' : v.outcome;
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          byKind[v.kind] ??= {};
          byKind[v.kind][outcome] = (byKind[v.kind][outcome] ?? 0) + 1;
          if (outcome === 'bad') bad.push(v);
          if (v.ms > slowest.ms) slowest = { n: v.n, kind: v.kind, ms: Math.round(v.ms) };
          if ((v.n + 1) % 500 === 0) console.log(`${reader}: ${v.n + 1} cases, ${JSON.stringify(outcomes)}`);
        });
        report.readers[reader] = { cases: counts[reader], outcomes, byKind, bad, hangs, slowest, seconds: (Date.now() - t0) / 1000 };
        console.log(`${reader}: ${JSON.stringify(outcomes)}, ${hangs.length} hangs, slowest case ${slowest.n} (${slowest.kind}) ${slowest.ms} ms`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    report.peakRssMiB = Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20);
    report.seconds = (Date.now() - started) / 1000;
    report.machine = {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      node: process.versions.node,
      date: new Date().toISOString(),
      loadAverageAtStart: loadAtStart,
    };
    mkdirSync(here('./results'), { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 1)}\n`);
  }

  const { machine: m, readers: r } = report;
  const row = (name, x) =>
    `| ${name} | ${x.cases} | ${x.outcomes.ok ?? 0} | ${x.outcomes.refused ?? 0} | ${x.outcomes.bad ?? 0} | ${x.hangs.length} | ${x.slowest.ms} ms (case ${x.slowest.n}, ${x.slowest.kind}) | ${x.seconds.toFixed(0)} s |`;
  const section = `## Fuzzing the readers

\`node bench/fuzz-readers.mjs\` (run by \`pnpm bench:fuzz\`): damaged checkpoints through the readers of
\`@cut/networks\` and \`@cut/trainer\`: \`.pth\` files (a tiny NLayerDiscriminator's, stored and deflated, through
\`loadNetworkWeights\`; \`fixtures/checkpoints/pth_views.pth\` through \`readPth\`) and tfjs model folders
(a tiny discriminator's and generator's model.json + weights.bin, through \`readTfjsModelDir\` + \`loadTfjsModel\`).
Each case is one change to a seed (\`test-utils/fuzz-readers.mjs\`): a truncation, bit flips (CRCs left wrong, or
fixed so the damage reaches the pickle), a zip header field or a pickled integer (shape, stride, offset, storage
size) set to an extreme, a model.json field set to an extreme, a hostile weight path, weights cut or extended.
A case passes when it loads or is refused with an Error naming the file (no engine TypeError/RangeError);
one that runs over ${report.caseLimitS} s is stopped and counted as a hang.
${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.date.slice(0, 10)}, load average ${m.loadAverageAtStart.toFixed(2)} at the start.

| reader | cases | loaded | refused (Error naming the file) | bad | hangs | slowest case | wall time |
|---|---|---|---|---|---|---|---|
${row('.pth', r.pth)}
${row('model.json + weights', r.tfjs)}

Peak RSS of the whole run (main thread and worker): ${report.peakRssMiB} MiB. Per kind of damage: \`bench/results/fuzz-readers.json\`.
The CI test \`packages/networks/src/fuzz.test.ts\` runs the first 400 .pth and 150 model.json cases on every change.
`;
  const readmePath = here('./README.md');
  let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
  const start = readme.indexOf('## Fuzzing the readers');
  if (start >= 0) {
    const next = readme.indexOf('\n## ', start + 1);
    readme = readme.slice(0, start) + section + (next >= 0 ? `\n${readme.slice(next + 1)}` : '');
  } else readme = `${readme.trimEnd()}\n\n${section}`;
  writeFileSync(readmePath, readme);
  const failed = Object.values(r).some((x) => (x.outcomes.bad ?? 0) > 0 || x.hangs.length > 0);
  for (const x of Object.values(r))
    for (const b of x.bad.slice(0, 20)) console.log(`bad: case ${b.n} (${b.seed} ${b.kind}): ${b.outcome}: ${b.message}`);
  process.exit(failed ? 1 : 0);
}
