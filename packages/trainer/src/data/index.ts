// The data pipeline: the reference's datasets (unaligned, single; pix2pix's aligned) + get_transform, and a prefetching batch loader.
export { decodeImage, probeImage, rgbToLuma, toChannels, cropImage, flipHorizontal, normalizeImage, type RawImage } from './image.js';
export { resizeBicubic } from './resample.js';
export {
  DEFAULT_TRANSFORM_OPTIONS,
  PREPROCESS_KEYWORDS,
  PREPROCESS_MODES,
  drawImageParams,
  loadImage,
  multipleOf,
  outputSize,
  parsePreprocess,
  plannedSizes,
  resizeImage,
  resizedSize,
  transformImage,
  zoomFactor,
  type ImageDraws,
  type PreprocessKeyword,
  type PreprocessMode,
  type PreprocessSteps,
  type Resampler,
  type TensorImage,
  type TransformOptions,
} from './transforms.js';
export {
  DATASET_MODES,
  IMAGE_EXTENSIONS,
  UnalignedDataset,
  defaultDataOptions,
  listImages,
  type DataOptions,
  type DatasetMode,
  type ImageDataset,
  type Item,
  type ItemDraws,
  type PairedItem,
} from './dataset.js';
export { AlignedDataset, alignedParams, splitAB } from './aligned-dataset.js';
export { SingleDataset } from './single-dataset.js';
export { createDataset } from './create-dataset.js';
export { BatchLoader, type Batch, type BatchLoaderOptions, type LoaderState } from './loader.js';
