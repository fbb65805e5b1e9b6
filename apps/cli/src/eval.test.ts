// `cutjs eval`: FID and KID of two folders with a weights file in pytorch-fid's layout (formula
// convolutions and the golden's calibrated batch norms), the feature cache, and its errors.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frechetDistance, kernelDistance } from '@cut/metrics';
import { encodePth, readPth } from '@cut/networks';
import { formulaInceptionStateDict } from '../../../packages/metrics/src/test-weights';
import { loadFixture } from '../../../test-utils/golden';
import { ROOT, cli, tempDir } from './cli-test-utils.js';

const GOLDEN = join(ROOT, 'fixtures/golden/fid_inception');
const golden = loadFixture<{ features: Record<string, { float64_base64_f64le: string }> }>('golden/fid_inception/golden.json.gz');
const features = (names: string[]) => {
  const data = names.flatMap((n) => {
    const b = Buffer.from(golden.features[n]?.float64_base64_f64le ?? '', 'base64');
    return Array.from(new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
  });
  return { count: names.length, dim: 2048, data: Float64Array.from(data) };
};

describe('cutjs eval', () => {
  const dir = tempDir('cutjs-eval-');
  const weights = join(dir, 'pt_inception-test.pth');
  const real = join(dir, 'real');
  const fake = join(dir, 'fake');
  const cache = join(dir, 'cache');
  let savedCache: string | undefined;

  beforeAll(() => {
    writeFileSync(weights, encodePth(formulaInceptionStateDict(readPth(readFileSync(join(GOLDEN, 'bn.pth')), { name: 'bn.pth' }))));
    mkdirSync(real);
    mkdirSync(fake);
    // Real: a and b (256 x 256); generated: b and c (240 x 180: mixed sizes are resized to 299 each).
    for (const [to, name] of [
      [real, 'a'],
      [real, 'b'],
      [fake, 'b'],
      [fake, 'c'],
    ] as const)
      copyFileSync(join(GOLDEN, 'images', `${name}.png`), join(to, `${name}.png`));
    savedCache = process.env.CUT_CACHE_DIR;
    process.env.CUT_CACHE_DIR = cache;
  });
  afterAll(() => {
    if (savedCache === undefined) delete process.env.CUT_CACHE_DIR;
    else process.env.CUT_CACHE_DIR = savedCache;
  });

  it('prints FID and KID equal to those of PyTorch-computed features, then reads the features from the cache', async () => {
    const args = ['eval', '--real', real, '--fake', fake, '--inception', weights, '--backend', 'wasm', '--kid_subsets', '10'];
    const first = await cli([...args, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const got = JSON.parse(first.stdout.trim().split('\n').pop() ?? '{}');
    const fid = frechetDistance(features(['a', 'b']), features(['b', 'c'])).value;
    const kid = kernelDistance(features(['a', 'b']), features(['b', 'c']), { subsets: 10 });
    // The features are within 3e-4 of PyTorch's (fid.test.ts); FID and KID follow within 1e-3 relative.
    expect(Math.abs(got.fid - fid) / fid).toBeLessThan(1e-3);
    expect(Math.abs(got.kid - kid.mean) / Math.abs(kid.mean)).toBeLessThan(1e-3);
    expect(got).toMatchObject({ real: 2, fake: 2, kid_subset_size: 2, kid_subsets: 10 });

    const second = await cli(args);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/real: 2 images of .*real, features from the cache/);
    expect(second.stdout).toMatch(/fake: 2 images of .*fake, features from the cache/);
    expect(second.stdout).toContain(`FID ${got.fid.toFixed(4)}`);
    expect(second.stdout).toMatch(/KID -?\d\.\d{6} ± \d\.\d{6} \(10 subsets of 2\)/);
  });

  it('names a missing weights file, the file pytorch-fid documents and where', async () => {
    const r = await cli(['eval', '--real', real, '--fake', fake, '--inception', join(dir, 'nope.pth'), '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'nope.pth')}: no such file`);
    expect(r.stderr).toContain('pt_inception-2015-12-05-6726825d.pth');
    expect(r.stderr).toContain('https://github.com/mseitzer/pytorch-fid/releases');
  });

  it('refuses a checkpoint that is not the FID Inception, naming it', async () => {
    const g = join(dir, 'latest_net_G.pth');
    writeFileSync(g, encodePth([['model.1.weight', { shape: [2, 3, 1, 1], data: new Float32Array(6) }]]));
    const r = await cli(['eval', '--real', real, '--fake', fake, '--inception', g, '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${g}: not the FID Inception's state_dict`);
  });

  it('says when a folder has too few images or is missing, and what the command line lacks', async () => {
    const lonely = join(dir, 'lonely');
    mkdirSync(lonely);
    copyFileSync(join(GOLDEN, 'images', 'a.png'), join(lonely, 'a.png'));
    const one = await cli(['eval', '--real', real, '--fake', lonely, '--inception', weights, '--backend', 'wasm']);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain(`${lonely}: 1 image(s); FID and KID need at least 2`);
    const none = await cli(['eval', '--real', join(dir, 'missing'), '--fake', fake, '--inception', weights, '--backend', 'wasm']);
    expect(none.stderr).toContain(`${join(dir, 'missing')}: no such folder of images`);
    const usage = await cli(['eval', '--real', real, '--inception', weights]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--fake');
  });
});
