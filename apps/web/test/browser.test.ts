// The page in a real browser (Debian's Chromium, driven by playwright-core): the generator and a
// photo go in through the page's own file inputs, and the PNG it downloads must equal
// `cutjs translate`'s for the same checkpoint and image (within 1 grey level), on both of the page's
// runtimes: tfjs and onnxruntime-web (threads when the page is cross-origin isolated).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadReferenceCheckpoint, saveTfjsModel } from '@cut/trainer';
import { CHROMIUM, DIST, chooseBackend, chooseRuntime, hasWebGpuAdapter, loadGenerator, openPage, serveStatic, translate } from './drive.mjs';
import type { Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const H2Z = join(ROOT, 'fixtures/checkpoints/h2z_tiny');
const CLI = join(ROOT, 'apps/cli/dist/index.js');
const noChromium = !existsSync(CHROMIUM);
if (noChromium && process.env.CUT_REQUIRE_CHROMIUM) throw new Error(`${CHROMIUM}: not found, and CUT_REQUIRE_CHROMIUM is set`);
if (noChromium) console.warn(`skipping the browser test: no ${CHROMIUM}`);

/** Runs `body` on a fresh page of `url`; on failure prints the page's console first; always closes it. */
async function onPage(url: string, body: (page: Page, logs: readonly string[]) => Promise<void>): Promise<void> {
  const { page, logs, close } = await openPage({ url });
  try {
    await body(page, logs);
  } catch (e) {
    console.error(logs.join('\n'));
    throw e;
  } finally {
    await close();
  }
}

const work = mkdtempSync(join(tmpdir(), 'cut-web-'));
const images = join(work, 'images');
const cliOut = join(work, 'cli');
let server: Awaited<ReturnType<typeof serveStatic>>;
/** The same files without the cross-origin isolation headers (as most static hosts serve them). */
let plainServer: Awaited<ReturnType<typeof serveStatic>>;

/** Max and mean absolute difference of two PNGs' RGB values (same size required). */
async function levels(a: string, b: string) {
  const [x, y] = await Promise.all([a, b].map((f) => sharp(f).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
  expect([y!.info.width, y!.info.height]).toEqual([x!.info.width, x!.info.height]);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < x!.data.length; i++) {
    const d = Math.abs(x!.data[i]! - y!.data[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / x!.data.length };
}

beforeAll(async () => {
  if (noChromium) return;
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST}: no built page (run pnpm build first)`);
  // The photo as PNG (one decoder for both sides), and a crop whose sides are not multiples of 4.
  const photo = join(H2Z, 'testA', 'n02381460_1000.jpg');
  await sharp(photo).png().toFile(join(work, 'photo.png'));
  spawnSync('mkdir', ['-p', images]);
  await sharp(photo).png().toFile(join(images, 'photo.png'));
  await sharp(photo).extract({ left: 3, top: 5, width: 250, height: 190 }).png().toFile(join(images, 'crop.png'));
  // The page translates this one in 256-pixel tiles (chosen below); cutjs translate does it whole.
  await sharp(photo).resize(602, 518, { kernel: 'lanczos3' }).png().toFile(join(images, 'large.png'));
  const r = spawnSync(process.execPath, [CLI, 'translate', images, '--checkpoint', H2Z, '--out', cliOut, '--backend', 'wasm'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cutjs translate failed: ${r.stderr}`);
  // The same generator in our tfjs format (model.json + weights.bin).
  await tf.setBackend('cpu');
  const ck = loadReferenceCheckpoint(H2Z);
  await saveTfjsModel(ck.G, join(work, 'tfjs'));
  ck.dispose();
  server = await serveStatic(DIST);
  plainServer = await serveStatic(DIST, { isolated: false });
});

afterAll(async () => {
  await server?.close();
  await plainServer?.close();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(noChromium)('the web page in Chromium', () => {
  it("wasm: h2z_tiny (.pth + train_opt.txt) through the file inputs gives cutjs translate's PNGs within 1 grey level (whole, padded, tiled)", async () => {
    await onPage(server.url, async (page) => {
      expect(await chooseBackend(page, 'wasm')).toBe('wasm');
      expect((await chooseRuntime(page, 'tfjs')).runtime).toBe('tfjs');
      const status = await loadGenerator(page, [join(H2Z, 'latest_net_G.pth'), join(H2Z, 'train_opt.txt')]);
      expect(status).toMatch(/Loaded latest_net_G\.pth \(resnet_6blocks, ngf 8,/);
      for (const name of ['photo', 'crop', 'large']) {
        if (name === 'large') await page.selectOption('#tile', '256');
        const out = join(work, `page-${name}.png`);
        const r = await translate(page, join(images, `${name}.png`), out);
        expect(r.backend).toBe('wasm');
        expect(r.runtime).toBe('tfjs');
        expect(r.name).toBe(`${name}_fake.png`);
        if (name === 'large') expect(await page.locator('.result figcaption').nth(1).textContent()).toMatch(/256-pixel tiles/);
        const d = await levels(out, join(cliOut, `${name}.png`));
        console.log(`page (wasm) vs cutjs translate, ${name}: max ${d.max} levels, mean ${d.mean.toFixed(4)}; ${r.ms} ms in the page`);
        expect(d.max).toBeLessThanOrEqual(1);
      }
    });
  });

  it('wasm: the same generator as a tfjs model (model.json + weights.bin) gives the same PNG', async () => {
    await onPage(server.url, async (page) => {
      await chooseBackend(page, 'wasm');
      await chooseRuntime(page, 'tfjs');
      expect(await loadGenerator(page, [join(work, 'tfjs', 'model.json'), join(work, 'tfjs', 'weights.bin')])).toMatch(
        /Loaded model\.json \(resnet_6blocks, ngf 8,/,
      );
      const out = join(work, 'page-tfjs.png');
      await translate(page, join(images, 'photo.png'), out);
      const d = await levels(out, join(cliOut, 'photo.png'));
      console.log(`page (wasm, tfjs model) vs cutjs translate: max ${d.max} levels, mean ${d.mean.toFixed(4)}`);
      expect(d.max).toBeLessThanOrEqual(1);
    });
  });

  it("one click: the horse2zebra model from the static build gives cutjs translate --model's PNG within 1 grey level, on tfjs and on onnxruntime-web", async () => {
    await onPage(server.url, async (page) => {
      await chooseBackend(page, 'wasm');
      await chooseRuntime(page, 'tfjs');
      await page.click('#shipped-model');
      await page.waitForFunction(() => ['loaded', 'error'].includes(document.getElementById('model-status')?.dataset.state ?? ''), null, {
        timeout: 120_000,
      });
      expect(await page.textContent('#model-status')).toMatch(/Loaded latest_net_G\.pth \(resnet_9blocks, ngf 32,/);
      const r = spawnSync(
        process.execPath,
        [CLI, 'translate', join(images, 'photo.png'), '--model', 'horse2zebra', '--out', join(work, 'cli-model'), '--backend', 'wasm'],
        {
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      for (const runtime of ['tfjs', 'onnx'] as const) {
        expect((await chooseRuntime(page, runtime)).runtime).toBe(runtime);
        const out = join(work, `page-model-${runtime}.png`);
        const t = await translate(page, join(images, 'photo.png'), out);
        expect(t.runtime).toBe(runtime);
        const d = await levels(out, join(work, 'cli-model', 'photo.png'));
        console.log(
          `page (${runtime}, one-click horse2zebra model) vs cutjs translate --model: max ${d.max} levels, mean ${d.mean.toFixed(4)}; ${t.ms} ms`,
        );
        expect(d.max).toBeLessThanOrEqual(1);
      }
    });
  });

  it("onnx (onnxruntime-web), isolated page: the default, threads > 1, cutjs translate's PNGs within 1 grey level (whole, padded, tiled)", async () => {
    await onPage(server.url, async (page, logs) => {
      await chooseBackend(page, 'wasm');
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      const threads = Math.min(cores, 8);
      // The default (auto): onnxruntime-web where the page has threads, measured faster (bench/README.md, 'ONNX Runtime').
      expect(await page.inputValue('#runtime')).toBe('auto');
      const auto = await chooseRuntime(page, 'auto');
      expect(auto.runtime).toBe(threads > 1 ? 'onnx' : 'tfjs');
      const shown = await chooseRuntime(page, 'onnx');
      expect(shown.runtime).toBe('onnx');
      expect(shown.threads).toBe(threads);
      if (cores > 1) expect(shown.threads).toBeGreaterThan(1);
      expect(shown.text).toBe(`onnxruntime-web (wasm, ${threads} thread${threads === 1 ? '' : 's'})`);
      await loadGenerator(page, [join(H2Z, 'latest_net_G.pth'), join(H2Z, 'train_opt.txt')]);
      for (const name of ['photo', 'crop', 'large']) {
        if (name === 'large') await page.selectOption('#tile', '256');
        const out = join(work, `page-onnx-${name}.png`);
        const r = await translate(page, join(images, `${name}.png`), out);
        expect([r.runtime, r.threads]).toEqual(['onnx', threads]);
        const caption = await page.locator('.result figcaption').nth(1).textContent();
        expect(caption).toMatch(new RegExp(`on onnxruntime-web wasm, ${threads} threads?`));
        if (name === 'large') expect(caption).toMatch(/256-pixel tiles/);
        const d = await levels(out, join(cliOut, `${name}.png`));
        console.log(
          `page (onnxruntime-web, ${threads} threads) vs cutjs translate, ${name}: max ${d.max} levels, mean ${d.mean.toFixed(4)}; ${r.ms} ms`,
        );
        expect(d.max).toBeLessThanOrEqual(1);
      }
      expect(logs.filter((l) => /pageerror/.test(l))).toEqual([]);
    });
  });

  it('onnx on a page without the isolation headers: one thread (auto: tfjs), the same PNG', async () => {
    await onPage(plainServer.url, async (page) => {
      await chooseBackend(page, 'wasm');
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
      // One thread: auto is tfjs (onnxruntime-web's single thread measured a little slower).
      expect(await chooseRuntime(page, 'auto')).toEqual({ runtime: 'tfjs', threads: 1, text: 'tfjs (wasm)' });
      const shown = await chooseRuntime(page, 'onnx');
      expect([shown.runtime, shown.threads]).toEqual(['onnx', 1]);
      expect(shown.text).toMatch(/1 thread: the page is not cross-origin isolated/);
      await loadGenerator(page, [join(H2Z, 'latest_net_G.pth'), join(H2Z, 'train_opt.txt')]);
      const out = join(work, 'page-onnx-plain.png');
      const r = await translate(page, join(images, 'photo.png'), out);
      expect([r.runtime, r.threads]).toEqual(['onnx', 1]);
      const d = await levels(out, join(cliOut, 'photo.png'));
      console.log(`page (onnxruntime-web, 1 thread) vs cutjs translate: max ${d.max} levels, mean ${d.mean.toFixed(4)}; ${r.ms} ms`);
      expect(d.max).toBeLessThanOrEqual(1);
    });
  });

  it("a generator from a URL: a missing file is named with the server's answer", async () => {
    const { page, close } = await openPage({ url: server.url });
    try {
      await chooseBackend(page, 'cpu');
      await page.fill('#model-url', `${server.url}models/nothing/latest_net_G.pth`);
      await page.click('#model-url-form button');
      await page.waitForFunction(() => document.getElementById('model-status')?.dataset.state === 'error');
      expect(await page.textContent('#model-status')).toMatch(/models\/nothing\/latest_net_G\.pth: the server answered 404/);
    } finally {
      await close();
    }
  });

  it('a generator of another architecture is refused with the file and the mismatch named', async () => {
    const { page, close } = await openPage({ url: server.url });
    try {
      await chooseBackend(page, 'cpu');
      await page.setInputFiles('#model-files', [join(H2Z, 'latest_net_G.pth')]);
      await page.waitForFunction(() => document.getElementById('model-status')?.dataset.state === 'error');
      // Without train_opt.txt: the reference's defaults (resnet_9blocks, ngf 64), which do not fit.
      expect(await page.textContent('#model-status')).toMatch(
        /latest_net_G\.pth: .*network built from the default options with .*netG resnet_9blocks, ngf 64, input_nc 3, output_nc 3/s,
      );
    } finally {
      await close();
    }
  });

  it('webgpu (when Chromium exposes an adapter here): the same PNG within 1 grey level', async (ctx) => {
    let session = await openPage({ url: server.url, webgpu: true });
    try {
      if (!(await hasWebGpuAdapter(session.page))) {
        console.warn('no WebGPU adapter in headless Chromium here (software Vulkan); the WebGPU comparison is skipped');
        ctx.skip();
      }
      // The page gives the adapter 5 s to answer; a cold software adapter on a busy CI machine can
      // take longer the first time (seen once in five runs), so a second try is allowed. In a fresh
      // clone's CI run the first start has also hung outright (twice, where a rerun took 22 s):
      // then a new browser (a new GPU process) gets one more try.
      let backend = await chooseBackend(session.page, 'webgpu').catch((e: Error) => `not started (${e.name})`);
      if (backend !== 'webgpu') {
        backend = await chooseBackend(session.page, 'wasm')
          .then(() => chooseBackend(session.page, 'webgpu'))
          .catch((e: Error) => `not started (${e.name})`);
      }
      if (backend !== 'webgpu') {
        console.warn(`WebGPU did not start in the page (${backend}); once more in a new browser`);
        await session.close();
        session = await openPage({ url: server.url, webgpu: true });
        backend = await chooseBackend(session.page, 'webgpu');
      }
      expect(backend).toBe('webgpu');
      const { page } = session;
      // tfjs (the default), said here so the test does not depend on it.
      await chooseRuntime(page, 'tfjs');
      await loadGenerator(page, [join(H2Z, 'latest_net_G.pth'), join(H2Z, 'train_opt.txt')]);
      const out = join(work, 'page-webgpu.png');
      const r = await translate(page, join(images, 'photo.png'), out);
      expect(r.backend).toBe('webgpu');
      const d = await levels(out, join(cliOut, 'photo.png'));
      console.log(`page (webgpu) vs cutjs translate: max ${d.max} levels, mean ${d.mean.toFixed(4)}; ${r.ms} ms in the page`);
      expect(d.max).toBeLessThanOrEqual(1);
    } catch (e) {
      if (!(e instanceof Error && /skip/i.test(e.name + e.message))) console.error(session.logs.join('\n'));
      throw e;
    } finally {
      await session.close();
    }
  });
});
