// `cutjs export --format onnx` and `cutjs translate --runtime onnx` (issue 21): the exported file runs
// in onnxruntime-node, and translating through it gives `cutjs translate`'s PNGs within 1 grey level.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { H2Z_TINY, cli, tempDir } from './cli-test-utils.js';
import { DEFAULT_RUNTIME, translateRuntimeLine } from './onnx-runtime.js';

const dir = tempDir('cutjs-onnx-');
const photos = join(dir, 'photos');
/** Five photos of different sizes (odd sides, portrait and landscape, one above 512). */
const SIZES = [
  [256, 256],
  [200, 300],
  [333, 257],
  [97, 141],
  [520, 384],
] as const;
/** The photos translated in 128-pixel tiles too (odd sizes; 520x384: 5 x 3 tiles). */
const TILED = [2, 4];

beforeAll(async () => {
  mkdirSync(photos);
  const testA = join(H2Z_TINY, 'testA');
  const files = readdirSync(testA).sort();
  await Promise.all(
    SIZES.map(([w, h], i) =>
      sharp(join(testA, files[i]!))
        .resize(w, h, { fit: 'fill' })
        .png()
        .toFile(join(photos, `p${i}_${w}x${h}.png`)),
    ),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function pixels(file: string) {
  return (await sharp(file).raw().toBuffer({ resolveWithObject: true })).data;
}

describe('cutjs export --format onnx', () => {
  it('writes an ONNX model that onnxruntime-node runs at any batch and size (float32 and float16)', async () => {
    for (const dtype of ['float32', 'float16']) {
      const out = join(dir, `G.${dtype}.onnx`);
      const r = await cli(['export', '--checkpoint', H2Z_TINY, '--format', 'onnx', '--out', out, '--dtype', dtype]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`wrote .*G\\.${dtype}\\.onnx \\(ResnetGenerator, 124,931 parameters, ${dtype}, opset 17`));
      const session = await ort.InferenceSession.create(out);
      for (const dims of [
        [1, 3, 32, 48],
        [2, 3, 24, 20],
      ]) {
        const x = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.25), dims);
        const y = (await session.run({ input: x })).output!;
        expect(y.dims).toEqual(dims);
      }
      await session.release();
    }
    expect(readFileSync(join(dir, 'G.float16.onnx')).length).toBeLessThan(0.6 * readFileSync(join(dir, 'G.float32.onnx')).length);
  });

  it('says what is wrong with the command line or the checkpoint', async () => {
    const out = join(dir, 'bad.onnx');
    const cases: [string[], number, RegExp][] = [
      [['--format', 'onnx', '--out', out], 2, /say which generator with --checkpoint/],
      [['--checkpoint', H2Z_TINY, '--out', out], 2, /say what to write with --format \(onnx\)/],
      [['--checkpoint', H2Z_TINY, '--format', 'tflite', '--out', out], 2, /--format: 'tflite' is not one of onnx/],
      [['--checkpoint', H2Z_TINY, '--format', 'onnx'], 2, /say where to write with --out/],
      [['--checkpoint', H2Z_TINY, '--format', 'onnx', '--out', out, '--dtype', 'int8'], 2, /--dtype: 'int8' is not one of float32, float16/],
      [['--checkpoint', H2Z_TINY, '--format', 'onnx', '--out', out, '--opset', '11'], 2, /opset/],
      [['--checkpoint', join(dir, 'missing'), '--format', 'onnx', '--out', out], 1, /missing: no such checkpoint file or folder/],
      [['--checkpoint', H2Z_TINY, '--format', 'onnx', '--out', join(dir, 'no/such/G.onnx')], 1, /no folder .*no\/such to write into/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await cli(['export', ...argv]);
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });
});

describe('cutjs translate --runtime onnx', () => {
  it("gives cutjs translate's PNGs within 1 grey level on photos of different sizes", async () => {
    const tfjs = await cli(['translate', photos, '--checkpoint', H2Z_TINY, '--out', join(dir, 'tfjs'), '--backend', 'wasm']);
    expect(tfjs.code, tfjs.stderr).toBe(0);
    const onnx = await cli(['translate', photos, '--checkpoint', H2Z_TINY, '--out', join(dir, 'onnx'), '--backend', 'wasm', '--runtime', 'onnx']);
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(onnx.stdout).toMatch(/runtime: onnx \(onnxruntime-node/);
    for (const [i, [w, h]] of SIZES.entries()) {
      const name = `p${i}_${w}x${h}.png`;
      const [a, b] = [await pixels(join(dir, 'tfjs', name)), await pixels(join(dir, 'onnx', name))];
      expect(b.length).toBe(w * h * 3);
      let max = 0;
      for (let k = 0; k < a.length; k++) max = Math.max(max, Math.abs(a[k]! - b[k]!));
      expect(max, name).toBeLessThanOrEqual(1);
    }
  });

  it("in tiles (each stage its own ONNX model): the tfjs runtime's tiled PNGs within 1 grey level", async () => {
    const tiled = (runtime: string) =>
      cli([
        'translate',
        ...TILED.map((i) => join(photos, `p${i}_${SIZES[i]![0]}x${SIZES[i]![1]}.png`)),
        ...['--checkpoint', H2Z_TINY, '--out', join(dir, `tiled-${runtime}`), '--backend', 'wasm', '--runtime', runtime, '--tile', '128'],
      ]);
    const [tfjs, onnx] = [await tiled('tfjs'), await tiled('onnx')];
    expect(tfjs.code, tfjs.stderr).toBe(0);
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(onnx.stdout).toMatch(/p4_520x384\.png \(520x384, 128-pixel tiles/);
    for (const i of TILED) {
      const [w, h] = SIZES[i]!;
      const name = `p${i}_${w}x${h}.png`;
      const [a, b] = [await pixels(join(dir, 'tiled-tfjs', name)), await pixels(join(dir, 'tiled-onnx', name))];
      let max = 0;
      for (let k = 0; k < a.length; k++) max = Math.max(max, Math.abs(a[k]! - b[k]!));
      expect(max, name).toBeLessThanOrEqual(1);
    }
  });

  it('refuses an unknown runtime', async () => {
    const bad = await cli(['translate', photos, '--checkpoint', H2Z_TINY, '--runtime', 'tensorrt']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--runtime: 'tensorrt' is not one of tfjs, onnx/);
  });
});

describe('the default translate runtime (cutjs info)', () => {
  it('stays tfjs, measured faster, and cutjs info says so and why', async () => {
    expect(DEFAULT_RUNTIME).toBe('tfjs');
    const info = await cli(['info', '--backend', 'cpu']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(
      /translate runtime: tfjs \(the default; --runtime onnx onnxruntime-node 1\.30\.0 is installed, but measured no faster on 2 cores: equal at 256x256, slower at 1024x1024 \(2\.5x in 512-pixel tiles/,
    );
    // Without onnxruntime-node: the same default, and where to get it.
    const missing = await translateRuntimeLine(async () => {
      throw new Error("Cannot find module 'onnxruntime-node'");
    });
    expect(missing).toBe(
      'translate runtime: tfjs (the default; --runtime onnx needs onnxruntime-node, not installed here (optional; see the README, ONNX))',
    );
  });

  it('translates with tfjs when --runtime is not given', async () => {
    const r = await cli(['translate', join(photos, 'p3_97x141.png'), '--checkpoint', H2Z_TINY, '--out', join(dir, 'default'), '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/runtime: onnx/);
  });
});
