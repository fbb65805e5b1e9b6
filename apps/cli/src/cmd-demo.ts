// `cutjs demo`: a small FastCUT run on the bundled horse2zebra photos (a few minutes on two CPU
// cores with wasm), then the test set translated into a results page. Any train flag overrides
// the preset.
import { join } from 'node:path';
import { horse2zebraDemo } from '@cut/demo-data';
import { runTest, testSettings, type TestResult } from './cmd-test.js';
import { prepareTraining, train, withSeed } from './cmd-train.js';
import { cutOptionsFrom, demoFlags, testFlags } from './command-flags.js';
import { loadGenerator } from './checkpoint.js';
import { EXIT, backendChoice, boolFlag, type Context } from './context.js';
import { writeResultsPage } from './html.js';
import { shippedModels } from './shipped-models.js';
import { translateFile } from './translate-job.js';
import { formatHelp, parseFlags, type ParsedFlags } from './flags.js';

/**
 * The demo's training options: FastCUT (no identity pass: half the work of CUT) with a small
 * generator (16 filters, 6 blocks) on 64x64 crops of the photos resized to 72, 8 epochs of the
 * 24 photos (5 at the full learning rate, 3 decaying), the rest at the reference's defaults.
 */
export const DEMO_PRESET: Readonly<Record<string, string>> = {
  // The photos come with the CLI (package @cut/demo-data), wherever it is installed.
  dataroot: horse2zebraDemo,
  name: 'horse2zebra_demo',
  CUT_mode: 'FastCUT',
  netG: 'resnet_6blocks',
  ngf: '16',
  ndf: '16',
  load_size: '72',
  crop_size: '64',
  n_epochs: '5',
  n_epochs_decay: '3',
  print_freq: '24',
  display_freq: '24',
  save_epoch_freq: '4',
  seed: '1',
};

const USAGE = `Usage: cutjs demo [flags]

Trains FastCUT on the bundled photos (package @cut/demo-data: 24 horses, 24 zebras from
horse2zebra, for non-commercial research and teaching only) with a small generator at 64x64,
then translates the test horses into a results page, beside the translations of the horse2zebra
model that comes with cutjs (package @cut/model-horse2zebra: what hours of training give):
  checkpoints/horse2zebra_demo/          checkpoints, loss log, training page (web/index.html)
  results/horse2zebra_demo/test_latest/  real_A / fake_B / horse2zebra_model / real_B images, index.html
Every train flag works and overrides the preset (e.g. --n_epochs 20, --CUT_mode CUT, --backend cpu).`;

/** The test run that follows training: same data, run and folders; test at the training scale. */
function testArgs(parsed: ParsedFlags): string[] {
  const args: string[] = [];
  for (const name of ['dataroot', 'name', 'checkpoints_dir', 'results_dir', 'direction', 'preprocess', 'seed', 'max_dataset_size']) {
    const value = parsed.values.get(name);
    if (value !== undefined && value !== null) args.push(`--${name}`, String(value));
  }
  return args;
}

export async function demoCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = demoFlags(DEMO_PRESET);
  const parsed = parseFlags(argv, table);
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table));
    return 0;
  }
  const backend = backendChoice(parsed);
  const options = withSeed(cutOptionsFrom(parsed, DEMO_PRESET));
  // Test as the reference's test.py would be called after this run, on the whole photos at the size trained on.
  const test = testSettings(parseFlags(testArgs(parsed), testFlags()), {
    dataroot: options.dataroot,
    name: options.name,
    checkpoints_dir: options.checkpoints_dir,
    load_size: String(options.load_size),
    crop_size: String(options.load_size),
  });
  await prepareTraining(options, ctx);
  const info = await ctx.loadBackend(backend, boolFlag(parsed, 'verbose'));
  const started = Date.now();
  const result = await train(options, ctx);
  if (result.stoppedBy === 'signal') return result.exitCode;
  const tested = await runTest(test, ctx);
  // The shipped model's column only where it belongs: the bundled horses, horse to zebra.
  const model =
    options.dataroot === horse2zebraDemo && options.direction === 'AtoB'
      ? await withShippedModel(tested, test.options.display_winsize, info.name, ctx)
      : null;
  ctx.print('');
  ctx.print(`demo finished in ${((Date.now() - started) / 1000).toFixed(0)} s:`);
  ctx.print(`  checkpoints      ${result.checkpointDir}`);
  if (!options.no_html) ctx.print(`  training page    ${join(result.checkpointDir, 'web', 'index.html')}`);
  ctx.print(`  translated test  ${join(tested.webDir, 'images', 'fake_B')} (${tested.images} images)`);
  if (model) ctx.print(`  shipped model    ${join(tested.webDir, 'images', SHIPPED_LABEL)} (the same photos, whole, by ${model})`);
  ctx.print(`  results page     ${tested.page}`);
  return EXIT.ok;
}

const SHIPPED_LABEL = 'horse2zebra_model';

/**
 * What a longer training gives: the same test photos, whole, translated by the model that comes
 * with cutjs (@cut/model-horse2zebra), in a column beside the demo's own results.
 */
async function withShippedModel(tested: TestResult, width: number, backend: string, ctx: Context): Promise<string> {
  const model = shippedModels()[0]!;
  const loaded = await loadGenerator(model.dir, { epoch: 'latest', overrides: new Map(), note: (l) => ctx.warn(l) });
  try {
    ctx.print(`model: ${model.name} (${model.description}): translating the ${tested.inputs.length} test photos`);
    for (const [i, row] of tested.rows.entries()) {
      const path = `images/${SHIPPED_LABEL}/${row.header}.png`;
      await translateFile(loaded.G, loaded.inputNc, { input: tested.inputs[i]!, output: join(tested.webDir, path) }, { tile: 'auto', backend });
      row.images.splice(2, 0, { path, label: `${model.name} model (cutjs, longer training)` });
    }
    await writeResultsPage(tested.webDir, tested.title, tested.rows, width);
    return `the ${model.name} model`;
  } finally {
    loaded.G.dispose();
  }
}
