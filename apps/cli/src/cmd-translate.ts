// `cutjs translate <image or folder>...`: G(image) at each image's own size (or in tiles), one PNG
// per input under --out with the same base name.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { decodeImage, listImages, normalizeImage, pythonString, toChannels } from '@cut/trainer';
import { loadGenerator, resolveGeneratorFile } from './checkpoint.js';
import { GENERATOR_FLAGS, translateFlags } from './command-flags.js';
import { backendChoice, cutOptionsFrom, intFlag, stringFlag, type Context } from './context.js';
import { UsageError, formatHelp, parseFlags } from './flags.js';
import { translateImage } from './inference.js';
import { saveImage } from './png.js';

const USAGE = `Usage: cutjs translate <image or folder>... --checkpoint <run folder | _net_G.pth | tfjs model> [--out <dir>]

Translates each image at its own size (any size: reflect-padded to a multiple of 4 for the
generator and cropped back), folders recursively, into <out>/<same relative path>.png.
--tile <n> translates large images in overlapping n x n tiles blended with linear ramps (each tile
is normalised on its own, so tiled output differs slightly from whole-image output).`;

export interface TranslateJob {
  input: string;
  output: string;
}

/** Each input file with its output path; folders are listed recursively and keep their layout. */
export async function planOutputs(inputs: readonly string[], outDir: string): Promise<TranslateJob[]> {
  const jobs: TranslateJob[] = [];
  for (const input of inputs) {
    if (!existsSync(input)) throw new Error(`${input}: no such file or folder`);
    if (statSync(input).isDirectory()) {
      const files = await listImages(input);
      if (files.length === 0) throw new Error(`${input}: no images in this folder`);
      for (const f of files) {
        const rel = relative(input, f);
        jobs.push({ input: f, output: join(outDir, dirname(rel), `${basename(rel, extname(rel))}.png`) });
      }
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
  if (parsed.positionals.length === 0) throw new UsageError('give one or more images or folders to translate (see --help)');
  const options = cutOptionsFrom(parsed);
  const tile = intFlag(parsed, 'tile', 0, (n) => (n === 0 || (n >= 8 && n % 4 === 0) ? null : 'must be 0 (whole images) or a multiple of 4, at least 8'));
  const overlap = intFlag(parsed, 'tile_overlap', 32, (n) => (n < 0 ? 'must be >= 0' : tile && n >= tile ? `must be smaller than --tile ${tile}` : null));
  const checkpoint = stringFlag(parsed, 'checkpoint', parsed.values.has('name') ? join(options.checkpoints_dir, options.name) : '');
  if (!checkpoint) throw new UsageError('say which generator with --checkpoint <run folder or _net_G.pth file> (or --name <run>)');
  const outDir = stringFlag(parsed, 'out', './results/translated');
  const overrides = new Map<string, string>();
  for (const name of GENERATOR_FLAGS) if (parsed.values.has(name)) overrides.set(name, pythonString(name, options[name]));

  // Everything that can be checked without a backend comes first.
  resolveGeneratorFile(checkpoint, options.epoch);
  const jobs = await planOutputs(parsed.positionals, outDir);
  await ctx.loadBackend(backend);
  const loaded = await loadGenerator(checkpoint, { epoch: options.epoch, overrides, note: (l) => ctx.warn(l) });
  const failures: string[] = [];
  try {
    ctx.print(`model: ${loaded.file} (${loaded.G.parameterCount().toLocaleString('en-US')} parameters; configured by ${loaded.configuredBy})`);
    for (const job of jobs) {
      const start = Date.now();
      try {
        const raw = toChannels(await decodeImage(job.input), loaded.inputNc);
        const img = { data: normalizeImage(raw), width: raw.width, height: raw.height, channels: raw.channels };
        const out = await translateImage(loaded.G, img, { tile, overlap });
        await saveImage(job.output, out.data, out.width, out.height, out.channels);
        ctx.print(`${job.input} -> ${job.output} (${out.width}x${out.height}, ${((Date.now() - start) / 1000).toFixed(1)} s)`);
      } catch (e) {
        const message = (e as Error).message;
        failures.push(message.startsWith(job.input) ? message : `${job.input}: ${message}`);
        ctx.warn(`cutjs: ${failures.at(-1)}`);
      }
    }
  } finally {
    loaded.G.dispose();
  }
  if (failures.length) {
    ctx.warn(`cutjs: ${failures.length} of ${jobs.length} images failed`);
    return 1;
  }
  ctx.print(`translated ${jobs.length} image${jobs.length === 1 ? '' : 's'} into ${outDir}`);
  return 0;
}
