// Pixels without a file system or a DOM (browsers, workers, Node alike): the reference's image
// conversions and the netpbm decoder. Reading and writing image files in Node is @cut/files'.
export {
  cmykToRgb,
  cropImage,
  flipHorizontal,
  normalizeImage,
  rgbToLuma,
  tensorToRgb8,
  toChannels,
  toRgb,
  type RawImage,
  type Rgb8Image,
} from './pixels.js';
export { decodeNetpbm, isNetpbm, type NetpbmImage } from './netpbm.js';
