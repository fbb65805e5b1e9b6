// The data pipeline: the reference's datasets (unaligned, single; pix2pix's aligned) + get_transform, and a prefetching batch loader.
// Decoding and pixel conversions are @cut/files' and @cut/images' (the CLI and the web page share them); re-exported.
export { decodeImage, probeImage } from '@cut/files';
export { rgbToLuma, toChannels, cropImage, flipHorizontal, normalizeImage, type RawImage } from '@cut/images';
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
export { IMAGE_EXTENSIONS, listImages } from '@cut/files';
export {
  DATASET_MODES,
  UnalignedDataset,
  defaultDataOptions,
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
