import { describe, expect, it } from 'vitest';
import { decodeNetpbm } from './netpbm.js';

// Every format, against PIL, is in @cut/files' decode-formats.test.ts (decodeImage reads netpbm files with this).
describe('netpbm edge cases and errors', () => {
  it('comments anywhere in a plain file, PBM black = 1, maxval rescaling with halves to even', () => {
    const pbm = decodeNetpbm(bytes('P1\n# c\n3 2\n1 0 1\n0#x\n1 0\n'));
    expect(Array.from(pbm.data)).toEqual([0, 255, 0, 255, 0, 255]);
    // maxval 2: 1 -> 127.5 -> 128 (even), as Python's round does.
    const pgm = decodeNetpbm(bytes('P2 3 1 2\n0 1 2\n'));
    expect(Array.from(pgm.data)).toEqual([0, 128, 255]);
    // maxval 10: 1 -> 25.5 -> 26 (even), 3 -> 76.5 -> 76 (even).
    expect(Array.from(decodeNetpbm(bytes('P2 2 1 10 1 3')).data)).toEqual([26, 76]);
  });

  it('bad files are refused with what is wrong', () => {
    expect(() => decodeNetpbm(bytes('P6\n4 4\n255\n\u0001\u0002'))).toThrow('file is truncated');
    expect(() => decodeNetpbm(bytes('P2 2 1 10 1 11'))).toThrow('sample 11 is above maxval 10');
    expect(() => decodeNetpbm(bytes('P3 2 x'))).toThrow("height 'x' is not a number");
  });
});

/** The bytes of a latin-1 string. */
function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}
