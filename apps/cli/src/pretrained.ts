// The CUT authors' pretrained generators (horse2zebra, cat2dog, cityscapes; CUT and FastCUT),
// fetched once by name into the user's cache folder: streamed to disk with progress, checked for
// size (and checksum where one is known), then the generators are taken out of the tarball.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readPth } from '@cut/networks';
import { writeFileAtomic } from '@cut/files';
import { readTarEntries } from './tar.js';

/** One pretrained generator: where it lies inside which tarball, and how it was trained. */
export interface PretrainedModel {
  name: string;
  description: string;
  /** The tarball that holds it (one download serves every model inside it). */
  url: string;
  /** Its weights' path inside the tarball. */
  member: string;
  /** The flags it was trained with that shape the generator (the rest are the reference's defaults). */
  options: Readonly<Record<string, string>>;
}

/** The reference README's download (experiments/pretrained_launcher.py lists how each was trained). */
export const PRETRAINED_TARBALL = 'http://efrosgans.eecs.berkeley.edu/CUT/pretrained_models.tar';

const official = (name: string, description: string, mode: 'CUT' | 'FastCUT', extra: Record<string, string> = {}): PretrainedModel => ({
  name,
  description,
  url: PRETRAINED_TARBALL,
  member: `checkpoints/${name}/latest_net_G.pth`,
  options: { CUT_mode: mode, netG: 'resnet_9blocks', ngf: '64', normG: 'instance', no_dropout: 'True', ...extra },
});

export const PRETRAINED_MODELS: readonly PretrainedModel[] = [
  official('horse2zebra_cut_pretrained', "horses to zebras, CUT (the paper's FID 45.5)", 'CUT'),
  official('horse2zebra_fastcut_pretrained', 'horses to zebras, FastCUT', 'FastCUT'),
  official('cat2dog_cut_pretrained', 'cats to dogs (AFHQ), CUT', 'CUT'),
  official('cat2dog_fastcut_pretrained', 'cats to dogs (AFHQ), FastCUT', 'FastCUT'),
  official('cityscapes_cut_pretrained', 'Cityscapes labels to photos (direction BtoA), CUT', 'CUT', { direction: 'BtoA' }),
  official('cityscapes_fastcut_pretrained', 'Cityscapes labels to photos (direction BtoA), FastCUT', 'FastCUT', { direction: 'BtoA' }),
];

/** The user's cache folder for cutjs: CUT_CACHE_DIR, else the platform's convention. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CUT_CACHE_DIR) return env.CUT_CACHE_DIR;
  if (process.platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'cutjs', 'Cache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'cutjs');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cutjs');
}

export interface FetchPretrainedOptions {
  /** Default: `cacheDir()`. */
  cacheDir?: string;
  /** The catalog to look names up in (tests serve their own tarball). */
  models?: readonly PretrainedModel[];
  /** Where to download the tarball from instead of the authors' host (a mirror): default $CUT_PRETRAINED_URL. */
  url?: string;
  /** Expected SHA-256 (hex) of each tarball by URL; a download that differs is refused. */
  checksums?: Readonly<Record<string, string>>;
  /** Hears download progress (bytes so far, total when the server says it). */
  onProgress?: (received: number, total: number | undefined) => void;
  /** Hears one-line notes (what is downloaded, where it goes). */
  note?: (line: string) => void;
  /** No data for this long aborts the download (default 60 s). */
  stallMs?: number;
}

export interface FetchedModel {
  model: PretrainedModel;
  /** A run folder `cutjs translate`/`test` loads: latest_net_G.pth and train_opt.txt. */
  dir: string;
  /** False when it came from the cache. */
  downloaded: boolean;
}

/** The model of this name, or an error listing the names there are. */
export function findPretrained(name: string, models: readonly PretrainedModel[] = PRETRAINED_MODELS): PretrainedModel {
  const model = models.find((m) => m.name === name);
  if (!model) throw new Error(`no pretrained model '${name}' (there are: ${models.map((m) => m.name).join(', ')})`);
  return model;
}

const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

interface CacheRecord {
  url: string;
  member: string;
  sha256: string;
  bytes: number;
}

/** The cached model folder when it is complete and unchanged since it was written. */
function cached(dir: string, model: PretrainedModel): boolean {
  try {
    const rec = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8')) as CacheRecord;
    const weights = join(dir, 'latest_net_G.pth');
    return rec.member === model.member && statSync(weights).size === rec.bytes && sha256File(weights) === rec.sha256;
  } catch {
    return false;
  }
}

/** train_opt.txt in the reference's layout, so the folder loads like any run folder. */
function trainOptText(model: PretrainedModel): string {
  const lines = Object.entries({ name: model.name, ...model.options }).map(([k, v]) => `${k.padStart(25)}: ${v}`);
  return ['----------------- Options ---------------', ...lines, '----------------- End -------------------', ''].join('\n');
}

/**
 * The pretrained generator `name`, from the cache or downloaded into it. A download goes to a
 * `.part` file, is checked (complete, checksum where known), and only then unpacked; every model
 * the tarball holds is kept, so the others need no second download.
 */
export async function fetchPretrained(name: string, options: FetchPretrainedOptions = {}): Promise<FetchedModel> {
  const models = options.models ?? PRETRAINED_MODELS;
  const model = findPretrained(name, models);
  const root = join(options.cacheDir ?? cacheDir(), 'pretrained');
  const dir = join(root, model.name);
  if (cached(dir, model)) return { model, dir, downloaded: false };

  const url = options.url ?? (process.env.CUT_PRETRAINED_URL || model.url);
  mkdirSync(join(root, 'downloads'), { recursive: true });
  const tarball = join(root, 'downloads', model.url.split('/').pop() || 'download.tar');
  const part = `${tarball}.part`;
  options.note?.(`downloading ${url} into ${root}`);
  const digest = await download(url, part, options);
  const expected = options.checksums?.[model.url];
  if (expected && digest !== expected.toLowerCase()) {
    rmSync(part, { force: true });
    throw new Error(
      `${url}: the download's SHA-256 is ${digest}, expected ${expected}: the file is damaged or not the published one (removed; try again)`,
    );
  }
  renameSync(part, tarball);
  try {
    await unpack(
      tarball,
      models.filter((m) => m.url === model.url),
      root,
      url,
    );
  } finally {
    rmSync(tarball, { force: true });
  }
  if (!cached(dir, model)) throw new Error(`${url}: the tarball has no ${model.member}`);
  return { model, dir, downloaded: true };
}

/** Takes each model's weights out of the tarball into `<root>/<name>/`, with train_opt.txt and a source record. */
async function unpack(tarball: string, models: readonly PretrainedModel[], root: string, source: string): Promise<void> {
  const byMember = new Map(models.map((m) => [m.member.replace(/^\.\//, ''), m]));
  await readTarEntries(
    tarball,
    (path) => byMember.has(path.replace(/^\.\//, '')),
    (path, data) => {
      const model = byMember.get(path.replace(/^\.\//, ''))!;
      // Every storage is CRC-checked as it is read: a damaged download is refused before it is kept.
      try {
        readPth(data);
      } catch (e) {
        throw new Error(`${source}: ${path} is damaged (${(e as Error).message}); it was not kept, try again`, { cause: e });
      }
      const dir = join(root, model.name);
      mkdirSync(dir, { recursive: true });
      writeFileAtomic(join(dir, 'latest_net_G.pth'), data);
      writeFileAtomic(join(dir, 'train_opt.txt'), trainOptText(model));
      const rec: CacheRecord = { url: model.url, member: model.member, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
      writeFileAtomic(join(dir, 'source.json'), `${JSON.stringify(rec, null, 2)}\n`);
    },
  );
}

// Errors that mean "no network here", as Node's fetch reports them in `cause.code`.
const OFFLINE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Streams `url` into `dest`; returns the SHA-256 (hex) of what was received. Checks the size the server announced. */
async function download(url: string, dest: string, options: FetchPretrainedOptions): Promise<string> {
  const host = new URL(url).host;
  const controller = new AbortController();
  const stallMs = options.stallMs ?? 60_000;
  let stall = setTimeout(() => controller.abort(), stallMs);
  const alive = () => {
    clearTimeout(stall);
    stall = setTimeout(() => controller.abort(), stallMs);
  };
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal });
  } catch (e) {
    clearTimeout(stall);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? '';
    // Node's fetch says only "fetch failed"; its cause says why (a code, or e.g. "bad port").
    const why = controller.signal.aborted ? `no answer in ${stallMs / 1000} s` : code || cause?.message || (e as Error).message;
    const offline = controller.signal.aborted || OFFLINE_CODES.has(code);
    throw new Error(
      `cannot download ${url}: ${why}.` +
        (offline
          ? ` Is this machine offline, or is ${host} blocked here? Download it elsewhere and install it with 'cutjs pretrained install --from <file>'.`
          : ''),
      { cause: e },
    );
  }
  if (!response.ok || !response.body) {
    clearTimeout(stall);
    throw new Error(`cannot download ${url}: the server answered ${response.status} ${response.statusText}`);
  }
  const announced = Number(response.headers.get('content-length'));
  const total = Number.isFinite(announced) && announced > 0 ? announced : undefined;
  const hash = createHash('sha256');
  const out = createWriteStream(dest);
  let received = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      alive();
      received += chunk.length;
      if (total !== undefined && received > total) throw new Error(`the server sent more than the ${total} bytes it announced`);
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      options.onProgress?.(received, total);
    }
  } catch (e) {
    out.destroy();
    rmSync(dest, { force: true });
    const why = controller.signal.aborted ? `no data for ${stallMs / 1000} s` : (e as Error).message;
    throw new Error(`download of ${url} broke off after ${received}${total ? ` of ${total}` : ''} bytes (${why}); nothing kept, try again`, {
      cause: e,
    });
  } finally {
    clearTimeout(stall);
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  if (total !== undefined && received !== total) {
    rmSync(dest, { force: true });
    throw new Error(`download of ${url} is truncated: ${received} of ${total} bytes; nothing kept, try again`);
  }
  return hash.digest('hex');
}

/** Installs models from a tarball the user downloaded by hand (the same checks, no network). */
export async function installPretrainedFrom(file: string, options: FetchPretrainedOptions & { url?: string } = {}): Promise<string[]> {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  const url = options.url ?? PRETRAINED_TARBALL;
  const expected = options.checksums?.[url];
  if (expected) {
    const digest = await new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(file)
        .on('data', (c) => h.update(c))
        .on('end', () => resolve(h.digest('hex')))
        .on('error', reject);
    });
    if (digest !== expected.toLowerCase()) throw new Error(`${file}: SHA-256 ${digest}, expected ${expected} (not the published ${url})`);
  }
  const models = (options.models ?? PRETRAINED_MODELS).filter((m) => m.url === url);
  const root = join(options.cacheDir ?? cacheDir(), 'pretrained');
  await unpack(file, models, root, file);
  return models.filter((m) => cached(join(root, m.name), m)).map((m) => m.name);
}
