// @cut/networks public entry.

// PyTorch .pth checkpoints (state_dicts) without PyTorch.
export {
  PthError,
  encodePth,
  readPth,
  readPthArchive,
  stripModulePrefix,
  type ByteSource,
  type PthArchive,
  type PthDtype,
  type PthTensor,
  type ReadPthOptions,
  type StateDict,
  type StateDictMetadata,
  type WritableTensor,
  type WritePthOptions,
} from './pth/index.js';

// The reference's generator and discriminator, NHWC, with its state_dict names.
export { ResnetGenerator, type LayerRef, type ResnetGeneratorOptions } from './generator.js';
export { NLayerDiscriminator, type NLayerDiscriminatorOptions } from './discriminator.js';
export { SequentialNetwork, type TorchArray, type TorchStateDict } from './network.js';
export type { Module, ModuleType } from './modules.js';
// The generator's forward in tiles, equal to the whole-image forward (instance norm over the whole image).
export { forwardTiled, type HostMap, type TiledForwardOptions } from './tiled.js';
// A generator on an image of any size (padded to a multiple of 4), whole or in tiles: `cutjs translate`'s and the web page's.
export {
  MIN_IMAGE_SIDE,
  paddedSize,
  translateImage,
  translateWhole,
  type HostImage,
  type ImageGenerator,
  type TranslateImageOptions,
} from './translate.js';
export { networkOptionsFrom, parseOptionsFile, type NetworkOptions } from './options.js';

// The reference's checkpoint files (`<epoch>_net_{G,D,F}.pth` + train_opt.txt), as bytes:
// the one loader for the CLI, the trainer and the web page (@cut/trainer reads and writes the files).
export {
  encodeNetworkWeights,
  encodePatchSamplerWeights,
  floatStateDict,
  loadCheckpoint,
  loadNetworkWeights,
  loadPatchSamplerWeights,
  networkMetadata,
  type CheckpointFiles,
  type CheckpointSource,
  type LoadCheckpointOptions,
  type LoadWeightsOptions,
  type PatchSamplerConfig,
  type PatchSamplerWeights,
  type ReferenceCheckpoint,
  type SaveWeightsOptions,
} from './checkpoint.js';

// TensorFlow.js-native model files (model.json + weights.bin), as bytes, loadable in a browser.
export {
  TFJS_MODEL_FILE,
  TFJS_MODEL_FORMAT,
  TFJS_MODEL_FORMAT_VERSION,
  TFJS_WEIGHTS_FILE,
  loadTfjsGenerator,
  loadTfjsModel,
  tfjsModelArtifacts,
  tfjsWeightFiles,
  type CutModelJson,
  type CutModelTopology,
  type CutNetwork,
  type TfjsModelFiles,
  type TfjsModelSource,
  type TfjsWeightGroup,
} from './tfjs-model.js';
