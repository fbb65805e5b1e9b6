// @cut/patch-sampler: the CUT reference's PatchSampleF on @tensorflow/tfjs-core.
export { PatchSampleF, type PatchSampleFOptions, type PatchSampleResult } from './patch-sample-f.js';
