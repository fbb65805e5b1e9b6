// The FID Inception network: pytorch-fid's InceptionV3 up to the 2048-d pool features (the
// TensorFlow FID graph of 2015 as pytorch-fid converted it), in NHWC, inference only.
//
// It is torchvision's Inception3 with pytorch-fid's patched blocks: the average pools of the
// A, C and first E blocks leave the zero padding out of the mean (TensorFlow's average pool),
// and the last E block pools its branch with a max pool. Every convolution is a BasicConv2d
// (conv without bias, batch norm with eps 0.001, ReLU); the batch norm is folded into the
// convolution when the weights are loaded.
import * as tf from '@tensorflow/tfjs-core';

/** One BasicConv2d: its state_dict prefix, channels, kernel [h, w], stride and padding [h, w]. */
export interface ConvSpec {
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  stride: number;
  padding: [number, number];
}

const convSpecs: ConvSpec[] = [];
function basicConv(
  name: string,
  inChannels: number,
  outChannels: number,
  kernel: number | [number, number],
  stride = 1,
  padding: number | [number, number] = 0,
): string {
  const k: [number, number] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
  const p: [number, number] = typeof padding === 'number' ? [padding, padding] : padding;
  convSpecs.push({ name, inChannels, outChannels, kernel: k, stride, padding: p });
  return name;
}

type Pool = 'avg-exclude-pad' | 'max';

/** A block's layout: branches of convolutions (a branch may fork into two at its end) and a pooling branch. */
type Block =
  | { kind: 'A'; name: string; in: number; poolFeatures: number }
  | { kind: 'B'; name: string; in: number }
  | { kind: 'C'; name: string; in: number; c7: number }
  | { kind: 'D'; name: string; in: number }
  | { kind: 'E'; name: string; in: number; pool: Pool };

// The network, top to bottom (torchvision's Inception3 with pytorch-fid's FID blocks).
const STEM = [
  basicConv('Conv2d_1a_3x3', 3, 32, 3, 2),
  basicConv('Conv2d_2a_3x3', 32, 32, 3),
  basicConv('Conv2d_2b_3x3', 32, 64, 3, 1, 1),
  'maxpool1',
  basicConv('Conv2d_3b_1x1', 64, 80, 1),
  basicConv('Conv2d_4a_3x3', 80, 192, 3),
  'maxpool2',
] as const;

const BLOCKS: Block[] = [
  { kind: 'A', name: 'Mixed_5b', in: 192, poolFeatures: 32 },
  { kind: 'A', name: 'Mixed_5c', in: 256, poolFeatures: 64 },
  { kind: 'A', name: 'Mixed_5d', in: 288, poolFeatures: 64 },
  { kind: 'B', name: 'Mixed_6a', in: 288 },
  { kind: 'C', name: 'Mixed_6b', in: 768, c7: 128 },
  { kind: 'C', name: 'Mixed_6c', in: 768, c7: 160 },
  { kind: 'C', name: 'Mixed_6d', in: 768, c7: 160 },
  { kind: 'C', name: 'Mixed_6e', in: 768, c7: 192 },
  { kind: 'D', name: 'Mixed_7a', in: 768 },
  { kind: 'E', name: 'Mixed_7b', in: 1280, pool: 'avg-exclude-pad' },
  { kind: 'E', name: 'Mixed_7c', in: 2048, pool: 'max' },
];

for (const b of BLOCKS) {
  const n = (s: string) => `${b.name}.${s}`;
  switch (b.kind) {
    case 'A':
      basicConv(n('branch1x1'), b.in, 64, 1);
      basicConv(n('branch5x5_1'), b.in, 48, 1);
      basicConv(n('branch5x5_2'), 48, 64, 5, 1, 2);
      basicConv(n('branch3x3dbl_1'), b.in, 64, 1);
      basicConv(n('branch3x3dbl_2'), 64, 96, 3, 1, 1);
      basicConv(n('branch3x3dbl_3'), 96, 96, 3, 1, 1);
      basicConv(n('branch_pool'), b.in, b.poolFeatures, 1);
      break;
    case 'B':
      basicConv(n('branch3x3'), b.in, 384, 3, 2);
      basicConv(n('branch3x3dbl_1'), b.in, 64, 1);
      basicConv(n('branch3x3dbl_2'), 64, 96, 3, 1, 1);
      basicConv(n('branch3x3dbl_3'), 96, 96, 3, 2);
      break;
    case 'C':
      basicConv(n('branch1x1'), b.in, 192, 1);
      basicConv(n('branch7x7_1'), b.in, b.c7, 1);
      basicConv(n('branch7x7_2'), b.c7, b.c7, [1, 7], 1, [0, 3]);
      basicConv(n('branch7x7_3'), b.c7, 192, [7, 1], 1, [3, 0]);
      basicConv(n('branch7x7dbl_1'), b.in, b.c7, 1);
      basicConv(n('branch7x7dbl_2'), b.c7, b.c7, [7, 1], 1, [3, 0]);
      basicConv(n('branch7x7dbl_3'), b.c7, b.c7, [1, 7], 1, [0, 3]);
      basicConv(n('branch7x7dbl_4'), b.c7, b.c7, [7, 1], 1, [3, 0]);
      basicConv(n('branch7x7dbl_5'), b.c7, 192, [1, 7], 1, [0, 3]);
      basicConv(n('branch_pool'), b.in, 192, 1);
      break;
    case 'D':
      basicConv(n('branch3x3_1'), b.in, 192, 1);
      basicConv(n('branch3x3_2'), 192, 320, 3, 2);
      basicConv(n('branch7x7x3_1'), b.in, 192, 1);
      basicConv(n('branch7x7x3_2'), 192, 192, [1, 7], 1, [0, 3]);
      basicConv(n('branch7x7x3_3'), 192, 192, [7, 1], 1, [3, 0]);
      basicConv(n('branch7x7x3_4'), 192, 192, 3, 2);
      break;
    case 'E':
      basicConv(n('branch1x1'), b.in, 320, 1);
      basicConv(n('branch3x3_1'), b.in, 384, 1);
      basicConv(n('branch3x3_2a'), 384, 384, [1, 3], 1, [0, 1]);
      basicConv(n('branch3x3_2b'), 384, 384, [3, 1], 1, [1, 0]);
      basicConv(n('branch3x3dbl_1'), b.in, 448, 1);
      basicConv(n('branch3x3dbl_2'), 448, 384, 3, 1, 1);
      basicConv(n('branch3x3dbl_3a'), 384, 384, [1, 3], 1, [0, 1]);
      basicConv(n('branch3x3dbl_3b'), 384, 384, [3, 1], 1, [1, 0]);
      basicConv(n('branch_pool'), b.in, 192, 1);
      break;
  }
}

/** Every BasicConv2d of the network, in torchvision's order (94 of them). */
export const FID_INCEPTION_CONVS: readonly ConvSpec[] = convSpecs;
/** The side pytorch-fid resizes every image to (bilinear, align_corners=False). */
export const FID_INPUT_SIDE = 299;
/** The feature dimension (the pool of the last block). */
export const FID_FEATURE_DIM = 2048;

/** A BasicConv2d with its batch norm folded in: HWIO filter and bias. */
export interface FoldedConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

/** The 3x3, stride 1 average pool that leaves the padding out of each mean (TensorFlow's, pytorch-fid's count_include_pad=False). */
function avgPoolExcludePad(x: tf.Tensor4D): tf.Tensor4D {
  // The sum over the window (zero padding) divided by how many pixels of the image it covers:
  // 9 inside, 6 on an edge, 4 in a corner. Written out so every backend gives the same mean.
  const [, h, w] = x.shape;
  const sum = tf.mul(
    tf.avgPool(
      tf.pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
      3,
      1,
      'valid',
    ),
    9,
  );
  const count = (i: number, n: number) => (i === 0 || i === n - 1 ? (n === 1 ? 1 : 2) : 3);
  const counts = new Float32Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) counts[i * w + j] = count(i, h) * count(j, w);
  return tf.div(sum, tf.tensor4d(counts, [1, h, w, 1]));
}

/**
 * The network's forward from images already resized to 299 and scaled to [-1, 1] (NHWC) to the
 * [N, 2048] pool features. `convs` maps each ConvSpec name to its folded weights.
 */
export function inceptionForward(
  x: tf.Tensor4D,
  convs: ReadonlyMap<string, FoldedConv>,
  /** Sees the output of each stem step and block by its torchvision name (for comparisons with PyTorch). */
  tap?: (name: string, t: tf.Tensor4D) => void,
): tf.Tensor2D {
  return tf.tidy(() => {
    const conv = (name: string, input: tf.Tensor4D): tf.Tensor4D => {
      const spec = specByName.get(name);
      const w = convs.get(name);
      if (!spec || !w) throw new Error(`FID Inception: no weights for ${name}`);
      const [ph, pw] = spec.padding;
      const pad: [[number, number], [number, number], [number, number], [number, number]] | 'valid' =
        ph || pw
          ? [
              [0, 0],
              [ph, ph],
              [pw, pw],
              [0, 0],
            ]
          : 'valid';
      return tf.fused.conv2d({ x: input, filter: w.filter, strides: spec.stride, pad, bias: w.bias, activation: 'relu' });
    };
    const chain = (input: tf.Tensor4D, names: string[]) => names.reduce((t, n) => conv(n, t), input);
    const cat = (parts: tf.Tensor4D[]) => tf.concat(parts, 3);

    let h = x;
    for (const step of STEM) {
      h = step.startsWith('maxpool') ? tf.maxPool(h, 3, 2, 'valid') : conv(step, h);
      tap?.(step, h);
    }

    for (const b of BLOCKS) {
      const n = (s: string) => `${b.name}.${s}`;
      const branchPool = (pool: Pool) => conv(n('branch_pool'), pool === 'max' ? tf.maxPool(h, 3, 1, 'same') : avgPoolExcludePad(h));
      switch (b.kind) {
        case 'A':
          h = cat([
            conv(n('branch1x1'), h),
            chain(h, [n('branch5x5_1'), n('branch5x5_2')]),
            chain(h, [n('branch3x3dbl_1'), n('branch3x3dbl_2'), n('branch3x3dbl_3')]),
            branchPool('avg-exclude-pad'),
          ]);
          break;
        case 'B':
          h = cat([conv(n('branch3x3'), h), chain(h, [n('branch3x3dbl_1'), n('branch3x3dbl_2'), n('branch3x3dbl_3')]), tf.maxPool(h, 3, 2, 'valid')]);
          break;
        case 'C':
          h = cat([
            conv(n('branch1x1'), h),
            chain(h, [n('branch7x7_1'), n('branch7x7_2'), n('branch7x7_3')]),
            chain(h, [n('branch7x7dbl_1'), n('branch7x7dbl_2'), n('branch7x7dbl_3'), n('branch7x7dbl_4'), n('branch7x7dbl_5')]),
            branchPool('avg-exclude-pad'),
          ]);
          break;
        case 'D':
          h = cat([
            chain(h, [n('branch3x3_1'), n('branch3x3_2')]),
            chain(h, [n('branch7x7x3_1'), n('branch7x7x3_2'), n('branch7x7x3_3'), n('branch7x7x3_4')]),
            tf.maxPool(h, 3, 2, 'valid'),
          ]);
          break;
        case 'E': {
          const b3 = conv(n('branch3x3_1'), h);
          const b3dbl = chain(h, [n('branch3x3dbl_1'), n('branch3x3dbl_2')]);
          h = cat([
            conv(n('branch1x1'), h),
            conv(n('branch3x3_2a'), b3),
            conv(n('branch3x3_2b'), b3),
            conv(n('branch3x3dbl_3a'), b3dbl),
            conv(n('branch3x3dbl_3b'), b3dbl),
            branchPool(b.pool),
          ]);
          break;
        }
      }
      tap?.(b.name, h);
    }
    // Adaptive average pool to 1x1.
    return tf.mean(h, [1, 2]) as tf.Tensor2D;
  });
}

const specByName = new Map(convSpecs.map((s) => [s.name, s]));

/**
 * pytorch-fid's input stage: bilinear resize to 299 x 299 (align_corners=False, no antialias:
 * TensorFlow.js's half-pixel-centre bilinear is the same sampling) and [0, 1] -> [-1, 1].
 */
export function fidInput(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = images.shape;
    const resized =
      h === FID_INPUT_SIDE && w === FID_INPUT_SIDE ? images : tf.image.resizeBilinear(images, [FID_INPUT_SIDE, FID_INPUT_SIDE], false, true);
    return tf.sub(tf.mul(resized, 2), 1);
  });
}
