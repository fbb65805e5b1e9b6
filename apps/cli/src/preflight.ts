// Checks a dataset before training starts, so that a bad file stops the run at once with its
// name instead of hours later in the middle of an epoch.
import sharp from 'sharp';
import { PREPROCESS_MODES, UnalignedDataset, minimumSide, outputSize, resizedSize, sideProblem, type CUTOptions, type PreprocessMode } from '@cut/trainer';

export interface DatasetSummary {
  dataset: UnalignedDataset;
  /** Files checked (A and B). */
  checked: number;
}

/** Decodes a file at a reduced size: reads the whole compressed stream (a truncated JPEG fails) at little cost. */
async function probe(file: string): Promise<{ width: number; height: number }> {
  const meta = await sharp(file).metadata();
  await sharp(file).resize(16, 16, { fit: 'inside' }).raw().toBuffer();
  if (!meta.width || !meta.height) throw new Error('no image size in the file');
  return { width: meta.width, height: meta.height };
}

/** Why `file` cannot go through the training transform, or null. */
async function checkImage(file: string, o: CUTOptions): Promise<string | null> {
  let size: { width: number; height: number };
  try {
    size = await probe(file);
  } catch (e) {
    return `${file}: not a readable image (${(e as Error).message.split('\n')[0]})`;
  }
  const preprocess = o.preprocess as PreprocessMode;
  if (preprocess.endsWith('crop')) {
    const [w, h] = resizedSize(size.width, size.height, { preprocess, loadSize: o.load_size, cropSize: o.crop_size, finetune: false });
    if (w < o.crop_size || h < o.crop_size) {
      const resized = w !== size.width || h !== size.height ? ` (resized to ${w}x${h})` : '';
      return `${file}: image is ${size.width}x${size.height}${resized}, smaller than crop_size ${o.crop_size}x${o.crop_size} (preprocess '${preprocess}')`;
    }
  } else {
    // Without a crop the networks get the whole image (sides rounded to multiples of 4).
    const [w, h] = outputSize(size.width, size.height, { preprocess, loadSize: o.load_size, cropSize: o.crop_size, finetune: false });
    const why = Math.min(w, h) < 4 ? 'a side rounds to 0 pixels' : (sideProblem(h, o) ?? sideProblem(w, o));
    if (why) {
      const as = w !== size.width || h !== size.height ? ` (${w}x${h} as the networks get it with --preprocess ${preprocess})` : '';
      return `${file}: image is ${size.width}x${size.height}${as}, too small: ${why}; these networks need at least ${minimumSide(o)} pixels a side`;
    }
  }
  return null;
}

/**
 * Lists `<dataroot>/<phase>A` and `<phase>B` as the trainer will, then decodes every image
 * (at a reduced size) and checks it against the crop. Throws one error listing the bad files.
 */
export async function checkDataset(o: CUTOptions, onProgress?: (done: number, total: number) => void): Promise<DatasetSummary> {
  if (!PREPROCESS_MODES.includes(o.preprocess as PreprocessMode)) {
    throw new Error(`--preprocess: '${o.preprocess}' is not supported (${PREPROCESS_MODES.join(', ')})`);
  }
  const dataset = await UnalignedDataset.create({ ...o, isTrain: o.phase === 'train' });
  const files = [...new Set([...dataset.pathsA, ...dataset.pathsB])];
  const problems: string[] = [];
  let next = 0;
  let done = 0;
  // A few at a time: sharp decodes on libuv's threads.
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      const problem = await checkImage(file, o);
      if (problem) problems.push(problem);
      onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  if (problems.length) {
    problems.sort();
    const shown = problems.slice(0, 10).map((p) => `  ${p}`);
    if (problems.length > 10) shown.push(`  ... and ${problems.length - 10} more`);
    throw new Error(`${problems.length} of ${files.length} images cannot be used:\n${shown.join('\n')}`);
  }
  return { dataset, checked: files.length };
}
