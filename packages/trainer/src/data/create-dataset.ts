// `--dataset_mode`: the dataset of each mode, by name.
import { AlignedDataset } from './aligned-dataset.js';
import { DATASET_MODES, UnalignedDataset, type DataOptions, type ImageDataset } from './dataset.js';
import { SingleDataset } from './single-dataset.js';

/** The dataset `options.dataset_mode` names (default unaligned); an unknown mode is an error naming the modes. */
export function createDataset(options: DataOptions): Promise<ImageDataset> {
  const mode = options.dataset_mode ?? 'unaligned';
  switch (mode) {
    case 'unaligned':
      return UnalignedDataset.create(options);
    case 'aligned':
      return AlignedDataset.create(options);
    case 'single':
      return SingleDataset.create(options);
    default:
      return Promise.reject(new Error(`dataset_mode '${mode}' is not supported (${DATASET_MODES.join(', ')})`));
  }
}
