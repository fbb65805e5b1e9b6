import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { describeBackends } from '../../../../test-utils/backends';
import { tinyRunOptions } from './tiny-run.test-helper.js';
import { runTraining } from './run.js';
import { lossChartSvg, lossChartsHtml } from './web.js';

const root = mkdtempSync(join(tmpdir(), 'cut-web-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Chromium's binary: $CUT_CHROMIUM, else the first of the usual names on PATH. */
function findChromium(): string | null {
  const candidates = [process.env.CUT_CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const found = spawnSync('sh', ['-c', `command -v "${c}"`], { encoding: 'utf8' }).stdout.trim();
    if (found) return found;
  }
  return null;
}

const chromium = findChromium();
const required = process.env.CUT_REQUIRE_CHROMIUM === '1';
if (!chromium && !required) {
  console.log(
    'web.test.ts: skipping the browser rendering test: no chromium on PATH (apt-get install -y chromium; CUT_REQUIRE_CHROMIUM=1 makes this an error)',
  );
}

/** The `src` of every <img> and `href` of every <a> in a page, entity-decoded. */
function links(html: string): { images: string[]; anchors: string[] } {
  const decode = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const all = (re: RegExp) => [...html.matchAll(re)].map((m) => decode(m[1]!));
  return { images: all(/<img\b[^>]*?\ssrc="([^"]*)"/g), anchors: all(/<a\b[^>]*?\shref="([^"]*)"/g) };
}

describe('lossChartSvg', () => {
  it('draws one curve and one legend entry per loss, with axes', () => {
    const points = [1, 2, 3, 4].map((i) => ({ x: i / 4, losses: { G_GAN: 1 / i, NCE: 3 - i / 2, D_real: i === 3 ? NaN : 0.25 } }));
    const svg = lossChartSvg(points, ['G_GAN', 'NCE', 'D_real']);
    expect(svg.startsWith('<svg')).toBe(true);
    // D_real has a gap at the NaN: two runs (a polyline of two points and a single dot).
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg.match(/<circle /g)).toHaveLength(1);
    for (const name of ['G_GAN', 'NCE', 'D_real', 'epoch', 'loss']) expect(svg).toContain(`>${name}</text>`);
    expect(lossChartSvg([], ['G_GAN'])).toContain('no losses logged yet');
  });

  it('gives each loss its own chart and axis, so small losses are not flat under NCE', () => {
    const points = [1, 2, 3].map((i) => ({ x: i, losses: { G_GAN: 0.2 + i / 100, NCE: 40 - i } }));
    const html = lossChartsHtml(points, ['G_GAN', 'NCE']);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g)!;
    expect(svgs).toHaveLength(2);
    // G_GAN's axis spans its own values (0.2x), not NCE's 0-40.
    const labels = (svg: string) => [...svg.matchAll(/text-anchor="end">([-\d.]+)<\/text>/g)].map((m) => Number(m[1]));
    expect(Math.max(...labels(svgs[0]!))).toBeLessThan(1);
    expect(Math.max(...labels(svgs[1]!))).toBeGreaterThanOrEqual(37);
    expect(svgs[0]).toContain('>G_GAN</text>');
    expect(svgs[1]).toContain('>NCE</text>');
  });
});

describeBackends(
  'results page',
  () => {
    it.skipIf(!chromium && !required)('renders in headless Chromium: a non-blank screenshot, every image present', async () => {
      if (!chromium) throw new Error('CUT_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install -y chromium)');
      const result = await runTraining(tinyRunOptions(root, 'web', { max_dataset_size: 2, seed: 3, display_freq: 1, save_latest_freq: 100 }), {});
      const webDir = join(result.checkpointDir, 'web');
      const index = join(webDir, 'index.html');
      const html = readFileSync(index, 'utf8');

      // Every image and link is a relative path to a file that exists.
      const { images, anchors } = links(html);
      expect(images).toHaveLength(2 * 4); // epochs 2 and 1 × real_A, fake_B, real_B, idt_B
      for (const src of [...images, ...anchors]) {
        expect(src, src).not.toMatch(/^(\/|[a-z]+:)/i);
        expect(existsSync(resolve(dirname(index), src)), src).toBe(true);
      }
      expect(images[0]).toBe('images/epoch002_real_A.png');

      const shot = join(root, 'screenshot.png');
      const profile = mkdtempSync(join(tmpdir(), 'cut-chromium-'));
      try {
        execFileSync(
          chromium,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            `--user-data-dir=${profile}`,
            `--screenshot=${shot}`,
            '--window-size=1200,900',
            pathToFileURL(index).href,
          ],
          { stdio: 'pipe', timeout: 90_000 },
        );
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
      const meta = await sharp(shot).metadata();
      expect(meta.format).toBe('png');
      expect([meta.width, meta.height]).toEqual([1200, 900]);
      // Not blank: the page's text, curves and images make the pixels vary.
      const stats = await sharp(shot).stats();
      const stdev = stats.channels.slice(0, 3).map((c) => c.stdev);
      expect(Math.min(...stdev), `channel standard deviations ${stdev}`).toBeGreaterThan(10);
      // The curves are drawn: the legend's colours appear (Tableau blue of G_GAN, orange of D_real).
      const { data, info } = await sharp(shot).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const count = (rgb: [number, number, number]) => {
        let n = 0;
        for (let i = 0; i < info.width * info.height; i++) {
          const p = i * info.channels;
          if (Math.abs(data[p]! - rgb[0]) < 8 && Math.abs(data[p + 1]! - rgb[1]) < 8 && Math.abs(data[p + 2]! - rgb[2]) < 8) n++;
        }
        return n;
      };
      expect(count([0x4e, 0x79, 0xa7])).toBeGreaterThan(50);
      expect(count([0xf2, 0x8e, 0x2b])).toBeGreaterThan(50);
    });
  },
  { backends: ['wasm'] },
);
