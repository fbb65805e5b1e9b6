// The Kernel Inception Distance: clean-fid's unbiased MMD^2 with the cubic polynomial kernel
// k(x, y) = (x.y / d + 1)^3, averaged over random subsets of equal size.
import type { FeatureSet } from './features.js';
import { NumpyRandomState } from './numpy-random.js';

export interface KidOptions {
  /** Subsets drawn (clean-fid's num_subsets, default 100). */
  subsets?: number;
  /** Largest subset (clean-fid's max_subset_size, default 1000); subsets take min(n_real, n_fake, this). */
  maxSubsetSize?: number;
  /**
   * Seed of numpy's legacy generator the subsets are drawn from (default 0). clean-fid draws from
   * numpy's global generator unseeded; after np.random.seed(seed) it draws these same subsets.
   */
  seed?: number;
}

export interface KernelDistance {
  /** clean-fid's KID: the mean of the subsets' MMD^2. */
  mean: number;
  /** Their standard deviation (population, ddof 0), the spread torch-fidelity and papers report beside it. */
  std: number;
  /** Each subset's MMD^2. */
  values: number[];
  /** Images per subset. */
  subsetSize: number;
}

/** All pairwise kernel values k(x_i, y_j) of two sets, n_x x n_y, in float64. */
function kernelMatrix(x: FeatureSet, y: FeatureSet): Float64Array {
  const d = x.dim;
  const k = new Float64Array(x.count * y.count);
  for (let i = 0; i < x.count; i++)
    for (let j = 0; j < y.count; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += (x.data[i * d + c] as number) * (y.data[j * d + c] as number);
      k[i * y.count + j] = (dot / d + 1) ** 3;
    }
  return k;
}

/**
 * KID between real and generated features: clean-fid's kernel_distance(real, fake) with its
 * draws (per subset, the fake subset first, then the real one). The kernels are computed once for
 * all pairs and summed per subset, in float64.
 */
export function kernelDistance(real: FeatureSet, fake: FeatureSet, options: KidOptions = {}): KernelDistance {
  const subsets = options.subsets ?? 100;
  const maxSubsetSize = options.maxSubsetSize ?? 1000;
  if (real.dim !== fake.dim) throw new Error(`the feature sets differ in dimension (${real.dim} and ${fake.dim})`);
  const m = Math.min(real.count, fake.count, maxSubsetSize);
  if (m < 2) throw new Error(`KID needs at least 2 images in each set (real ${real.count}, generated ${fake.count})`);
  if (!Number.isInteger(subsets) || subsets < 1) throw new Error(`subsets: ${subsets} is not a positive integer`);
  const kxx = kernelMatrix(fake, fake);
  const kyy = kernelMatrix(real, real);
  const kxy = kernelMatrix(fake, real);
  const rng = new NumpyRandomState(options.seed ?? 0);
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const xi = rng.choice(fake.count, m);
    const yi = rng.choice(real.count, m);
    let within = 0;
    let between = 0;
    for (let a = 0; a < m; a++) {
      const xa = xi[a] as number;
      const ya = yi[a] as number;
      for (let b = 0; b < m; b++) {
        const xb = xi[b] as number;
        const yb = yi[b] as number;
        between += kxy[xa * real.count + yb] as number;
        if (a !== b) within += (kxx[xa * fake.count + xb] as number) + (kyy[ya * real.count + yb] as number);
      }
    }
    values.push(within / (m - 1) / m - (2 * between) / m / m);
  }
  const mean = values.reduce((a, v) => a + v, 0) / subsets;
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / subsets);
  return { mean, std, values, subsetSize: m };
}
