// FID Inception features, FID and KID against pytorch-fid and clean-fid run by
// tools/golden/fid_inception.py (random formula weights, batch norms calibrated on photos).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '@cut/files';
import { encodePth, readPth, type StateDict } from '@cut/networks';
import { describeBackends } from '../../../test-utils/backends';
import { loadFixture } from '../../../test-utils/golden';
import {
  FID_WEIGHTS_FILE,
  FidInception,
  InceptionWeightsError,
  NumpyRandomState,
  frechetDistance,
  kernelDistance,
  readInceptionWeights,
  type FeatureSet,
} from './index';
import { formulaConvWeight, formulaInceptionStateDict } from './test-weights';

const DIR = fileURLToPath(new URL('../../../fixtures/golden/fid_inception/', import.meta.url));

interface FrechetGolden {
  value: number;
  minus_exact: number;
  eps_branch: boolean;
}
interface KidGolden {
  seed: number;
  num_subsets: number;
  max_subset_size: number;
  m: number;
  kid: number;
  subset_values: number[];
  std_ddof0: number;
  subset_ids_fake_x: number[][];
  subset_ids_real_y: number[][];
}
interface Golden {
  weights_check: Record<string, { shape: number[]; first8: number[]; last: number; sum_float64: number }>;
  images: Record<string, { file: string; width: number; height: number }>;
  features: Record<string, { base64_f32le: string; float64_base64_f64le: string }>;
  real_folders: {
    set1: { shape: [number, number]; base64_f32le: string };
    set2: { shape: [number, number]; base64_f32le: string };
    frechet: { pytorch_fid: FrechetGolden; clean_fid: FrechetGolden; exact: { value: number } };
    kid: KidGolden;
  };
  synthetic: {
    frechet: {
      id: string;
      d: number;
      features1: number[][];
      features2: number[][];
      pytorch_fid: FrechetGolden;
      exact: { value: number };
    }[];
    kid: KidGolden & { features1: number[][]; features2: number[][] };
  };
}

const golden = loadFixture<Golden>('golden/fid_inception/golden.json.gz');

const f32 = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
};
const f64 = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
};
const rows = (r: number[][]): FeatureSet => ({ count: r.length, dim: r[0]?.length ?? 0, data: Float64Array.from(r.flat()) });
const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

/** The test weights file: formula convolutions and the golden's calibrated batch norms, written as a .pth. */
function weightsFile(): Uint8Array {
  const bn: StateDict = readPth(readFileSync(`${DIR}bn.pth`), { name: 'bn.pth' });
  return encodePth(formulaInceptionStateDict(bn));
}

describe('the formula weights equal the golden script’s', () => {
  it('per tensor: first values, last value and float64 sum', () => {
    for (const [key, g] of Object.entries(golden.weights_check)) {
      const [o, i, kh, kw] = g.shape as [number, number, number, number];
      const w = formulaConvWeight(key, o * i * kh * kw, i * kh * kw);
      expect(Array.from(w.slice(0, 8))).toEqual(g.first8.map((v) => Math.fround(v)));
      expect(w[w.length - 1]).toBe(Math.fround(g.last));
      expect(w.reduce((s, v) => s + v, 0)).toBeCloseTo(g.sum_float64, 9);
    }
  });
});

describe('numpy legacy RandomState (the subsets clean-fid draws after np.random.seed)', () => {
  it('draws the same subsets, fake then real, as np.random.choice(n, m, replace=False)', () => {
    for (const [kid, n1, n2] of [
      [golden.real_folders.kid, golden.real_folders.set2.shape[0], golden.real_folders.set1.shape[0]],
      [golden.synthetic.kid, golden.synthetic.kid.features1.length, golden.synthetic.kid.features2.length],
    ] as const) {
      const rng = new NumpyRandomState(kid.seed);
      for (let s = 0; s < kid.num_subsets; s++) {
        expect(Array.from(rng.choice(n2, kid.m))).toEqual(kid.subset_ids_fake_x[s]);
        expect(Array.from(rng.choice(n1, kid.m))).toEqual(kid.subset_ids_real_y[s]);
      }
    }
  });
  it('refuses seeds numpy refuses', () => {
    expect(() => new NumpyRandomState(-1)).toThrow(/seed/);
    expect(() => new NumpyRandomState(2 ** 32)).toThrow(/seed/);
  });
});

describe('Fréchet distance', () => {
  for (const c of golden.synthetic.frechet) {
    it(`${c.id}: the exact value, and pytorch-fid's within 1e-6 relative`, () => {
      const ours = frechetDistance(rows(c.features1), rows(c.features2)).value;
      expect(Math.abs(ours - c.exact.value)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(c.exact.value)));
      expect(Math.abs(ours - c.pytorch_fid.value)).toBeLessThan(1e-6 * Math.max(1, Math.abs(c.exact.value)));
    });
  }
  it('real photo features (30 horses vs 25 zebras, 2048-d): pytorch-fid within 1e-3, the exact value within 1e-9 relative', () => {
    const { set1, set2, frechet } = golden.real_folders;
    const a = { count: set1.shape[0], dim: set1.shape[1], data: f32(set1.base64_f32le) };
    const b = { count: set2.shape[0], dim: set2.shape[1], data: f32(set2.base64_f32le) };
    const ours = frechetDistance(a, b).value;
    expect(relDiff(ours, frechet.exact.value)).toBeLessThan(1e-9);
    expect(Math.abs(ours - frechet.pytorch_fid.value)).toBeLessThan(1e-3);
    expect(Math.abs(ours - frechet.clean_fid.value)).toBeLessThan(1e-3);
  });
  it('says what is wrong with too few images or different dimensions', () => {
    const one = { count: 1, dim: 2, data: new Float64Array(2) };
    const two = { count: 2, dim: 2, data: new Float64Array(4) };
    expect(() => frechetDistance(one, two)).toThrow(/at least 2 images/);
    expect(() => frechetDistance(two, { count: 2, dim: 3, data: new Float64Array(6) })).toThrow(/dimension \(2 and 3\)/);
  });
});

describe("KID (clean-fid's kernel_distance)", () => {
  it('synthetic: every subset value, the mean and the standard deviation', () => {
    const k = golden.synthetic.kid;
    const ours = kernelDistance(rows(k.features1), rows(k.features2), { subsets: k.num_subsets, maxSubsetSize: k.max_subset_size, seed: k.seed });
    expect(ours.subsetSize).toBe(k.m);
    ours.values.forEach((v, i) => expect(relDiff(v, k.subset_values[i] as number)).toBeLessThan(1e-12));
    expect(relDiff(ours.mean, k.kid)).toBeLessThan(1e-12);
    expect(relDiff(ours.std, k.std_ddof0)).toBeLessThan(1e-9);
  });
  it('real photo features: within 1e-3 of clean-fid', () => {
    const { set1, set2, kid } = golden.real_folders;
    // clean-fid's compute_kid: feats1 real (testB here), feats2 generated (testA here).
    const real = { count: set2.shape[0], dim: set2.shape[1], data: f32(set2.base64_f32le) };
    const fake = { count: set1.shape[0], dim: set1.shape[1], data: f32(set1.base64_f32le) };
    const ours = kernelDistance(real, fake, { seed: kid.seed });
    expect(Math.abs(ours.mean - kid.kid)).toBeLessThan(1e-3);
    expect(relDiff(ours.mean, kid.kid)).toBeLessThan(1e-9);
  });
});

describe('weights file errors name the file and the file users need', () => {
  it('a generator checkpoint is not the FID Inception', () => {
    const other = encodePth([['model.1.weight', { shape: [2, 3, 1, 1], data: new Float32Array(6) }]]);
    expect(() => readInceptionWeights(other, 'latest_net_G.pth')).toThrow(InceptionWeightsError);
    expect(() => readInceptionWeights(other, 'latest_net_G.pth')).toThrow(
      new RegExp(
        `^latest_net_G\\.pth: not the FID Inception's state_dict: 470 of its 470 tensors are missing.*${FID_WEIGHTS_FILE.replace(/\./g, '\\.')}`,
      ),
    );
  });
  it('a wrong shape is named', () => {
    const sd = formulaInceptionStateDict();
    sd.set('Mixed_7c.branch_pool.bn.weight', { dtype: 'float32', shape: [3], data: new Float32Array(3) });
    expect(() => FidInception.fromStateDict(sd, 'pt.pth')).toThrow(
      /^pt\.pth: Mixed_7c\.branch_pool\.bn\.weight has shape \[3\], the FID Inception needs \[192\]/,
    );
  });
  it('a truncated file is not a readable state_dict', () => {
    const bytes = encodePth([['x', { shape: [4], data: new Float32Array(4) }]]);
    expect(() => readInceptionWeights(bytes.subarray(0, bytes.length - 30), 'cut.pth')).toThrow(/^cut\.pth: not a readable PyTorch state_dict/);
  });
});

describeBackends(
  'FID Inception features of photos (pytorch-fid run by PyTorch in float64)',
  (backend) => {
    // This random network amplifies float32 rounding ~1000x: PyTorch's own float32 features are
    // 2-6e-5 (L2, relative) from its float64 ones. The cpu backend sums in float64 and lands within
    // 1.2e-5; wasm's float32 kernels (XNNPACK and oneDNN alike) within 1.4e-4 (measured, 2-core EPYC).
    const tolerance = backend === 'cpu' ? 5e-5 : 3e-4;
    // The cpu backend takes ~40 s per image: it checks the non-square one only.
    const names = backend === 'cpu' ? ['c'] : ['a', 'b', 'c'];
    it(`${names.join(', ')}: 2048 features within ${tolerance} (L2, relative)`, async () => {
      const net = FidInception.fromPth(weightsFile(), 'formula.pth');
      try {
        const images = await Promise.all(names.map((n) => decodeImage(`${DIR}${golden.images[n]?.file}`)));
        const feats = await net.featuresOf(images, { batchSize: 2 });
        names.forEach((n, k) => {
          const expected = f64(golden.features[n]?.float64_base64_f64le ?? '');
          let err2 = 0;
          let norm2 = 0;
          for (let j = 0; j < expected.length; j++) {
            err2 += ((feats.data[k * expected.length + j] as number) - (expected[j] as number)) ** 2;
            norm2 += (expected[j] as number) ** 2;
          }
          expect(Math.sqrt(err2 / norm2), `image ${n}`).toBeLessThan(tolerance);
        });
      } finally {
        net.dispose();
      }
    });
  },
  { backends: ['cpu', 'wasm', 'webgpu'] },
);
