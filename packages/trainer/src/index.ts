// Data pipeline (UnalignedDataset, transforms, prefetching BatchLoader).
export * from './data/index.js';
// The CUT model: options, GAN losses, learning-rate schedules, CUTModel.
export {
  CUT_MODE_PRESETS,
  OPTION_NAMES,
  OPTION_SPECS,
  OptionError,
  defaultOptions,
  formatTrainOpt,
  keepStateEpochs,
  optionStrings,
  parseCutMode,
  parseNceLayers,
  parseOptionValue,
  pythonFloat,
  pythonString,
  validateOptions,
  type CUTMode,
  type CUTOptions,
  type GanMode,
  type InitTypeOption,
  type LrPolicy,
  type OptionKind,
  type OptionName,
  type OptionSpec,
} from './options.js';
export { GAN_MODES, ganLoss } from './gan-loss.js';
// The smallest image side the networks take (checked before a run starts).
export { cropSizeProblem, minimumSide, sideProblem } from './input-size.js';
export { lastEpoch, learningRateAt, lrFactor, type ScheduleOptions } from './schedule.js';
export {
  CUTModel,
  type CUTModelInit,
  type EvaluateOptions,
  type LossEvaluation,
  type LossName,
  type NetName,
  type PatchIds,
} from './cut-model.js';
// The optimisers' state, saved and restored bit for bit (checkpoints, the two-thread replica).
export {
  decodeOptimizerStates,
  encodeOptimizerStates,
  restoreOptimizerStates,
  type AdamStateHeader,
  type OptimizerStates,
} from './optim/optimizer-state.js';
// The training driver: runTraining (train.py), checkpoints with exact resume, loss logs, the results page.
export * from './train/index.js';
// Checkpoint files on disk (@cut/networks works on their bytes) and crash-safe file writes: @cut/files', re-exported.
export {
  fsyncDir,
  loadReferenceCheckpoint,
  copyFileAtomic,
  readPthFile,
  readTfjsModelDir,
  saveTfjsModel,
  writeFileAtomic,
  writePth,
  type LoadReferenceCheckpointOptions,
} from '@cut/files';
// Two-thread training: CUT's real_A and real_B halves on the main thread and a worker.
export { TwoThreadTrainer, splitsIntoHalves } from './parallel/two-thread.js';
export { applyHalves, trainHalf, type HalfStep } from './parallel/halves.js';
export { exportReplicaState, importReplicaState } from './parallel/replica.js';
// Starting a worker thread (its built entry file, its 'ready' handshake), for tools built on these.
export type { ReplicaState, WorkerBackend } from './parallel/protocol.js';
// FID / KID of image folders (features cached per folder) for `cutjs eval` and --eval_freq.
export {
  BEST_FILE,
  BEST_G_FILE,
  TrainingEvaluator,
  checkEvalSetup,
  evalDataOptions,
  readBest,
  type BestEpoch,
  type EvalLogRecord,
} from './eval/during-training.js';
export { translateTestImages, type NetworkImage, type TestGenerator, type TestTranslation, type TestTranslationOptions } from './eval/test-images.js';
export {
  fidAndKid,
  folderFeatures,
  loadFidInception,
  type FidKid,
  type FolderFeatures,
  type FolderFeaturesOptions,
  type LoadedInception,
} from './eval/fid.js';
