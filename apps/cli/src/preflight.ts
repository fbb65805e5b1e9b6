// Checks a dataset before training starts, so that a bad file stops the run at once with its
// name instead of hours later in the middle of an epoch.
import {
  createDataset,
  minimumSide,
  parsePreprocess,
  plannedSizes,
  probeImage,
  sideProblem,
  singleTrainingError,
  type CUTOptions,
  type ImageDataset,
} from '@cut/trainer';

export interface DatasetSummary {
  dataset: ImageDataset;
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
  const preprocess = o.preprocess;
  const steps = parsePreprocess(preprocess);
  // An aligned file holds A and B side by side: A, the narrower half, is what is checked.
  if (o.dataset_mode === 'aligned') size = { width: Math.trunc(size.width / 2), height: size.height };
  const sizeOptions = {
    preprocess,
    loadSize: o.load_size,
    cropSize: o.crop_size,
    finetune: false,
    halfHeight: o.dataroot.includes('gta2cityscapes'),
  };
  // With zoom, the smallest zoom (the smallest sizes) is checked.
  const { beforeCrop, final } = plannedSizes(size.width, size.height, sizeOptions);
  const [w, h] = beforeCrop;
  // The aligned dataset's crop is the reference's __crop, which fills past the edge instead of failing.
  if ((steps.patch || (steps.crop && o.dataset_mode !== 'aligned')) && (w < o.crop_size || h < o.crop_size)) {
    const resized = w !== size.width || h !== size.height ? ` (resized to ${w}x${h})` : '';
    return `${file}: image is ${size.width}x${size.height}${resized}, smaller than crop_size ${o.crop_size}x${o.crop_size} (preprocess '${preprocess}')`;
  }
  if (!steps.crop && !steps.patch) {
    // Without a crop the networks get the whole image (sides rounded to multiples of 4).
    const [fw, fh] = final;
    const why = Math.min(fw, fh) < 4 ? 'a side rounds to 0 pixels' : (sideProblem(fh, o) ?? sideProblem(fw, o));
    if (why) {
      const as = fw !== size.width || fh !== size.height ? ` (${fw}x${fh} as the networks get it with --preprocess ${preprocess})` : '';
      return `${file}: image is ${size.width}x${size.height}${as}, too small: ${why}; these networks need at least ${minimumSide(o)} pixels a side`;
    }
  }
  return null;
}

/**
 * Lists the dataset (`<dataroot>/<phase>A` and `<phase>B`, or `<dataroot>/<phase>` when aligned) as the trainer will, then decodes every image
 * (at a reduced size) and checks it against the crop. Throws one error listing the bad files.
 */
export async function checkDataset(o: CUTOptions, onProgress?: (done: number, total: number) => void): Promise<DatasetSummary> {
  if (o.dataset_mode === 'single') throw new Error(singleTrainingError);
  const dataset = await createDataset({ ...o, isTrain: o.phase === 'train' });
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
