// parseNetworkOption: a network flag's value typed and checked by its one declaration (what
// `cutjs translate` uses without the trainer's option table).
import { describe, expect, it } from 'vitest';
import { parseNetworkOption } from './options.js';

describe('parseNetworkOption', () => {
  it('types values by their declaration', () => {
    expect(parseNetworkOption('ngf', '32')).toBe(32);
    expect(parseNetworkOption('init_gain', 0.02)).toBe(0.02);
    expect(parseNetworkOption('no_dropout', 'False')).toBe(false);
    expect(parseNetworkOption('no_antialias', true)).toBe(true);
    expect(parseNetworkOption('netG', 'resnet_12blocks')).toBe('resnet_12blocks');
    expect(parseNetworkOption('normG', 'batch')).toBe('batch');
  });

  it('refuses what the declaration refuses, naming the source and the flag', () => {
    expect(() => parseNetworkOption('ngf', '0', 'command line')).toThrow("command line: --ngf: must be >= 1, got '0'");
    expect(() => parseNetworkOption('ngf', '2.5', 'command line')).toThrow("command line: --ngf: must be an integer, got '2.5'");
    expect(() => parseNetworkOption('ngf', 'wide', 'x.json')).toThrow("x.json: --ngf: must be a finite number, got 'wide'");
    expect(() => parseNetworkOption('no_dropout', 'maybe')).toThrow("options: --no_dropout: must be True or False, got 'maybe'");
    expect(() => parseNetworkOption('normG', 'group')).toThrow('options: --normG: must be one of instance, batch, none');
    expect(() => parseNetworkOption('netG', 'stylegan2')).toThrow("--netG: 'stylegan2' is a reference choice that is not supported here");
    expect(() => parseNetworkOption('netG', 'resnet_40blocks')).toThrow(/--netG: .*32/);
  });
});
