// The training driver (the reference's train.py) and what it writes.
export { runTraining, type IterationInfo, type TrainLogRecord, type TrainingHooks, type TrainingResult } from './run.js';
export {
  TRAIN_STATE_FORMAT,
  loadOptimizers,
  loadWeights,
  nonFiniteParameters,
  readTrainState,
  removeUnusedSnapshots,
  saveCheckpoint,
  stateFileName,
  weightFileName,
  type FileRecord,
  type SaveCheckpointArgs,
  type TrainState,
} from './checkpoint.js';
export { decodeOptimizerStates, encodeOptimizerStates, restoreOptimizerStates, type AdamStateHeader, type OptimizerStates } from './optimizer-state.js';
export { cTime, formatLossLine, lossLogHeader, pyFixed } from './loss-log.js';
export { ResultsPage, encodePng, lossChartSvg, lossChartsHtml, tensorToImage, type ImageU8, type LossPoint } from './web.js';
