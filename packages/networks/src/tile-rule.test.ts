import { describe, expect, it } from 'vitest';
import { AUTO_TILE, WHOLE_IMAGE_BUDGET, tileFor } from './translate.js';

describe('tileFor: the one tile rule of cutjs translate and the web page', () => {
  it("'auto' in Node: whole up to 1024x1024 pixels for ngf 64, tiles above; the limit scales with ngf", () => {
    expect(tileFor(1024, 1024, 'auto', { ngf: 64 })).toBe(0);
    expect(tileFor(1040, 1032, 'auto', { ngf: 64 })).toBe(AUTO_TILE);
    expect(tileFor(1040, 1032, 'auto')).toBe(AUTO_TILE); // ngf 64 by default
    // A quarter of the width per pixel: four times the pixels fit.
    expect(tileFor(2048, 2048, 'auto', { ngf: 16 })).toBe(0);
    expect(tileFor(2052, 2048, 'auto', { ngf: 16 })).toBe(AUTO_TILE);
  });

  it("'auto' in a browser tiles earlier (1 GB), and on WebGPU any side above 512", () => {
    const browser = { ngf: 64, budget: WHOLE_IMAGE_BUDGET.browser };
    expect(tileFor(611, 611, 'auto', browser)).toBe(0);
    expect(tileFor(612, 612, 'auto', browser)).toBe(AUTO_TILE);
    expect(tileFor(513, 100, 'auto', { ...browser, backend: 'webgpu' })).toBe(AUTO_TILE);
    expect(tileFor(512, 512, 'auto', { ...browser, backend: 'webgpu' })).toBe(0);
    expect(tileFor(513, 100, 'auto', { ...browser, backend: 'wasm' })).toBe(0);
  });

  it('a requested side is kept unless the image fits in one tile; 0 is whole', () => {
    expect(tileFor(300, 200, 128)).toBe(128);
    expect(tileFor(128, 128, 128)).toBe(0);
    expect(tileFor(5000, 5000, 0)).toBe(0);
  });
});
