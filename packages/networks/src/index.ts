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

// The contract every generator and discriminator implements (NHWC, the reference's state_dict names).
export {
  DEFAULT_INIT,
  type ArchitectureConfig,
  type BuildOptions,
  type DefineDiscriminatorArgs,
  type DefineGeneratorArgs,
  type Discriminator,
  type DiscriminatorArchitecture,
  type Generator,
  type GeneratorArchitecture,
  type GeneratorSizing,
  type LayerInfo,
  type LayerRef,
  type Network,
  type NormType,
  type SideSizing,
  type TorchArray,
  type TorchStateDict,
} from './contract.js';
// Networks by name, as the reference's define_G / define_D: every architecture and its typed config.
export * from './registry.js';
// The reference's network options (netG, ngf, ...), declared once, and their mapping to the configs.
export {
  GENERATOR_OPTION_NAMES,
  NETWORK_OPTION_NAMES,
  NETWORK_OPTION_SPECS,
  defaultNetworkOptions,
  networkConfigs,
  networkOptionString,
  networkOptionsFrom,
  parseNetworkOption,
  parseOptionsFile,
  type NetworkOptionName,
  type NetworkOptionSpec,
  type NetworkOptionValues,
  type NetworkOptions,
} from './options.js';
// Building blocks for architectures made of the reference's modules in one nn.Sequential.
export { SequentialNetwork } from './network.js';
export { NORM_TYPES, type Module, type ModuleType } from './modules.js';
export { blurDown, chain, conv, reflectPad, sideSizing, type Step, type Walk } from './sizing.js';
// The generator's forward in tiles, equal to the whole-image forward (instance norm over the whole image).
export { forwardTiled, type HostMap, type StageRunner, type TiledForwardOptions } from './tiled.js';
// A generator on an image of any size (padded to a side it takes), whole or in tiles: `cutjs translate`'s and the web page's.
export {
  AUTO_TILE,
  MIN_IMAGE_SIDE,
  minimumImageSide,
  WHOLE_IMAGE_BUDGET,
  paddedSize,
  generatorTileFacts,
  tileFor,
  translateImage,
  translateWhole,
  type HostImage,
  type ImageGenerator,
  type TileRuleOptions,
  type TranslateImageOptions,
} from './translate.js';

// The reference's checkpoint files (`<epoch>_net_{G,D,F}.pth` + train_opt.txt), as bytes:
// the one loader for the CLI, the trainer and the web page (@cut/files reads and writes the files).
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

// A generator as a standard ONNX model (bytes out, opset 17+, dynamic batch and size), for ONNX Runtime and other runtimes.
export {
  ONNX_INPUT,
  ONNX_OPSETS,
  ONNX_OUTPUT,
  generatorToOnnx,
  modulesToOnnx,
  readOnnxModel,
  type GeneratorToOnnxOptions,
} from './onnx/export.js';
// A generator run by ONNX Runtime (the runtime module passed in: onnxruntime-node or onnxruntime-web).
export { OnnxGenerator, type OrtModule, type OrtSession, type OrtTensor } from './onnx/runtime.js';
export { OnnxGraph, type OnnxAttribute, type OnnxConstant, type OnnxEmitter, type OnnxNode } from './onnx/graph.js';
