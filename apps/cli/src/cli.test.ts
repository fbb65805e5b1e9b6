// The commands end to end, in-process (`main(argv)` with captured output), on the wasm backend.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReferenceCheckpoint, saveTfjsModel } from '@cut/trainer';
import { loadBackend } from '@cut/backends';
import { H2Z_TINY, TINY, cli, existingRun, levels, pixels, smallDataset, snapshot, tempDir } from './cli-test-utils.js';

const work = tempDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));
let serial = 0;
const fresh = (name: string) => join(work, `${serial++}-${name}`);

describe('cutjs train: bad input stops before anything is written', () => {
  /**
   * Runs `train` on a dataset that `spoil` damages, into a checkpoints folder holding an earlier
   * run of the same name; checks the exit code, that the message names `culprit`, and that the
   * earlier run is byte for byte what it was.
   */
  async function failsCleanly(spoil: (dataroot: string) => void | Promise<void>, culprit: (dataroot: string) => string, extra: string[] = []) {
    const dataroot = smallDataset(fresh('data'));
    await spoil(dataroot);
    const checkpoints = fresh('checkpoints');
    const run = existingRun(checkpoints, 'run');
    const before = snapshot(checkpoints);
    const r = await cli(['train', '--dataroot', dataroot, '--name', 'run', '--checkpoints_dir', checkpoints, '--backend', 'wasm', ...TINY, ...extra]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(culprit(dataroot));
    expect(r.stdout).not.toContain('backend:'); // it never got as far as loading a backend
    expect(snapshot(checkpoints)).toEqual(before);
    expect(readdirSync(run).sort()).toEqual(['latest_net_D.pth', 'latest_net_F.pth', 'latest_net_G.pth', 'loss_log.txt', 'train_opt.txt']);
    return r.stderr;
  }

  it('a corrupt (truncated) JPEG: names the file', async () => {
    const msg = await failsCleanly(
      (d) => {
        const file = join(d, 'trainB', readdirSync(join(d, 'trainB'))[1]!);
        writeFileSync(file, readFileSync(file).subarray(0, 3000));
      },
      (d) => join(d, 'trainB', readdirSync(join(d, 'trainB'))[1]!),
    );
    expect(msg).toMatch(/1 of 6 images cannot be used:\n {2}\S+: not a readable image \(.*(premature end of JPEG|damaged or truncated)/i);
  });

  it('a text file named .jpg: names the file', async () => {
    const msg = await failsCleanly(
      (d) => writeFileSync(join(d, 'trainA', 'notes.jpg'), 'not a photo\n'),
      (d) => `${join(d, 'trainA', 'notes.jpg')}: not a readable image`,
    );
    expect(msg).toContain('unsupported image format');
  });

  it('an empty trainA: names the folder', async () => {
    await failsCleanly(
      (d) => {
        rmSync(join(d, 'trainA'), { recursive: true });
        mkdirSync(join(d, 'trainA'));
      },
      (d) => `${join(d, 'trainA')}: no images (.jpg .jpeg .png .ppm .bmp .tif .tiff) in this folder or below`,
    );
  });

  it('a missing trainB: names the folder', async () => {
    await failsCleanly(
      (d) => rmSync(join(d, 'trainB'), { recursive: true }),
      (d) => `${join(d, 'trainB')}: no such folder (the unaligned dataset needs ${join(d, 'trainA')} and ${join(d, 'trainB')})`,
    );
  });

  it('an image smaller than the crop: names the file and both sizes', async () => {
    await failsCleanly(
      async (d) => {
        await sharp({ create: { width: 40, height: 24, channels: 3, background: '#808080' } })
          .png()
          .toFile(join(d, 'trainA', 'small.png'));
      },
      (d) => `${join(d, 'trainA', 'small.png')}: image is 40x24, smaller than crop_size 32x32 (preprocess 'crop')`,
      ['--preprocess', 'crop'],
    );
  });

  it('--preprocess scale_shortside_and_crop: an image still smaller than the crop after scaling names both sizes; --dataset_mode single cannot train', async () => {
    await failsCleanly(
      async (d) => {
        await sharp({ create: { width: 40, height: 24, channels: 3, background: '#808080' } })
          .png()
          .toFile(join(d, 'trainB', 'small.png'));
      },
      (d) =>
        `${join(d, 'trainB', 'small.png')}: image is 40x24 (resized to 47x28), smaller than crop_size 32x32 (preprocess 'scale_shortside_and_crop')`,
      ['--preprocess', 'scale_shortside_and_crop', '--load_size', '28'],
    );
    await failsCleanly(
      () => undefined,
      () => '--dataset_mode single has one folder and no B images, so CUT cannot train on it',
      ['--dataset_mode', 'single'],
    );
  });

  it('--continue_train without a checkpoint to continue from: names the file looked for', async () => {
    const dataroot = smallDataset(fresh('data'));
    const checkpoints = fresh('checkpoints');
    const r = await cli([
      'train',
      '--dataroot',
      dataroot,
      '--name',
      'none',
      '--checkpoints_dir',
      checkpoints,
      '--continue_train',
      '--epoch',
      '7',
      ...TINY,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(checkpoints, 'none')}: no such checkpoint file or folder`);
    expect(existsSync(checkpoints)).toBe(false);
  });
});

describe('cutjs: bad command lines (exit code 2, nothing started)', () => {
  it('an unknown flag, a negative learning rate, an unknown backend, an unknown command', async () => {
    const checkpoints = fresh('checkpoints');
    const cases: Array<[string[], string]> = [
      [['train', '--dataroot', 'x', '--crop', '64'], 'cutjs train: unknown flag --crop (did you mean --crop_size?) (see --help)'],
      [['train', '--dataroot', 'x', '--lr', '-0.0002'], 'cutjs train: command line: --lr: must be > 0, got -0.0002'],
      [['test', '--backend', 'cuda'], "cutjs test: --backend: unknown backend 'cuda' (expected one of auto, tensorflow, webgpu, wasm, cpu)"],
      [['translate', 'a.png', '--tile', '30'], "cutjs translate: --tile: must be 'auto', 0 (whole images) or a multiple of 4, at least 16, got 30"],
      [['translate', 'a.png', '--tile', '12'], "cutjs translate: --tile: must be 'auto', 0 (whole images) or a multiple of 4, at least 16, got 12"],
      [['translate', '--checkpoint', H2Z_TINY], 'cutjs translate: give one or more images or folders to translate (see --help)'],
      [['trian'], "cutjs: unknown command 'trian' (expected train, test, translate, export, eval, demo, info, pretrained; see cutjs --help)"],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv[0] === 'train' ? [...argv, '--checkpoints_dir', checkpoints] : argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0], argv.join(' ')).toBe(message);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(checkpoints)).toBe(false);
  });

  it('--help of each command exits 0 and lists its flags', async () => {
    for (const [command, flag] of [
      ['train', '--lambda_NCE'],
      ['test', '--results_dir'],
      ['translate', '--tile'],
      ['export', '--dtype'],
      ['demo', '--n_epochs'],
      ['info', '--backend'],
    ]) {
      const r = await cli([command!, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(flag);
    }
    expect((await cli(['--help'])).code).toBe(0);
    expect((await cli([])).code).toBe(2);
  });
});

describe('cutjs test on the reference checkpoint h2z_tiny', () => {
  it("writes the reference's layout, with fake_B within 2 grey levels of the reference's own output", async () => {
    // test.py needs testA and testB; testB is only shown (real_B).
    const dataroot = fresh('h2z');
    mkdirSync(join(dataroot, 'testA'), { recursive: true });
    for (const f of readdirSync(join(H2Z_TINY, 'testA'))) copyFileSync(join(H2Z_TINY, 'testA', f), join(dataroot, 'testA', f));
    smallDataset(dataroot, 2, ['test']);
    rmSync(join(dataroot, 'testA', readdirSync(join(dataroot, 'testA')).find((f) => !readdirSync(join(H2Z_TINY, 'testA')).includes(f))!), {
      force: true,
    });
    const names = readdirSync(join(H2Z_TINY, 'testA')).map((f) => f.replace(/\.jpg$/, ''));
    // A copy of the checkpoint folder: the fixture itself must not be written to.
    const checkpoints = fresh('checkpoints');
    mkdirSync(join(checkpoints, 'h2z_tiny'), { recursive: true });
    for (const f of ['latest_net_G.pth', 'train_opt.txt']) copyFileSync(join(H2Z_TINY, f), join(checkpoints, 'h2z_tiny', f));
    const before = snapshot(checkpoints);
    const results = fresh('results');

    const r = await cli([
      'test',
      '--dataroot',
      dataroot,
      '--name',
      'h2z_tiny',
      '--checkpoints_dir',
      checkpoints,
      '--results_dir',
      results,
      '--backend',
      'wasm',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('backend: wasm');
    expect(snapshot(checkpoints)).toEqual(before);

    const web = join(results, 'h2z_tiny', 'test_latest');
    expect(readdirSync(join(web, 'images')).sort()).toEqual(['fake_B', 'real_A', 'real_B']);
    for (const label of ['real_A', 'fake_B', 'real_B']) {
      expect(readdirSync(join(web, 'images', label)).sort()).toEqual(names.map((n) => `${n}.png`).sort());
    }
    const html = readFileSync(join(web, 'index.html'), 'utf8');
    expect(html).toContain('<title>Experiment = h2z_tiny, Phase = test, Epoch = latest</title>');
    expect(html.match(/<h3>/g)).toHaveLength(5);
    expect(html).toContain(`<img style="width:256px" src="images/fake_B/${names[0]}.png">`);

    let worst = 0;
    for (const name of names) {
      const ours = await pixels(join(web, 'images', 'fake_B', `${name}.png`));
      const ref = await pixels(join(H2Z_TINY, 'expected', 'fake_B', `${name}.png`));
      expect([ours.width, ours.height]).toEqual([256, 256]);
      const d = levels(ours.data, ref.data);
      expect(d.max, name).toBeLessThanOrEqual(2);
      expect(d.mean, name).toBeLessThan(0.5);
      worst = Math.max(worst, d.max);
      // real_A is the 256x256 JPEG itself, through ToTensor/Normalize and back (truncation: at most 1 level down).
      const realA = await pixels(join(web, 'images', 'real_A', `${name}.png`));
      expect(levels(realA.data, (await pixels(join(H2Z_TINY, 'testA', `${name}.jpg`))).data).max).toBeLessThanOrEqual(1);
    }
    console.info(`cutjs test h2z_tiny: fake_B vs the reference's PNGs, max ${worst} levels`);
  });

  it('--dataset_mode single: the images of one folder, real_A and fake_B only, the same fake_B as the reference gives', async () => {
    const checkpoints = fresh('checkpoints');
    mkdirSync(join(checkpoints, 'h2z_tiny'), { recursive: true });
    for (const f of ['latest_net_G.pth', 'train_opt.txt']) copyFileSync(join(H2Z_TINY, f), join(checkpoints, 'h2z_tiny', f));
    const results = fresh('results');
    // The fixture's testA folder as it is: no testB needed.
    const r = await cli([
      'test',
      '--dataroot',
      join(H2Z_TINY, 'testA'),
      '--dataset_mode',
      'single',
      '--name',
      'h2z_tiny',
      '--checkpoints_dir',
      checkpoints,
      '--results_dir',
      results,
      '--backend',
      'wasm',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const web = join(results, 'h2z_tiny', 'test_latest');
    expect(readdirSync(join(web, 'images')).sort()).toEqual(['fake_B', 'real_A']);
    const names = readdirSync(join(H2Z_TINY, 'testA')).map((f) => f.replace(/\.jpg$/, ''));
    expect(readdirSync(join(web, 'images', 'fake_B')).sort()).toEqual(names.map((n) => `${n}.png`).sort());
    for (const name of names) {
      const d = levels(
        (await pixels(join(web, 'images', 'fake_B', `${name}.png`))).data,
        (await pixels(join(H2Z_TINY, 'expected', 'fake_B', `${name}.png`))).data,
      );
      expect(d.max, name).toBeLessThanOrEqual(2);
    }
  });

  it('one corrupt image among good ones (BMP and PPM too): names it and stops before writing, earlier results kept; without it every format goes through', async () => {
    const dataroot = smallDataset(fresh('data'), 3, ['test']);
    copyFileSync('fixtures/decode/bmp_24bit.bmp', join(dataroot, 'testA', 'x_photo.bmp'));
    copyFileSync('fixtures/decode/ppm_binary.ppm', join(dataroot, 'testA', 'y_photo.ppm'));
    const spoiled = join(dataroot, 'testA', readdirSync(join(dataroot, 'testA')).sort()[1]!);
    const good = readFileSync(spoiled);
    writeFileSync(spoiled, good.subarray(0, 3000));
    const results = fresh('results');
    const earlier = join(results, 'h2z_tiny', 'test_latest', 'images', 'fake_B', 'earlier.png');
    mkdirSync(join(earlier, '..'), { recursive: true });
    writeFileSync(earlier, 'an earlier result');
    const before = snapshot(results);
    const checkpoints = fresh('checkpoints');
    mkdirSync(join(checkpoints, 'h2z_tiny'), { recursive: true });
    for (const f of ['latest_net_G.pth', 'train_opt.txt']) copyFileSync(join(H2Z_TINY, f), join(checkpoints, 'h2z_tiny', f));
    const argv = [
      'test',
      '--dataroot',
      dataroot,
      '--name',
      'h2z_tiny',
      '--checkpoints_dir',
      checkpoints,
      '--results_dir',
      results,
      '--backend',
      'wasm',
    ];
    const r = await cli(argv);
    expect(r.code).toBe(1);
    expect(r.stderr, r.stderr).toMatch(
      /cutjs test: 1 of 8 images cannot be used:\n {2}(\S+): not a readable image \(.*(premature end of JPEG|damaged or truncated)/i,
    );
    expect(r.stderr).toContain(`${spoiled}: not a readable image`);
    expect(r.stderr).toContain('nothing was written');
    expect(snapshot(results)).toEqual(before);

    writeFileSync(spoiled, good);
    const ok = await cli(argv);
    expect(ok.code, ok.stderr).toBe(0);
    const fakes = readdirSync(join(earlier, '..')).sort();
    expect(fakes).toHaveLength(6);
    expect(fakes).toEqual(expect.arrayContaining(['earlier.png', 'x_photo.png', 'y_photo.png']));
  });

  it('a checkpoint for another architecture: names the file, the first mismatching key and both shapes', async () => {
    const checkpoints = fresh('checkpoints');
    const run = join(checkpoints, 'other');
    mkdirSync(run, { recursive: true });
    copyFileSync(join(H2Z_TINY, 'latest_net_G.pth'), join(run, 'latest_net_G.pth'));
    writeFileSync(join(run, 'train_opt.txt'), readFileSync(join(H2Z_TINY, 'train_opt.txt'), 'utf8').replace(/ ngf: 8 /, ' ngf: 16 '));
    const dataroot = smallDataset(fresh('data'), 1, ['test']);
    const r = await cli([
      'test',
      '--dataroot',
      dataroot,
      '--name',
      'other',
      '--checkpoints_dir',
      checkpoints,
      '--results_dir',
      fresh('results'),
      '--backend',
      'wasm',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `cutjs test: ${join(run, 'latest_net_G.pth')}: 'model.1.weight' has shape [8,3,7,7], the configured network needs [16,3,7,7]`,
    );
    expect(r.stderr).toContain(`(network built from ${join(run, 'train_opt.txt')}: netG resnet_6blocks, ngf 16, input_nc 3, output_nc 3)`);

    // The same through translate, with the architecture changed by a flag.
    const t = await cli([
      'translate',
      join(dataroot, 'testA'),
      '--checkpoint',
      join(H2Z_TINY, 'latest_net_G.pth'),
      '--netG',
      'resnet_9blocks',
      '--out',
      fresh('out'),
      '--backend',
      'wasm',
    ]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain(`${join(H2Z_TINY, 'latest_net_G.pth')}: unexpected key 'model.18.filt'`);
    expect(t.stderr).toContain('with --netG from the command line');
  });
});

describe('cutjs translate', () => {
  const src = join(H2Z_TINY, 'testA', 'n02381460_1000.jpg');

  it('a 256x256 photo gives the reference output; a 250x190 image (not a multiple of 4) is reflect-padded and cropped back', async () => {
    const dir = fresh('in');
    mkdirSync(dir);
    copyFileSync(src, join(dir, 'n02381460_1000.jpg'));
    // A 250x190 image, and the same image reflect-padded by hand to 252x192 (bottom and right).
    const crop = await sharp(src).extract({ left: 3, top: 5, width: 250, height: 190 }).raw().toBuffer();
    await sharp(crop, { raw: { width: 250, height: 190, channels: 3 } })
      .png()
      .toFile(join(dir, 'crop.png'));
    const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);
    const padded = new Uint8Array(252 * 192 * 3);
    for (let y = 0; y < 192; y++) {
      for (let x = 0; x < 252; x++) {
        for (let c = 0; c < 3; c++) padded[(y * 252 + x) * 3 + c] = crop[(reflect(y, 190) * 250 + reflect(x, 250)) * 3 + c]!;
      }
    }
    await sharp(padded, { raw: { width: 252, height: 192, channels: 3 } })
      .png()
      .toFile(join(dir, 'padded.png'));

    const out = fresh('out');
    const r = await cli(['translate', dir, '--checkpoint', H2Z_TINY, '--out', out, '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['crop.png', 'n02381460_1000.png', 'padded.png']);
    expect(r.stdout).toContain(`${join(dir, 'crop.png')} -> ${join(out, 'crop.png')} (250x190,`);

    const full = await pixels(join(out, 'n02381460_1000.png'));
    expect(levels(full.data, (await pixels(join(H2Z_TINY, 'expected', 'fake_B', 'n02381460_1000.png'))).data).max).toBeLessThanOrEqual(2);

    const ours = await pixels(join(out, 'crop.png'));
    expect([ours.width, ours.height]).toEqual([250, 190]);
    const region = await sharp(join(out, 'padded.png')).extract({ left: 0, top: 0, width: 250, height: 190 }).raw().toBuffer();
    expect(levels(ours.data, new Uint8Array(region)).max).toBe(0);
  });

  it('--threads 2 translates two images at a time (a worker thread) into the same files as --threads 1', async () => {
    const outs = [fresh('one'), fresh('two')];
    const runs = [];
    // With @cut/native-kernels built, wasm runs one JS thread unless two workers are asked for.
    const saved = { workers: process.env.CUT_NATIVE_WORKERS, threads: process.env.CUT_NATIVE_THREADS };
    process.env.CUT_NATIVE_WORKERS = '2';
    try {
      for (const [i, threads] of ['1', '2'].entries()) {
        runs.push(
          await cli(['translate', join(H2Z_TINY, 'testA'), '--checkpoint', H2Z_TINY, '--out', outs[i]!, '--backend', 'wasm', '--threads', threads]),
        );
        expect(runs[i]!.code, runs[i]!.stderr).toBe(0);
      }
    } finally {
      for (const [key, value] of [
        ['CUT_NATIVE_WORKERS', saved.workers],
        ['CUT_NATIVE_THREADS', saved.threads],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    expect(runs[0]!.stdout).not.toContain('threads: 2');
    expect(runs[1]!.stdout).toContain('threads: 2 (an image at a time on each)');
    const names = readdirSync(outs[0]!).sort();
    expect(names).toHaveLength(5);
    expect(readdirSync(outs[1]!).sort()).toEqual(names);
    for (const n of names) expect(Buffer.compare(readFileSync(join(outs[0]!, n)), readFileSync(join(outs[1]!, n))), n).toBe(0);
  });

  it('tiles: 128- and 48-pixel tiles give the whole-image PNG (within a grey level); a tile as large as the image exactly', async () => {
    const outs = { whole: fresh('whole'), big: fresh('big'), small: fresh('small'), tiny: fresh('tiny') };
    const run = async (out: string, ...extra: string[]) => {
      const r = await cli(['translate', src, '--checkpoint', H2Z_TINY, '--out', out, '--backend', 'wasm', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return pixels(join(out, 'n02381460_1000.png'));
    };
    const whole = await run(outs.whole);
    const big = await run(outs.big, '--tile', '256');
    expect(levels(big.data, whole.data).max).toBe(0);
    // Smaller tiles: the same image up to float rounding (a pixel may land on the other side of a level).
    for (const [out, tile] of [
      [outs.small, '128'],
      [outs.tiny, '48'],
    ] as const) {
      const tiled = await run(out, '--tile', tile);
      const d = levels(tiled.data, whole.data);
      expect([tiled.width, tiled.height]).toEqual([256, 256]);
      expect(d.max, `tile ${tile}`).toBeLessThanOrEqual(1);
      expect(d.mean, `tile ${tile}`).toBeLessThan(0.01);
    }
  });

  it("--tile auto (the default) weighs the generator's ngf: h2z_tiny (ngf 8) takes a 1040x1032 image whole; --tile 512 tiles it with the whole-image result", async () => {
    // (At ngf 64, the reference's default, auto tiles above 1024x1024 pixels: tileFor's own test.)
    const dir = fresh('large');
    mkdirSync(dir, { recursive: true });
    // 1040x1032: the photo enlarged, just above a megapixel.
    await sharp(src).resize(1040, 1032).png().toFile(join(dir, 'large.png'));
    const outs = { auto: fresh('large-auto'), tiled: fresh('large-tiled') };
    const auto = await cli(['translate', join(dir, 'large.png'), '--checkpoint', H2Z_TINY, '--out', outs.auto, '--backend', 'wasm']);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stdout).toMatch(/\(1040x1032, [0-9.]+ s\)/);
    const tiled = await cli([
      'translate',
      join(dir, 'large.png'),
      '--checkpoint',
      H2Z_TINY,
      '--out',
      outs.tiled,
      '--backend',
      'wasm',
      '--tile',
      '512',
    ]);
    expect(tiled.code, tiled.stderr).toBe(0);
    expect(tiled.stdout).toContain('(1040x1032, 512-pixel tiles,');
    const [a, b] = await Promise.all([pixels(join(outs.tiled, 'large.png')), pixels(join(outs.auto, 'large.png'))]);
    const d = levels(a.data, b.data);
    expect([a.width, a.height]).toEqual([1040, 1032]);
    expect(d.max).toBeLessThanOrEqual(1);
    expect(d.mean).toBeLessThan(0.01);
  });

  it('a tfjs model folder (model.json + weights.bin) translates exactly as the .pth it was made from', async () => {
    await loadBackend('wasm');
    const ck = loadReferenceCheckpoint(H2Z_TINY);
    const tfjsDir = fresh('tfjs');
    await saveTfjsModel(ck.G, tfjsDir);
    ck.dispose();
    const outs = [fresh('pth'), fresh('tfjs-out')];
    for (const [i, checkpoint] of [join(H2Z_TINY, 'latest_net_G.pth'), tfjsDir].entries()) {
      const r = await cli(['translate', src, '--checkpoint', checkpoint, '--out', outs[i]!, '--backend', 'wasm']);
      expect(r.code, r.stderr).toBe(0);
    }
    const [a, b] = await Promise.all(outs.map((o) => pixels(join(o, 'n02381460_1000.png'))));
    expect(levels(a!.data, b!.data).max).toBe(0);
  });

  it('refuses to overwrite an input, and reports unreadable images (exit 1, prefixed cutjs translate:) after translating the others; a FIFO is no image', async () => {
    const dir = fresh('in');
    mkdirSync(dir);
    copyFileSync(src, join(dir, 'a.jpg'));
    writeFileSync(join(dir, 'b.png'), 'not an image');
    // Reading a FIFO blocks until a writer comes: it must not be taken for an image.
    execFileSync('mkfifo', [join(dir, 'pipe.jpg')]);
    const same = await cli(['translate', dir, '--checkpoint', H2Z_TINY, '--out', dir]);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain(`cutjs translate: ${join(dir, 'b.png')}: the output would overwrite the input (choose another --out)`);
    expect(readFileSync(join(dir, 'b.png'), 'utf8')).toBe('not an image');
    expect(readdirSync(dir).sort()).toEqual(['a.jpg', 'b.png', 'pipe.jpg']);

    const out = fresh('out');
    const r = await cli(['translate', dir, '--checkpoint', H2Z_TINY, '--out', out, '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cutjs translate: ${join(dir, 'b.png')}: not a readable image`);
    expect(r.stderr).toContain('cutjs translate: 1 of 2 images failed\n');
    expect(r.stderr).not.toMatch(/^cutjs:/m);
    expect(readdirSync(out)).toEqual(['a.png']);

    const fifo = await cli(['translate', join(dir, 'pipe.jpg'), '--checkpoint', H2Z_TINY, '--out', fresh('out')]);
    expect(fifo.code).toBe(1);
    expect(fifo.stderr).toBe(`cutjs translate: ${join(dir, 'pipe.jpg')}: not a regular file (give image files or folders of them)\n`);
  });
});

describe('cutjs train end to end (tiny run)', () => {
  const dataroot = smallDataset(fresh('data'), 3, ['train', 'test']);
  const checkpoints = fresh('checkpoints');
  const base = ['--dataroot', dataroot, '--checkpoints_dir', checkpoints, '--backend', 'wasm', ...TINY, '--seed', '3', '--display_id', '0'];

  it('trains with the reference flags, then test and translate use the run', async () => {
    const r = await cli(['train', '--name', 'tiny', ...base, '--n_epochs', '1', '--n_epochs_decay', '0', '--print_freq', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`data: 3 images in ${join(dataroot, 'trainA')}, 3 in ${join(dataroot, 'trainB')} (6 checked)`);
    // One line naming what runs (the details are for --verbose and `cutjs info`).
    expect(r.stdout).toMatch(/^backend: wasm (with native oneDNN kernels \(\d+ threads?\)|\(1 thread; native kernels off.*\))$/m);
    expect(r.stdout).toMatch(/^epoch 1\/1, iter 1\/3, .* (it\/s|s\/it), ETA .*: G_GAN \d/m); // the plain progress line (not a terminal)
    expect(r.stdout).toMatch(/^\(epoch: 1, iters: 3, time: .*\) G_GAN: /m); // the reference's loss line
    expect(r.stdout).toContain('done: 3 images in');
    const run = join(checkpoints, 'tiny');
    for (const f of ['latest_net_G.pth', 'latest_net_D.pth', 'latest_net_F.pth', 'train_opt.txt', 'loss_log.txt', 'web/index.html']) {
      expect(existsSync(join(run, f)), f).toBe(true);
    }
    const opt = readFileSync(join(run, 'train_opt.txt'), 'utf8');
    expect(opt).toMatch(/^ +seed: 3 /m);
    expect(opt).toMatch(/^ +crop_size: 32 /m);
    expect(opt).toMatch(/^ +netG: resnet_1blocks /m);

    const results = fresh('results');
    const t = await cli([
      'test',
      '--dataroot',
      dataroot,
      '--name',
      'tiny',
      '--checkpoints_dir',
      checkpoints,
      '--results_dir',
      results,
      '--num_test',
      '2',
      '--crop_size',
      '32',
      '--load_size',
      '32',
      '--backend',
      'wasm',
    ]);
    expect(t.code, t.stderr).toBe(0);
    const fakes = readdirSync(join(results, 'tiny', 'test_latest', 'images', 'fake_B'));
    expect(fakes).toHaveLength(2);
    expect((await pixels(join(results, 'tiny', 'test_latest', 'images', 'fake_B', fakes[0]!))).width).toBe(32);

    const out = fresh('out');
    const tr = await cli([
      'translate',
      join(dataroot, 'testA'),
      '--name',
      'tiny',
      '--checkpoints_dir',
      checkpoints,
      '--out',
      out,
      '--backend',
      'wasm',
    ]);
    expect(tr.code, tr.stderr).toBe(0);
    expect(readdirSync(out)).toHaveLength(3);
    expect((await pixels(join(out, readdirSync(out)[0]!))).width).toBe(256);
  });

  it('an abort (as Ctrl-C) saves the latest checkpoint and exits 130; --continue_train resumes from it', async () => {
    const controller = new AbortController();
    const long = ['--name', 'stopped', ...base, '--n_epochs', '50', '--n_epochs_decay', '0'];
    const r = await cli(['train', ...long], {
      signal: controller.signal,
      onStdout: (s) => s.startsWith('epoch 1/50, iter 1/3') && controller.abort(),
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toContain('stopped in epoch 1 after 1 images');
    const run = join(checkpoints, 'stopped');
    expect(existsSync(join(run, 'latest_net_G.pth'))).toBe(true);
    expect(existsSync(join(run, 'train_state.json'))).toBe(true);

    const resumed = await cli(['train', ...long, '--continue_train', '--n_epochs', '1']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('starting at epoch 1 (iteration 2 of 3)');
    expect(resumed.stdout).toContain('done: 3 images in');
  });
});
