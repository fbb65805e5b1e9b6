// The project's files on disk, in Node: images decoded to PIL's bytes, image folders listed, PNGs
// written, checkpoints (.pth, tfjs model folders) read and written, every write crash-safe. The
// bytes-and-pixels half that a browser can run is @cut/images (and @cut/networks for checkpoints).
export { decodeImage, probeImage } from './decode.js';
export { IMAGE_EXTENSIONS, listImages } from './list-images.js';
export { isPlainName } from './names.js';
export { encodePng, saveImage, writePng, type ImageU8 } from './png.js';
export {
  copyFileAtomic,
  fsyncDir,
  loadNetworkWeights,
  loadPatchSamplerWeights,
  loadReferenceCheckpoint,
  readPthFile,
  readTfjsModelDir,
  saveNetworkWeights,
  savePatchSamplerWeights,
  saveTfjsModel,
  writeFileAtomic,
  writePth,
  type LoadReferenceCheckpointOptions,
} from './checkpoint-files.js';
