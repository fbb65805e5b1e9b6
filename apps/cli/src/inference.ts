// Running a generator on whole images of any size, or in tiles: @cut/networks' (the web page uses it too).
export {
  MIN_IMAGE_SIDE,
  paddedSize,
  translateImage,
  translateWhole,
  type HostImage,
  type ImageGenerator,
  type TranslateImageOptions,
} from '@cut/networks';
