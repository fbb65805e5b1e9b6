// @cut/metrics public entry: FID and KID as pytorch-fid and clean-fid compute them.

// pytorch-fid's FID Inception v3 (the user's pt_inception-2015-12-05-6726825d.pth), on any backend.
export { FidInception, type FeatureSet, type FeaturesOptions, type RgbImage } from './features.js';
export { FID_FEATURE_DIM, FID_INCEPTION_CONVS, FID_INPUT_SIDE, fidInput, inceptionForward, type ConvSpec, type FoldedConv } from './inception.js';
export { FID_WEIGHTS_FILE, FID_WEIGHTS_URL, InceptionWeightsError, foldInceptionWeights, readInceptionWeights } from './weights.js';
// The distances, on features.
export { featureMean, frechetDistance, type FrechetDistance } from './frechet.js';
export { kernelDistance, type KernelDistance, type KidOptions } from './kid.js';
export { NumpyRandomState } from './numpy-random.js';
