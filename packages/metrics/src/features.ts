// FID Inception features of images: pytorch-fid's get_activations on any TensorFlow.js backend.
import * as tf from '@tensorflow/tfjs-core';
import type { ByteSource, StateDict } from '@cut/networks';
import { FID_FEATURE_DIM, fidInput, inceptionForward, type FoldedConv } from './inception.js';
import { FID_WEIGHTS_FILE, foldInceptionWeights, readInceptionWeights } from './weights.js';

/** N feature vectors of one dimension, row-major. */
export interface FeatureSet {
  count: number;
  dim: number;
  data: Float32Array | Float64Array;
}

/** An image as integer values, row-major HWC (what @cut/files decodes): 8-bit unless bitDepth says 16. */
export interface RgbImage {
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels: number;
  bitDepth?: 8 | 16;
}

export interface FeaturesOptions {
  /** Images per forward (pytorch-fid's --batch-size; default 10). Only memory and speed depend on it. */
  batchSize?: number;
  /** Called after each batch with the images done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** pytorch-fid's FID Inception v3, loaded from its weights file, on the active backend. */
export class FidInception {
  private constructor(private readonly convs: Map<string, FoldedConv>) {}

  /** From the bytes (or random access to them) of pytorch-fid's pt_inception-2015-12-05-6726825d.pth; `file` names it in errors. */
  static fromPth(source: Uint8Array | ByteSource, file = FID_WEIGHTS_FILE): FidInception {
    return FidInception.fromStateDict(readInceptionWeights(source, file), file);
  }

  /** From a state_dict already read (pytorch-fid's key layout). */
  static fromStateDict(sd: StateDict, file = FID_WEIGHTS_FILE): FidInception {
    return new FidInception(foldInceptionWeights(sd, file));
  }

  /** [N, 2048] pool features of images in [0, 1] (NHWC, any size: resized to 299 as pytorch-fid does). */
  features(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => inceptionForward(fidInput(images), this.convs));
  }

  /**
   * Features of 8-bit RGB images of any sizes (each resized to 299 on its own, as pytorch-fid's
   * network does), in batches, as a FeatureSet in the images' order.
   */
  async featuresOf(images: readonly RgbImage[], options: FeaturesOptions = {}): Promise<FeatureSet> {
    const batchSize = options.batchSize ?? 10;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize: ${batchSize} is not a positive integer`);
    const data = new Float32Array(images.length * FID_FEATURE_DIM);
    for (let start = 0; start < images.length; start += batchSize) {
      const batch = images.slice(start, start + batchSize);
      const feats = tf.tidy(() => {
        // torchvision's ToTensor (x / 255 in float32), then each image to 299 before they are stacked.
        const inputs = batch.map((img) =>
          fidInput(tf.div(tf.tensor4d(rgbFloats(img), [1, img.height, img.width, 3]), img.bitDepth === 16 ? 65535 : 255)),
        );
        return inceptionForward(inputs.length === 1 ? (inputs[0] as tf.Tensor4D) : tf.concat(inputs, 0), this.convs);
      });
      data.set(await feats.data(), start * FID_FEATURE_DIM);
      feats.dispose();
      options.onProgress?.(Math.min(start + batchSize, images.length), images.length);
    }
    return { count: images.length, dim: FID_FEATURE_DIM, data };
  }

  dispose(): void {
    for (const c of this.convs.values()) {
      c.filter.dispose();
      c.bias.dispose();
    }
    this.convs.clear();
  }
}

/** The image's RGB values as floats (grey repeated, alpha dropped: PIL's convert('RGB')). */
function rgbFloats(img: RgbImage): Float32Array {
  const { width, height, channels, data } = img;
  const out = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let k = 0; k < 3; k++) out[p * 3 + k] = data[p * channels + (channels < 3 ? 0 : k)] as number;
  return out;
}
