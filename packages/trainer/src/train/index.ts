// The training driver (the reference's train.py) and what it writes.
export { runTraining, singleTrainingError, type IterationInfo, type TrainLogRecord, type TrainingHooks, type TrainingResult } from './run.js';
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
export { cTime, formatLossLine, lossLogHeader, pyFixed } from './loss-log.js';
export { ResultsPage, evalChartsHtml, lossChartSvg, lossChartsHtml, tensorToImage, type EvalPoint, type LossPoint } from './web.js';
export { formatEvalLine } from './run.js';
// PNG encoding is @cut/files' (the CLI writes its PNGs with it too); re-exported.
export { encodePng, type ImageU8 } from '@cut/files';
