// The Fréchet distance between two feature sets' Gaussians (FID when the features are the FID
// Inception's): |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2), S the unbiased covariances
// (numpy's np.cov, as pytorch-fid and clean-fid compute them).
//
// pytorch-fid takes tr sqrt(S1 S2) from scipy's sqrtm of the 2048 x 2048 product, which is
// singular whenever a set has fewer than 2049 images (always, for CUT's test sets of 100-500), and
// adds 1e-6 to both diagonals when sqrtm's result is not finite. We compute the same trace exactly
// and without that fudge: with Ai the centred features / sqrt(ni - 1) (so Si = Ai^T Ai), the
// eigenvalues of S1 S2 are the squared singular values of A1 A2^T, so tr sqrt(S1 S2) is the sum of
// the singular values of that n1 x n2 matrix. A set with more images than dimensions is first
// reduced to the d x d R of its QR decomposition (same Gram matrix, same singular values).
// Linear algebra: ml-matrix (mljs, maintained, pure JavaScript, float64), for its SVD and QR.
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import type { FeatureSet } from './features.js';

export interface FrechetDistance {
  /** The distance: meanTerm + traceTerm. */
  value: number;
  /** |mu1 - mu2|^2. */
  meanTerm: number;
  /** tr(S1) + tr(S2) - 2 tr sqrt(S1 S2). */
  traceTerm: number;
}

/** Each feature's mean over the set (float64). */
export function featureMean(f: FeatureSet): Float64Array {
  const mu = new Float64Array(f.dim);
  for (let i = 0; i < f.count; i++) for (let j = 0; j < f.dim; j++) mu[j] = (mu[j] as number) + (f.data[i * f.dim + j] as number);
  for (let j = 0; j < f.dim; j++) mu[j] = (mu[j] as number) / f.count;
  return mu;
}

/** The centred features / sqrt(n - 1): its Gram matrix A^T A is np.cov(features, rowvar=False). */
function covarianceFactor(f: FeatureSet, mu: Float64Array): Matrix {
  const s = 1 / Math.sqrt(f.count - 1);
  const rows = Array.from({ length: f.count }, (_, i) => {
    const row = new Float64Array(f.dim);
    for (let j = 0; j < f.dim; j++) row[j] = ((f.data[i * f.dim + j] as number) - (mu[j] as number)) * s;
    return row;
  });
  const a = new Matrix(rows);
  // More rows than columns: R of A = QR has the same A^T A in d x d.
  return f.count > f.dim ? new QrDecomposition(a).upperTriangularMatrix : a;
}

function checkSet(f: FeatureSet, which: string): void {
  if (f.count < 2) throw new Error(`${which}: ${f.count} feature vector(s); a covariance needs at least 2 images`);
  if (f.data.length !== f.count * f.dim) throw new Error(`${which}: ${f.data.length} values for ${f.count} x ${f.dim} features`);
}

/** The Fréchet distance between the Gaussians fitted to two feature sets (FID on FID Inception features). */
export function frechetDistance(a: FeatureSet, b: FeatureSet): FrechetDistance {
  checkSet(a, 'first set');
  checkSet(b, 'second set');
  if (a.dim !== b.dim) throw new Error(`the feature sets differ in dimension (${a.dim} and ${b.dim})`);
  const mu1 = featureMean(a);
  const mu2 = featureMean(b);
  let meanTerm = 0;
  for (let j = 0; j < a.dim; j++) meanTerm += ((mu1[j] as number) - (mu2[j] as number)) ** 2;
  const a1 = covarianceFactor(a, mu1);
  const a2 = covarianceFactor(b, mu2);
  // tr(Ai^T Ai): the sum of the squares.
  const trace = (m: Matrix) => m.norm('frobenius') ** 2;
  const cross = a1.mmul(a2.transpose());
  const svd = new SingularValueDecomposition(cross, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true });
  const traceSqrt = svd.diagonal.reduce((s, v) => s + Math.max(0, v), 0);
  const traceTerm = trace(a1) + trace(a2) - 2 * traceSqrt;
  return { value: meanTerm + traceTerm, meanTerm, traceTerm };
}
