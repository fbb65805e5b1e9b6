// 8-bit pixels to the network's [-1, 1] floats and back, exactly as `cutjs translate` converts
// them (the reference's transforms.Normalize and tensor2im), so the page's PNG equals the CLI's.

/** (v / 255 - 0.5) / 0.5 in float32 for every 8-bit value. */
const NORMALIZED = Float32Array.from({ length: 256 }, (_, v) => Math.fround(Math.fround(Math.fround(v / 255) - 0.5) / 0.5));

/** RGBA image data to HWC floats with `channels` 3 (RGB) or 1 (ITU-R 601 luma, PIL's convert('L')). */
export function toNetworkImage(image: ImageData, channels: number): Float32Array {
  if (channels !== 1 && channels !== 3) throw new Error(`the generator takes ${channels} channels; the page handles 1 or 3`);
  const n = image.width * image.height;
  const px = image.data;
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    if (channels === 3) {
      for (let c = 0; c < 3; c++) out[i * 3 + c] = NORMALIZED[px[i * 4 + c]!]!;
    } else {
      out[i] = NORMALIZED[Math.floor((px[i * 4]! * 19595 + px[i * 4 + 1]! * 38470 + px[i * 4 + 2]! * 7471 + 0x8000) / 65536)]!;
    }
  }
  return out;
}

/** HWC floats (1 or 3 channels) to opaque RGBA: clamp to [-1, 1], (x + 1) / 2 * 255 in float32, truncated. */
export function fromNetworkImage(data: Float32Array, width: number, height: number, channels: number): ImageData {
  if (channels !== 1 && channels !== 3) throw new Error(`the generator gives ${channels} channels; the page shows 1 or 3`);
  const out = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[i * channels + (channels === 1 ? 0 : c)]!;
      const clamped = v < -1 ? -1 : v > 1 ? 1 : v; // NaN stays NaN and becomes 0 below
      out.data[i * 4 + c] = Math.trunc(Math.fround(Math.fround(Math.fround(clamped + 1) / 2) * 255)) || 0;
    }
    out.data[i * 4 + 3] = 255;
  }
  return out;
}
