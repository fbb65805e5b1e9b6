// Checkpoint files on disk: @cut/networks encodes and decodes the bytes (so that it runs in a
// browser); this reads and writes the files, atomically, for the trainer and the CLI.
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import {
  PthError,
  TFJS_MODEL_FILE,
  TFJS_WEIGHTS_FILE,
  encodeNetworkWeights,
  encodePatchSamplerWeights,
  encodePth,
  loadCheckpoint,
  loadNetworkWeights as loadNetworkWeightsFrom,
  loadPatchSamplerWeights as loadPatchSamplerWeightsFrom,
  readPth,
  tfjsModelArtifacts,
  tfjsWeightFiles,
  type ByteSource,
  type CutNetwork,
  type PatchSamplerConfig,
  type PatchSamplerWeights,
  type Network,
  type ReferenceCheckpoint,
  type SaveWeightsOptions,
  type StateDict,
  type TfjsModelFiles,
  type WritableTensor,
  type WritePthOptions,
} from '@cut/networks';
import { writeFileAtomic } from './atomic.js';

export { copyFileAtomic, fsyncDir, writeFileAtomic } from './atomic.js';

/** model.json is a few KB; a much larger one is not ours. */
const MAX_MODEL_JSON_BYTES = 16 * 2 ** 20;

/** An open regular file (a FIFO or device is refused without blocking on it) and its size. */
function openRegularFile(path: string): { fd: number; size: number } {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
  }
  return { fd, size: stat.size };
}

/** Exactly `size` bytes from the start of `fd`. */
function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const n = readSync(fd, buf, done, size - done, done);
    if (n === 0) throw new Error(`the file ended at byte ${done} of ${size} (it changed while being read?)`);
    done += n;
  }
  return buf;
}

/**
 * Runs `use` with random access to the file's bytes (read as needed, so a large checkpoint is
 * not read whole); errors name the file.
 */
function withFileSource<T>(path: string, use: (source: ByteSource) => T): T {
  let fd: number;
  let size: number;
  try {
    ({ fd, size } = openRegularFile(path));
  } catch (e) {
    throw new PthError(path, `cannot read the file (${(e as Error).message})`, { cause: e });
  }
  try {
    const source: ByteSource = {
      size,
      read(offset, length) {
        const buf = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const n = readSync(fd, buf, done, length - done, offset + done);
          if (n === 0) throw new Error(`file ended at byte ${offset + done} while reading (it changed while being read?)`);
          done += n;
        }
        return buf;
      },
    };
    return use(source);
  } finally {
    closeSync(fd);
  }
}

/** Reads a state_dict checkpoint file (`readPth` of @cut/networks on the file). */
export function readPthFile(path: string): StateDict {
  return withFileSource(path, (source) => readPth(source, { name: path }));
}

/**
 * Writes `entries` (in order) as a state_dict checkpoint that `torch.load` reads. Atomic: the file
 * is written beside the target, flushed to disk, then renamed over it.
 */
export function writePth(path: string, entries: Iterable<readonly [string, WritableTensor]>, options: WritePthOptions = {}): void {
  let bytes: Uint8Array;
  try {
    bytes = encodePth(entries, options);
  } catch (e) {
    throw new PthError(path, (e as Error).message, { cause: e });
  }
  writePthBytes(path, bytes);
}

function writePthBytes(path: string, bytes: Uint8Array): void {
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    const cause = (e as Error).cause as Error | undefined;
    throw new PthError(path, `cannot write the checkpoint (${(cause ?? (e as Error)).message})`, { cause: e });
  }
}

/** Loads a `<epoch>_net_G.pth` / `_net_D.pth` file into a network built with the matching options (strict). */
export function loadNetworkWeights(net: Network, path: string): void {
  withFileSource(path, (source) => loadNetworkWeightsFrom(net, source, { name: path }));
}

/** Loads a `<epoch>_net_F.pth` file into netF. */
export function loadPatchSamplerWeights(f: PatchSamplerWeights, path: string): void {
  withFileSource(path, (source) => loadPatchSamplerWeightsFrom(f, source, { name: path }));
}

/** Writes the network as the reference's `<epoch>_net_G.pth` / `_net_D.pth` (atomically). */
export async function saveNetworkWeights(net: Network, path: string, options: SaveWeightsOptions = {}): Promise<void> {
  writePthBytes(path, await encodeNetworkWeights(net, options));
}

/** Writes netF as the reference's `<epoch>_net_F.pth` (atomically). */
export async function savePatchSamplerWeights(f: PatchSamplerWeights, path: string, options: SaveWeightsOptions = {}): Promise<void> {
  writePthBytes(path, await encodePatchSamplerWeights(f, options));
}

export interface LoadReferenceCheckpointOptions<F extends PatchSamplerWeights> {
  /** Which checkpoint: `latest` (default), an epoch number, or `iter_<n>`: files `<epoch>_net_<G|D|F>.pth`. */
  epoch?: string | number;
  /** The run's options (a parsed map, or an options file's text) instead of `<dir>/train_opt.txt`. */
  options?: ReadonlyMap<string, string> | string;
  /** Builds netF, e.g. `(c) => createFeatureHead(c.netF, c)`; without it the F file is left unread. */
  createPatchSampler?: (config: PatchSamplerConfig) => F;
}

/**
 * Loads a run folder written by the reference (`checkpoints/<name>/`, or ours in the same
 * format) with `loadCheckpoint` of @cut/networks: G (required), D and F when their files exist,
 * configured by the folder's train_opt.txt (required unless `options` are given).
 */
export function loadReferenceCheckpoint<F extends PatchSamplerWeights = PatchSamplerWeights>(
  dir: string,
  options: LoadReferenceCheckpointOptions<F> = {},
): ReferenceCheckpoint<F> {
  const epoch = String(options.epoch ?? 'latest');
  let optionsText: string | ReadonlyMap<string, string>;
  let optionsName: string;
  if (options.options === undefined) {
    optionsName = join(dir, 'train_opt.txt');
    if (!existsSync(optionsName)) {
      throw new Error(`${dir}: no train_opt.txt, so the network configuration is unknown (pass it as the 'options' option)`);
    }
    try {
      const { fd, size } = openRegularFile(optionsName);
      try {
        // An options file is a few KB (a link to a device or a huge file is not one).
        if (size > 2 ** 20) throw new Error(`${size} bytes, too large for an options file`);
        optionsText = readAll(fd, size).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new Error(`${optionsName}: cannot read the options (${(e as Error).message})`, { cause: e });
    }
  } else {
    optionsText = options.options;
    optionsName = `options given for ${dir}`;
  }
  const file = (which: 'G' | 'D' | 'F') => join(dir, `${epoch}_net_${which}.pth`);
  if (!existsSync(file('G'))) throw new Error(`${file('G')}: no such checkpoint (epoch '${epoch}')`);
  const read = (path: string) => {
    try {
      const { fd, size } = openRegularFile(path);
      try {
        return readAll(fd, size);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new PthError(path, `cannot read the file (${(e as Error).message})`, { cause: e });
    }
  };
  const has = (which: 'D' | 'F') => existsSync(file(which));
  return loadCheckpoint(
    {
      G: read(file('G')),
      D: has('D') ? read(file('D')) : undefined,
      // F's bytes are only read when netF is to be built.
      F: has('F') ? (options.createPatchSampler ? read(file('F')) : new Uint8Array()) : undefined,
      options: optionsText,
      names: { G: file('G'), D: file('D'), F: file('F'), options: optionsName },
    },
    { createPatchSampler: options.createPatchSampler },
  );
}

/** Writes `<dir>/model.json` and `<dir>/weights.bin` (each atomically; the folder is created). */
export async function saveTfjsModel(net: CutNetwork, dir: string): Promise<{ modelJson: string; weights: string }> {
  const { modelJson, weights } = await tfjsModelArtifacts(net);
  mkdirSync(dir, { recursive: true });
  const paths = { modelJson: join(dir, TFJS_MODEL_FILE), weights: join(dir, TFJS_WEIGHTS_FILE) };
  // Weights first: a model.json never points at weights that are not there yet.
  writeFileAtomic(paths.weights, new Uint8Array(weights));
  writeFileAtomic(paths.modelJson, `${JSON.stringify(modelJson, null, 1)}\n`);
  return paths;
}

/**
 * A tfjs model folder's files (`model.json` and the weight files it names), for `loadTfjsModel` of
 * @cut/networks. The folder may come from a stranger: every weight path must stay inside it (no
 * `..`, no absolute path, no link that leads out), name a regular file, and the files' sizes must
 * be what the manifest's weights need, all checked before any weight byte is read.
 */
export function readTfjsModelDir(dir: string): TfjsModelFiles {
  const jsonPath = join(dir, TFJS_MODEL_FILE);
  let text: string;
  try {
    const { fd, size } = openRegularFile(jsonPath);
    try {
      if (size > MAX_MODEL_JSON_BYTES) throw new Error(`${size} bytes, more than a model.json of ours can have`);
      text = readAll(fd, size).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new Error(`${jsonPath}: cannot read the model (${(e as Error).message})`, { cause: e });
  }
  const { modelJson, groups } = tfjsWeightFiles(text, jsonPath);
  const folder = realpathSync(dir);
  const opened: { fd: number; size: number }[] = [];
  try {
    for (const [i, group] of groups.entries()) {
      let total = 0;
      for (const path of group.paths) {
        const refuse = (why: string, cause?: unknown) => new Error(`${jsonPath}: weight file '${path}' ${why}`, { cause });
        let real: string;
        try {
          real = realpathSync(join(dir, path));
        } catch (e) {
          throw refuse(`cannot be read (${(e as { code?: string }).code ?? (e as Error).message})`, e);
        }
        if (!real.startsWith(folder + sep)) throw refuse("is a link that leads out of the model's folder; only files inside it are read");
        try {
          opened.push(openRegularFile(real));
        } catch (e) {
          const code = (e as { code?: string }).code;
          throw refuse(code === 'ENOTFILE' ? 'is not a regular file' : `cannot be read (${code ?? (e as Error).message})`, e);
        }
        total += opened[opened.length - 1]!.size;
      }
      if (total !== group.bytes) {
        const files = group.paths.map((p) => `'${p}'`).join(', ');
        throw new Error(
          `${jsonPath}: the weight file${group.paths.length > 1 ? 's' : ''} ${files}${groups.length > 1 ? ` (group ${i + 1})` : ''} ` +
            `hold${group.paths.length > 1 ? '' : 's'} ${total} bytes, the manifest's weights need ${group.bytes} (a damaged or partial download?)`,
        );
      }
    }
    const weights = opened.map(({ fd, size }) => {
      const bytes = readAll(fd, size);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    });
    return { modelJson, weights, name: jsonPath };
  } finally {
    for (const { fd } of opened) closeSync(fd);
  }
}
