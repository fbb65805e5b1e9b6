// The page: a generator from the user's files, images translated in the page by tfjs (WebGPU, wasm
// or cpu) or by onnxruntime-web (wasm, multi-threaded when the page is cross-origin isolated),
// shown beside their input and downloadable as PNG. Nothing is uploaded anywhere.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// The wasm binaries are bundled as assets beside the page, so a static host serves them.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { normalizeImage, tensorToRgb8, toChannels, toRgb } from '@cut/images';
import {
  NETWORK_OPTION_SPECS,
  WHOLE_IMAGE_BUDGET,
  generatorTileFacts,
  loadCheckpoint,
  loadTfjsGenerator,
  networkOptionString,
  parseOptionsFile,
  tfjsWeightFiles,
  tileFor,
  translateImage,
  type Generator,
} from '@cut/networks';
import type { PageOnnx } from './onnx.js';
import { onnxThreads } from './threads.js';

// tfjs wants all three named; the threaded one is never fetched (below).
setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });
// Single-threaded wasm: the threaded build's worker loads tfjs's own script file, which a bundle
// does not have (and it needs cross-origin isolation headers that static hosts rarely send).
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelInput = $<HTMLInputElement>('model-files');
const imageInput = $<HTMLInputElement>('image-files');
const backendSelect = $<HTMLSelectElement>('backend');
const tileSelect = $<HTMLSelectElement>('tile');
const backendName = $<HTMLOutputElement>('backend-name');
const runtimeSelect = $<HTMLSelectElement>('runtime');
const runtimeName = $<HTMLOutputElement>('runtime-name');
const modelStatus = $<HTMLParagraphElement>('model-status');
const shippedButton = $<HTMLButtonElement>('shipped-model');
const urlForm = $<HTMLFormElement>('model-url-form');
const urlInput = $<HTMLInputElement>('model-url');
const status = $<HTMLParagraphElement>('status');
const progress = $<HTMLProgressElement>('progress');
const results = $<HTMLElement>('results');
const arch = {
  netG: $<HTMLInputElement>('netG'),
  ngf: $<HTMLInputElement>('ngf'),
  input_nc: $<HTMLInputElement>('input_nc'),
  output_nc: $<HTMLInputElement>('output_nc'),
  no_antialias: $<HTMLInputElement>('no_antialias'),
  no_antialias_up: $<HTMLInputElement>('no_antialias_up'),
};
/** The reference's defaults (@cut/networks' declaration), shown when no train_opt.txt is given. */
const DEFAULTS = Object.fromEntries(
  (Object.keys(arch) as Array<keyof typeof arch>).map((key) => [key, networkOptionString(key, NETWORK_OPTION_SPECS[key].default)]),
) as Record<keyof typeof arch, string>;

let generator: { G: Generator; inputNc: number; outputNc: number; name: string; onnx?: Promise<PageOnnx> } | undefined;
let modelFiles: File[] = [];
let backendReady: Promise<string> = useBackend('auto');
/** One job at a time: loads and translations run in order. */
let queue: Promise<unknown> = Promise.resolve();
const enqueue = (job: () => Promise<void>) => (queue = queue.then(job, job));

type Runtime = 'tfjs' | 'onnx';

/**
 * The runtime that translates: the one chosen, or (auto) the one measured faster in Chromium on two
 * cores (bench/README.md, 'ONNX Runtime'): onnxruntime-web when the page is cross-origin isolated
 * (2 threads: 2.5 s for the default generator at 256x256 against tfjs wasm's 4.4 s; 1024x1024 in
 * tiles 61 s against 118 s); tfjs on one thread (onnxruntime-web's single thread was a little
 * slower, 5.1 s) and on WebGPU (a real GPU, not measured against, is tfjs's strength).
 */
function runtimeFor(backend: string): Runtime {
  const choice = runtimeSelect.value;
  if (choice === 'tfjs' || choice === 'onnx') return choice;
  return backend !== 'webgpu' && onnxThreads() > 1 ? 'onnx' : 'tfjs';
}

function describeRuntime(runtime: Runtime, backend: string): string {
  if (runtime === 'tfjs') return `tfjs (${backend})`;
  const n = onnxThreads();
  return `onnxruntime-web (wasm, ${n} thread${n === 1 ? '' : 's'}${globalThis.crossOriginIsolated ? '' : ': the page is not cross-origin isolated'})`;
}

function showRuntime() {
  backendReady.then(
    (backend) => {
      const runtime = runtimeFor(backend);
      runtimeName.value = describeRuntime(runtime, backend);
      runtimeName.dataset.runtime = runtime;
      runtimeName.dataset.threads = String(runtime === 'onnx' ? onnxThreads() : 1);
    },
    () => (runtimeName.value = 'none'),
  );
}

/** The loaded generator's ONNX sessions, exported and started on first use. */
function onnxOf(g: NonNullable<typeof generator>): Promise<PageOnnx> {
  if (!g.onnx) {
    // onnxruntime-web is loaded when first used.
    g.onnx = import('./onnx.js').then(({ onnxGenerator }) => onnxGenerator(g.G));
    // A failed start is tried again next time.
    g.onnx.catch(() => (g.onnx = undefined));
  }
  return g.onnx;
}

function report(el: HTMLElement, text: string, error = false) {
  el.textContent = text;
  el.classList.toggle('error', error);
}

/** Whether the browser gives a WebGPU adapter (some never answer without a GPU: 5 s at most). */
async function webGpuAdapter(): Promise<boolean> {
  if (!('gpu' in navigator)) return false;
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000));
  return Boolean(await Promise.race([navigator.gpu.requestAdapter().catch(() => null), timeout]));
}

/** WebGPU when the browser has an adapter, else wasm, else cpu (or the one chosen). */
async function useBackend(choice: string): Promise<string> {
  const order = choice === 'auto' ? ['webgpu', 'wasm', 'cpu'] : [choice];
  const failures: string[] = [];
  for (const name of order) {
    try {
      if (name === 'webgpu') {
        if (!(await webGpuAdapter())) throw new Error('no WebGPU adapter in this browser');
        await import('@tensorflow/tfjs-backend-webgpu');
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        backendName.value = name;
        return name;
      }
      failures.push(`${name}: did not start`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  backendName.value = 'none';
  throw new Error(`no backend started (${failures.join('; ')})`);
}

function archOverrides(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, input] of Object.entries(arch)) out.set(key, input.type === 'checkbox' ? (input.checked ? 'True' : 'False') : input.value.trim());
  return out;
}

function showArch(values: ReadonlyMap<string, string>, editable: boolean) {
  for (const [key, input] of Object.entries(arch) as Array<[keyof typeof arch, HTMLInputElement]>) {
    const v = values.get(key) ?? DEFAULTS[key];
    if (input.type === 'checkbox') input.checked = v === 'True';
    else input.value = v;
    input.disabled = !editable;
  }
}

const bytesOf = async (f: File) => new Uint8Array(await f.arrayBuffer());

/**
 * The weight files a model.json names, found among the chosen files (a page sees names only: each
 * manifest path's last part), in the manifest's order; each group's sizes are checked against
 * what its weights need before any file is read. The paths are checked as the CLI's are.
 */
async function chosenWeightFiles(modelJson: string, name: string, files: File[]): Promise<ArrayBuffer[]> {
  const chosen: File[] = [];
  for (const group of tfjsWeightFiles(modelJson, name).groups) {
    const mine = group.paths.map((path) => {
      const base = path.split('/').pop()!;
      const file = files.find((f) => f.name === base);
      if (!file) throw new Error(`${name}: choose its weights file (${base}) together with it`);
      return file;
    });
    const total = mine.reduce((n, f) => n + f.size, 0);
    if (total !== group.bytes) {
      throw new Error(
        `${name}: ${mine.map((f) => f.name).join(', ')} hold ${total} bytes, the manifest's weights need ${group.bytes} (a damaged or partial download?)`,
      );
    }
    chosen.push(...mine);
  }
  return Promise.all(chosen.map(async (f) => f.arrayBuffer()));
}

/** Builds the generator from the chosen files: a .pth (+ train_opt.txt) or model.json + weights. */
async function loadGenerator(files: File[], useForm: boolean): Promise<void> {
  const backend = await backendReady;
  const json = files.find((f) => f.name.endsWith('.json'));
  const pths = files.filter((f) => f.name.endsWith('.pth'));
  const optionsFile = files.find((f) => f.name.endsWith('.txt'));
  let loaded: typeof generator;
  if (json) {
    // A model.json is a few KB: a large one is not read.
    if (json.size > 16 * 2 ** 20) throw new Error(`${json.name}: ${json.size} bytes, too large for a model.json`);
    const modelJson = await json.text();
    const G = await loadTfjsGenerator({ modelJson, weights: await chosenWeightFiles(modelJson, json.name, files), name: json.name });
    // The model carries its configuration: shown, not editable.
    showArch(G.referenceOptions(), false);
    loaded = { G, inputNc: G.inputChannels, outputNc: G.outputChannels, name: json.name };
  } else {
    const g = pths.find((f) => /_net_G\.pth$/.test(f.name)) ?? (pths.length === 1 ? pths[0] : undefined);
    if (!g)
      throw new Error(
        pths.length
          ? `several .pth files and none named *_net_G.pth: choose the generator's`
          : 'choose a generator: a *_net_G.pth or a model.json with its weights.bin',
      );
    const optionsText = optionsFile ? await optionsFile.text() : undefined;
    if (!useForm) showArch(optionsText ? parseOptionsFile(optionsText) : new Map(), true);
    const ck = loadCheckpoint(
      { G: await bytesOf(g), options: optionsText, names: { G: g.name, options: optionsFile?.name } },
      { overrides: archOverrides(), overridesFrom: 'the page' },
    );
    loaded = { G: ck.G, inputNc: ck.G.inputChannels, outputNc: ck.G.outputChannels, name: g.name };
  }
  const old = generator;
  generator = loaded;
  old?.onnx?.then((o) => o.release()).catch(() => {});
  old?.G.dispose();
  const n = generator.G.parameterNames().length;
  report(modelStatus, `Loaded ${generator.name} (${arch.netG.value}, ngf ${arch.ngf.value}, ${n} weight tensors) on ${backend}.`);
  modelStatus.dataset.state = 'loaded';
}

function reloadGenerator(useForm: boolean) {
  if (!modelFiles.length) return;
  modelStatus.dataset.state = 'loading';
  report(modelStatus, 'Loading…');
  const files = modelFiles;
  enqueue(() =>
    loadGenerator(files, useForm).catch((e: Error) => {
      modelStatus.dataset.state = 'error';
      report(modelStatus, e.message, true);
    }),
  );
}

async function decodeFile(file: File): Promise<ImageData> {
  // No colour management and no premultiplication: the file's own 8-bit values, as the CLI reads them.
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(bitmap, 0, 0);
    return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

function canvasOf(image: ImageData): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}

function figure(canvas: HTMLCanvasElement, caption: string): HTMLElement {
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(canvas, cap);
  return fig;
}

async function translateFile(file: File): Promise<void> {
  if (!generator) throw new Error('load a generator first (step 1)');
  const current = generator;
  const { G, inputNc, outputNc } = current;
  const backend = await backendReady;
  const runtime = runtimeFor(backend);
  report(status, `${file.name}: decoding…`);
  const input = await decodeFile(file);
  const { width, height } = input;
  // The CLI's conversions: RGBA to RGB (alpha dropped), luma for 1 channel, (v / 255 - 0.5) / 0.5.
  const rgba = {
    data: new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.length),
    width,
    height,
    channels: 4,
    bitDepth: 8,
  } as const;
  const img = { data: normalizeImage(toChannels(toRgb(rgba), inputNc)), width, height, channels: inputNc };
  // The CLI's tile rule, with a browser's memory: Chromium's wasm runs out where Node's does not.
  const choice = tileSelect.value === 'auto' ? 'auto' : Number(tileSelect.value);
  // onnxruntime-web runs wasm: tiles as tfjs's wasm backend takes them.
  const tile = tileFor(width, height, choice, {
    ...generatorTileFacts(G),
    backend: runtime === 'onnx' ? 'wasm' : backend,
    budget: WHOLE_IMAGE_BUDGET.browser,
  });
  const tiled = tile > 0 && (width > tile || height > tile);
  progress.hidden = false;
  progress.removeAttribute('value');
  let onnx: PageOnnx | undefined;
  if (runtime === 'onnx') {
    report(status, `${file.name}: exporting the generator to ONNX and starting onnxruntime-web…`);
    onnx = await onnxOf(current);
  }
  const engine = onnx ? `onnxruntime-web wasm, ${onnx.threads} thread${onnx.threads === 1 ? '' : 's'}` : backend;
  report(status, `${file.name}: translating ${width}×${height} on ${engine}${tile ? ` in ${tile}-pixel tiles` : ''}…`);
  const start = performance.now();
  const onStage = (done: number, total: number) => {
    progress.max = total;
    progress.value = done;
    report(status, `${file.name}: stage ${done} of ${total} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  };
  const out =
    onnx && !tiled ? await onnx.translate(img) : await translateImage(G, img, { tile, onStage, ...(onnx ? { runStage: onnx.stageRunner() } : {}) });
  const ms = performance.now() - start;
  progress.hidden = true;
  // tensor2im, as RGBA with opaque alpha (ImageData's layout).
  const output = new ImageData(
    new Uint8ClampedArray(tensorToRgb8(out.data, width, height, outputNc, true).data.buffer as ArrayBuffer),
    width,
    height,
  );

  const row = document.createElement('div');
  row.className = 'result';
  row.dataset.ms = ms.toFixed(0);
  row.dataset.backend = backend;
  row.dataset.runtime = runtime;
  row.dataset.threads = String(onnx?.threads ?? 1);
  const outCanvas = canvasOf(output);
  const link = document.createElement('a');
  link.className = 'download';
  link.textContent = 'Download PNG';
  link.download = `${file.name.replace(/\.[^.]*$/, '')}_fake.png`;
  const blob = await new Promise<Blob>((resolve, reject) =>
    outCanvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode the PNG'))), 'image/png'),
  );
  link.href = URL.createObjectURL(blob);
  const time = `${(ms / 1000).toFixed(2)} s on ${engine}`;
  row.append(
    figure(canvasOf(input), `${file.name} (${width}×${height})`),
    figure(outCanvas, `translated in ${time}${tile ? `, ${tile}-pixel tiles` : ''}`),
    link,
  );
  results.prepend(row);
  report(status, `${file.name}: done in ${time}.`);
}

function translateFiles(files: File[]) {
  for (const file of files) {
    enqueue(() =>
      translateFile(file).catch((e: Error) => {
        progress.hidden = true;
        report(status, `${file.name}: ${e.message}`, true);
      }),
    );
  }
}

/** The horse2zebra model that the build copies beside the page (from @cut/model-horse2zebra), its train_opt.txt beside it. */
const SHIPPED_MODEL = 'models/horse2zebra/latest_net_G.pth';
/** A model.json or a .pth is at most this large; the weights a manifest names are checked against it. */
const MAX_DOWNLOAD = 1024 * 2 ** 20;

/** One file from a URL (relative to the page), as a File named by the URL's last part; `optional`: a 404 gives undefined. */
async function download(url: URL, optional = false): Promise<File | undefined> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${url.href}: cannot download (${(e as Error).message}; a server must allow this page to read it: CORS)`);
  }
  if (optional && response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${url.href}: the server answered ${response.status} ${response.statusText}`);
  const size = Number(response.headers.get('content-length') ?? 0);
  if (size > MAX_DOWNLOAD) throw new Error(`${url.href}: ${size} bytes, more than a generator needs`);
  const name = decodeURIComponent(url.pathname.split('/').pop() || 'download');
  return new File([await response.blob()], name);
}

/**
 * A generator's files from a URL: a .pth with the train_opt.txt beside it when there is one, or a
 * model.json with the weight files its manifest names (relative to it, checked as local files are).
 */
async function filesFromUrl(href: string): Promise<File[]> {
  const url = new URL(href, document.baseURI);
  if (/\.json$/i.test(url.pathname)) {
    const json = (await download(url))!;
    const paths = tfjsWeightFiles(await json.text(), json.name).groups.flatMap((g) => g.paths);
    const weights = await Promise.all(paths.map(async (p) => (await download(new URL(p, url)))!));
    return [json, ...weights];
  }
  if (!/\.pth$/i.test(url.pathname)) throw new Error(`${url.href}: give the URL of a *_net_G.pth or a model.json`);
  const options = await download(new URL('train_opt.txt', url), true);
  return [(await download(url))!, ...(options ? [options] : [])];
}

function loadFromUrl(href: string) {
  modelStatus.dataset.state = 'loading';
  report(modelStatus, `Downloading ${href}…`);
  enqueue(async () => {
    try {
      modelFiles = await filesFromUrl(href);
      await loadGenerator(modelFiles, false);
    } catch (e) {
      modelStatus.dataset.state = 'error';
      report(modelStatus, (e as Error).message, true);
    }
  });
}

function isModelFile(f: File) {
  return /\.(pth|txt|json|bin)$/i.test(f.name);
}

shippedButton.addEventListener('click', () => loadFromUrl(SHIPPED_MODEL));
urlForm.addEventListener('submit', (e) => {
  e.preventDefault();
  if (urlInput.value.trim()) loadFromUrl(urlInput.value.trim());
});
modelInput.addEventListener('change', () => {
  modelFiles = [...(modelInput.files ?? [])];
  reloadGenerator(false);
});
imageInput.addEventListener('change', () => {
  translateFiles([...(imageInput.files ?? [])]);
  // Cleared, so that picking the same file again translates it again.
  imageInput.value = '';
});
for (const input of Object.values(arch)) input.addEventListener('change', () => reloadGenerator(true));
backendSelect.addEventListener('change', () => {
  backendName.value = 'starting…';
  backendReady = useBackend(backendSelect.value);
  backendReady.catch((e: Error) => report(status, e.message, true));
  showRuntime();
  // The weights were uploaded to the previous backend: build the generator again on the new one.
  reloadGenerator(true);
});
backendReady.catch((e: Error) => report(status, e.message, true));
runtimeSelect.addEventListener('change', showRuntime);
showRuntime();

// Drag and drop: generator files on step 1, images on step 2 (or anywhere: sorted by kind).
for (const zone of document.querySelectorAll<HTMLElement>('.drop')) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    const models = files.filter(isModelFile);
    if (models.length) {
      modelFiles = models;
      reloadGenerator(false);
    }
    translateFiles(files.filter((f) => !isModelFile(f)));
  });
}
