// The reference's network options at their defaults, and how its `define_G` / `define_D` turn
// them into the arguments of the network they pick (a leaf module: the registry and the option
// table both use it).
import type { InitType } from '@cut/core-tensors';
import type { DefineDiscriminatorArgs, DefineGeneratorArgs, NormType } from './contract.js';

/** The network options' typed values (@cut/trainer's `CUTOptions` has them under the same names). */
export interface NetworkOptionValues {
  input_nc: number;
  output_nc: number;
  ngf: number;
  ndf: number;
  netD: string;
  netG: string;
  n_layers_D: number;
  normG: string;
  normD: string;
  init_type: string;
  init_gain: number;
  no_dropout: boolean;
  no_antialias: boolean;
  no_antialias_up: boolean;
  netF: string;
  netF_nc: number;
  nce_layers: string;
}

/** The reference's defaults (base_options.py, and the CUT model's options for netF and nce_layers). */
export const REFERENCE_DEFAULTS: Readonly<NetworkOptionValues> = {
  input_nc: 3,
  output_nc: 3,
  ngf: 64,
  ndf: 64,
  netD: 'basic',
  netG: 'resnet_9blocks',
  n_layers_D: 3,
  normG: 'instance',
  normD: 'instance',
  init_type: 'xavier',
  init_gain: 0.02,
  no_dropout: true,
  no_antialias: false,
  no_antialias_up: false,
  netF: 'mlp_sample',
  netF_nc: 256,
  nce_layers: '0,4,8,12,16',
};

/** `define_G`'s arguments, as the reference's CUT model passes its options. */
export function defineGeneratorArgs(o: NetworkOptionValues): DefineGeneratorArgs {
  return {
    netG: o.netG,
    inputNc: o.input_nc,
    outputNc: o.output_nc,
    ngf: o.ngf,
    norm: o.normG as NormType,
    useDropout: !o.no_dropout,
    init: { type: o.init_type as InitType, gain: o.init_gain },
    noAntialias: o.no_antialias,
    noAntialiasUp: o.no_antialias_up,
  };
}

/** `define_D`'s arguments: D sees translated images, so its input channels are `output_nc`. */
export function defineDiscriminatorArgs(o: NetworkOptionValues): DefineDiscriminatorArgs {
  return {
    netD: o.netD,
    inputNc: o.output_nc,
    ndf: o.ndf,
    nLayersD: o.n_layers_D,
    norm: o.normD as NormType,
    init: { type: o.init_type as InitType, gain: o.init_gain },
    noAntialias: o.no_antialias,
  };
}
