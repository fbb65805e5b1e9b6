// The results page of a training run, `<checkpoints_dir>/<name>/web/index.html`: the loss curves
// (inline SVG, drawn here) and, newest epoch first like the reference's HTML visualiser, the
// sample images of each epoch (`web/images/epoch%03d_<label>.png`). Plain files with relative
// links: open index.html straight from the disk, no server needed.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encodePng, writeFileAtomic, type ImageU8 } from '@cut/files';
import { tensorToRgb8 } from '@cut/images';

/** One point of the loss curves: x in epochs (epoch − 1 + fraction of the epoch done). */
export interface LossPoint {
  x: number;
  losses: Record<string, number>;
}

/** One evaluation for the FID and KID charts (--eval_freq). */
export interface EvalPoint {
  epoch: number;
  fid: number;
  kid: number;
}

/**
 * The FID and KID charts over epochs (the loss charts' helper), the lowest FID's epoch marked
 * ('best', on both) and named; empty without evaluations.
 */
export function evalChartsHtml(evals: readonly EvalPoint[]): string {
  if (evals.length === 0) return '';
  let best = evals[0]!;
  for (const e of evals) if (e.fid < best.fid) best = e;
  const chart = (key: 'fid' | 'kid', label: string, colour: string) =>
    lossChartSvg(
      evals.map((e) => ({ x: e.epoch, losses: { [label]: e[key], best: e === best ? e[key] : NaN } })),
      [label, 'best'],
      { width: 440, height: 220 },
      [colour, '#e15759'],
      { x: 'epoch', y: label },
    );
  return [
    '<h2 id="fid">FID / KID</h2>',
    `<p>best: epoch ${best.epoch}, FID ${best.fid.toFixed(3)}, KID ${best.kid.toFixed(5)} (best_net_G.pth; cutjs test --epoch best)</p>`,
    `<div style="display:flex;flex-wrap:wrap;gap:8px">${chart('fid', 'FID', '#4e79a7')}${chart('kid', 'KID', '#59a14f')}</div>`,
  ].join('\n');
}

/**
 * The reference's `tensor2im` of the first image of an NHWC batch (RGB; one channel repeated).
 */
export async function tensorToImage(batch: tf.Tensor4D): Promise<ImageU8> {
  const [, height, width, channels] = batch.shape;
  const first = tf.slice(batch, [0, 0, 0, 0], [1, -1, -1, -1]);
  const values = (await first.data()) as Float32Array;
  first.dispose();
  return tensorToRgb8(values, width, height, channels);
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Colours of the curves, in the order of the loss names (Tableau 10). */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** Round step (1, 2 or 5 · 10^k) for about `count` intervals over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

function ticks(lo: number, hi: number, count: number): { lo: number; hi: number; values: number[] } {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const values: number[] = [];
  for (let v = start; v <= end + step * 1e-9; v += step) values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { lo: start, hi: end, values };
}

/** A tick label without float noise (0.30000000000000004 → 0.3). */
const tickLabel = (v: number) => String(Number(v.toPrecision(6)));

/** At most `max` points: means over equal runs of consecutive points (curves stay readable). */
function decimate(points: LossPoint[], max: number): LossPoint[] {
  if (points.length <= max) return points;
  const out: LossPoint[] = [];
  const per = points.length / max;
  for (let b = 0; b < max; b++) {
    const group = points.slice(Math.floor(b * per), Math.floor((b + 1) * per));
    const losses: Record<string, number> = {};
    for (const name of Object.keys(group[0]!.losses)) {
      const vals = group.map((p) => p.losses[name]!).filter(Number.isFinite);
      losses[name] = vals.length ? vals.reduce((a, c) => a + c, 0) / vals.length : NaN;
    }
    out.push({ x: group.reduce((a, p) => a + p.x, 0) / group.length, losses });
  }
  return out;
}

/**
 * The loss curves as a standalone SVG element: axes with ticks, one colour per loss, a legend.
 * `colours` overrides the palette (one per name); `axes` names the axes (epoch and loss by default).
 */
export function lossChartSvg(
  points: LossPoint[],
  names: readonly string[],
  size = { width: 900, height: 360 },
  colours: readonly string[] = names.map((_, i) => PALETTE[i % PALETTE.length]!),
  axes = { x: 'epoch', y: 'loss' },
): string {
  const { width, height } = size;
  // The legend sits in the right margin: wide enough for the longest name (~7 px a character at 12 px).
  const m = { left: 56, right: Math.max(110, 36 + 7 * Math.max(0, ...names.map((n) => n.length))), top: 16, bottom: 44 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
  ];
  const shown = decimate(points, 2000);
  const finite = shown.flatMap((p) => names.map((n) => p.losses[n]).filter((v): v is number => v !== undefined && Number.isFinite(v)));
  if (shown.length === 0 || finite.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#666">no losses logged yet</text></svg>`);
    return parts.join('');
  }
  const xs = ticks(Math.min(...shown.map((p) => p.x)), Math.max(...shown.map((p) => p.x)), 8);
  const ys = ticks(Math.min(0, ...finite), Math.max(...finite), 6);
  const px = (x: number) => m.left + ((x - xs.lo) / (xs.hi - xs.lo)) * plotW;
  const py = (y: number) => m.top + plotH - ((y - ys.lo) / (ys.hi - ys.lo)) * plotH;
  const f = (v: number) => v.toFixed(1);
  // Grid, ticks and labels.
  for (const v of ys.values) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${f(py(v))}" y2="${f(py(v))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${f(py(v) + 4)}" text-anchor="end">${tickLabel(v)}</text>`);
  }
  for (const v of xs.values) {
    parts.push(`<line x1="${f(px(v))}" x2="${f(px(v))}" y1="${m.top + plotH}" y2="${m.top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${f(px(v))}" y="${m.top + plotH + 18}" text-anchor="middle">${tickLabel(v)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(axes.x)}</text>`);
  parts.push(
    `<text x="14" y="${m.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.top + plotH / 2})">${escapeHtml(axes.y)}</text>`,
  );
  // One polyline per loss (a gap where a value is not finite), then the legend.
  names.forEach((name, i) => {
    const colour = colours[i]!;
    const runs: string[][] = [[]];
    for (const p of shown) {
      const v = p.losses[name];
      if (v === undefined || !Number.isFinite(v)) {
        if (runs[runs.length - 1]!.length > 0) runs.push([]);
        continue;
      }
      runs[runs.length - 1]!.push(`${f(px(p.x))},${f(py(v))}`);
    }
    for (const run of runs) {
      if (run.length === 1) parts.push(`<circle cx="${run[0]!.split(',')[0]}" cy="${run[0]!.split(',')[1]}" r="2" fill="${colour}"/>`);
      else if (run.length > 1) parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${run.join(' ')}"/>`);
    }
    const ly = m.top + 10 + i * 18;
    const lx = m.left + plotW + 14;
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 28}" y="${ly + 4}">${escapeHtml(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * One small chart per loss, each on its own axis: the GAN losses (0.1-1) would lie flat on zero
 * under NCE's (~10-40) on a shared one. Colours stay those of the names' order.
 */
export function lossChartsHtml(points: LossPoint[], names: readonly string[]): string {
  if (names.length === 0) return lossChartSvg(points, names);
  const charts = names.map((name, i) => lossChartSvg(points, [name], { width: 440, height: 220 }, [PALETTE[i % PALETTE.length]!]));
  return `<div style="display:flex;flex-wrap:wrap;gap:8px">${charts.join('')}</div>`;
}

/** Writes sample images and rewrites the page; one per run directory. */
export class ResultsPage {
  readonly webDir: string;
  readonly imageDir: string;
  private readonly title: string;
  private readonly winSize: number;

  constructor(webDir: string, runName: string, winSize: number) {
    this.webDir = webDir;
    this.imageDir = join(webDir, 'images');
    this.title = `Experiment name = ${runName}`;
    this.winSize = winSize;
    mkdirSync(this.imageDir, { recursive: true });
  }

  /** File name of one epoch's image of `label` (the reference's `epoch%.3d_<label>.png`). */
  static imageName(epoch: number, label: string): string {
    return `epoch${String(epoch).padStart(3, '0')}_${label}.png`;
  }

  /** Saves the visuals of `epoch` (replacing that epoch's earlier ones), each as a PNG. */
  async saveVisuals(epoch: number, visuals: ReadonlyArray<readonly [string, ImageU8]>): Promise<void> {
    for (const [label, image] of visuals) {
      writeFileAtomic(join(this.imageDir, ResultsPage.imageName(epoch, label)), await encodePng(image));
    }
  }

  /** Epochs up to `last` that have an image for every label, newest first. */
  private epochsWithImages(labels: readonly string[], last: number): number[] {
    const files = new Set(existsSync(this.imageDir) ? readdirSync(this.imageDir) : []);
    const epochs = new Set<number>();
    for (const f of files) {
      const match = /^epoch(\d+)_/.exec(f);
      if (match) epochs.add(Number(match[1]));
    }
    return [...epochs].filter((e) => e <= last && labels.every((l) => files.has(ResultsPage.imageName(e, l)))).sort((a, b) => b - a);
  }

  /**
   * Rewrites index.html: the loss curves, then the images of epochs `epoch` down to 1, newest
   * first (like the reference, a restarted run does not show an older run's later epochs); with
   * evaluations (--eval_freq), the FID and KID charts first.
   */
  writeIndex(points: LossPoint[], lossNames: readonly string[], labels: readonly string[], epoch: number, evals: readonly EvalPoint[] = []): void {
    const w = this.winSize;
    const rows = this.epochsWithImages(labels, epoch).map((epoch) => {
      const cells = labels.map((label) => {
        const src = `images/${ResultsPage.imageName(epoch, label)}`;
        return `<td><a href="${src}"><img src="${src}" alt="${escapeHtml(label)}" style="width:${w}px"></a>` + `<p>${escapeHtml(label)}</p></td>`;
      });
      return `<h3>epoch [${epoch}]</h3>\n<table><tr>${cells.join('')}</tr></table>`;
    });
    const html = [
      '<!DOCTYPE html>',
      '<html lang="en">',
      '<head>',
      '<meta charset="utf-8">',
      `<title>${escapeHtml(this.title)}</title>`,
      '<style>',
      'body { font-family: sans-serif; margin: 16px; }',
      'table { border-collapse: collapse; table-layout: fixed; }',
      'td { border: 1px solid #ccc; padding: 4px; text-align: center; vertical-align: top; word-wrap: break-word; }',
      'td p { margin: 4px 0 0; }',
      'img { image-rendering: pixelated; }',
      '</style>',
      '</head>',
      '<body>',
      `<h1>${escapeHtml(this.title)}</h1>`,
      ...(evals.length ? [evalChartsHtml(evals)] : []),
      '<h2>Losses</h2>',
      lossChartsHtml(points, lossNames),
      '<h2>Samples</h2>',
      rows.length ? rows.join('\n') : '<p>no samples yet</p>',
      '</body>',
      '</html>',
      '',
    ].join('\n');
    writeFileAtomic(join(this.webDir, 'index.html'), html);
  }
}
