// What a network does to one side of its input (height and width are independent), layer by
// layer, from its config alone: the length out, or why a layer cannot take the length it gets.
// Architectures describe themselves with these steps; the trainer checks a crop size up front
// with them, and translation pads an image to a side the generator takes.
import type { SideSizing } from './contract.js';

/** A side's length through a chain of layers: the length out, or why the chain cannot take it. */
export type Walk = { size: number } | { fails: string };
/** One layer's effect on a side's length. */
export type Step = (size: number) => Walk;

const pixels = (n: number) => `${n} pixel${n === 1 ? '' : 's'}`;

/** Reflection padding by `pad` needs a side longer than `pad` (the reference's ReflectionPad2d). */
export function reflectPad(size: number, pad: number, where: string): Walk {
  return size > pad ? { size: size + 2 * pad } : { fails: `${where} pads ${pad} by reflection and needs more than ${pixels(pad)}, has ${size}` };
}

/** A convolution's output length (PyTorch's formula); at least 1 or it fails. */
export function conv(size: number, kernel: number, stride: number, pad: number, where: string): Walk {
  const out = Math.floor((size + 2 * pad - kernel) / stride) + 1;
  return out >= 1 ? { size: out } : { fails: `${where} (${kernel}x${kernel}) gets ${pixels(size)} and leaves none` };
}

/** The reference's Downsample (antialiased): reflect pad 1, 3x3 blur, stride 2. */
export function blurDown(size: number, where: string): Walk {
  const padded = reflectPad(size, 1, where);
  return 'fails' in padded ? padded : conv(padded.size, 3, 2, 0, where);
}

/** A side through the steps in order. */
export function chain(size: number, steps: readonly Step[]): Walk {
  let w: Walk = { size };
  for (const step of steps) {
    if ('fails' in w) return w;
    w = step(w.size);
  }
  return w;
}

/**
 * A network's side facts from its steps: sides must be multiples of `multiple`; the smallest is
 * found by trying every multiple from `multiple` up (every length grows with the input, so the
 * sides that work are all those from the first one up).
 */
export function sideSizing(multiple: number, steps: readonly Step[]): SideSizing {
  const sideProblem = (size: number): string | null => {
    if (size % multiple !== 0) return `needs a side that is a multiple of ${multiple}, has ${size}`;
    const w = chain(size, steps);
    return 'fails' in w ? w.fails : null;
  };
  let minimum: number | undefined;
  return {
    multiple,
    get minimumSide() {
      if (minimum === undefined) {
        for (let s = multiple; s <= 1 << 20; s += multiple) {
          if (sideProblem(s) === null) return (minimum = s);
        }
        throw new Error(`no side up to ${1 << 20} pixels goes through this network`);
      }
      return minimum;
    },
    sideProblem,
  };
}
