// `cutjs pretrained`: list the CUT authors' pretrained generators, fetch one into the cache, or
// install them from a tarball downloaded by hand. `cutjs translate --pretrained <name>` uses the cache.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringFlag, type Context } from './context.js';
import { shippedModels } from './shipped-models.js';
import { FlagTable, UsageError, formatHelp, parseFlags } from './flags.js';
import { PRETRAINED_MODELS, PRETRAINED_TARBALL, cacheDir, fetchPretrained, installPretrainedFrom, type FetchedModel } from './pretrained.js';

const USAGE = `Usage:
  cutjs pretrained list                       the models (those that come with cutjs first), and which are in the cache
  cutjs pretrained fetch <name>               download a model into the cache (once), print its folder
  cutjs pretrained install --from <file.tar>  unpack ${PRETRAINED_TARBALL.split('/').pop()} downloaded by hand

The CUT authors' generators (one ${PRETRAINED_TARBALL} holds all of them);
'cutjs translate --pretrained <name> photo.jpg' translates with one. The models that come with
cutjs (packages, no download) are used with 'cutjs translate --model <name> photo.jpg'. Cache: $CUT_CACHE_DIR, else ${cacheDir()}.`;

function table(): FlagTable {
  return new FlagTable([
    { name: 'from', kind: 'str', default: '', help: 'a pretrained_models.tar downloaded by hand (install)', group: 'Pretrained options' },
  ]);
}

/** Prints download progress about once per 5% (a terminal gets one redrawn line). */
function progressPrinter(ctx: Context): (received: number, total: number | undefined) => void {
  let shown = -1;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (received, total) => {
    const step = total ? Math.floor((received / total) * 20) : Math.floor(received / 20e6);
    if (step === shown) return;
    shown = step;
    const line = total
      ? `downloading: ${mb(received)} of ${mb(total)} MB (${Math.floor((received / total) * 100)}%)`
      : `downloading: ${mb(received)} MB`;
    if (ctx.io.stderr.isTTY) ctx.io.stderr.write(`\r${line}${total && received >= total ? '\n' : ''}`);
    else ctx.warn(line);
  };
}

/** The cached model `name`, downloading it first if needed, with progress on stderr. */
export async function pretrainedModel(name: string, ctx: Context): Promise<FetchedModel> {
  const got = await fetchPretrained(name, { onProgress: progressPrinter(ctx), note: (line) => ctx.warn(line) });
  if (got.downloaded) ctx.warn(`${name}: saved in ${got.dir}`);
  return got;
}

export async function pretrainedCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const parsed = parseFlags(argv, table(), { positionals: true });
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table()));
    return 0;
  }
  const [action = 'list', ...names] = parsed.positionals;
  if (action === 'list') {
    for (const m of shippedModels()) ctx.print(`${m.name.padEnd(32)}${m.description} (comes with cutjs: translate --model ${m.name})`);
    const root = join(cacheDir(), 'pretrained');
    for (const m of PRETRAINED_MODELS) {
      const here = existsSync(join(root, m.name, 'source.json')) ? ' (in the cache)' : '';
      ctx.print(`${m.name.padEnd(32)}${m.description}${here}`);
    }
    return 0;
  }
  if (action === 'fetch') {
    if (names.length === 0) throw new UsageError(`pretrained fetch: name a model (${PRETRAINED_MODELS.map((m) => m.name).join(', ')})`);
    for (const name of names) ctx.print((await pretrainedModel(name, ctx)).dir);
    return 0;
  }
  if (action === 'install') {
    const from = stringFlag(parsed, 'from', '');
    if (!from) throw new UsageError('pretrained install: --from <file.tar> is required');
    const installed = await installPretrainedFrom(from);
    if (installed.length === 0) throw new Error(`${from}: holds none of the pretrained generators (expected checkpoints/<name>/latest_net_G.pth)`);
    ctx.print(`installed ${installed.join(', ')} into ${join(cacheDir(), 'pretrained')}`);
    return 0;
  }
  throw new UsageError(`pretrained: unknown action '${action}' (list, fetch or install)`);
}
