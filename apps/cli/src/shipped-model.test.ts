// The horse2zebra model that comes with cutjs (@cut/model-horse2zebra): `cutjs translate --model`
// gives the PNGs that the reference's own define_G + load_state_dict + tensor2im give with the same
// half-precision weights (tools/golden/shipped_model.py), and the card's facts hold.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '@cut/files';
import { horse2zebraModelCard, horse2zebraModelDir } from '@cut/model-horse2zebra';
import { DEMO, ROOT, cli, tempDir } from './cli-test-utils.js';

const GOLDEN = join(ROOT, 'fixtures/golden/horse2zebra_model');
const source = JSON.parse(readFileSync(join(GOLDEN, 'source.json'), 'utf8')) as {
  weights_sha256: string;
  weights_dtypes: string[];
  photos: string[];
};
const weights = join(horse2zebraModelDir, 'latest_net_G.pth');

describe('the shipped horse2zebra model', () => {
  it('is the file the goldens were made from, in half precision, and its card says so', () => {
    const sha = createHash('sha256').update(readFileSync(weights)).digest('hex');
    expect(sha, 'the model changed: rerun tools/golden/shipped_model.py').toBe(source.weights_sha256);
    expect(source.weights_dtypes).toEqual(['torch.float16']);
    const card = horse2zebraModelCard();
    expect(card.name).toBe('horse2zebra');
    expect(card.weightBytes).toBe(statSync(weights).size);
    expect(card.halfPrecisionMaxLevels).toBeLessThanOrEqual(1);
    expect(card.weightBytes).toBeLessThan(25 * 2 ** 20);
  });

  it("cutjs translate --model horse2zebra equals the reference's translation of the same weights within 1 grey level", async () => {
    const out = join(tempDir(), 'out');
    const photos = source.photos.map((p) => join(DEMO, 'testA', p));
    const r = await cli(['translate', ...photos, '--model', 'horse2zebra', '--out', out, '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    for (const p of source.photos) {
      const png = p.replace('.jpg', '.png');
      const [ours, theirs] = await Promise.all([decodeImage(join(out, png)), decodeImage(join(GOLDEN, png))]);
      expect([ours.width, ours.height]).toEqual([theirs.width, theirs.height]);
      let max = 0;
      for (let i = 0; i < ours.data.length; i++) max = Math.max(max, Math.abs(ours.data[i]! - theirs.data[i]!));
      expect(max, png).toBeLessThanOrEqual(1);
    }
  });

  it('--model with an unknown name, or with --checkpoint, is a usage error naming the choices', async () => {
    const photo = join(DEMO, 'testA', source.photos[0]!);
    const unknown = await cli(['translate', photo, '--model', 'zebra2horse']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--model: no model 'zebra2horse' comes with cutjs (there are: horse2zebra)");
    const both = await cli(['translate', photo, '--model', 'horse2zebra', '--checkpoint', 'x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--checkpoint and --model each name a generator: give one');
  });
});
