// Tests only: the checkpoint files read and written through this package's byte-level API
// (@cut/files does the same for real, atomically; it sits above this package, so tests here
// cannot import it).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  TFJS_MODEL_FILE,
  TFJS_WEIGHTS_FILE,
  encodeNetworkWeights,
  encodePatchSamplerWeights,
  encodePth,
  loadCheckpoint,
  loadNetworkWeights as loadNetworkBytes,
  loadPatchSamplerWeights as loadPatchSamplerBytes,
  readPth as readPthBytes,
  readPthArchive as readPthArchiveBytes,
  tfjsModelArtifacts,
  type CutNetwork,
  type LoadCheckpointOptions,
  type PatchSamplerWeights,
  type SaveWeightsOptions,
  type Network,
  type WritableTensor,
  type WritePthOptions,
} from './index.js';

const read = (source: string | Uint8Array) => (typeof source === 'string' ? readFileSync(source) : source);
const named = (source: string | Uint8Array, name?: string) => ({ name: typeof source === 'string' ? source : name });

export const readPth = (source: string | Uint8Array, o: { name?: string } = {}) => readPthBytes(read(source), named(source, o.name));
export const readPthArchive = (source: string | Uint8Array, o: { name?: string } = {}) => readPthArchiveBytes(read(source), named(source, o.name));
export const writePth = (path: string, entries: Iterable<readonly [string, WritableTensor]>, options?: WritePthOptions) =>
  writeFileSync(path, encodePth(entries, options));
export const loadNetworkWeights = (net: Network, source: string | Uint8Array, o: { name?: string } = {}) =>
  loadNetworkBytes(net, read(source), named(source, o.name));
export const loadPatchSamplerWeights = (f: PatchSamplerWeights, source: string | Uint8Array, o: { name?: string } = {}) =>
  loadPatchSamplerBytes(f, read(source), named(source, o.name));
export const saveNetworkWeights = async (net: Network, path: string, options?: SaveWeightsOptions) =>
  writeFileSync(path, await encodeNetworkWeights(net, options));
export const savePatchSamplerWeights = async (f: PatchSamplerWeights, path: string, options?: SaveWeightsOptions) =>
  writeFileSync(path, await encodePatchSamplerWeights(f, options));

/** A run folder's `latest` G, D and F with its train_opt.txt (or `options`), through `loadCheckpoint`. */
export function loadRunFolder<F extends PatchSamplerWeights>(
  dir: string,
  options: LoadCheckpointOptions<F> & { options?: string | ReadonlyMap<string, string> } = {},
) {
  const file = (which: string) => join(dir, `latest_net_${which}.pth`);
  return loadCheckpoint(
    {
      G: readFileSync(file('G')),
      D: readFileSync(file('D')),
      F: readFileSync(file('F')),
      options: options.options ?? readFileSync(join(dir, 'train_opt.txt'), 'utf8'),
      names: { G: file('G'), D: file('D'), F: file('F'), options: options.options ? undefined : join(dir, 'train_opt.txt') },
    },
    options,
  );
}

export async function saveTfjsModel(net: CutNetwork, dir: string) {
  const { modelJson, weights } = await tfjsModelArtifacts(net);
  mkdirSync(dir, { recursive: true });
  const paths = { modelJson: join(dir, TFJS_MODEL_FILE), weights: join(dir, TFJS_WEIGHTS_FILE) };
  writeFileSync(paths.weights, new Uint8Array(weights));
  writeFileSync(paths.modelJson, JSON.stringify(modelJson));
  return paths;
}

export const readTfjsModelDir = (dir: string) => ({
  modelJson: readFileSync(join(dir, TFJS_MODEL_FILE), 'utf8'),
  weights: new Uint8Array(readFileSync(join(dir, TFJS_WEIGHTS_FILE))),
  name: join(dir, TFJS_MODEL_FILE),
});
