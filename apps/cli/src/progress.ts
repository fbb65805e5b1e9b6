// Training progress: one redrawn status line on a terminal, plain periodic lines otherwise
// (log files, CI). Log lines from the trainer go above the status line.

/** Where text goes: a stream or anything with `write` (tests capture it). */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** What the trainer reports after each iteration. */
export interface ProgressInfo {
  epoch: number;
  /** Iteration within the epoch, 1-based. */
  epochIter: number;
  itersPerEpoch: number;
  /** The last epoch (n_epochs + n_epochs_decay). */
  nEpochs: number;
  /** Iterations (batches) still to run after this one, when the trainer knows it. */
  itersLeft?: number;
  losses: Readonly<Record<string, number>>;
  lr: number;
  secondsPerIter: number;
}

export interface ProgressOptions {
  /** Redraw one line (terminal) instead of printing lines. */
  tty: boolean;
  /** Terminal width; the status line is cut to it. */
  columns?: number;
  /** Plain mode: at most one line per this many ms (the first iteration always prints). Default 10 s. */
  intervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

const formatLoss = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));

/** Iterations left in the run after this one. */
export function itersLeft(info: ProgressInfo): number {
  return info.itersLeft ?? Math.max(0, (info.nEpochs - info.epoch) * info.itersPerEpoch + (info.itersPerEpoch - info.epochIter));
}

/** The status text of one iteration (without bar). */
export function describeProgress(info: ProgressInfo): { position: string; speed: string; losses: string } {
  const rate = info.secondsPerIter > 0 ? 1 / info.secondsPerIter : 0;
  const speed = rate >= 1 || rate === 0 ? `${rate.toFixed(2)} it/s` : `${info.secondsPerIter.toFixed(2)} s/it`;
  const eta = formatDuration(itersLeft(info) * info.secondsPerIter);
  const losses = Object.entries(info.losses)
    .map(([k, v]) => `${k} ${formatLoss(v)}`)
    .join(' ');
  return { position: `epoch ${info.epoch}/${info.nEpochs}`, speed: `${speed} · ETA ${eta}`, losses };
}

export class Progress {
  private readonly out: TextSink;
  private readonly o: Required<Omit<ProgressOptions, 'columns'>> & { columns?: number };
  private line = '';
  private lastDraw = -Infinity;
  private lastInfo: ProgressInfo | undefined;

  constructor(out: TextSink, options: ProgressOptions) {
    this.out = out;
    this.o = { intervalMs: 10_000, now: () => Date.now(), ...options };
  }

  update(info: ProgressInfo): void {
    this.lastInfo = info;
    const now = this.o.now();
    const epochEnd = info.epochIter >= info.itersPerEpoch;
    if (this.o.tty) {
      if (now - this.lastDraw < 100 && !epochEnd) return;
      this.lastDraw = now;
      this.draw(this.statusLine(info));
    } else if (now - this.lastDraw >= this.o.intervalMs) {
      this.lastDraw = now;
      const d = describeProgress(info);
      this.out.write(
        `${d.position}, iter ${info.epochIter}/${info.itersPerEpoch}, ${d.speed.replace(' · ', ', ')}, lr ${info.lr.toExponential(2)}: ${d.losses}\n`,
      );
    }
  }

  /** A line from the trainer (losses, saves): printed above the status line. */
  log(text: string): void {
    if (!this.o.tty || !this.line) {
      this.out.write(`${text}\n`);
      return;
    }
    this.out.write(`\r\x1b[K${text}\n${this.line}`);
  }

  /** Takes the status line off the screen (before a line on another stream); the next update draws it again. */
  clear(): void {
    if (this.o.tty && this.line) this.out.write('\r\x1b[K');
    this.line = '';
  }

  /** Ends the status line (keeps its last state on screen). */
  finish(): void {
    if (this.o.tty && this.line) this.out.write('\n');
    this.line = '';
  }

  /** The last iteration reported. */
  get last(): ProgressInfo | undefined {
    return this.lastInfo;
  }

  private statusLine(info: ProgressInfo): string {
    const d = describeProgress(info);
    const width = 20;
    const filled = Math.round((width * info.epochIter) / Math.max(1, info.itersPerEpoch));
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const text = `${d.position} ${bar} ${info.epochIter}/${info.itersPerEpoch} · ${d.speed} · ${d.losses}`;
    const columns = this.o.columns ?? 0;
    return columns > 10 && text.length > columns - 1 ? `${text.slice(0, columns - 2)}…` : text;
  }

  private draw(line: string): void {
    this.line = line;
    this.out.write(`\r\x1b[K${line}`);
  }
}
