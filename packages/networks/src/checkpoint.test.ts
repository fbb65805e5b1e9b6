import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { nhwcToNchw, SeededRng } from '@cut/core-tensors';
import { normalizeImage, tensorToRgb8, type RawImage } from '@cut/images';
import { PatchSampleF } from '@cut/patch-sampler';
import { describeBackends } from '../../../test-utils/backends';
import { goldenNHWC, loadFixture, maxAbsDiffTensor, type GoldenTensor } from '../../../test-utils/golden';
import {
  defineDiscriminator,
  defineGenerator,
  loadTfjsGenerator,
  loadTfjsModel,
  networkOptionsFrom,
  parseOptionsFile,
  stripModulePrefix,
  tfjsModelArtifacts,
  type CutModelJson,
  type Network,
} from './index.js';
import {
  loadNetworkWeights,
  loadPatchSamplerWeights,
  loadRunFolder,
  readPth,
  readPthArchive,
  readTfjsModelDir,
  saveNetworkWeights,
  savePatchSamplerWeights,
  saveTfjsModel,
  writePth,
} from './test-files.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ckptDir = join(root, 'fixtures/checkpoints/h2z_tiny');
const ckpt = (file: string) => join(ckptDir, file);
const trainOpt = readFileSync(ckpt('train_opt.txt'), 'utf8');

interface Expected {
  first: { image: string; input: GoldenTensor; output: GoldenTensor };
  images: string[];
}
const expected = loadFixture<Expected>('checkpoints/h2z_tiny/expected/tensors.json.gz');

const work = mkdtempSync(join(tmpdir(), 'cut-ckpt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let serial = 0;
const tmp = (name: string) => join(work, `${serial++}-${name}`);

async function decodeRGB(file: string): Promise<RawImage> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels, file).toBe(3);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3, bitDepth: 8 };
}

/** State-dict shapes in order, for comparing two state_dicts' structure. */
const shapes = (sd: Map<string, { shape: readonly number[] }>) => [...sd].map(([k, v]) => `${k} [${v.shape}]`);

async function expectSameOutputs(a: tf.Tensor, b: tf.Tensor): Promise<void> {
  expect(a.shape).toEqual(b.shape);
  expect(await maxAbsDiffTensor(a, b)).toBe(0);
}

describeBackends('h2z_tiny: the reference checkpoint', (backend) => {
  it('loads G, D and F as train_opt.txt describes and reproduces expected/tensors.json within 1e-4', async () => {
    const before = tf.memory().numTensors;
    const ck = loadRunFolder(ckptDir, { createPatchSampler: (c) => new PatchSampleF(c) });
    expect(ck.options.generator).toMatchObject({ ngf: 8, nBlocks: 6, noAntialias: false, noAntialiasUp: false, useDropout: false });
    expect(ck.options.discriminator).toMatchObject({ ndf: 8, nLayers: 3 });
    expect(ck.files).toEqual({
      options: ckpt('train_opt.txt'),
      G: ckpt('latest_net_G.pth'),
      D: ckpt('latest_net_D.pth'),
      F: ckpt('latest_net_F.pth'),
    });
    expect(ck.F!.levelChannels).toEqual([3, 16, 32, 32, 32]);

    // Every tensor of the three files is in the loaded networks, bit for bit.
    const nets: Array<[string, Map<string, { shape: number[]; data: Float32Array }>]> = [
      ['latest_net_G.pth', await ck.G.stateDict()],
      ['latest_net_D.pth', await ck.D!.stateDict()],
    ];
    const fWeights = ck.F!.getWeights();
    const fState = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of Object.entries(fWeights)) fState.set(k, { shape: t.shape, data: (await t.data()) as Float32Array });
    tf.dispose(Object.values(fWeights));
    nets.push(['latest_net_F.pth', fState]);
    for (const [file, ours] of nets) {
      const theirs = stripModulePrefix(readPth(ckpt(file)));
      expect([...ours.keys()], file).toEqual([...theirs.keys()]);
      for (const [k, t] of theirs) expect(ours.get(k)!.data, `${file} ${k}`).toEqual(t.data);
    }

    const x = goldenNHWC(expected.first.input);
    const y = ck.G.forward(x);
    const nchw = nhwcToNchw(y);
    expect(nchw.shape).toEqual(expected.first.output.shape);
    const d = await maxAbsDiffTensor(nchw, expected.first.output.data);
    console.info(`[${tf.getBackend()}] h2z_tiny ${expected.first.image}: max |ours - reference| = ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-4);

    // The same generator exported to the tfjs format and read back computes the same output
    // (on a 64x64 crop: the cpu backend takes seconds per 256x256 forward).
    const dir = tmp('h2z-tfjs');
    await saveTfjsModel(ck.G, dir);
    const g2 = await loadTfjsGenerator(readTfjsModelDir(dir));
    const crop = tf.slice(x, [0, 96, 96, 0], [1, 64, 64, 3]);
    const [c1, c2] = [ck.G.forward(crop), g2.forward(crop)];
    await expectSameOutputs(c2, c1);
    tf.dispose([x, y, nchw, crop, c1, c2]);
    g2.dispose();
    ck.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  // The image pipeline is the same on every backend, and each backend's generator numbers are
  // checked above; five 256x256 forwards take about a minute on cpu and on software WebGPU.
  it.skipIf(backend !== 'wasm')('translates the five test JPEGs into the reference fake_B PNGs (<= 2 levels, mean < 0.5)', async () => {
    const ck = loadRunFolder(ckptDir);
    const names = expected.images.map((f) => f.replace(/\.jpg$/, ''));
    expect(names).toHaveLength(5);

    // How far sharp's JPEG decoding is from the reference's (PIL), on the first image.
    const first = await decodeRGB(ckpt(`testA/${expected.first.image}`));
    const refInput = goldenNHWC(expected.first.input);
    const inputLevels = (await maxAbsDiffTensor(refInput, normalizeImage(first))) * 127.5;
    refInput.dispose();

    let worst = 0;
    let meanSum = 0;
    const lines: string[] = [];
    for (const name of names) {
      const jpeg = await decodeRGB(ckpt(`testA/${name}.jpg`));
      const png = await decodeRGB(ckpt(`expected/fake_B/${name}.png`));
      expect([jpeg.height, jpeg.width, png.height, png.width]).toEqual([256, 256, 256, 256]);
      const x = tf.tensor4d(normalizeImage(jpeg), [1, 256, 256, 3]);
      const y = ck.G.forward(x);
      const ours = tensorToRgb8((await y.data()) as Float32Array, 256, 256, 3).data;
      tf.dispose([x, y]);
      let max = 0;
      let sum = 0;
      for (let i = 0; i < ours.length; i++) {
        const diff = Math.abs(ours[i]! - png.data[i]!);
        max = Math.max(max, diff);
        sum += diff;
      }
      const mean = sum / ours.length;
      lines.push(`${name} max ${max} mean ${mean.toFixed(4)}`);
      expect(max, name).toBeLessThanOrEqual(2);
      expect(mean, name).toBeLessThan(0.5);
      worst = Math.max(worst, max);
      meanSum += mean;
    }
    console.info(
      `[${tf.getBackend()}] h2z_tiny fake_B vs reference PNGs: max ${worst} levels, mean ${(meanSum / names.length).toFixed(4)} ` +
        `(${lines.join('; ')}); sharp vs PIL JPEG decode of ${expected.first.image}: max ${inputLevels.toFixed(2)} levels`,
    );
    ck.dispose();
  });

  it('saveNetworkWeights / savePatchSamplerWeights write the reference keys, values and _metadata', async () => {
    const ck = loadRunFolder(ckptDir, { createPatchSampler: (c) => new PatchSampleF(c) });
    const files: Array<[string, (path: string, prefix?: string) => Promise<void>]> = [
      ['latest_net_G.pth', (p, prefix) => saveNetworkWeights(ck.G, p, { prefix })],
      ['latest_net_D.pth', (p, prefix) => saveNetworkWeights(ck.D!, p, { prefix })],
      ['latest_net_F.pth', (p, prefix) => savePatchSamplerWeights(ck.F!, p, { prefix })],
    ];
    for (const [file, save] of files) {
      const ref = readPthArchive(ckpt(file));
      // GPU style (what the reference's test.py loads): no prefix; its metadata minus the DataParallel root.
      const plain = tmp(file);
      await save(plain);
      const ours = readPthArchive(plain);
      const refPlain = stripModulePrefix(ref.tensors);
      expect([...ours.tensors.keys()], file).toEqual([...refPlain.keys()]);
      for (const [k, t] of refPlain) {
        expect(ours.tensors.get(k)!.shape, `${file} ${k}`).toEqual(t.shape);
        expect(ours.tensors.get(k)!.data, `${file} ${k}`).toEqual(t.data);
      }
      const refMeta = [...ref.metadata!]
        .filter(([path]) => path !== '')
        .map(([path, v]) => [path === 'module' ? '' : path.slice('module.'.length), v]);
      expect([...ours.metadata!], file).toEqual(refMeta);
      // CPU-training style: the reference's own key names.
      const prefixed = tmp(file);
      await save(prefixed, 'module.');
      expect([...readPth(prefixed).keys()], file).toEqual([...ref.tensors.keys()]);
    }
    // And our files load back.
    const g = defineGenerator(ck.options.generator);
    loadNetworkWeights(g, readFileSync(ckpt('latest_net_G.pth')), { name: 'G bytes' });
    const f = new PatchSampleF({ nc: 256 });
    const fFile = tmp('F.pth');
    await savePatchSamplerWeights(ck.F!, fFile);
    loadPatchSamplerWeights(f, fFile);
    expect(f.levelChannels).toEqual([3, 16, 32, 32, 32]);
    g.dispose();
    f.dispose();
    ck.dispose();
  });
});

describeBackends('checkpoint options: train_opt.txt -> networks', () => {
  it('networks rebuilt from train_opt.txt have exactly the checkpoint state_dict keys and shapes (G, D)', async () => {
    const opts = networkOptionsFrom(parseOptionsFile(trainOpt), 'train_opt.txt');
    const g = defineGenerator(opts.generator);
    const d = defineDiscriminator(opts.discriminator);
    expect(shapes(await g.stateDict())).toEqual(shapes(stripModulePrefix(readPth(ckpt('latest_net_G.pth')))));
    expect(shapes(await d.stateDict())).toEqual(shapes(stripModulePrefix(readPth(ckpt('latest_net_D.pth')))));
    expect(opts.nceLayers).toEqual([0, 4, 8, 12, 16]);
    expect(opts.patchSampler).toEqual({ netF: 'mlp_sample', useMlp: true, nc: 256 });
    g.dispose();
    d.dispose();
  });

  it('a checkpoint of another architecture: the error names the file, the first mismatching key and both shapes', () => {
    const before = tf.memory().numTensors;
    const variant = (key: string, value: string) => new Map([...parseOptionsFile(trainOpt), [key, value]]);
    const load = (key: string, value: string) => () => loadRunFolder(ckptDir, { options: variant(key, value) });
    const file = (name: string) => ckpt(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(load('ngf', '16')).toThrow(
      new RegExp(
        `^${file('latest_net_G.pth')}: 'model\\.1\\.weight' has shape \\[8,3,7,7\\], the configured network needs \\[16,3,7,7\\]\\n  \\(network built from the given options: netG resnet_6blocks, ngf 16, input_nc 3, output_nc 3\\)$`,
      ),
    );
    expect(load('netG', 'resnet_9blocks')).toThrow(new RegExp(`^${file('latest_net_G.pth')}: unexpected key 'model\\.18\\.filt'`));
    expect(load('no_antialias', 'True')).toThrow(new RegExp(`^${file('latest_net_G.pth')}: unexpected key 'model\\.7\\.filt'`));
    // G loads; D does not (and G is freed again).
    expect(load('ndf', '16')).toThrow(
      new RegExp(`^${file('latest_net_D.pth')}: 'model\\.0\\.weight' has shape \\[8,3,4,4\\], the configured network needs \\[16,3,4,4\\]$`),
    );
    const withF = () => loadRunFolder(ckptDir, { options: variant('netF_nc', '128'), createPatchSampler: (c) => new PatchSampleF(c) });
    expect(withF).toThrow(
      new RegExp(`^${file('latest_net_F.pth')}: PatchSampleF.setWeights: mlp_0.0.weight must have shape \\[128,3\\], got \\[256,3\\]`),
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a checkpoint with a non-float tensor is refused with its file and key', () => {
    const opts = networkOptionsFrom(parseOptionsFile(trainOpt));
    const d = defineDiscriminator(opts.discriminator);
    const path = tmp('int64.pth');
    const entries = [...stripModulePrefix(readPth(ckpt('latest_net_D.pth')))].map(
      ([k, t]) =>
        [
          k,
          k === 'model.3.bias' ? { shape: t.shape, data: new BigInt64Array(t.shape[0]!) } : { shape: t.shape, data: t.data as Float32Array },
        ] as const,
    );
    writePth(path, entries);
    expect(() => loadNetworkWeights(d, path)).toThrow(`${path}: 'model.3.bias' holds int64 values (shape [16]), expected a floating-point weight`);
    d.dispose();
  });
});

/** Tiny networks with non-trivial weights: normal init and random biases, seeded. */
function tinyNetworks(seed: number) {
  const init = { type: 'normal' as const, gain: 0.05 };
  const g = defineGenerator({ architecture: 'resnet', ngf: 8, nBlocks: 2, init }, { seed });
  const d = defineDiscriminator({ architecture: 'n_layers', ndf: 8, nLayers: 3, noAntialias: true, init }, { seed: seed + 1 });
  const rng = new SeededRng(seed + 2);
  for (const net of [g, d] as Network[]) {
    const vars = net.trainableVariables();
    net.parameterNames().forEach((name, i) => {
      const v = vars[i]!;
      if (name.endsWith('.bias')) tf.tidy(() => v.assign(tf.tensor(rng.uniformArray(v.size, -0.5, 0.5), v.shape)));
    });
  }
  return { g, d };
}

describeBackends('tfjs model format (model.json + weights.bin)', () => {
  it('ours -> files -> ours gives identical outputs; the files are what tf.io describes', async () => {
    const before = tf.memory().numTensors;
    const { g, d } = tinyNetworks(5);
    const x = tf.tensor4d(new SeededRng(9).uniformArray(2 * 24 * 32 * 3, -1, 1), [2, 24, 32, 3]);
    for (const net of [g, d]) {
      const y = net.forward(x);
      const dir = tmp(`tfjs-${net.role}`);
      const paths = await saveTfjsModel(net, dir);
      expect(paths).toEqual({ modelJson: join(dir, 'model.json'), weights: join(dir, 'weights.bin') });

      const json = JSON.parse(readFileSync(paths.modelJson, 'utf8')) as CutModelJson;
      expect(json.format).toBe('cut-networks');
      expect(json.modelTopology).toMatchObject({ formatVersion: 2, network: net.role, architecture: net.architecture, config: { ...net.config } });
      expect(json.weightsManifest).toHaveLength(1);
      expect(json.weightsManifest[0]!.paths).toEqual(['weights.bin']);
      const specs = json.weightsManifest[0]!.weights;
      expect(specs.map((s) => s.name)).toEqual(net.parameterNames());
      expect(specs.map((s) => s.shape)).toEqual(net.trainableVariables().map((v) => v.shape));
      expect(specs.every((s) => s.dtype === 'float32')).toBe(true);
      const bin = readFileSync(paths.weights);
      expect(bin.byteLength).toBe(4 * net.parameterCount());
      // weights.bin is plain tf.io weight data: tf.io.decodeWeights reads our variables back.
      const decoded = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer, specs);
      const vars = net.trainableVariables();
      for (const [i, name] of net.parameterNames().entries()) expect(await maxAbsDiffTensor(decoded[name]!, vars[i]!), name).toBe(0);
      tf.dispose(Object.values(decoded));

      const fromDir = await loadTfjsModel(readTfjsModelDir(dir));
      expect(fromDir.role).toBe(net.role);
      expect(fromDir.config).toEqual(net.config);
      const y1 = fromDir.forward(x);
      await expectSameOutputs(y1, y);
      // The in-memory form: both files' contents, as a browser has them after fetch.
      const art = await tfjsModelArtifacts(net);
      const fromMemory = await loadTfjsModel({ modelJson: JSON.stringify(art.modelJson), weights: new Uint8Array(art.weights) });
      const y2 = fromMemory.forward(x);
      await expectSameOutputs(y2, y);
      tf.dispose([y, y1, y2]);
      fromDir.dispose();
      fromMemory.dispose();
    }
    x.dispose();
    g.dispose();
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('batch norm generators (unet_128, resnet) keep their running statistics through the files', async () => {
    const before = tf.memory().numTensors;
    const specs = [
      { architecture: 'unet', numDowns: 7, ngf: 2, norm: 'batch' },
      { architecture: 'resnet', ngf: 4, nBlocks: 1, norm: 'batch' },
    ] as const;
    for (const spec of specs) {
      const g = defineGenerator(spec, { seed: 4 });
      const side = spec.architecture === 'unet' ? 128 : 16;
      const x = tf.tensor4d(new SeededRng(3).uniformArray(2 * side * side * 3, -1, 1), [2, side, side, 3]);
      tf.dispose(g.forward(x, true)); // running statistics off 0 and 1, one batch counted
      const y = g.forward(x); // eval mode: uses them
      const dir = tmp(`tfjs-bn-${spec.architecture}`);
      await saveTfjsModel(g, dir);
      const back = await loadTfjsModel(readTfjsModelDir(dir));
      expect([...(await back.stateDict())]).toEqual([...(await g.stateDict())]);
      const y1 = back.forward(x);
      await expectSameOutputs(y1, y);
      tf.dispose([x, y, y1]);
      back.dispose();
      g.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a browser-style load over HTTP (fetch, tf.io.http) builds the same generator', async () => {
    const { g, d } = tinyNetworks(11);
    d.dispose();
    const dir = tmp('served');
    await saveTfjsModel(g, dir);
    const server: Server = createServer((req, res) => {
      try {
        const body = readFileSync(join(dir, (req.url ?? '/').slice(1)));
        res.writeHead(200, { 'content-type': req.url!.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    try {
      const [modelJson, weights] = await Promise.all([
        fetch(`${base}/model.json`).then((r) => r.text()),
        fetch(`${base}/weights.bin`).then((r) => r.arrayBuffer()),
      ]);
      const fetched = await loadTfjsGenerator({ modelJson, weights });
      const viaTfIo = await loadTfjsGenerator(await tf.io.http(`${base}/model.json`).load!());
      const x = tf.tensor4d(new SeededRng(3).uniformArray(16 * 16 * 3, -1, 1), [1, 16, 16, 3]);
      const y = g.forward(x);
      const y1 = fetched.forward(x);
      const y2 = viaTfIo.forward(x);
      await expectSameOutputs(y1, y);
      await expectSameOutputs(y2, y);
      tf.dispose([x, y, y1, y2]);
      fetched.dispose();
      viaTfIo.dispose();
    } finally {
      await new Promise((resolve) => server.close(resolve));
      g.dispose();
    }
  });

  it('reads format-1 files (written before the registry: the class name and its options)', async () => {
    const { g, d } = tinyNetworks(7);
    const art = await tfjsModelArtifacts(g);
    const { architecture: _, norm: __, ...options } = g.config as unknown as Record<string, unknown>;
    // What @cut/networks 0.1 wrote for a generator.
    const old = { ...art.modelJson, modelTopology: { formatVersion: 1, network: 'ResnetGenerator', options, layout: 'NHWC' } };
    const loaded = await loadTfjsGenerator({ modelJson: JSON.stringify(old), weights: art.weights });
    expect(loaded.config).toEqual(g.config);
    const x = tf.tensor4d(new SeededRng(1).uniformArray(16 * 20 * 3, -1, 1), [1, 16, 20, 3]);
    const [y, y1] = [g.forward(x), loaded.forward(x)];
    await expectSameOutputs(y1, y);
    const unknown = { ...old, modelTopology: { ...old.modelTopology, network: 'StyleGAN2Generator' } };
    await expect(loadTfjsModel({ modelJson: JSON.stringify(unknown), weights: art.weights, name: 'm.json' })).rejects.toThrow(
      "m.json: unknown network 'StyleGAN2Generator'",
    );
    tf.dispose([x, y, y1]);
    [g, d, loaded].forEach((n) => n.dispose());
  });

  it('refuses foreign, truncated or mismatched files with a clear message', async () => {
    const before = tf.memory().numTensors;
    const { g, d } = tinyNetworks(2);
    const art = await tfjsModelArtifacts(g);
    const json = art.modelJson;
    const clone = () => JSON.parse(JSON.stringify(json)) as CutModelJson;
    await expect(loadTfjsModel({ modelJson: { ...clone(), format: 'layers-model' as 'cut-networks' }, weights: art.weights })).rejects.toThrow(
      /format 'layers-model' is not 'cut-networks'/,
    );
    await expect(loadTfjsModel({ modelJson: json, weights: art.weights.slice(0, 100) })).rejects.toThrow(
      new RegExp(`the weights hold 100 bytes, the manifest describes ${4 * g.parameterCount()}`),
    );
    const wrongShape = clone();
    wrongShape.modelTopology.config = { ...wrongShape.modelTopology.config, ngf: 4 } as typeof wrongShape.modelTopology.config;
    await expect(loadTfjsModel({ modelJson: wrongShape, weights: art.weights })).rejects.toThrow(
      "model.json: 'model.1.weight' has shape [7,7,3,8], the network needs [7,7,3,4]",
    );
    const renamed = clone();
    renamed.weightsManifest[0]!.weights[0]!.name = 'model.0.weight';
    await expect(loadTfjsModel({ modelJson: renamed, weights: art.weights })).rejects.toThrow(/unexpected weight 'model\.0\.weight'/);
    const dDir = tmp('d-model');
    await saveTfjsModel(d, dDir);
    await expect(loadTfjsGenerator(readTfjsModelDir(dDir))).rejects.toThrow(/holds a discriminator \(NLayerDiscriminator\), not a generator/);
    const unknown = clone();
    (unknown.modelTopology as { config: { architecture: string } }).config.architecture = 'stylegan2';
    await expect(loadTfjsModel({ modelJson: unknown, weights: art.weights })).rejects.toThrow(
      /model\.json: no generator architecture 'stylegan2' \(resnet, unet, resnet_cat\)/,
    );
    g.dispose();
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describeBackends(
  'the default 9-block generator at 256x256',
  () => {
    it('one forward frees every intermediate', async () => {
      const start = tf.memory().numTensors;
      const t0 = performance.now();
      const g = defineGenerator('resnet_9blocks', { seed: 1 });
      const built = performance.now();
      const weights = tf.memory().numTensors;
      expect(weights - start).toBe(g.trainableVariables().length);
      const x = tf.tensor4d(new SeededRng(4).uniformArray(256 * 256 * 3, -1, 1), [1, 256, 256, 3]);
      const t1 = performance.now();
      const y = g.forward(x);
      const out = (await y.data()) as Float32Array;
      const ran = performance.now() - t1;
      expect(y.shape).toEqual([1, 256, 256, 3]);
      expect(out.every((v) => Number.isFinite(v) && Math.abs(v) <= 1)).toBe(true);
      tf.dispose([x, y]);
      expect(tf.memory().numTensors).toBe(weights);
      console.info(
        `[${tf.getBackend()}] default ${g.className} (${g.parameterCount()} parameters): build ${((built - t0) / 1000).toFixed(2)} s, ` +
          `256x256 forward ${(ran / 1000).toFixed(2)} s`,
      );
      g.dispose();
      expect(tf.memory().numTensors).toBe(start);
    });
  },
  { backends: ['wasm'] },
);

describe('fixtures', () => {
  it('the five inputs are the first five testA images, with the expected PNG for each', () => {
    expect(expected.images).toEqual(['n02381460_1000.jpg', 'n02381460_1100.jpg', 'n02381460_120.jpg', 'n02381460_1350.jpg', 'n02381460_1540.jpg']);
    expect(expected.first.image).toBe(expected.images[0]);
  });
});
