import { describe, expect, it } from 'vitest';
import { Progress, formatDuration, type ProgressInfo } from './progress.js';

const info = (epochIter: number, extra: Partial<ProgressInfo> = {}): ProgressInfo => ({
  epoch: 2,
  epochIter,
  itersPerEpoch: 10,
  nEpochs: 3,
  losses: { G_GAN: 0.5, D_real: 0.25, NCE: 123.456 },
  lr: 0.0002,
  secondsPerIter: 0.5,
  ...extra,
});

function sink(tty: boolean) {
  const writes: string[] = [];
  return { writes, out: { write: (s: string) => writes.push(s), isTTY: tty } };
}

describe('Progress', () => {
  it('on a terminal: one line redrawn in place (epoch, bar, iteration, speed, ETA, losses), log lines above it', () => {
    let t = 0;
    const { writes, out } = sink(true);
    const p = new Progress(out, { tty: true, columns: 200, now: () => t });
    p.update(info(4));
    expect(writes).toEqual(['\r\x1b[Kepoch 2/3 ████████░░░░░░░░░░░░ 4/10 · 2.00 it/s · ETA 0:08 · G_GAN 0.500 D_real 0.250 NCE 123.5']);
    t = 50;
    p.update(info(5)); // redraws at most every 100 ms
    expect(writes).toHaveLength(1);
    p.log('(epoch: 2, iters: 5) G_GAN: 0.500');
    expect(writes[1]).toBe(`\r\x1b[K(epoch: 2, iters: 5) G_GAN: 0.500\n${writes[0]!.slice(4)}`);
    t = 60;
    p.update(info(10)); // the end of an epoch is always drawn
    expect(writes[2]).toContain(' 10/10 · 2.00 it/s · ETA 0:05');
    p.finish();
    expect(writes.at(-1)).toBe('\n');
  });

  it('clear() takes the status line off the screen (before a line on stderr); the next update draws it again', () => {
    let t = 0;
    const { writes, out } = sink(true);
    const p = new Progress(out, { tty: true, columns: 200, now: () => t });
    p.update(info(4));
    p.clear();
    expect(writes[1]).toBe('\r\x1b[K');
    p.log('saved');
    expect(writes[2]).toBe('saved\n'); // no status line to redraw under it
    t = 200;
    p.update(info(5));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line sequence is what is tested
    expect(writes[3]).toMatch(/^\r\x1b\[Kepoch 2\/3 .* 5\/10 /);
    const plain = sink(false);
    new Progress(plain.out, { tty: false }).clear();
    expect(plain.writes).toEqual([]);
  });

  it('cuts the line to the terminal width', () => {
    const { writes, out } = sink(true);
    new Progress(out, { tty: true, columns: 40, now: () => 0 }).update(info(1));
    expect(writes[0]!.slice(4)).toHaveLength(39);
    expect(writes[0]!.endsWith('…')).toBe(true);
  });

  it('elsewhere: a plain line at the first iteration, then at most one per interval', () => {
    let t = 0;
    const { writes, out } = sink(false);
    const p = new Progress(out, { tty: false, intervalMs: 1000, now: () => t });
    p.update(info(1, { secondsPerIter: 4 }));
    expect(writes).toEqual(['epoch 2/3, iter 1/10, 4.00 s/it, ETA 1:16, lr 2.00e-4: G_GAN 0.500 D_real 0.250 NCE 123.5\n']);
    t = 500;
    p.update(info(2));
    p.log('a log line');
    expect(writes).toHaveLength(2);
    expect(writes[1]).toBe('a log line\n');
    t = 1000;
    p.update(info(3));
    expect(writes[2]).toMatch(/^epoch 2\/3, iter 3\/10, /);
    p.finish();
    expect(writes).toHaveLength(3);
  });

  it('formats durations as m:ss or h:mm:ss', () => {
    expect([formatDuration(0), formatDuration(61), formatDuration(3600 + 62), formatDuration(Infinity)]).toEqual(['0:00', '1:01', '1:01:02', '?']);
  });
});
