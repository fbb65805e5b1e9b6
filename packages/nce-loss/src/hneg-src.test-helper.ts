import type { GoldenTensor } from '../../../test-utils/golden';
import { loadFixture } from '../../../test-utils/golden';
import type { NegativesMode } from './index';
import type { NullableGolden, PatchGoldenCase } from './golden-compare.test-helper';

/** fixtures/golden/hneg_src.json, written by tools/golden/hneg_src.py. */
export interface DceResult {
  loss: GoldenTensor;
  loss_mean: number;
  grad_mean_wrt_feat_q: GoldenTensor;
}
export interface SrcResult {
  gamma: number;
  loss: GoldenTensor;
  grad_wrt_feat_q: NullableGolden;
  grad_wrt_feat_k_is_zero: boolean;
  grad_one_sided_wrt_feat_q?: GoldenTensor;
  weights: GoldenTensor;
}
export interface CurriculumResult {
  options: {
    HDCE_gamma: number;
    HDCE_gamma_min: number;
    n_epochs: number;
    n_epochs_decay: number;
    step_gamma: boolean;
    step_gamma_epoch: number;
  };
  epoch: number;
  weights: GoldenTensor;
}
export interface HnegSrcCase extends PatchGoldenCase {
  results: Record<NegativesMode, { dce: DceResult; src: SrcResult; hdce: DceResult; src_curriculum: CurriculumResult[] }>;
}

let cases: HnegSrcCase[] | undefined;
export const hnegSrcCases = (): HnegSrcCase[] => {
  cases ??= loadFixture<{ cases: HnegSrcCase[] }>('golden/hneg_src.json').cases;
  return cases;
};
export const MODES: NegativesMode[] = ['image', 'minibatch'];
