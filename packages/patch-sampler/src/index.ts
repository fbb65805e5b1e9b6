// @cut/patch-sampler: the CUT reference's PatchSampleF on @tensorflow/tfjs-core.
export { PatchSampleF, type PatchSampleFOptions, type PatchSampleResult } from './patch-sample-f.js';
// QS-Attn's query selection (PatchSampleF's querySelection option).
export { QUERY_SELECTIONS, type QueryAttention, type QuerySelection } from './query-selection.js';
// The reference's other netF heads, and netF by name.
export {
  NET_F_NAMES,
  PoolingF,
  ReshapeF,
  StridedConvF,
  createFeatureHead,
  type FeatureHead,
  type NetFName,
} from './heads.js';
