import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTION_NAMES, defaultOptions } from '@cut/trainer';
import { cutOptionsFrom, demoFlags, testFlags, trainFlags } from './command-flags.js';
import { translateFlags } from './translate-flags.js';
import { DEMO_PRESET } from './cmd-demo.js';
import { UsageError, formatHelp, parseFlags } from './flags.js';
import { tempDir } from './cli-test-utils.js';

const train = trainFlags();
const parse = (...argv: string[]) => parseFlags(argv, train);
const options = (...argv: string[]) => cutOptionsFrom(parse(...argv));

describe('flag spellings', () => {
  it('takes the reference names as written, with = or a separate value', () => {
    const o = options('--dataroot', './datasets/grumpifycat', '--name=grumpycat_CUT', '--CUT_mode', 'CUT', '--netF_nc', '64');
    expect([o.dataroot, o.name, o.CUT_mode, o.netF_nc]).toEqual(['./datasets/grumpifycat', 'grumpycat_CUT', 'CUT', 64]);
  });

  it('takes kebab-case and other spellings of the same name', () => {
    const o = options('--crop-size', '128', '--load-size=143', '--cut-mode', 'fastcut', '--lambda-nce', '2', '--netf-nc', '32', '--n-layers-d', '4');
    expect([o.crop_size, o.load_size, o.CUT_mode, o.lambda_NCE, o.netF_nc, o.n_layers_D]).toEqual([128, 143, 'FastCUT', 2, 32, 4]);
  });

  it('applies the CUT_mode preset under the flags given (FastCUT: nce_idt off, lambda_NCE 10, 150 + 50 epochs)', () => {
    const fast = options('--CUT_mode', 'FastCUT');
    expect([fast.nce_idt, fast.lambda_NCE, fast.flip_equivariance, fast.n_epochs, fast.n_epochs_decay]).toEqual([false, 10, true, 150, 50]);
    expect(options('--CUT_mode', 'FastCUT', '--n_epochs', '3').n_epochs).toBe(3);
    expect(options().nce_idt).toBe(true);
  });

  it('reads negative numbers as values (then the option table rejects them)', () => {
    expect(parse('--lr', '-1').values.get('lr')).toBe('-1');
    expect(() => options('--lr', '-1')).toThrow(new UsageError('command line: --lr: must be > 0, got -1'));
    expect(() => options('--lr=-0.5')).toThrow('command line: --lr: must be > 0, got -0.5');
  });

  it('the last of repeated flags wins, as in argparse', () => {
    expect(options('--ngf', '8', '--ngf', '16').ngf).toBe(16);
  });
});

describe('boolean flags', () => {
  it('store_true switches (--no_flip, --continue_train, --serial_batches) take no value', () => {
    const o = options('--no_flip', '--serial_batches', '--no_antialias');
    expect([o.no_flip, o.serial_batches, o.no_antialias, o.continue_train]).toEqual([true, true, true, false]);
    expect(() => parse('--no_flip', 'True')).toThrow(new UsageError("unexpected argument 'True' (--no_flip is a switch and takes no value)"));
    // Only with '=' may a switch be spelled out.
    expect(options('--no_flip=false').no_flip).toBe(false);
  });

  it('str2bool flags (nce_idt, flip_equivariance, no_dropout) work bare or with a value', () => {
    expect(options('--CUT_mode', 'FastCUT', '--nce_idt').nce_idt).toBe(true);
    expect(options('--nce_idt', 'False').nce_idt).toBe(false);
    expect(options('--nce_idt', 'no', '--lr', '0.001').nce_idt).toBe(false);
    const o = options('--flip_equivariance', '--lr', '0.001', '--no_dropout', 'false');
    expect([o.flip_equivariance, o.lr, o.no_dropout]).toEqual([true, 0.001, false]);
    expect(options('--nce_idt=0').nce_idt).toBe(false);
    expect(() => parse('--nce_idt', 'maybe')).toThrow("--nce_idt: expected True or False (or nothing, meaning True), got 'maybe'");
  });
});

describe('bad command lines', () => {
  it('rejects unknown flags with a suggestion', () => {
    expect(() => parse('--crop', '128')).toThrow(new UsageError('unknown flag --crop (did you mean --crop_size?) (see --help)'));
    expect(() => parse('--lamda_NCE', '2')).toThrow('unknown flag --lamda_NCE (did you mean --lambda_NCE?)');
    expect(() => parse('--frobnicate')).toThrow(/^unknown flag --frobnicate \(see --help\)$/);
  });

  it('rejects missing values, stray words and test-only flags in train', () => {
    expect(() => parse('--name')).toThrow('--name: expected a value (a string)');
    expect(() => parse('--name', '--lr', '1')).toThrow('--name: expected a value');
    expect(() => parse('train.py')).toThrow("unexpected argument 'train.py'");
    expect(() => parse('--results_dir', 'x')).toThrow('unknown flag --results_dir');
  });

  it('test rejects training-only flags, as test.py does', () => {
    expect(() => parseFlags(['--lr', '0.1'], testFlags())).toThrow('unknown flag --lr');
    expect(parseFlags(['--num_test', '3', '--eval'], testFlags()).values.get('eval')).toBe(true);
  });

  it('names the option, the problem and the value for bad values', () => {
    expect(() => options('--crop_size', 'big')).toThrow("command line: --crop_size: must be a number, got 'big'");
    expect(() => options('--netG', 'stylegan2')).toThrow("--netG: 'stylegan2' is a reference choice that is not supported here");
    expect(() => options('--gan_mode', 'hinge')).toThrow('--gan_mode: must be one of lsgan, vanilla, nonsaturating, wgangp');
  });
});

describe('--config file.json', () => {
  const dir = tempDir();
  const write = (name: string, data: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
    return file;
  };

  it('reads the same names as keys (any spelling, typed or string values); flags win', () => {
    const file = write('run.json', {
      dataroot: 'd',
      'crop-size': 128,
      load_size: '143',
      no_flip: true,
      nce_idt: 'False',
      CUT_mode: 'FastCUT',
      lr: 0.001,
    });
    const o = options('--config', file, '--lr', '0.002');
    expect([o.dataroot, o.crop_size, o.load_size, o.no_flip, o.nce_idt, o.CUT_mode, o.lr]).toEqual(['d', 128, 143, true, false, 'FastCUT', 0.002]);
    expect(options(`--config=${file}`).lr).toBe(0.001);
  });

  it('names the file for unknown keys, bad values and bad JSON', () => {
    expect(() => options('--config', write('a.json', { crop: 1 }))).toThrow(
      `${join(dir, 'a.json')}: unknown option 'crop' (did you mean --crop_size?)`,
    );
    expect(() => options('--config', write('b.json', { lr: -1 }))).toThrow(`${join(dir, 'b.json')}: --lr: must be > 0, got -1`);
    expect(() => options('--config', write('c.json', '{"lr": '))).toThrow(`${join(dir, 'c.json')}: not valid JSON`);
    expect(() => options('--config', write('d.json', [1]))).toThrow('expected a JSON object of options');
    expect(() => options('--config', join(dir, 'missing.json'))).toThrow(`--config: cannot read ${join(dir, 'missing.json')} (ENOENT)`);
  });
});

describe("the successors' commands carry over", () => {
  it("Hneg-SRC's horse2zebra script, MoNCE's and QS-Attn's flags, with --nce_loss picking the loss", () => {
    const h = options(
      ...['--CUT_mode', 'CUT', '--nce_loss', 'hdce', '--dce_idt', '--lambda_HDCE', '0.1', '--lambda_SRC', '0.05'],
      ...['--use_curriculum', '--HDCE_gamma', '50', '--HDCE_gamma_min', '10', '--step_gamma', '--step_gamma_epoch', '200'],
    );
    expect(h).toMatchObject({
      nce_loss: 'hdce',
      dce_idt: true,
      lambda_HDCE: 0.1,
      lambda_SRC: 0.05,
      use_curriculum: true,
      HDCE_gamma: 50,
      HDCE_gamma_min: 10,
    });
    expect(h.step_gamma).toBe(true);
    const m = options('--nce_loss', 'monce', '--cost_type', 'hard', '--eps', '0.1', '--neg_term_weight', '1.0');
    expect(m).toMatchObject({ nce_loss: 'monce', cost_type: 'hard', eps: 0.1, neg_term_weight: 1 });
    expect(options('--QS_mode', 'local_global').QS_mode).toBe('local_global');
    expect(options()).toMatchObject({ nce_loss: 'patchnce', QS_mode: 'random', dce_idt: false });
    expect(() => options('--QS_mode', 'fancy')).toThrow(/--QS_mode: must be one of random, global, local, local_global/);
  });
});

describe('--help', () => {
  it('lists every reference option with its default (and the FastCUT preset where it differs) and description', () => {
    const help = formatHelp('usage', train, 200);
    const defaults = defaultOptions('CUT');
    // One entry per flag: from its name to the next flag (long names put the text on the next line).
    const entries = new Map(help.split(/\n(?= {2}--)/).map((e) => [/^ {2}--(\S+)/.exec(e)?.[1], e.replace(/\s+/g, ' ')]));
    for (const name of OPTION_NAMES) {
      expect(entries.get(name), name).toMatch(/ \S.* \[default: .+\]/);
    }
    expect(help).toMatch(/--nce_idt \[True\|False\] +use NCE|--nce_idt \[True\|False\] +also apply PatchNCE .*\[default: True; FastCUT: False\]/);
    expect(help).toContain('[default: 200; FastCUT: 150]');
    expect(help).toContain(`[default: ${defaults.crop_size}]`);
    expect(help).toContain('--backend <value>');
  });

  it('every command table builds (no two flags share a spelling) and test shows its own defaults', () => {
    expect(() => [trainFlags(), testFlags(), translateFlags(), demoFlags(DEMO_PRESET)]).not.toThrow();
    const help = formatHelp('usage', testFlags(), 200);
    expect(help).toMatch(/--load_size <int> .*\[default: 256\]/);
    expect(help).toMatch(/--phase <value> .*\[default: test\]/);
    expect(help).toMatch(/--num_test <int> .*\[default: 50\]/);
    expect(help).not.toContain('--lr ');
  });
});
