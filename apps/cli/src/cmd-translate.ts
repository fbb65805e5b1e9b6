// `cutjs translate <image or folder>...`: G(image) at each image's own size (or in tiles), one PNG
// per input under --out with the same base name.
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { listImages } from '@cut/files';
import { builtWorkerUrl, nativeThreadPlan, startWorker } from '@cut/backends';
import { loadGenerator, resolveGeneratorFile } from './checkpoint.js';
import { backendChoice, boolFlag, intFlag, stringFlag, threadsChoice, type Context } from './context.js';
import { pretrainedModel } from './cmd-pretrained.js';
import { PRETRAINED_MODELS } from './pretrained.js';
import { shippedModel, shippedModels } from './shipped-models.js';
import { UsageError, formatHelp, parseFlags } from './flags.js';
import { translateFlags, translateOptionsFrom } from './translate-flags.js';
import { translateFile, type TranslateJob, type TranslatedSize, type TranslateSettings } from './translate-job.js';
import type { OnnxGenerator } from '@cut/networks';
import { DEFAULT_RUNTIME, RUNTIMES, loadOnnxRuntime, onnxGenerator, type Runtime } from './onnx-runtime.js';
import type { TranslateWorkerData, TranslateWorkerReply } from './translate-worker.js';

const USAGE = `Usage: cutjs translate <image or folder>... --checkpoint <run folder | _net_G.pth | tfjs model> [--out <dir>]
       cutjs translate <image or folder>... --pretrained <name> [--out <dir>]

Translates each image at its own size (any size: reflect-padded to a multiple of 4 for the
generator and cropped back), folders recursively, into <out>/<same relative path>.png.
--tile <n> translates in n x n tiles with the whole image's result, for images too large for memory
(default auto: 512-pixel tiles above 1024x1024 pixels for a generator of ngf 64, more pixels for a
smaller ngf, above 512 pixels a side on WebGPU; 0: always whole).
--runtime onnx runs the generator through ONNX Runtime (onnxruntime-node, an optional dependency):
the generator is exported as ONNX in memory (as 'cutjs export' writes it); tiles as with tfjs. The
default stays tfjs, measured faster on 2 cores (cutjs info says why).`;

/** Each input file with its output path; folders are listed recursively and keep their layout. */
export async function planOutputs(inputs: readonly string[], outDir: string): Promise<TranslateJob[]> {
  const jobs: TranslateJob[] = [];
  for (const input of inputs) {
    if (!existsSync(input)) throw new Error(`${input}: no such file or folder`);
    const info = statSync(input);
    if (info.isDirectory()) {
      const files = await listImages(input);
      if (files.length === 0) throw new Error(`${input}: no images in this folder`);
      for (const f of files) {
        const rel = relative(input, f);
        jobs.push({ input: f, output: join(outDir, dirname(rel), `${basename(rel, extname(rel))}.png`) });
      }
    } else if (!info.isFile()) {
      // A FIFO or a device would block or never end when read as an image.
      throw new Error(`${input}: not a regular file (give image files or folders of them)`);
    } else {
      jobs.push({ input, output: join(outDir, `${basename(input, extname(input))}.png`) });
    }
  }
  const seen = new Map<string, string>();
  for (const j of jobs) {
    const out = resolve(j.output);
    if (out === resolve(j.input)) throw new Error(`${j.input}: the output would overwrite the input (choose another --out)`);
    const other = seen.get(out);
    if (other) throw new Error(`${other} and ${j.input} would both be written to ${j.output}`);
    seen.set(out, j.input);
  }
  return jobs;
}

export async function translateCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = translateFlags();
  const parsed = parseFlags(argv, table, { positionals: true });
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table));
    return 0;
  }
  const backend = backendChoice(parsed);
  const threads = threadsChoice(parsed);
  if (parsed.positionals.length === 0) throw new UsageError('give one or more images or folders to translate (see --help)');
  const options = translateOptionsFrom(parsed);
  const tile =
    stringFlag(parsed, 'tile', 'auto') === 'auto'
      ? 'auto'
      : intFlag(parsed, 'tile', 0, (n) =>
          n === 0 || (n >= 16 && n % 4 === 0) ? null : "must be 'auto', 0 (whole images) or a multiple of 4, at least 16",
        );
  const model = stringFlag(parsed, 'pretrained', '');
  const shippedName = stringFlag(parsed, 'model', '');
  const named = ['checkpoint', 'model', 'pretrained'].filter((f) => parsed.values.has(f));
  if (named.length > 1) throw new UsageError(`--${named.join(' and --')} each name a generator: give one`);
  if (model && !PRETRAINED_MODELS.some((m) => m.name === model)) {
    throw new UsageError(
      `--pretrained: no model '${model}' (there are: ${PRETRAINED_MODELS.map((m) => m.name).join(', ')}; see cutjs pretrained list)`,
    );
  }
  const shipped = shippedName ? shippedModel(shippedName) : undefined;
  if (shippedName && !shipped) {
    throw new UsageError(
      `--model: no model '${shippedName}' comes with cutjs (there are: ${shippedModels()
        .map((m) => m.name)
        .join(', ')})`,
    );
  }
  let checkpoint = model ? '' : (shipped?.dir ?? stringFlag(parsed, 'checkpoint', options.runFolder));
  if (!model && !checkpoint)
    throw new UsageError(
      'say which generator with --checkpoint <run folder or _net_G.pth file>, --name <run>, --model <name> (shipped) or --pretrained <name>',
    );
  const runtime = stringFlag(parsed, 'runtime', DEFAULT_RUNTIME) as Runtime;
  if (!RUNTIMES.includes(runtime)) throw new UsageError(`--runtime: '${runtime}' is not one of ${RUNTIMES.join(', ')}`);
  const outDir = stringFlag(parsed, 'out', './results/translated');
  const overrides = options.overrides;

  // Everything that can be checked without a backend (or a download) comes first.
  if (!model) resolveGeneratorFile(checkpoint, options.epoch);
  const jobs = await planOutputs(parsed.positionals, outDir);
  if (model) checkpoint = (await pretrainedModel(model, ctx)).dir;
  if (runtime === 'onnx') await loadOnnxRuntime(); // before the backend and the model: a missing package is said first
  const info = await ctx.loadBackend(backend, boolFlag(parsed, 'verbose'));
  const loaded = await loadGenerator(checkpoint, { epoch: options.epoch, overrides, note: (l) => ctx.warn(l) });
  const settings: TranslateSettings = { tile, backend: info.name };
  const failures: string[] = [];
  const queue = [...jobs];
  // Each thread takes the next image when it is free.
  // A tiled image can take minutes: say how far it got, every 10 s at most.
  const progress = (job: TranslateJob, start: number) => {
    let last = start;
    return (done: number, total: number) => {
      const now = Date.now();
      if (done === total || now - last < 10_000) return;
      last = now;
      ctx.print(`${job.input}: stage ${done} of ${total} (${Math.round((now - start) / 1000)} s)`);
    };
  };
  const run = async (translate: (job: TranslateJob, onStage: (done: number, total: number) => void) => Promise<TranslatedSize>) => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const start = Date.now();
      try {
        const out = await translate(job, progress(job, start));
        const how = out.tile ? `, ${out.tile}-pixel tiles` : '';
        ctx.print(`${job.input} -> ${job.output} (${out.width}x${out.height}${how}, ${((Date.now() - start) / 1000).toFixed(1)} s)`);
      } catch (e) {
        const message = (e as Error).message;
        failures.push(message.startsWith(job.input) ? message : `${job.input}: ${message}`);
        ctx.warn(`cutjs translate: ${failures.at(-1)}`);
      }
    }
  };
  // The wasm and cpu backends compute on the calling thread: with 2 threads a worker translates
  // every other image (GPU backends run their own threads).
  const twoThreads =
    runtime === 'tfjs' &&
    jobs.length > 1 &&
    ['wasm', 'cpu'].includes(info.name) &&
    (threads === 2 || (threads === 'auto' && availableParallelism() >= 2)) &&
    nativeThreadPlan(info.name, threads).jsThreads === 2;
  if (threads === 2 && !twoThreads)
    ctx.warn(`--threads 2: translating on 1 thread (${jobs.length > 1 ? `the ${info.name} backend runs its own threads` : 'one image'})`);
  let helper: TranslateHelper | null = null;
  let onnx: OnnxGenerator | null = null;
  try {
    ctx.print(`model: ${loaded.file} (${loaded.G.parameterCount().toLocaleString('en-US')} parameters; configured by ${loaded.configuredBy})`);
    if (twoThreads) {
      helper = await TranslateHelper.start({
        backend: info.name as TranslateWorkerData['backend'],
        checkpoint,
        epoch: options.epoch,
        overrides: [...overrides],
        settings,
      });
      ctx.print('threads: 2 (an image at a time on each)');
    }
    if (runtime === 'onnx') {
      onnx = await onnxGenerator(loaded.G);
      ctx.print(`runtime: onnx (onnxruntime-node, the generator exported as ONNX: ${(onnx.bytes / 1e6).toFixed(1)} MB)`);
    }
    const local = (job: TranslateJob, onStage: (done: number, total: number) => void) =>
      translateFile(loaded.G, loaded.inputNc, job, settings, onStage, onnx ?? undefined);
    await Promise.all([run(local), ...(helper ? [run((job, onStage) => helper!.translate(job, onStage))] : [])]);
  } finally {
    loaded.G.dispose();
    helper?.close();
    await onnx?.release();
  }
  if (failures.length) {
    ctx.warn(`cutjs translate: ${failures.length} of ${jobs.length} images failed`);
    return 1;
  }
  ctx.print(`translated ${jobs.length} image${jobs.length === 1 ? '' : 's'} into ${outDir}`);
  return 0;
}

/** The worker thread of `--threads 2`, translating one job at a time. */
class TranslateHelper {
  private pending: {
    resolve: (r: TranslatedSize) => void;
    reject: (e: Error) => void;
    onStage: (done: number, total: number) => void;
  } | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: TranslateWorkerReply) => {
      if (m.type === 'stage') {
        this.pending?.onStage(m.done, m.total);
        return;
      }
      const p = this.pending;
      this.pending = null;
      if (m.type === 'done') p?.resolve({ width: m.width, height: m.height, tile: m.tile });
      else if (m.type === 'error') p?.reject(new Error(m.message));
    });
    worker.on('error', (e) => this.pending?.reject(e));
  }

  static async start(data: TranslateWorkerData): Promise<TranslateHelper> {
    const url = builtWorkerUrl(import.meta.url, 'translate-worker.js', '../');
    const { worker } = await startWorker<TranslateWorkerReply>(url, data, 'translate worker');
    return new TranslateHelper(worker);
  }

  translate(job: TranslateJob, onStage: (done: number, total: number) => void): Promise<TranslatedSize> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, onStage };
      this.worker.postMessage(job);
    });
  }

  close(): void {
    this.worker.postMessage(null);
  }
}
