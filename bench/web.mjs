// The web page's speed in Chromium (wasm, and WebGPU when an adapter appears), its JavaScript
// size, and the README's screenshot. Run with `pnpm bench:web` (builds first) or
// `node bench/web.mjs` after `pnpm build`. Writes bench/results/web.json and, with
// --screenshot, apps/web/screenshot.png. Flags: --backends wasm,webgpu, --sizes 256,1024,
// --tiny-only (h2z_tiny only). Rows of backends not run are kept from the previous results.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { defineGenerator } from '../packages/networks/dist/index.js';
import { saveTfjsModel } from '../packages/trainer/dist/index.js';
import { DIST, chooseBackend, chooseRuntime, hasWebGpuAdapter, loadGenerator, openPage, serveStatic, translate } from '../apps/web/test/drive.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const sharp = createRequire(here('../apps/web/package.json'))('sharp');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const sizes = arg('--sizes', '256,1024').split(',').map(Number);
const H2Z = here('../fixtures/checkpoints/h2z_tiny');
const work = mkdtempSync(join(os.tmpdir(), 'cut-bench-web-'));

// The page's JavaScript and wasm, as a static host serves them (gzip -9).
const assets = readdirSync(join(DIST, 'assets')).map((f) => {
  const bytes = readFileSync(join(DIST, 'assets', f));
  return { file: f, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});
const js = assets.filter((a) => a.file.endsWith('.js'));
const size = {
  js: { bytes: js.reduce((s, a) => s + a.bytes, 0), gzip: js.reduce((s, a) => s + a.gzip, 0) },
  assets,
};
console.log(`page JavaScript: ${(size.js.bytes / 1024).toFixed(0)} KiB, ${(size.js.gzip / 1024).toFixed(0)} KiB gzipped`);

// Inputs: the h2z_tiny photo at each size (Lanczos), and the reference's default generator
// (resnet_9blocks, ngf 64; random weights: the time does not depend on them) as a tfjs model.
const photo = join(H2Z, 'testA', 'n02381460_1000.jpg');
const images = {};
for (const s of sizes) {
  images[s] = join(work, `photo${s}.png`);
  await sharp(photo).resize(s, s, { kernel: 'lanczos3' }).png().toFile(images[s]);
}
await tf.setBackend('cpu');
const defaultG = defineGenerator('resnet_9blocks', { seed: 1 });
const modelDir = join(work, 'resnet9-ngf64');
await saveTfjsModel(defaultG, modelDir);
defaultG.dispose();
const generators = {
  'h2z_tiny (resnet_6blocks, ngf 8)': [join(H2Z, 'latest_net_G.pth'), join(H2Z, 'train_opt.txt')],
  'default (resnet_9blocks, ngf 64)': [join(modelDir, 'model.json'), join(modelDir, 'weights.bin')],
};

const server = await serveStatic(DIST);
const rows = [];
const backends = arg('--backends', 'wasm,webgpu').split(',');
for (const backend of backends) {
  const { page, close } = await openPage({ url: server.url, webgpu: backend === 'webgpu' });
  try {
    if (backend === 'webgpu' && !(await hasWebGpuAdapter(page))) {
      console.log('webgpu: no adapter in this Chromium; skipped');
      rows.push({ backend, note: 'no adapter' });
      continue;
    }
    if ((await chooseBackend(page, backend)) !== backend) throw new Error(`${backend} did not start`);
    // tfjs's backends (onnxruntime-web is timed by bench/onnx.mjs).
    await chooseRuntime(page, 'tfjs');
    for (const [name, files] of Object.entries(generators)) {
      // Software WebGPU compiles slowly: the default generator only on wasm.
      if ((backend === 'webgpu' || process.argv.includes('--tiny-only')) && name.startsWith('default')) continue;
      await loadGenerator(page, files);
      for (const s of sizes) {
        const times = [];
        // Software WebGPU: one run of the large image (minutes).
        const runs = backend === 'webgpu' && s > 256 ? 1 : 2;
        for (let i = 0; i < runs; i++) times.push((await translate(page, images[s], join(work, `out-${backend}-${s}-${i}.png`), 900_000)).ms);
        rows.push({ backend, generator: name, size: s, firstMs: times[0], secondMs: times[1] });
        console.log(`${backend} ${name} ${s}x${s}: first ${times[0]} ms, second ${times[1]} ms`);
      }
    }
  } finally {
    await close();
  }
}
// The README's screenshot: the one-click horse2zebra model on a test horse of the demo photos.
if (process.argv.includes('--screenshot')) {
  const { page, close } = await openPage({ url: server.url, viewport: { width: 1100, height: 900 } });
  try {
    await chooseBackend(page, 'wasm');
    await page.click('#shipped-model');
    await page.waitForFunction(() => document.getElementById('model-status')?.dataset.state === 'loaded', null, { timeout: 120_000 });
    const horse = join(work, 'horse.png');
    await sharp(here('../datasets/horse2zebra_demo/testA/n02381460_1000.jpg')).png().toFile(horse);
    await translate(page, horse, join(work, 'horse-zebra.png'));
    await page.locator('#results').scrollIntoViewIfNeeded();
    const shot = await page.screenshot({ fullPage: true });
    await sharp(shot).resize({ width: 900 }).png({ palette: true, colors: 200 }).toFile(here('../apps/web/screenshot.png'));
    console.log('screenshot: apps/web/screenshot.png');
  } finally {
    await close();
  }
}
await server.close();
rmSync(work, { recursive: true, force: true });

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
mkdirSync(here('./results'), { recursive: true });
let previous = [];
try {
  previous = JSON.parse(readFileSync(here('./results/web.json'), 'utf8')).rows.filter((r) => !backends.includes(r.backend));
} catch {
  // first run
}
rows.unshift(...previous);
writeFileSync(
  here('./results/web.json'),
  `${JSON.stringify({ date: new Date().toISOString(), cpu, cores: os.cpus().length, loadAverage: os.loadavg(), size, rows }, null, 1)}\n`,
);
console.log(`${cpu}, ${os.cpus().length} cores; bench/results/web.json written`);
