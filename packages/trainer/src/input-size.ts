// The smallest image side the networks accept, computed from the options before a run starts,
// so that a too-small crop or image is named up front instead of failing mid-run inside a
// padding or a gradient. Each network is walked one side at a time (height and width are
// independent): what every layer does to a side's length, and what it needs of it.
import type { CUTOptions } from './options.js';
import { multipleOf, parsePreprocess } from './data/transforms.js';

type Sizing = Pick<CUTOptions, 'netG' | 'netD' | 'n_layers_D' | 'no_antialias'>;

/** A side's length through a chain of layers: the length out, or why the chain cannot take it. */
type Walk = { size: number } | { fails: string };

/** Reflection padding by `pad` needs a side longer than `pad` (the reference's ReflectionPad2d). */
function reflectPad(size: number, pad: number, where: string): Walk {
  return size > pad ? { size: size + 2 * pad } : { fails: `${where} pads ${pad} by reflection and needs more than ${pixels(pad)}, has ${size}` };
}

const pixels = (n: number) => `${n} pixel${n === 1 ? '' : 's'}`;

/** A convolution's output length (PyTorch's formula); at least 1 or it fails. */
function conv(size: number, kernel: number, stride: number, pad: number, where: string): Walk {
  const out = Math.floor((size + 2 * pad - kernel) / stride) + 1;
  return out >= 1 ? { size: out } : { fails: `${where} (${kernel}x${kernel}) gets ${pixels(size)} and leaves none` };
}

/** The reference's Downsample (antialiased): reflect pad 1, 3x3 blur, stride 2. */
function blurDown(size: number, where: string): Walk {
  const padded = reflectPad(size, 1, where);
  return 'fails' in padded ? padded : conv(padded.size, 3, 2, 0, where);
}

function chain(size: number, steps: Array<(s: number) => Walk>): Walk {
  let w: Walk = { size };
  for (const step of steps) {
    if ('fails' in w) return w;
    w = step(w.size);
  }
  return w;
}

/** ResnetGenerator's encoder (the decoder only doubles): a side of `size`, or why it fails. */
export function generatorSide(size: number, o: Sizing): Walk {
  const blocks = Number(/^resnet_(\d+)blocks$/.exec(o.netG)?.[1] ?? 9);
  const steps: Array<(s: number) => Walk> = [(s) => reflectPad(s, 3, 'its first layer'), (s) => conv(s, 7, 1, 0, 'its first convolution')];
  for (let d = 1; d <= 2; d++) {
    if (o.no_antialias) steps.push((s) => conv(s, 3, 2, 1, `downsampling ${d}`));
    else steps.push((s) => conv(s, 3, 1, 1, `downsampling ${d}`), (s) => blurDown(s, `downsampling ${d}`));
  }
  if (blocks > 0) steps.push((s) => reflectPad(s, 1, 'its residual blocks'));
  return chain(size, steps);
}

/** The PatchGAN (netD basic / n_layers): the side of its output map, or why it fails. */
export function discriminatorSide(size: number, o: Sizing): Walk {
  const layers = o.netD === 'basic' ? 3 : o.n_layers_D;
  const steps: Array<(s: number) => Walk> = [];
  for (let n = 1; n <= layers; n++) {
    if (o.no_antialias) steps.push((s) => conv(s, 4, 2, 1, `layer ${n}`));
    else steps.push((s) => conv(s, 4, 1, 1, `layer ${n}`), (s) => blurDown(s, `layer ${n}`));
  }
  steps.push((s) => conv(s, 4, 1, 1, `layer ${layers + 1}`), (s) => conv(s, 4, 1, 1, 'its output layer'));
  return chain(size, steps);
}

/** Why a side of `size` pixels (as the networks get it) cannot be trained on, or null. */
export function sideProblem(size: number, o: Sizing): string | null {
  const g = generatorSide(size, o);
  if ('fails' in g) return `the generator (--netG ${o.netG}${o.no_antialias ? ', --no_antialias' : ''}): ${g.fails}`;
  const d = discriminatorSide(size, o);
  const dName = o.netD === 'basic' ? '--netD basic' : `--netD n_layers --n_layers_D ${o.n_layers_D}`;
  if ('fails' in d) return `the discriminator (${dName}${o.no_antialias ? ', --no_antialias' : ''}): ${d.fails}`;
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
