// generatorToOnnx (issue 21): every generator the registry builds, written as ONNX and run by
// onnxruntime-node, gives what the tfjs network gives on wasm (NCHW there, NHWC here), float32 and float16.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { loadBackend } from '../../../../test-utils/backends.js';
import { defineGenerator, type GeneratorConfigInput } from '../registry.js';
import type { Generator } from '../contract.js';
import { forwardTiled, type HostMap, type StageRunner } from '../tiled.js';
import { ONNX_INPUT, ONNX_OUTPUT, generatorToOnnx, modulesToOnnx, readOnnxModel } from './export.js';

/** Tiny networks of every generator architecture and variant, with the input side each needs. */
const TINY_GENERATORS: ReadonlyArray<{ id: string; config: GeneratorConfigInput; shapes: [number, number, number][] }> = [
  {
    id: 'resnet_2blocks',
    config: { architecture: 'resnet', ngf: 4, nBlocks: 2 },
    shapes: [
      [1, 12, 16],
      [2, 16, 12],
    ],
  },
  {
    id: 'resnet_2blocks_no_antialias',
    config: { architecture: 'resnet', ngf: 4, nBlocks: 2, noAntialias: true, noAntialiasUp: true },
    shapes: [
      [1, 12, 16],
      [2, 16, 12],
    ],
  },
  {
    id: 'resnet_1blocks_batch_dropout',
    config: { architecture: 'resnet', ngf: 4, nBlocks: 1, norm: 'batch', useDropout: true },
    shapes: [[2, 8, 12]],
  },
  { id: 'resnet_1blocks_none', config: { architecture: 'resnet', ngf: 4, nBlocks: 1, norm: 'none' }, shapes: [[2, 8, 12]] },
  { id: 'unet_128', config: { architecture: 'unet', ngf: 2, numDowns: 7 }, shapes: [[1, 128, 128]] },
  { id: 'unet_256_batch_dropout', config: { architecture: 'unet', ngf: 1, numDowns: 8, norm: 'batch', useDropout: true }, shapes: [[1, 256, 256]] },
  {
    id: 'resnet_cat',
    config: { architecture: 'resnet_cat', ngf: 4 },
    shapes: [
      [1, 12, 16],
      [2, 16, 8],
    ],
  },
];

/** Weights of order 1 (xavier, gain 1), so that norm-free networks are not near zero. */
function build(config: GeneratorConfigInput): Generator {
  return defineGenerator({ ...config, init: { type: 'xavier', gain: 1 } } as GeneratorConfigInput, { seed: 3 });
}

/** A fixed NCHW input in [-1, 1]. */
function input(b: number, c: number, h: number, w: number): Float32Array {
  return Float32Array.from({ length: b * c * h * w }, (_, i) => Math.sin(i * 0.37 + 0.1) * 0.9);
}

async function runOnnx(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, dims) });
  const y = out[ONNX_OUTPUT]!.data as Float32Array;
  await session.release();
  return y;
}

function runTfjs(G: Generator, x: Float32Array, [b, c, h, w]: number[]): Float32Array {
  return tf.tidy(() => {
    const nhwc = tf.transpose(tf.tensor4d(x, [b!, c!, h!, w!]), [0, 2, 3, 1]) as tf.Tensor4D;
    return tf.transpose(G.forward(nhwc), [0, 3, 1, 2]).dataSync() as Float32Array;
  });
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('generatorToOnnx', () => {
  for (const { id, config, shapes } of TINY_GENERATORS) {
    it(`${id}: onnxruntime-node gives the tfjs forward (batch sizes and image sizes of one graph)`, async () => {
      const G = build(config);
      const bytes = await generatorToOnnx(G);
      for (const [b, h, w] of shapes) {
        const dims = [b, 3, h, w];
        const x = input(b, 3, h, w);
        const ours = await runOnnx(bytes, x, dims);
        expect(ours.length).toBe(b * 3 * h * w);
        expect(maxDiff(ours, runTfjs(G, x, dims))).toBeLessThan(1e-4);
      }
      G.dispose();
    });
  }

  it('float16: half the bytes, weights rounded as torch .half(), output within 1e-2', async () => {
    const G = build({ architecture: 'resnet', ngf: 8, nBlocks: 2 });
    const f32 = await generatorToOnnx(G);
    const f16 = await generatorToOnnx(G, { dtype: 'float16' });
    expect(f16.length).toBeLessThan(0.6 * f32.length);
    const dims = [1, 3, 16, 16];
    const x = input(1, 3, 16, 16);
    expect(maxDiff(await runOnnx(f16, x, dims), await runOnnx(f32, x, dims))).toBeLessThan(1e-2);
    G.dispose();
  });

  it('writes a dynamic NCHW input and output, weights as initializers under their state_dict names', async () => {
    const G = build({ architecture: 'resnet', ngf: 4, nBlocks: 2 });
    const model = readOnnxModel(await generatorToOnnx(G, { opset: 18 })) as {
      ir_version: number;
      opset_import: { version: number }[];
      graph: { input: unknown[]; output: unknown[]; initializer: { name: string }[] };
    };
    expect(model.ir_version).toBe(8);
    expect(model.opset_import[0]!.version).toBe(18);
    const dims = (v: unknown) => (v as { type: { tensor_type: { shape: { dim: object[] } } } }).type.tensor_type.shape.dim;
    expect(dims(model.graph.input[0])).toEqual([{ dim_param: 'batch' }, { dim_value: 3 }, { dim_param: 'height' }, { dim_param: 'width' }]);
    expect(dims(model.graph.output[0])).toEqual([{ dim_param: 'batch' }, { dim_value: 3 }, { dim_param: 'height' }, { dim_param: 'width' }]);
    const names = model.graph.initializer.map((t) => t.name);
    expect(names).toContain('model.1.weight');
    expect(names).toContain('model.7.filt');
    expect(names).toContain('model.12.conv_block.1.weight');
    G.dispose();
  });

  it("modulesToOnnx: forwardTiled's stages run by onnxruntime-node give the whole image's forward", async () => {
    const G = build({ architecture: 'resnet', ngf: 4, nBlocks: 2 });
    const state = await G.stateDict();
    const sessions = new Map<unknown, ort.InferenceSession>();
    const runStage: StageRunner = async (modules, crop) => {
      let s = sessions.get(modules);
      if (!s) {
        s = await ort.InferenceSession.create(modulesToOnnx(G, modules, crop.channels, state));
        sessions.set(modules, s);
      }
      const nchw = tf.tidy(
        () => tf.transpose(tf.tensor4d(crop.data, [1, crop.height, crop.width, crop.channels]), [0, 3, 1, 2]).dataSync() as Float32Array,
      );
      const out = (await s.run({ [ONNX_INPUT]: new ort.Tensor('float32', nchw, [1, crop.channels, crop.height, crop.width]) }))[ONNX_OUTPUT]!;
      const [, c, h, w] = out.dims.map(Number) as [number, number, number, number];
      const data = tf.tidy(() => tf.transpose(tf.tensor4d(out.data as Float32Array, [1, c, h, w]), [0, 2, 3, 1]).dataSync() as Float32Array);
      return { data, height: h, width: w, channels: c };
    };
    const [h, w] = [40, 36];
    const image: HostMap = { data: input(1, 3, h, w).map((v) => v * 0.5), height: h, width: w, channels: 3 };
    const tiled = await forwardTiled(G, image, { tile: 16, runStage });
    const whole = tf.tidy(() => G.forward(tf.tensor4d(image.data, [1, h, w, 3])).dataSync() as Float32Array);
    expect(tiled.data.length).toBe(whole.length);
    expect(maxDiff(tiled.data, whole)).toBeLessThan(1e-4);
    expect(sessions.size).toBeGreaterThan(5);
    for (const s of sessions.values()) await s.release();
    G.dispose();
  });

  it('refuses an opset or dtype it does not write', async () => {
    const G = build({ architecture: 'resnet', ngf: 2, nBlocks: 1 });
    await expect(generatorToOnnx(G, { opset: 13 })).rejects.toThrow(/opset 13 is not one of 17, 18/);
    await expect(generatorToOnnx(G, { dtype: 'int8' as never })).rejects.toThrow(/dtype 'int8'/);
    G.dispose();
  });
});
