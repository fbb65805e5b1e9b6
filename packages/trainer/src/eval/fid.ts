// FID and KID of image folders (the reference's users run pytorch-fid by hand on test results;
// `cutjs eval` and training's --eval_freq run this): pytorch-fid's FID Inception loaded from the
// user's weights file, features cached per folder content, Fréchet distance and clean-fid's KID.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage, listImages, writeFileAtomic } from '@cut/files';
import {
  FID_WEIGHTS_FILE,
  FID_WEIGHTS_URL,
  FidInception,
  frechetDistance,
  kernelDistance,
  type FeatureSet,
  type KidOptions,
  type RgbImage,
} from '@cut/metrics';

/** The FID Inception and a fingerprint of its weights (part of every feature cache key). */
export interface LoadedInception {
  net: FidInception;
  file: string;
  sha256: string;
}

/** Reads pytorch-fid's weights file; errors name the file and say where pytorch-fid documents it. */
export function loadFidInception(file: string): LoadedInception {
  if (!existsSync(file)) {
    throw new Error(
      `${file}: no such file. FID needs pytorch-fid's Inception weights, ${FID_WEIGHTS_FILE} (~92 MB, ${FID_WEIGHTS_URL}); nothing downloads it for you: fetch it where you have the internet and give its path.`,
    );
  }
  if (statSync(file).isDirectory()) throw new Error(`${file}: is a folder; give the path of ${FID_WEIGHTS_FILE}`);
  const bytes = readFileSync(file);
  const net = FidInception.fromPth(bytes, file);
  return { net, file, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export interface FolderFeaturesOptions {
  /** Where features are kept between runs (keyed by the weights and every image's bytes); none: no cache. */
  cacheDir?: string;
  batchSize?: number;
  /** Progress: images done, total. */
  onProgress?: (done: number, total: number) => void;
  /** At least this many images (default 2: a covariance needs two). */
  minImages?: number;
}

export interface FolderFeatures extends FeatureSet {
  folder: string;
  /** Read from the cache instead of computed. */
  cached: boolean;
}

/** The FID Inception features of every image in a folder (sorted by name), from the cache when the same weights saw the same files. */
export async function folderFeatures(folder: string, inception: LoadedInception, options: FolderFeaturesOptions = {}): Promise<FolderFeatures> {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new Error(`${folder}: no such folder of images`);
  const files = await listImages(folder);
  const minImages = options.minImages ?? 2;
  if (files.length < minImages) {
    throw new Error(`${folder}: ${files.length} image(s); FID and KID need at least ${minImages} (papers use the whole test set, 100+)`);
  }
  const key = createHash('sha256').update(`fid-inception-pool3 ${inception.sha256}\n`);
  for (const f of files) key.update(`${f.slice(folder.length)}\n`).update(await readFile(f));
  const digest = key.digest('hex');
  const cacheFile = options.cacheDir ? join(options.cacheDir, 'fid-features', `${digest}.f32`) : undefined;
  if (cacheFile && existsSync(cacheFile)) {
    const bytes = readFileSync(cacheFile);
    const dim = bytes.length / 4 / files.length;
    if (Number.isInteger(dim) && dim > 0) {
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      options.onProgress?.(files.length, files.length);
      return { folder, count: files.length, dim, data, cached: true };
    }
  }
  const images: RgbImage[] = [];
  for (const f of files) images.push(await decodeImage(f));
  const feats = await inception.net.featuresOf(images, { batchSize: options.batchSize, onProgress: options.onProgress });
  if (cacheFile && options.cacheDir) {
    mkdirSync(join(options.cacheDir, 'fid-features'), { recursive: true });
    writeFileAtomic(cacheFile, new Uint8Array(feats.data.buffer, feats.data.byteOffset, feats.data.byteLength));
  }
  return { ...feats, folder, cached: false };
}

export interface FidKid {
  fid: number;
  kid: { mean: number; std: number; subsetSize: number; subsets: number };
  real: number;
  fake: number;
}

/** FID and KID between real and generated features (pytorch-fid's and clean-fid's definitions). */
export function fidAndKid(real: FeatureSet, fake: FeatureSet, kid: KidOptions = {}): FidKid {
  const fid = frechetDistance(real, fake).value;
  const k = kernelDistance(real, fake, kid);
  return { fid, kid: { mean: k.mean, std: k.std, subsetSize: k.subsetSize, subsets: k.values.length }, real: real.count, fake: fake.count };
}
