import { fileURLToPath } from 'node:url';
import { validateOptions, type CUTOptions } from '../options.js';

/** The bundled demo photos. */
export const DEMO = fileURLToPath(new URL('../../../../datasets/horse2zebra_demo', import.meta.url));

/**
 * A CUT configuration small enough for a test: a 1-block generator with 4 filters on 32x32
 * crops of 36x36 photos, 8 patches, one constant and one decay epoch.
 */
export function tinyRunOptions(checkpointsDir: string, name: string, extra: Partial<CUTOptions> = {}): CUTOptions {
  return validateOptions({
    dataroot: DEMO,
    checkpoints_dir: checkpointsDir,
    name,
    netG: 'resnet_1blocks',
    ngf: 4,
    ndf: 4,
    netF_nc: 16,
    num_patches: 8,
    load_size: 36,
    crop_size: 32,
    n_epochs: 1,
    n_epochs_decay: 1,
    print_freq: 1,
    ...extra,
  });
}
