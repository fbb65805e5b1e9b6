import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NETWORK_OPTION_NAMES, NETWORK_OPTION_SPECS, parseOptionsFile } from '@cut/networks';
import {
  OPTION_NAMES,
  OPTION_SPECS,
  defaultOptions,
  formatTrainOpt,
  pythonFloat,
  validateOptions,
  type CUTOptions,
  type OptionName,
} from './index.js';

const fixture = (rel: string) => readFileSync(fileURLToPath(new URL(`../../../fixtures/${rel}`, import.meta.url)), 'utf8');

/** The reference's parsed-option dumps: `name = repr(value)` per line. */
function parseDump(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+) = (.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** A value as Python's repr() shows it in those dumps. */
function pythonRepr(name: OptionName, value: unknown): string {
  if (value === null) return 'None';
  if (OPTION_SPECS[name].kind === 'str') return `'${String(value)}'`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === Infinity) return 'inf';
  return OPTION_SPECS[name].kind === 'float' ? pythonFloat(value as number) : String(value);
}

describe('CUTOptions: the reference defaults', () => {
  for (const mode of ['CUT', 'FastCUT'] as const) {
    it(`every option of the reference's ${mode} training dump, at its value`, () => {
      const dump = parseDump(fixture(`options/options_${mode}_train.txt`));
      // The dump was made with --dataroot X --gpu_ids -1.
      const ours = { ...defaultOptions(mode), dataroot: 'X', gpu_ids: '-1' } as CUTOptions;
      const reference = [...dump.keys()].sort();
      // Ours and the successors' (not in CUT's argparse) aside.
      expect(OPTION_NAMES.filter((n) => OPTION_SPECS[n].group !== 'ours' && OPTION_SPECS[n].group !== 'successors').sort()).toEqual(reference);
      for (const name of reference) {
        expect(pythonRepr(name as OptionName, ours[name as OptionName]), name).toBe(dump.get(name));
      }
    });
  }

  it('FastCUT preset: nce_idt off, lambda_NCE 10, flip equivariance, 150 + 50 epochs', () => {
    expect(defaultOptions('FastCUT')).toMatchObject({
      nce_idt: false,
      lambda_NCE: 10,
      flip_equivariance: true,
      n_epochs: 150,
      n_epochs_decay: 50,
    });
    expect(validateOptions({ CUT_mode: 'fastcut' }).CUT_mode).toBe('FastCUT');
    // A value given explicitly wins over the preset.
    expect(validateOptions({ CUT_mode: 'FastCUT', lambda_NCE: '2' }).lambda_NCE).toBe(2);
  });
});

describe('validateOptions', () => {
  it('parses strings from the command line or train_opt.txt into typed values', () => {
    const o = validateOptions(
      { lr: '0.001', nce_idt: 'False', max_dataset_size: 'inf', display_id: 'None', num_patches: '64', netG: 'resnet_2blocks' },
      'command line',
    );
    expect(o).toMatchObject({ lr: 0.001, nce_idt: false, max_dataset_size: Infinity, display_id: null, num_patches: 64 });
    expect(o.netG).toBe('resnet_2blocks');
    expect(validateOptions({ isTrain: 'True' }).lr).toBe(0.0002);
  });

  it('names the option in every error', () => {
    const err = (partial: Record<string, unknown>) => () => validateOptions(partial, 'command line');
    expect(err({ lr: -1 })).toThrow('command line: --lr: must be > 0, got -1');
    expect(err({ lr: '-1' })).toThrow('command line: --lr: must be > 0, got -1');
    expect(err({ batch_size: 1.5 })).toThrow('--batch_size: must be an integer, got 1.5');
    expect(err({ beta1: 1 })).toThrow('--beta1: must be < 1, got 1');
    expect(err({ nce_T: 0 })).toThrow('--nce_T: must be > 0, got 0');
    expect(err({ nce_idt: 'maybe' })).toThrow("--nce_idt: must be True or False, got 'maybe'");
    expect(err({ gan_mode: 'hinge' })).toThrow("--gan_mode: must be one of lsgan, vanilla, nonsaturating, wgangp, got 'hinge'");
    expect(err({ dataset_mode: 'singleimage' })).toThrow("--dataset_mode: 'singleimage' is a reference choice that is not supported here");
    expect(err({ netG: 'stylegan2' })).toThrow("--netG: 'stylegan2' is a reference choice that is not supported here");
    expect(err({ netG: 'resnet_33blocks' })).toThrow(
      "--netG: 'resnet_33blocks' has more than 32 residual blocks (the reference offers resnet_9blocks, resnet_6blocks and resnet_4blocks)",
    );
    expect(err({ netG: 'resnet' })).toThrow(
      "--netG: 'resnet' is not a generator here (resnet_9blocks, resnet_6blocks, resnet_4blocks, resnet_<n>blocks (n <= 32), unet_128, unet_256, resnet_cat)",
    );
    expect(err({ netD: 'patch' })).toThrow("--netD: 'patch' is a reference choice that is not supported here (supported: basic, n_layers, pixel)");
    expect(err({ netF: 'pool' })).toThrow('--netF: must be one of mlp_sample, sample, reshape, global_pool, strided_conv');
    expect(err({ model: 'sincut' })).toThrow("--model: 'sincut' is a reference choice that is not supported here");
    expect(err({ CUT_mode: 'SinCUT' })).toThrow("--CUT_mode: must be CUT or FastCUT, got 'SinCUT'");
    expect(err({ nce_layers: '0,4,x' })).toThrow("--nce_layers: must be comma-separated layer indices like 0,4,8,12,16, got '0,4,x'");
    expect(err({ n_epochs: 1, n_epochs_decay: 0, epoch_count: 3 })).toThrow('--epoch_count: is 3, after the last epoch');
    expect(err({ max_dataset_size: 0 })).toThrow('--max_dataset_size: must be >= 1, got 0');
    expect(err({ lr: Infinity })).toThrow('--lr: must be finite, got Infinity');
    expect(err({ lambda_nce: 1 })).toThrow('command line: unknown option --lambda_nce (did you mean --lambda_NCE?)');
    expect(err({ lr: null })).toThrow('--lr: must not be None');
    expect(err({ lr: 'fast' })).toThrow("--lr: must be a number, got 'fast'");
  });

  it('every option has a help line', () => {
    for (const name of OPTION_NAMES) expect(OPTION_SPECS[name].help.length, name).toBeGreaterThan(5);
  });

  it("takes every network option's declaration from @cut/networks (one declaration)", () => {
    for (const name of NETWORK_OPTION_NAMES) expect(OPTION_SPECS[name], name).toBe(NETWORK_OPTION_SPECS[name]);
    expect(validateOptions({ netG: 'resnet_4blocks' }).netG).toBe('resnet_4blocks');
  });
});

describe('formatTrainOpt', () => {
  it("writes the reference's train_opt.txt for the same options (h2z_tiny)", () => {
    const reference = fixture('checkpoints/h2z_tiny/train_opt.txt');
    const opts = validateOptions({
      crop_size: 64,
      dataroot: '../shared/datasets/horse2zebra',
      display_id: 0,
      gpu_ids: '-1',
      load_size: 72,
      max_dataset_size: 200,
      n_epochs: 2,
      n_epochs_decay: 0,
      name: 'h2z_tiny',
      ndf: 8,
      netG: 'resnet_6blocks',
      ngf: 8,
      no_html: true,
      num_threads: 0,
      save_epoch_freq: 1,
    });
    const ours = formatTrainOpt(opts).split('\n');
    // Our own options (seed, keep_state_epochs, eval_*) are the only extra lines.
    expect(ours.filter((l) => /^\s+seed: None\s*$/.test(l))).toHaveLength(1);
    expect(ours.filter((l) => /^\s+keep_state_epochs: \s*$/.test(l))).toHaveLength(1);
    // So are the successors' options (Hneg-SRC's, MoNCE's, QS-Attn's flags and --nce_loss), as their argparse writes them.
    const successors = OPTION_NAMES.filter((n) => OPTION_SPECS[n].group === 'successors');
    expect(successors.map((n) => ours.filter((l) => l.startsWith(`${n.padStart(25)}: `)).length)).toEqual(successors.map(() => 1));
    const comparable = (lines: string[]) =>
      lines
        .filter(
          (l) =>
            !/^\s+(seed|keep_state_epochs|eval_freq|eval_inception|eval_num_test): /.test(l) &&
            !successors.some((n) => l.startsWith(`${n.padStart(25)}: `)),
        )
        // The reference file's checkpoints_dir line was rewritten after the fact (its value is
        // padded to 19 characters, not 30, and equals its default): compare its name only.
        .map((l) => (/^\s+checkpoints_dir: /.test(l) ? '          checkpoints_dir: <path>' : l));
    expect(comparable(ours)).toEqual(comparable(reference.split('\n')));
    expect(reference.endsWith('----------------- End -------------------\n')).toBe(true);
  });

  it('reads back into the same options through the train_opt.txt parser', () => {
    const opts = validateOptions({ CUT_mode: 'FastCUT', lr: 2e-5, suffix: '', pretrained_name: 'other', seed: 7, max_dataset_size: 50 });
    const text = formatTrainOpt(opts);
    expect(text).toContain('                       lr: 2e-05                         \t[default: 0.0002]\n');
    expect(text).toContain('                  nce_idt: False                         \n');
    const back = validateOptions(Object.fromEntries(parseOptionsFile(text)), 'train_opt.txt');
    expect(back).toEqual(opts);
  });

  it("writes the successors' options as their argparse does (HDCE_gamma's int default 1, a given value as a float)", () => {
    const text = formatTrainOpt(validateOptions({ nce_loss: 'hdce', HDCE_gamma: 50, dce_idt: true, eps: 0.1, QS_mode: 'global' }));
    expect(text).toContain(`${'HDCE_gamma'.padStart(25)}: ${'50.0'.padEnd(30)}\t[default: 1]\n`);
    expect(text).toContain(`${'HDCE_gamma_min'.padStart(25)}: ${'1'.padEnd(30)}\n`);
    expect(text).toContain(`${'dce_idt'.padStart(25)}: ${'True'.padEnd(30)}\t[default: False]\n`);
    expect(text).toContain(`${'eps'.padStart(25)}: ${'0.1'.padEnd(30)}\t[default: 1.0]\n`);
    expect(text).toContain(`${'nce_loss'.padStart(25)}: ${'hdce'.padEnd(30)}\t[default: patchnce]\n`);
    expect(text).toContain(`${'QS_mode'.padStart(25)}: ${'global'.padEnd(30)}\t[default: random]\n`);
    const back = validateOptions(Object.fromEntries(parseOptionsFile(text)), 'train_opt.txt');
    expect(back).toEqual(validateOptions({ nce_loss: 'hdce', HDCE_gamma: 50, dce_idt: true, eps: 0.1, QS_mode: 'global' }));
    expect(() => validateOptions({ nce_loss: 'infonce' }, 'command line')).toThrow(/--nce_loss: must be one of patchnce, hdce, dce, monce/);
    expect(() => validateOptions({ QS_mode: 'global', netF: 'reshape' }, 'command line')).toThrow(
      /--QS_mode: 'global' selects patches in PatchSampleF/,
    );
  });

  it('formats floats as Python does', () => {
    expect([1, 0.5, 0.0002, 2e-5, 10, 0.07, 1e16, 1.5e-7, 123.25].map(pythonFloat)).toEqual([
      '1.0',
      '0.5',
      '0.0002',
      '2e-05',
      '10.0',
      '0.07',
      '1e+16',
      '1.5e-07',
      '123.25',
    ]);
  });
});

describe('the reference choices of the data pipeline and schedule', () => {
  it('--preprocess: any combination of keywords joined by _and_; --dataset_mode single / aligned; --lr_policy plateau', () => {
    for (const preprocess of ['resize', 'scale_shortside_and_crop', 'zoom_and_patch', 'fixsize_and_trim', 'none']) {
      expect(validateOptions({ preprocess }).preprocess).toBe(preprocess);
    }
    expect(() => validateOptions({ preprocess: 'resize_and_crpo' }, 'command line')).toThrow(
      /^command line: --preprocess: 'resize_and_crpo' is not a combination of the reference's keywords .*: unknown 'crpo'$/,
    );
    expect(validateOptions({ dataset_mode: 'single' }).dataset_mode).toBe('single');
    expect(validateOptions({ dataset_mode: 'aligned' }).dataset_mode).toBe('aligned');
    expect(validateOptions({ lr_policy: 'plateau' }).lr_policy).toBe('plateau');
  });
});
