// Finding and loading a generator checkpoint for `test` and `translate`: a run folder (ours or
// the reference's: train_opt.txt + <epoch>_net_G.pth), one .pth file, or a tfjs model folder.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TFJS_MODEL_FILE, loadCheckpoint, loadTfjsGenerator, type Generator } from '@cut/networks';
import { readTfjsModelDir } from '@cut/files';

export interface LoadedGenerator {
  G: Generator;
  /** The weights file read. */
  file: string;
  /** What the network's configuration came from, for messages. */
  configuredBy: string;
  inputNc: number;
  outputNc: number;
}

export interface LoadGeneratorOptions {
  /** `latest`, an epoch number or `iter_<n>` (for folders). */
  epoch: string;
  /** Options given on the command line that override train_opt.txt, as the reference prints them ('True', '16'). */
  overrides: ReadonlyMap<string, string>;
  /** Hears notes (no train_opt.txt, ignored overrides). */
  note: (line: string) => void;
}

/** The weights file `path` stands for; errors name what was looked for and what is there. */
export function resolveGeneratorFile(path: string, epoch: string): string {
  const info = statOrUndefined(path);
  if (!info) throw new Error(`${path}: no such checkpoint file or folder`);
  if (!info.isDirectory()) return path;
  const file = join(path, `${epoch}_net_G.pth`);
  if (existsSync(file)) return file;
  if (existsSync(join(path, TFJS_MODEL_FILE))) return join(path, TFJS_MODEL_FILE);
  const available = readdirSync(path)
    .map((f) => /^(.+)_net_G\.pth$/.exec(f)?.[1])
    .filter((e): e is string => e !== undefined);
  const hint = available.length
    ? `; this folder has epochs ${available.sort().join(', ')} (choose one with --epoch)`
    : '; this folder has no <epoch>_net_G.pth';
  throw new Error(`${file}: no such checkpoint (epoch '${epoch}')${hint}`);
}

/**
 * Builds the generator a checkpoint was trained with and loads its weights strictly. The
 * configuration is the train_opt.txt beside the weights with `overrides` on top; without
 * train_opt.txt, the reference's defaults with `overrides` (what its test.py does: it never reads
 * train_opt.txt). A tfjs model folder carries its own configuration.
 */
export async function loadGenerator(path: string, options: LoadGeneratorOptions): Promise<LoadedGenerator> {
  const file = resolveGeneratorFile(path, options.epoch);
  if (basename(file) === TFJS_MODEL_FILE) {
    if (options.overrides.size)
      options.note(`${file}: a tfjs model carries its own configuration; ignoring --${[...options.overrides.keys()].join(', --')}`);
    const G = await loadTfjsGenerator(readTfjsModelDir(dirname(file)));
    return { G, file, configuredBy: file, inputNc: G.inputChannels, outputNc: G.outputChannels };
  }
  const optionsFile = join(dirname(file), 'train_opt.txt');
  let optionsText: string | undefined;
  if (existsSync(optionsFile)) optionsText = readFileSync(optionsFile, 'utf8');
  else options.note(`${dirname(file)}: no train_opt.txt; building the generator from the default options and the command line`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read the checkpoint (${(e as Error).message})`, { cause: e });
  }
  // The one loader of @cut/networks (the trainer's and the web page's too), on the file's bytes.
  const ck = loadCheckpoint(
    { G: bytes, options: optionsText, names: { G: file, options: optionsFile } },
    { overrides: options.overrides, overridesFrom: 'the command line' },
  );
  return { G: ck.G, file, configuredBy: ck.configuredBy, inputNc: ck.G.inputChannels, outputNc: ck.G.outputChannels };
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
