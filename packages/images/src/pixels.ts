/**
 * Pixels in memory and the conversions the reference applies to them: decoded samples to RGB
 * (PIL's `convert('RGB')`), RGB to luminance (`convert('L')`), the input normalisation
 * (`ToTensor` + `Normalize(0.5, 0.5)`) and the output's `tensor2im`. No file system, no DOM: the
 * CLI, the trainer and the web page all use these.
 */

/** Pixels, HWC row-major. 8-bit data is 0..255, 16-bit data 0..65535. */
export interface RawImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  bitDepth: 8 | 16;
}

/**
 * Grey, grey+alpha, RGB or RGBA samples (`image.channels` 1 to 4) to RGB: grey replicated, alpha
 * dropped, not composited (PIL's `convert('RGB')`). `name` (a file name) starts any error.
 */
export function toRgb(img: RawImage, name = 'image'): RawImage {
  const { width, height, channels: c, data: src } = img;
  const n = width * height;
  if (src.length !== n * c) throw new Error(`${name}: decoded ${src.length} samples for ${width}x${height}x${c}`);
  if (c === 3) return { data: src, width, height, channels: 3, bitDepth: img.bitDepth };
  const rgb = img.bitDepth === 16 ? new Uint16Array(n * 3) : new Uint8Array(n * 3);
  if (c === 4) {
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = src[4 * i]!;
      rgb[3 * i + 1] = src[4 * i + 1]!;
      rgb[3 * i + 2] = src[4 * i + 2]!;
    }
  } else if (c === 1 || c === 2) {
    for (let i = 0; i < n; i++) {
      const v = src[c * i]!;
      rgb[3 * i] = v;
      rgb[3 * i + 1] = v;
      rgb[3 * i + 2] = v;
    }
  } else {
    throw new Error(`${name}: unsupported channel count ${c}`);
  }
  return { data: rgb, width, height, channels: 3, bitDepth: img.bitDepth };
}

/**
 * PIL's CMYK -> RGB (Pillow's `Convert.c`, no colour management): with k' = 255 - K, each of
 * R, G, B is k' - C*k'/255, the product divided by 255 with PIL's rounding ((t + (t >> 8)) >> 8,
 * t = C*k' + 128).
 */
export function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const n = cmyk.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[4 * i + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = cmyk[4 * i + c]! * nk + 128;
      out[3 * i + c] = nk - ((t + (t >> 8)) >> 8);
    }
  }
  return out;
}

/**
 * RGB to one luminance channel, PIL's `convert('L')`: ITU-R 601-2 luma
 * (0.299, 0.587, 0.114) in 16-bit fixed point, rounded. The same integer formula on
 * 16-bit samples keeps 16 bits. Grey stored as RGB comes back unchanged.
 */
export function rgbToLuma(img: RawImage): RawImage {
  if (img.channels !== 3) throw new Error(`rgbToLuma: expected 3 channels, got ${img.channels}`);
  const n = img.width * img.height;
  const out = img.bitDepth === 8 ? new Uint8Array(n) : new Uint16Array(n);
  const s = img.data;
  for (let i = 0; i < n; i++) {
    const acc = s[3 * i]! * 19595 + s[3 * i + 1]! * 38470 + s[3 * i + 2]! * 7471 + 0x8000;
    out[i] = Math.floor(acc / 65536);
  }
  return { data: out, width: img.width, height: img.height, channels: 1, bitDepth: img.bitDepth };
}

/** The image with `nc` channels: 3 = RGB, 1 = luminance. */
export function toChannels(img: RawImage, nc: number): RawImage {
  if (nc === img.channels) return img;
  if (nc === 1 && img.channels === 3) return rgbToLuma(img);
  throw new Error(`cannot convert a ${img.channels}-channel image to ${nc} channels (input_nc/output_nc must be 1 or 3)`);
}

/** Rows [top, top+height) and columns [left, left+width), like PIL's `crop` inside the image. */
export function cropImage(img: RawImage, left: number, top: number, width: number, height: number): RawImage {
  if (left < 0 || top < 0 || left + width > img.width || top + height > img.height) {
    throw new Error(`cropImage: ${width}x${height}+${left}+${top} is outside the ${img.width}x${img.height} image`);
  }
  if (left === 0 && top === 0 && width === img.width && height === img.height) return img;
  const c = img.channels;
  const out = img.bitDepth === 8 ? new Uint8Array(width * height * c) : new Uint16Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * c;
    out.set(img.data.subarray(from, from + width * c), y * width * c);
  }
  return { data: out, width, height, channels: c, bitDepth: img.bitDepth };
}

/** Mirror left-right (PIL's `FLIP_LEFT_RIGHT`). */
export function flipHorizontal(img: RawImage): RawImage {
  const { width: w, height: h, channels: c } = img;
  const out = img.bitDepth === 8 ? new Uint8Array(img.data.length) : new Uint16Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + x) * c;
      const to = (y * w + (w - 1 - x)) * c;
      for (let ch = 0; ch < c; ch++) out[to + ch] = img.data[from + ch]!;
    }
  }
  return { ...img, data: out };
}

/**
 * torchvision's `ToTensor()` + `Normalize(0.5, 0.5)` for 8-bit values, in float32 steps
 * exactly as torch computes them: `(v / 255 - 0.5) / 0.5`.
 */
const NORMALIZED_8BIT = Float32Array.from({ length: 256 }, (_, v) => {
  const unit = Math.fround(v / 255);
  return Math.fround(Math.fround(unit - 0.5) / 0.5);
});

/** Pixels to the network's float32 in [-1, 1], HWC (NHWC with N = 1). 16-bit samples scale by 65535. */
export function normalizeImage(img: RawImage, out?: Float32Array, offset = 0): Float32Array {
  const n = img.data.length;
  const dst = out ?? new Float32Array(n);
  if (img.bitDepth === 8) {
    for (let i = 0; i < n; i++) dst[offset + i] = NORMALIZED_8BIT[img.data[i]!]!;
  } else {
    for (let i = 0; i < n; i++) dst[offset + i] = Math.fround(Math.fround(img.data[i]! / 65535) - 0.5) / 0.5;
  }
  return dst;
}

/** An 8-bit image as the network's output becomes one: interleaved RGB (or RGBA). */
export interface Rgb8Image {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/**
 * The reference's `tensor2im` (`util/util.py`): clamp to [-1, 1], `(x + 1) / 2 * 255` in float32,
 * cast to uint8 by truncation (NaN gives 0); one channel is repeated into R, G and B. `data` is
 * HWC with `channels` 1 or 3. `alpha`: RGBA with opaque alpha (a canvas's ImageData layout).
 */
export function tensorToRgb8(data: Float32Array, width: number, height: number, channels: number, alpha = false): Rgb8Image {
  if (channels !== 1 && channels !== 3) throw new Error(`cannot make an image of ${channels} channels (1 or 3 channels)`);
  if (data.length !== width * height * channels) throw new Error(`image data has ${data.length} values, expected ${width}x${height}x${channels}`);
  const stride = alpha ? 4 : 3;
  const out = new Uint8Array(width * height * stride);
  const f = Math.fround;
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[i * channels + (channels === 1 ? 0 : c)]!;
      const clamped = v < -1 ? -1 : Math.min(v, 1); // NaN stays NaN and becomes 0 below
      out[i * stride + c] = Math.trunc(f(f(f(clamped + 1) / 2) * 255)) || 0;
    }
    if (alpha) out[i * 4 + 3] = 255;
  }
  return { data: out, width, height, channels: alpha ? 4 : 3 };
}
