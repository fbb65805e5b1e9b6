// The data pipeline: the reference's UnalignedDataset + get_transform, and a prefetching batch loader.
// Decoding and pixel conversions are @cut/files' and @cut/images' (the CLI and the web page share them); re-exported.
export { decodeImage, probeImage } from '@cut/files';
export { rgbToLuma, toChannels, cropImage, flipHorizontal, normalizeImage, type RawImage } from '@cut/images';
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
export { IMAGE_EXTENSIONS, listImages } from '@cut/files';
export { UnalignedDataset, defaultDataOptions, type DataOptions, type Item, type ItemDraws } from './dataset.js';
export { BatchLoader, type Batch, type BatchLoaderOptions, type LoaderState } from './loader.js';
