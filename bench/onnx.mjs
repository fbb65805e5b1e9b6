// ONNX Runtime against tfjs (issue 21): the reference's default generator (resnet_9blocks, ngf 64,
// random weights: the time does not depend on them) at 256x256 and 1024x1024 (whole, and in
// 512-pixel tiles), on
//   node:  `cutjs translate` with tfjs (wasm + native kernels) and with --runtime onnx (onnxruntime-node);
//   page:  the built page in Chromium with tfjs's wasm backend (1 thread) and onnxruntime-web's wasm
//          (threads: the page served cross-origin isolated).
// Each case translates the same image twice (first run, second run; the page's 1024x1024 once); the time is the generator's
// (the CLI's per-image time includes decoding and the PNG; the page's is generator only).
// Run with `pnpm bench:onnx` (builds first) or `node bench/onnx.mjs` after `pnpm build`.
// Flags: --parts node,page (default both), --sizes 256,1024, --runtimes tfjs,onnx, --page-tfjs-1024
// (also the page's tfjs at 1024 in tiles: minutes). Rows of parts, sizes and runtimes not run are
// kept from bench/results/onnx.json.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { defineGenerator } from '../packages/networks/dist/index.js';
import { saveTfjsModel } from '../packages/trainer/dist/index.js';
import { DIST, chooseBackend, chooseRuntime, loadGenerator, openPage, serveStatic, translate } from '../apps/web/test/drive.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const sharp = createRequire(here('../apps/web/package.json'))('sharp');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const parts = arg('--parts', 'node,page').split(',');
const sizes = arg('--sizes', '256,1024').split(',').map(Number);
const runtimes = arg('--runtimes', 'tfjs,onnx').split(',');
const CLI = here('../apps/cli/dist/index.js');
const work = mkdtempSync(join(os.tmpdir(), 'cut-bench-onnx-'));
const cases = sizes.flatMap((s) =>
  s > 512
    ? [
        { size: s, tile: 0 },
        { size: s, tile: 512 },
      ]
    : [{ size: s, tile: 0 }],
);
const tileName = (t) => (t ? `${t}` : 'whole');

// Inputs: the h2z_tiny photo at each size (Lanczos), twice in a folder (first and second run).
const photo = here('../fixtures/checkpoints/h2z_tiny/testA/n02381460_1000.jpg');
const images = {};
for (const s of sizes) {
  images[s] = join(work, `photo${s}.png`);
  await sharp(photo).resize(s, s, { kernel: 'lanczos3' }).png().toFile(images[s]);
  mkdirSync(join(work, `twice${s}`));
  for (const n of ['a', 'b']) copyFileSync(images[s], join(work, `twice${s}`, `${n}.png`));
}
await tf.setBackend('cpu');
const G = defineGenerator('resnet_9blocks', { seed: 1 });
const modelDir = join(work, 'resnet9-ngf64');
await saveTfjsModel(G, modelDir);
G.dispose();

const rows = [];
const row = (r) => {
  rows.push(r);
  console.log(`${r.where} ${r.runtime} ${r.size}x${r.size} ${r.tile}: ${r.error ?? `first ${r.firstMs} ms, second ${r.secondMs} ms`}`);
};

if (parts.includes('node')) {
  // The runtimes alternate case by case, so that a noisy neighbour slows both alike.
  for (const { size, tile } of cases) {
    for (const runtime of runtimes) {
      const r = spawnSync(
        process.execPath,
        [CLI, 'translate', join(work, `twice${size}`), '--checkpoint', modelDir, '--out', join(work, `out-${runtime}-${size}-${tile}`)].concat([
          '--runtime',
          runtime,
          '--tile',
          String(tile),
          '--threads',
          '1',
        ]),
        { encoding: 'utf8' },
      );
      const times = [...r.stdout.matchAll(/ \(\d+x\d+(?:, \d+-pixel tiles)?, ([\d.]+) s\)/g)].map((m) => Math.round(Number(m[1]) * 1000));
      const engine = runtime === 'onnx' ? 'onnxruntime-node' : (/backend: ([^;\n]+)/.exec(r.stdout)?.[1] ?? 'tfjs');
      if (r.status !== 0 || times.length !== 2)
        row({ where: 'node', runtime, engine, size, tile: tileName(tile), error: (r.stderr || r.stdout).trim().split('\n').at(-1) });
      else row({ where: 'node', runtime, engine, size, tile: tileName(tile), firstMs: times[0], secondMs: times[1] });
    }
  }
}

if (parts.includes('page')) {
  const server = await serveStatic(DIST); // cross-origin isolated: onnxruntime-web's threads
  const plain = await serveStatic(DIST, { isolated: false }); // not isolated: one thread
  const setups = [
    { runtime: 'tfjs', url: server.url },
    { runtime: 'onnx', url: server.url },
    // onnxruntime-web on one thread (a page without the isolation headers): its speed per thread.
    { runtime: 'onnx', url: plain.url, only: 256 },
  ];
  for (const { runtime, url, only } of setups.filter((s) => runtimes.includes(s.runtime))) {
    const { page, logs, close } = await openPage({ url });
    try {
      await chooseBackend(page, 'wasm');
      const shown = await chooseRuntime(page, runtime);
      await loadGenerator(page, [join(modelDir, 'model.json'), join(modelDir, 'weights.bin')]);
      for (const { size, tile } of cases) {
        if (only && size !== only) continue;
        const base = { where: 'page', runtime, engine: shown.text, threads: shown.threads, size, tile: tileName(tile) };
        if (runtime === 'tfjs' && size > 512 && !tile) {
          row({ ...base, error: 'not run: a whole 1024x1024 forward of this generator runs tfjs wasm out of memory in Chromium' });
          continue;
        }
        if (runtime === 'tfjs' && size > 512 && !process.argv.includes('--page-tfjs-1024')) {
          row({ ...base, error: 'not run (minutes; --page-tfjs-1024): see bench/results/web.json' });
          continue;
        }
        await page.selectOption('#tile', String(tile));
        const times = [];
        try {
          // In the page, 1024x1024 once (minutes).
          for (let i = 0; i < (size > 512 ? 1 : 2); i++)
            times.push((await translate(page, images[size], join(work, `page-${runtime}-${size}-${tile}-${i}.png`), 900_000)).ms);
          row({ ...base, firstMs: times[0], secondMs: times[1] });
        } catch (e) {
          row({ ...base, firstMs: times[0], error: e.message.split('\n')[0] });
        }
      }
    } catch (e) {
      console.error(logs.join('\n'));
      throw e;
    } finally {
      await close();
    }
  }
  await server.close();
  await plain.close();
}
rmSync(work, { recursive: true, force: true });

const cpu = (() => {
  const r = spawnSync('lscpu', [], { encoding: 'utf8' });
  return /Model name:\s*(.+)/.exec(r.stdout ?? '')?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown CPU';
})();
const file = here('./results/onnx.json');
mkdirSync(here('./results'), { recursive: true });
let previous = [];
try {
  previous = JSON.parse(readFileSync(file, 'utf8')).rows.filter(
    (r) => !(parts.includes(r.where) && sizes.includes(r.size) && runtimes.includes(r.runtime)),
  );
} catch {
  // first run
}
const chromium = spawnSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout?.trim();
writeFileSync(
  file,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      cpu,
      cores: os.cpus().length,
      loadAverage: os.loadavg(),
      chromium,
      generator: 'resnet_9blocks, ngf 64 (random weights)',
      rows: [...previous, ...rows],
    },
    null,
    1,
  )}\n`,
);
console.log(`${cpu}, ${os.cpus().length} cores; ${file} written`);
