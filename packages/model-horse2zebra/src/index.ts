// @cut/model-horse2zebra: a horse-to-zebra generator trained by cutjs, as files on disk (a run
// folder: train_opt.txt + latest_net_G.pth, half precision), found from this module's own location.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the model folder: `train_opt.txt` and `latest_net_G.pth`, what `cutjs translate --checkpoint` reads. */
export const horse2zebraModelDir: string = fileURLToPath(new URL('../model', import.meta.url));

/** How the model was made (README.md says it in words). */
export interface ModelCard {
  /** The name `cutjs translate --model` takes. */
  name: string;
  /** One line for listings. */
  description: string;
  /** CUT or FastCUT, the generator and its width, the crop it was trained at. */
  mode: string;
  netG: string;
  ngf: number;
  cropSize: number;
  loadSize: number;
  /** Training iterations (images; batch 1) and epochs of the 200 + 200 photos. */
  iterations: number;
  epochs: number;
  /** Training time, the machine and its CPU. */
  wallSeconds: number;
  cpu: string;
  /** The weights file's size in bytes, and the largest difference of its translations from full precision's (grey levels, 0-255). */
  weightBytes: number;
  halfPrecisionMaxLevels: number;
  /** The `cutjs train` command line. */
  command: string;
}

/** The model card's facts (model/card.json). */
export function horse2zebraModelCard(): ModelCard {
  return JSON.parse(readFileSync(fileURLToPath(new URL('../model/card.json', import.meta.url)), 'utf8')) as ModelCard;
}
