/**
 * Netpbm images (PBM/PGM/PPM, binary P4/P5/P6 and plain-text P1/P2/P3), read the way PIL's
 * `PpmImagePlugin` reads them. sharp's prebuilt libvips has no netpbm loader and npm has no
 * maintained one we can install; the format is a short text header and rows of samples.
 *
 * PIL's rules followed here: '#' starts a comment up to the end of the line, in the header and in
 * plain-text data; in PBM 1 is black; samples are scaled to 8 bits as `round(v / maxval * 255)`
 * (Python's round, halves to even) unless maxval is 255; a PGM with maxval above 255 keeps its
 * depth (PIL opens it as mode 'I'): here as 16-bit samples scaled to 0..65535.
 */

export interface NetpbmImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  /** 1 (PBM, PGM) or 3 (PPM). */
  channels: 1 | 3;
  bitDepth: 8 | 16;
}

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** Python's round() of a non-negative value: to nearest, halves to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** True when the bytes start like a netpbm file ("P1".."P6" then white space). */
export function isNetpbm(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0x50 && bytes[1]! >= 0x31 && bytes[1]! <= 0x36 && isSpace(bytes[2]!);
}

/** Decodes a netpbm file; throws with what is wrong (the caller adds the file name). */
export function decodeNetpbm(bytes: Uint8Array): NetpbmImage {
  if (!isNetpbm(bytes)) throw new Error('not a netpbm (P1-P6) file');
  const kind = bytes[1]! - 0x30;
  let pos = 2;

  // Next white-space separated token, skipping comments; positions `pos` after it.
  const token = (): string => {
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos]!)) pos++;
      if (pos < bytes.length && bytes[pos] === 0x23) {
        while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
        continue;
      }
      break;
    }
    const start = pos;
    while (pos < bytes.length && !isSpace(bytes[pos]!) && bytes[pos] !== 0x23) pos++;
    if (start === pos) throw new Error('file ends inside the header or the data');
    return String.fromCharCode(...bytes.subarray(start, pos));
  };
  const int = (what: string): number => {
    const t = token();
    if (!/^\d+$/.test(t)) throw new Error(`${what} '${t}' is not a number`);
    return Number(t);
  };

  const width = int('width');
  const height = int('height');
  if (width < 1 || height < 1) throw new Error(`bad size ${width}x${height}`);
  const bitmap = kind === 1 || kind === 4;
  const maxval = bitmap ? 1 : int('maxval');
  if (!(maxval > 0 && maxval < 65536)) throw new Error(`maxval ${maxval} must be in 1..65535`);
  const channels: 1 | 3 = kind === 3 || kind === 6 ? 3 : 1;
  const count = width * height * channels;
  const binary = kind >= 4;
  // Exactly one white-space byte separates the header from binary data.
  if (binary) pos++;

  if (bitmap) {
    const out = new Uint8Array(count);
    if (binary) {
      const rowBytes = Math.ceil(width / 8);
      if (pos + rowBytes * height > bytes.length) throw new Error('file is truncated');
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const bit = (bytes[pos + y * rowBytes + (x >> 3)]! >> (7 - (x & 7))) & 1;
          out[y * width + x] = bit ? 0 : 255;
        }
      }
    } else {
      // Plain PBM: digits 0/1, white space optional between them.
      let i = 0;
      while (i < count) {
        while (pos < bytes.length && (isSpace(bytes[pos]!) || bytes[pos] === 0x23)) {
          if (bytes[pos] === 0x23) while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
          else pos++;
        }
        if (pos >= bytes.length) throw new Error('file is truncated');
        const b = bytes[pos++]!;
        if (b !== 0x30 && b !== 0x31) throw new Error(`bad PBM sample '${String.fromCharCode(b)}'`);
        out[i++] = b === 0x31 ? 0 : 255;
      }
    }
    return { data: out, width, height, channels, bitDepth: 8 };
  }

  const sixteen = channels === 1 && maxval > 255;
  const outMax = sixteen ? 65535 : 255;
  // Per-sample scaling, as a table (maxval is at most 65535).
  const table = sixteen ? new Uint16Array(maxval + 1) : new Uint8Array(maxval + 1);
  for (let v = 0; v <= maxval; v++) table[v] = maxval === outMax ? v : roundHalfEven((v / maxval) * outMax);
  const out = sixteen ? new Uint16Array(count) : new Uint8Array(count);
  const check = (v: number): number => {
    if (v > maxval) throw new Error(`sample ${v} is above maxval ${maxval}`);
    return table[v]!;
  };
  if (binary) {
    const wide = maxval > 255;
    if (pos + count * (wide ? 2 : 1) > bytes.length) throw new Error('file is truncated');
    for (let i = 0; i < count; i++) {
      out[i] = check(wide ? (bytes[pos + 2 * i]! << 8) | bytes[pos + 2 * i + 1]! : bytes[pos + i]!);
    }
  } else {
    for (let i = 0; i < count; i++) out[i] = check(int('sample'));
  }
  return { data: out, width, height, channels, bitDepth: sixteen ? 16 : 8 };
}
