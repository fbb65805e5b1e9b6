// Checks a dataset before training starts, so that a bad file stops the run at once with its
// name instead of hours later in the middle of an epoch.
import { PREPROCESS_MODES, UnalignedDataset, minimumSide, outputSize, probeImage, resizedSize, sideProblem, type CUTOptions, type PreprocessMode } from '@cut/trainer';

export interface DatasetSummary {
  dataset: UnalignedDataset;
  /** Files checked (A and B). */
  checked: number;
}

/** Why `file` cannot go through the training transform, or null. */
async function checkImage(file: string, o: CUTOptions): Promise<string | null> {
  let size: { width: number; height: number };
  try {
    // Every format the reference reads (BMP and netpbm too), at a reduced size where it can.
    size = await probeImage(file);
  } catch (e) {
    return (e as Error).message;
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
  const problems = await checkImages(files, o, onProgress);
  if (problems.length) throw new Error(problemsMessage(problems, files.length));
  return { dataset, checked: files.length };
}

/** Checks each file (decode, size against the crop); the problems found, sorted, one line each. */
export async function checkImages(files: readonly string[], o: CUTOptions, onProgress?: (done: number, total: number) => void): Promise<string[]> {
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
  return problems.sort();
}

/** One error message for the problems found among `total` files: the first ten, and how many more. */
export function problemsMessage(problems: readonly string[], total: number): string {
  const shown = problems.slice(0, 10).map((p) => `  ${p}`);
  if (problems.length > 10) shown.push(`  ... and ${problems.length - 10} more`);
  return `${problems.length} of ${total} images cannot be used:\n${shown.join('\n')}`;
}
