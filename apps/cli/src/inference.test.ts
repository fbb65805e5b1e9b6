import { describe, expect, it } from 'vitest';
import { defineGenerator } from '@cut/networks';
import { describeBackends } from '../../../test-utils/backends';
import { paddedSize, translateImage, translateWhole, type HostImage } from '@cut/networks';

describe('inference geometry', () => {
  it('the generator gets sides that are multiples of 4 and at least 8', () => {
    expect([5, 8, 9, 190, 250, 256].map((n) => paddedSize(n))).toEqual([8, 8, 12, 192, 252, 256]);
  });
});

describeBackends(
  'translateImage',
  () => {
    it('tiles of an image whose sides are not multiples of 4 (padded, tiled, cropped back) give the whole-image result', async () => {
      const G = defineGenerator({ architecture: 'resnet', ngf: 8, nBlocks: 2, init: { type: 'xavier', gain: 1 } }, { seed: 3 });
      const [h, w] = [37, 58];
      const data = new Float32Array(h * w * 3);
      for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.013) * Math.cos(i * 0.0007);
      const img: HostImage = { data, width: w, height: h, channels: 3 };
      const whole = await translateWhole(G, img);
      let spread = 0;
      for (const v of whole.data) spread = Math.max(spread, Math.abs(v));
      expect(spread).toBeGreaterThan(0.5);
      for (const tile of [16, 24, 40]) {
        const stages: number[] = [];
        const tiled = await translateImage(G, img, { tile, onStage: (done, total) => stages.push(total - done) });
        expect([tiled.width, tiled.height, tiled.channels]).toEqual([w, h, 3]);
        let d = 0;
        for (let i = 0; i < whole.data.length; i++) d = Math.max(d, Math.abs(tiled.data[i]! - whole.data[i]!));
        expect(d, `tile ${tile}`).toBeLessThan(2e-5);
        expect(stages.at(-1)).toBe(0);
      }
      G.dispose();
    });
  },
  { backends: ['wasm'] },
);
