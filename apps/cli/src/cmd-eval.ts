// `cutjs eval --real DIR --fake DIR --inception FILE`: FID and KID of generated images against real
// ones, as pytorch-fid (FID) and clean-fid (KID) compute them, from the user's own copy of
// pytorch-fid's Inception weights. Each folder's features are cached by content.
import { join } from 'node:path';
import { fidAndKid, folderFeatures, loadFidInception } from '@cut/trainer';
import { backendFlag, GROUP_TITLES, verboseFlag } from './common-flags.js';
import { backendChoice, boolFlag, intFlag, stringFlag, type Context } from './context.js';
import { FlagTable, UsageError, formatHelp, parseFlags } from './flags.js';
import { cacheDir } from './pretrained.js';

const GROUP = 'Evaluation options';

const USAGE = `Usage: cutjs eval --real <folder> --fake <folder> --inception <pt_inception-2015-12-05-6726825d.pth>

FID (pytorch-fid's) and KID (clean-fid's: mean and standard deviation over random subsets) of the
images in --fake against those in --real, e.g. --real datasets/horse2zebra/testB --fake
results/<name>/test_latest/images/fake_B. Images of any size are resized to 299 as pytorch-fid's
network does. The Inception weights are pytorch-fid's own file, which nothing downloads: get it
once where you have the internet. Features are cached per folder content (and weights) under
$CUT_CACHE_DIR (default ${cacheDir()}), so a second evaluation against the same real set is fast.`;

export function evalFlags(): FlagTable {
  return new FlagTable([
    { name: 'real', kind: 'str', default: '(required)', help: 'the folder of real images (e.g. testB)', group: GROUP },
    { name: 'fake', kind: 'str', default: '(required)', help: 'the folder of generated images (e.g. a results fake_B folder)', group: GROUP },
    {
      name: 'inception',
      kind: 'str',
      default: '(required)',
      help: "pytorch-fid's FID Inception weights, pt_inception-2015-12-05-6726825d.pth",
      group: GROUP,
    },
    { name: 'batch_size', kind: 'int', default: '10', help: 'images per Inception forward (memory and speed only)', group: GROUP },
    { name: 'kid_subsets', kind: 'int', default: '100', help: "KID: random subsets drawn (clean-fid's num_subsets)", group: GROUP },
    { name: 'kid_subset_size', kind: 'int', default: '1000', help: "KID: the largest subset (clean-fid's max_subset_size)", group: GROUP },
    { name: 'seed', kind: 'int', default: '0', help: "KID: the seed of numpy's generator its subsets are drawn from", group: GROUP },
    {
      name: 'no_cache',
      kind: 'bool',
      boolStyle: 'switch',
      default: 'False',
      help: 'compute every feature again, read and write no cache',
      group: GROUP,
    },
    { name: 'json', kind: 'bool', boolStyle: 'switch', default: 'False', help: 'print the result as one JSON object', group: GROUP_TITLES.ours },
    backendFlag,
    verboseFlag,
  ]);
}

export async function evalCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = evalFlags();
  const parsed = parseFlags(argv, table);
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table));
    return 0;
  }
  const real = stringFlag(parsed, 'real', '');
  const fake = stringFlag(parsed, 'fake', '');
  const weights = stringFlag(parsed, 'inception', '');
  for (const [flag, value] of [
    ['real', real],
    ['fake', fake],
  ] as const)
    if (!value) throw new UsageError(`say which folder with --${flag} <folder of images>`);
  if (!weights) throw new UsageError("say where pytorch-fid's Inception weights are with --inception <pt_inception-2015-12-05-6726825d.pth>");
  const positive = (n: number) => (n >= 1 ? null : 'must be at least 1');
  const batchSize = intFlag(parsed, 'batch_size', 10, positive);
  const subsets = intFlag(parsed, 'kid_subsets', 100, positive);
  const maxSubsetSize = intFlag(parsed, 'kid_subset_size', 1000, (n) => (n >= 2 ? null : 'must be at least 2'));
  const seed = intFlag(parsed, 'seed', 0, (n) => (n >= 0 && n <= 0xffffffff ? null : 'must be in [0, 2^32 - 1]'));
  const json = boolFlag(parsed, 'json');
  const cache = boolFlag(parsed, 'no_cache') ? undefined : cacheDir();
  const backend = backendChoice(parsed);

  const started = Date.now();
  await ctx.loadBackend(backend, boolFlag(parsed, 'verbose'));
  const inception = loadFidInception(weights);
  try {
    const sets = [];
    for (const [label, folder] of [
      ['real', real],
      ['fake', fake],
    ] as const) {
      const t = Date.now();
      let last = 0;
      const feats = await folderFeatures(folder, inception, {
        cacheDir: cache,
        batchSize,
        onProgress: (done, total) => {
          // One line per 10 s at most, and the last.
          if (done === total || Date.now() - last > 10_000) {
            if (!json) ctx.print(`  ${label}: ${done}/${total} images`);
            last = Date.now();
          }
        },
      });
      const how = feats.cached ? `from the cache (${join(cache ?? '', 'fid-features')})` : `in ${((Date.now() - t) / 1000).toFixed(1)} s`;
      if (!json) ctx.print(`${label}: ${feats.count} images of ${folder}, features ${how}`);
      sets.push(feats);
    }
    const [r, f] = sets as [(typeof sets)[0], (typeof sets)[0]];
    const result = fidAndKid(r, f, { subsets, maxSubsetSize, seed });
    const seconds = (Date.now() - started) / 1000;
    if (json) {
      ctx.print(
        JSON.stringify({
          fid: result.fid,
          kid: result.kid.mean,
          kid_std: result.kid.std,
          kid_subset_size: result.kid.subsetSize,
          kid_subsets: result.kid.subsets,
          real: result.real,
          fake: result.fake,
          seconds,
        }),
      );
    } else {
      ctx.print(`FID ${result.fid.toFixed(4)}`);
      ctx.print(`KID ${result.kid.mean.toFixed(6)} ± ${result.kid.std.toFixed(6)} (${result.kid.subsets} subsets of ${result.kid.subsetSize})`);
      ctx.print(`(${result.real} real, ${result.fake} generated images; ${seconds.toFixed(1)} s)`);
    }
  } finally {
    inception.net.dispose();
  }
  return 0;
}
