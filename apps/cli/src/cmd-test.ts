// `cutjs test`: the reference's test.py. Translates the first --num_test images of
// <dataroot>/<phase>A (--dataset_mode single: of <dataroot>; aligned: the A halves of
// <dataroot>/<phase>) with the run's generator and writes
// <results_dir>/<name>/<phase>_<epoch>/images/{real_A,fake_B,real_B}/<name>.png and index.html.
import { join } from 'node:path';
import { saveImage } from '@cut/files';
import { createDataset, translateTestImages, type CUTOptions, type NetworkImage } from '@cut/trainer';
import { loadGenerator, resolveGeneratorFile } from './checkpoint.js';
import { cutOptionsFrom, generatorOverrides, testFlags } from './command-flags.js';
import { backendChoice, boolFlag, intFlag, stringFlag, type Context } from './context.js';
import { formatHelp, parseFlags } from './flags.js';
import { writeResultsPage, type PageRow } from './html.js';
import { checkImages, problemsMessage } from './preflight.js';

const USAGE = `Usage: cutjs test --dataroot <dir> --name <run> [options]

The reference's test.py: loads <checkpoints_dir>/<name>/<epoch>_net_G.pth (ours or the
reference's own; the network is built from the train_opt.txt beside it, flags override), runs it on
<dataroot>/<phase>A (preprocess as given, load_size 256, no flip) and writes
<results_dir>/<name>/<phase>_<epoch>/images/{real_A,fake_B,real_B}/<image>.png and index.html.
--dataset_mode single reads the images of <dataroot> itself (no real_B); aligned reads
<dataroot>/<phase> with A|B pairs side by side.`;

export interface TestSettings {
  options: CUTOptions;
  resultsDir: string;
  /** Images to translate; negative: all. */
  numTest: number;
  eval: boolean;
  /** Generator options given on the command line, which override train_opt.txt. */
  overrides: Map<string, string>;
}

export interface TestResult {
  webDir: string;
  page: string;
  images: number;
  /** The page's rows and title, and each row's input file (for a caller that adds a column: the demo). */
  rows: PageRow[];
  inputs: string[];
  title: string;
}

/** The reference's test options: its defaults, then the settings test.py forces. */
export function testSettings(parsed: ReturnType<typeof parseFlags>, base: Record<string, string> = {}): TestSettings {
  const options = cutOptionsFrom(parsed, { phase: 'test', load_size: '256', ...base });
  // test.py overrides these whatever the command line says.
  Object.assign(options, { num_threads: 0, batch_size: 1, serial_batches: true, no_flip: true, display_id: -1 });
  const overrides = generatorOverrides(options, (name) => parsed.values.has(name) || base[name] !== undefined);
  return {
    options,
    resultsDir: stringFlag(parsed, 'results_dir', './results/'),
    numTest: intFlag(parsed, 'num_test', 50, () => null),
    eval: boolFlag(parsed, 'eval'),
    overrides,
  };
}

export async function testCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = testFlags();
  const parsed = parseFlags(argv, table);
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table));
    return 0;
  }
  const backend = backendChoice(parsed);
  const settings = testSettings(parsed);
  await ctx.loadBackend(backend, boolFlag(parsed, 'verbose'));
  const r = await runTest(settings, ctx);
  ctx.print(`results: ${r.page}`);
  return 0;
}

/** Runs test.py's loop with a loaded backend. */
export async function runTest(s: TestSettings, ctx: Context): Promise<TestResult> {
  const o = s.options;
  const runDir = join(o.checkpoints_dir, o.name);
  resolveGeneratorFile(runDir, o.epoch); // a missing checkpoint is reported before anything else
  const loaded = await loadGenerator(runDir, { epoch: o.epoch, overrides: s.overrides, note: (l) => ctx.warn(l) });
  const { G } = loaded;
  try {
    ctx.print(`model: ${loaded.file} (${G.parameterCount().toLocaleString('en-US')} parameters; configured by ${loaded.configuredBy})`);
    // The data's channels follow the network the checkpoint holds.
    const dataset = await createDataset({ ...o, input_nc: loaded.inputNc, output_nc: loaded.outputNc, isTrain: false });
    const total = s.numTest < 0 ? dataset.length : Math.min(s.numTest, dataset.length);
    const webDir = join(s.resultsDir, o.name, `${o.phase}_${o.epoch}`);
    ctx.print(
      `test: ${total} of ${dataset.length} images from ${dataset.dirA}, preprocess ${o.preprocess} (load_size ${o.load_size}, crop_size ${o.crop_size})`,
    );
    // Every image the loop will read (A[i] and its B[i % |B|]) is checked before the first result
    // is written: a bad file stops the command here, naming it, rather than half-way through.
    const used = new Set<string>();
    for (let i = 0; i < total; i++) {
      used.add(dataset.pathsA[i]!);
      if (dataset.pathsB.length > 0) used.add(dataset.pathsB[i % dataset.pathsB.length]!);
    }
    const problems = await checkImages([...used], o);
    if (problems.length) throw new Error(`${problemsMessage(problems, used.size)}\nnothing was written to ${webDir}`);
    const rows: PageRow[] = [];
    const inputs: string[] = [];
    try {
      // The loop @cut/trainer's --eval_freq runs too (its FID is that of these fake_B files).
      for await (const t of translateTestImages(G, dataset, { count: total, training: !s.eval, seed: o.seed ?? 0 })) {
        const visuals: Array<[string, NetworkImage]> = [
          ['real_A', t.realA],
          ['fake_B', t.fakeB],
        ];
        // The single dataset has no B.
        if (t.realB) visuals.push(['real_B', t.realB]);
        const images: PageRow['images'] = [];
        for (const [label, img] of visuals) {
          const rel = `images/${label}/${t.name}.png`;
          await saveImage(join(webDir, rel), img.data, img.width, img.height, img.channels);
          images.push({ path: rel, label });
        }
        rows.push({ header: t.name, images });
        inputs.push(t.pathA);
        if ((rows.length - 1) % 5 === 0) ctx.print(`processing (${String(rows.length - 1).padStart(4, '0')})-th image... ${t.pathA}`);
      }
    } catch (e) {
      // Something that changed after the check (a file removed or rewritten): say what was kept.
      throw new Error(`${(e as Error).message}\nstopped after ${rows.length} of ${total} images; their results are kept in ${webDir}`);
    }
    const title = `Experiment = ${o.name}, Phase = ${o.phase}, Epoch = ${o.epoch}`;
    const page = await writeResultsPage(webDir, title, rows, o.display_winsize);
    return { webDir, page, images: rows.length, rows, inputs, title };
  } finally {
    G.dispose();
  }
}
