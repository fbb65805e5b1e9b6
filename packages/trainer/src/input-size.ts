// The smallest image side the networks accept, computed from the options before a run starts,
// so that a too-small crop or image is named up front instead of failing mid-run inside a
// padding or a gradient. The side facts are the networks' own (@cut/networks' contract: each
// architecture knows what it does to a side's length); this names the flags to change.
import { discriminatorSizing, generatorSizing, networkConfigs, type NetworkOptionName } from '@cut/networks';
import type { CUTOptions } from './options.js';
import { multipleOf, parsePreprocess } from './data/transforms.js';

type Sizing = Pick<CUTOptions, NetworkOptionName>;

/** Why a side of `size` pixels (as the networks get it) cannot be trained on, or null. */
export function sideProblem(size: number, o: Sizing): string | null {
  const nets = networkConfigs(o);
  const g = generatorSizing(nets.generator).sideProblem(size);
  if (g) return `the generator (--netG ${o.netG}${o.no_antialias ? ', --no_antialias' : ''}): ${g}`;
  const d = discriminatorSizing(nets.discriminator).sideProblem(size);
  const dName = o.netD === 'n_layers' ? `--netD n_layers --n_layers_D ${o.n_layers_D}` : `--netD ${o.netD}`;
  if (d) return `the discriminator (${dName}${o.no_antialias ? ', --no_antialias' : ''}): ${d}`;
  return null;
}

/** The smallest side, a multiple of 4 as the data pipeline makes every side, that the networks of `o` accept. */
export function minimumSide(o: Sizing): number {
  // Every length grows with the input, so the sides that work are all those from the first one up.
  for (let s = 4; s <= 1 << 20; s += 4) if (sideProblem(s, o) === null) return s;
  throw new Error(`no input size works for --netD ${o.netD} --n_layers_D ${o.n_layers_D}`);
}

/**
 * Why a crop of `--crop_size` cannot be trained on (for --preprocess with crop or patch), or
 * null: the message names the flags to change.
 */
export function cropSizeProblem(o: Sizing & Pick<CUTOptions, 'crop_size' | 'preprocess'>): string | null {
  // Crop and patch give crop_size squares (trim gives at most that: each image is checked instead).
  const steps = parsePreprocess(o.preprocess);
  if (!steps.crop && !steps.patch) return null;
  const side = multipleOf(o.crop_size);
  const why = sideProblem(side, o);
  if (!why) return null;
  return (
    `--crop_size ${o.crop_size} is too small for these networks: ${why}. ` +
    `They need at least ${minimumSide(o)} pixels a side: raise --crop_size (and --load_size)` +
    `${o.netD === 'n_layers' ? ', or lower --n_layers_D' : ''}`
  );
}
