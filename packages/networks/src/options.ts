import type { InitType } from '@cut/core-tensors';
import type { NLayerDiscriminatorOptions } from './architectures/nlayer-discriminator.js';
import type { PixelDiscriminatorOptions } from './architectures/pixel-discriminator.js';
import type { ResnetGeneratorOptions } from './architectures/resnet-generator.js';

/**
 * Parses the reference's `train_opt.txt` / `test_opt.txt` (`name: value [default: ...]` lines
 * between dashed rulers) into name -> value strings.
 */
export function parseOptionsFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*):\s*(.*?)\s*(?:\[default:.*\])?\s*$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The reference's `--netF` heads. */
export type NetF = 'mlp_sample' | 'sample' | 'reshape' | 'global_pool' | 'strided_conv';
const NET_F: readonly NetF[] = ['mlp_sample', 'sample', 'reshape', 'global_pool', 'strided_conv'];

export interface NetworkOptions {
  generator: ResnetGeneratorOptions;
  discriminator: NLayerDiscriminatorOptions;
  /** netD `pixel`: PixelDiscriminator with these options (else NLayerDiscriminator with `discriminator`). */
  pixelDiscriminator?: PixelDiscriminatorOptions;
  /** netF by name (`mlp_sample` is the MLP head, `sample` the same without it), with `netF_nc` units. */
  patchSampler: { netF: NetF; useMlp: boolean; nc: number };
  /** The reference's `nce_layers`, as indices of `G.model`. */
  nceLayers: number[];
}

/**
 * The network configuration a reference checkpoint was trained with, from its options file,
 * so that the checkpoint can be loaded into identical networks. `source` names the file in errors.
 */
export function networkOptionsFrom(opts: Map<string, string>, source = 'options'): NetworkOptions {
  const get = (key: string, fallback: string) => opts.get(key) ?? fallback;
  const int = (key: string, fallback: number) => {
    const raw = get(key, String(fallback));
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${source}: ${key} must be a non-negative integer, got '${raw}'`);
    return n;
  };
  const bool = (key: string, fallback: boolean) => {
    const raw = get(key, fallback ? 'True' : 'False');
    if (raw !== 'True' && raw !== 'False') throw new Error(`${source}: ${key} must be True or False, got '${raw}'`);
    return raw === 'True';
  };
  const netG = get('netG', 'resnet_9blocks');
  const blocks = /^resnet_(\d+)blocks$/.exec(netG);
  if (!blocks) throw new Error(`${source}: netG '${netG}' is not supported (resnet_9blocks, resnet_6blocks or resnet_<n>blocks)`);
  const netD = get('netD', 'basic');
  if (netD !== 'basic' && netD !== 'n_layers' && netD !== 'pixel') throw new Error(`${source}: netD '${netD}' is not supported (basic, n_layers or pixel)`);
  for (const key of ['normG', 'normD']) {
    if (get(key, 'instance') !== 'instance') throw new Error(`${source}: ${key} '${get(key, 'instance')}' is not supported (instance)`);
  }
  const initType = get('init_type', 'xavier');
  if (!['normal', 'xavier', 'kaiming', 'orthogonal'].includes(initType)) {
    throw new Error(`${source}: init_type '${initType}' is not supported (normal, xavier, kaiming, orthogonal)`);
  }
  const init = { type: initType as InitType, gain: Number(get('init_gain', '0.02')) };
  const netF = get('netF', 'mlp_sample');
  if (!(NET_F as readonly string[]).includes(netF)) throw new Error(`${source}: netF '${netF}' is not supported (${NET_F.join(', ')})`);
  const nceLayers = get('nce_layers', '0,4,8,12,16')
    .split(',')
    .map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${source}: nce_layers must list layer indices, got '${get('nce_layers', '')}'`);
      return n;
    });
  const noAntialias = bool('no_antialias', false);
  return {
    generator: {
      inputNc: int('input_nc', 3),
      outputNc: int('output_nc', 3),
      ngf: int('ngf', 64),
      nBlocks: Number(blocks[1]),
      noAntialias,
      noAntialiasUp: bool('no_antialias_up', false),
      useDropout: !bool('no_dropout', true),
      init,
    },
    discriminator: {
      inputNc: int('output_nc', 3),
      ndf: int('ndf', 64),
      nLayers: netD === 'basic' ? 3 : int('n_layers_D', 3),
      noAntialias,
      init,
    },
    ...(netD === 'pixel' ? { pixelDiscriminator: { inputNc: int('output_nc', 3), ndf: int('ndf', 64), init } } : {}),
    patchSampler: { netF: netF as NetF, useMlp: netF === 'mlp_sample', nc: int('netF_nc', 256) },
    nceLayers,
  };
}
