// @cut/nce-loss: contrastive losses on @tensorflow/tfjs-core.
export { patchNCELoss, PATCHNCE_DIAGONAL_FILL, type NegativesMode, type PatchNCEOptions } from './patchnce.js';
export {
  infoNCELoss,
  safeL2Normalize,
  MIN_INFONCE_TEMPERATURE,
  type InfoNCEOptions,
  type NegativeMode,
  type Reduction,
} from './infonce.js';
export { type PatchLossOptions, NORMALIZE_EPSILON } from './groups.js';
export { decoupledContrastiveLoss, hardNegativeDCELoss, type DecoupledContrastiveOptions, type HardNegativeDCEOptions } from './hdce.js';
export {
  semanticRelationLoss,
  semanticRelationWeights,
  hdceGammaAt,
  type HDCEGammaSchedule,
  type SemanticRelationOptions,
  type SemanticRelationResult,
} from './src-loss.js';
export { moNCELoss, MONCE_LOG_SINKHORN_BELOW, MONCE_WEIGHT_FLOOR, type MoNCECost, type MoNCEOptions } from './monce.js';
