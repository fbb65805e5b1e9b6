// Finding and loading a generator checkpoint for `test` and `translate`: a run folder (ours or
// the reference's: train_opt.txt + <epoch>_net_G.pth), one .pth file, or a tfjs model folder.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ResnetGenerator, TFJS_MODEL_FILE, loadNetworkWeights, loadTfjsGenerator, networkOptionsFrom, parseOptionsFile } from '@cut/networks';

export interface LoadedGenerator {
  G: ResnetGenerator;
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
  const hint = available.length ? `; this folder has epochs ${available.sort().join(', ')} (choose one with --epoch)` : '; this folder has no <epoch>_net_G.pth';
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
    if (options.overrides.size) options.note(`${file}: a tfjs model carries its own configuration; ignoring --${[...options.overrides.keys()].join(', --')}`);
    const G = await loadTfjsGenerator(dirname(file));
    return { G, file, configuredBy: file, inputNc: G.options.inputNc, outputNc: G.options.outputNc };
  }
  const optionsFile = join(dirname(file), 'train_opt.txt');
  let raw: Map<string, string>;
  let configuredBy: string;
  if (existsSync(optionsFile)) {
    raw = parseOptionsFile(readFileSync(optionsFile, 'utf8'));
    configuredBy = optionsFile;
  } else {
    raw = new Map();
    configuredBy = 'the default options';
    options.note(`${dirname(file)}: no train_opt.txt; building the generator from the default options and the command line`);
  }
  for (const [k, v] of options.overrides) raw.set(k, v);
  if (options.overrides.size) configuredBy += ` with --${[...options.overrides.keys()].join(', --')} from the command line`;
  const net = networkOptionsFrom(raw, configuredBy);
  // Weights are replaced right away: no need for the random initialisation's draws to mean anything.
  const G = new ResnetGenerator({ ...net.generator, seed: 0 });
  try {
    loadNetworkWeights(G, file);
  } catch (e) {
    G.dispose();
    const g = net.generator;
    throw new Error(
      `${(e as Error).message}\n  (network built from ${configuredBy}: ngf ${g.ngf}, ${g.nBlocks} blocks, input_nc ${g.inputNc}, output_nc ${g.outputNc}` +
        `${g.noAntialias ? ', no_antialias' : ''}${g.noAntialiasUp ? ', no_antialias_up' : ''})`,
      { cause: e },
    );
  }
  return { G, file, configuredBy, inputNc: net.generator.inputNc ?? 3, outputNc: net.generator.outputNc ?? 3 };
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
