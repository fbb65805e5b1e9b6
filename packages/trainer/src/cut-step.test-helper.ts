// The layout of the reference CUT-step goldens (cut_loss_tiny.json, cut_step_*.json.gz) and the
// helpers the tests that read them share.
import type { GoldenTensor } from '../../../test-utils/golden';
import type { LossName } from './index.js';

export interface Named extends GoldenTensor {
  name: string;
}

/** One evaluation of the reference CUTModel: inputs, weights, F's patch draws, outputs, losses and gradients. */
export interface CutStepGolden {
  inputs: { real_A: GoldenTensor; real_B: GoldenTensor };
  weights_G: Named[];
  weights_D: Named[];
  weights_F: Named[];
  netF_calls: Array<{ given: boolean; ids: number[][] }>;
  fake_B: GoldenTensor;
  idt_B: GoldenTensor;
  losses: Record<LossName, number>;
  loss_D_total: number;
  grads_D: Named[];
  grads_G: Named[];
  grads_F: Named[];
}

/** A golden's named weights as a state_dict (PyTorch layout). */
export const stateDict = (weights: Named[]) => new Map(weights.map((w) => [w.name, { shape: w.shape, data: Float32Array.from(w.data) }]));

export const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
