// Drives the built page (dist/) in Debian's Chromium through its own controls: serves it on
// 127.0.0.1, loads a generator and images with the file inputs, and downloads the PNGs.
// Used by the browser test (test/browser.test.ts) and the benchmark (bench/web.mjs).
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const DIST = fileURLToPath(new URL('../dist', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.json': 'application/json',
  '.mjs': 'text/javascript',
};

/** The two headers that make the page cross-origin isolated (as vite.config.ts's dev server and preview send). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * A static file server for `dir` on 127.0.0.1 (a free port), as any static host serves the page;
 * `isolated`: with the two cross-origin isolation headers (onnxruntime-web's threads), else without.
 */
export async function serveStatic(dir = DIST, { isolated = true } = {}) {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.startsWith(root) && statSync(path, { throwIfNoEntry: false })?.isDirectory() ? join(path, 'index.html') : path;
    let body;
    try {
      if (!file.startsWith(root)) throw new Error('outside');
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', ...(isolated ? ISOLATION_HEADERS : {}) });
    res.end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

const BASE_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Chromium flags for WebGPU on the software Vulkan driver (lavapipe / SwiftShader). */
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=vulkan',
  '--ignore-gpu-blocklist',
];

/**
 * Opens the page in a fresh headless Chromium profile. `webgpu`: without --disable-gpu and with
 * the WebGPU flags (an adapter may or may not appear).
 */
export async function openPage({ url, webgpu = false, viewport = { width: 1100, height: 760 } }) {
  const profile = mkdtempSync(join(tmpdir(), 'cut-chromium-'));
  const args = [...BASE_ARGS, ...(webgpu ? WEBGPU_ARGS : ['--disable-gpu'])];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport,
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  return {
    page,
    logs,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Whether the page's browser has a WebGPU adapter. */
export async function hasWebGpuAdapter(page) {
  return page.evaluate(async () => {
    if (!('gpu' in navigator)) return false;
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10_000));
    return Boolean(await Promise.race([navigator.gpu.requestAdapter().catch(() => null), timeout]));
  });
}

/**
 * Chooses a backend with the page's select and waits until it runs; returns its name. WebGPU's
 * first start in a fresh Chromium profile on a software adapter (shader compiles, cold caches)
 * has taken over 60 s on a 2-core CI machine, so it gets longer.
 */
export async function chooseBackend(page, backend) {
  await page.selectOption('#backend', backend);
  const timeout = backend === 'webgpu' ? 120_000 : 60_000;
  await page.waitForFunction(
    (b) => document.getElementById('backend-name')?.textContent === b || document.getElementById('backend-name')?.textContent === 'none',
    backend,
    { timeout },
  );
  return page.textContent('#backend-name');
}

/**
 * Chooses a runtime with the page's select (auto, tfjs or onnx) and waits until the page shows
 * it; returns what it shows: `{ runtime, threads, text }`.
 */
export async function chooseRuntime(page, runtime) {
  await page.selectOption('#runtime', runtime);
  await page.waitForFunction(
    (r) => {
      const shown = document.getElementById('runtime-name');
      return shown?.textContent === 'none' || (r === 'auto' ? Boolean(shown?.dataset.runtime) : shown?.dataset.runtime === r);
    },
    runtime,
    { timeout: 60_000 },
  );
  const el = page.locator('#runtime-name');
  return { runtime: await el.getAttribute('data-runtime'), threads: Number(await el.getAttribute('data-threads')), text: await el.textContent() };
}

/** Picks the generator's files with the page's file input and waits until it is loaded. */
export async function loadGenerator(page, files) {
  await page.setInputFiles('#model-files', files);
  await page.waitForFunction(() => ['loaded', 'error'].includes(document.getElementById('model-status')?.dataset.state ?? ''), null, {
    timeout: 120_000,
  });
  const state = await page.getAttribute('#model-status', 'data-state');
  if (state !== 'loaded') throw new Error(`the page did not load the generator: ${await page.textContent('#model-status')}`);
  return page.textContent('#model-status');
}

/**
 * Picks one image with the page's file input, waits for its result and downloads the PNG to
 * `outFile`; returns the time the page shows (ms) and the backend it used.
 */
export async function translate(page, imageFile, outFile, timeout = 300_000) {
  const before = await page.locator('.result').count();
  await page.setInputFiles('#image-files', imageFile);
  await page.waitForFunction(
    (n) => document.querySelectorAll('.result').length > n || document.getElementById('status')?.classList.contains('error'),
    before,
    { timeout },
  );
  if (await page.locator('#status.error').count()) throw new Error(`the page failed: ${await page.textContent('#status')}`);
  const row = page.locator('.result').first();
  const [download] = await Promise.all([page.waitForEvent('download'), row.locator('a.download').click()]);
  await download.saveAs(outFile);
  return {
    ms: Number(await row.getAttribute('data-ms')),
    backend: await row.getAttribute('data-backend'),
    runtime: await row.getAttribute('data-runtime'),
    threads: Number(await row.getAttribute('data-threads')),
    name: download.suggestedFilename(),
  };
}
