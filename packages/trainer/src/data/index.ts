// The data pipeline: the reference's UnalignedDataset + get_transform, and a prefetching batch loader.
export { decodeImage, probeImage, rgbToLuma, toChannels, cropImage, flipHorizontal, normalizeImage, type RawImage } from './image.js';
export { resizeBicubic } from './resample.js';
export {
  DEFAULT_TRANSFORM_OPTIONS,
  PREPROCESS_MODES,
  drawImageParams,
  loadImage,
  multipleOf,
  outputSize,
  resizeImage,
  resizedSize,
  transformImage,
  type ImageDraws,
  type PreprocessMode,
  type Resampler,
  type TensorImage,
  type TransformOptions,
} from './transforms.js';
export { IMAGE_EXTENSIONS, UnalignedDataset, defaultDataOptions, listImages, type DataOptions, type Item, type ItemDraws } from './dataset.js';
export { BatchLoader, type Batch, type BatchLoaderOptions, type LoaderState } from './loader.js';
