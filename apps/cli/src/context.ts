// What every command gets: where to print, how to stop, and the shared validation helpers.
import { BACKENDS, BackendError, loadBackend, type BackendChoice, type BackendInfo } from '@cut/backends';
import { UsageError, type ParsedFlags } from './flags.js';
import type { TextSink } from './progress.js';

/**
 * Exit codes: 0 done, 1 failed (bad data, checkpoint, I/O), 2 bad command line; a training run
 * stopped with its latest checkpoint saved exits 128 + the signal's number, as a shell reports
 * a process that signal ended: 130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP, 141 standard
 * output closed (a broken pipe).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130, terminated: 143, hangup: 129, brokenPipe: 141 } as const;

export interface CliIO {
  stdout: TextSink;
  stderr: TextSink;
  /** Stops a training run as Ctrl-C does (saves, then exit code 130). */
  signal?: AbortSignal;
  /** Install SIGINT (Ctrl-C), SIGTERM and SIGHUP handlers while training; the `cutjs` binary does. */
  handleSigint?: boolean;
}

/** A stream that reports write errors as events (process.stdout). */
interface EventSink extends TextSink {
  on?(event: 'error', listener: (e: Error) => void): unknown;
  off?(event: 'error', listener: (e: Error) => void): unknown;
}

export class Context {
  readonly io: CliIO;
  /** Why standard output stopped taking text (EPIPE: its reader went away), or null. */
  stdoutClosed: string | null = null;
  private readonly closedListeners = new Set<(why: string) => void>();
  private readonly detach: () => void;

  /** `io.stdout` is wrapped: once it fails (a closed pipe), text to it is dropped and the listeners hear it once. */
  constructor(io: CliIO) {
    const raw = io.stdout as EventSink;
    const failed = (e: unknown) => {
      if (this.stdoutClosed !== null) return;
      this.stdoutClosed = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      for (const l of this.closedListeners) l(this.stdoutClosed);
    };
    raw.on?.('error', failed);
    this.detach = () => raw.off?.('error', failed);
    const self = this;
    const stdout: TextSink = {
      write(text: string) {
        if (self.stdoutClosed !== null) return true;
        try {
          return raw.write(text);
        } catch (e) {
          failed(e);
          return true;
        }
      },
      get isTTY() {
        return raw.isTTY;
      },
      get columns() {
        return raw.columns;
      },
    };
    this.io = { ...io, stdout };
  }

  /** Calls `listener` once standard output fails (at once when it already has); returns the undo. */
  onStdoutClosed(listener: (why: string) => void): () => void {
    // `| true`: the first line written (long before training) already failed.
    if (this.stdoutClosed !== null) {
      listener(this.stdoutClosed);
      return () => undefined;
    }
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  /** Stops listening to the streams (the end of a command). */
  close(): void {
    this.detach();
  }

  print(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  warn(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  /** The backend loaded by `loadBackend` (null before). */
  backend: BackendInfo | null = null;

  /**
   * Loads the chosen backend and prints one line: what runs and (auto) why not the faster ones.
   * `verbose` (--verbose, `cutjs info`): each skipped backend's full reason, what Dawn and the
   * Vulkan loader printed while the adapter was probed, and what runs underneath.
   */
  async loadBackend(choice: BackendChoice, verbose = false): Promise<BackendInfo> {
    const dawnSaid = (output: string) =>
      this.print(`backend: Dawn and the Vulkan loader printed, while probing for an adapter:\n${output.replace(/^/gm, '  ')}`);
    let info: BackendInfo;
    try {
      info = await loadBackend(choice);
    } catch (e) {
      if (verbose && e instanceof BackendError && e.output) dawnSaid(e.output);
      throw e;
    }
    if (verbose) {
      for (const s of info.skipped) this.print(`backend: skipped ${s.backend}: ${s.reason}`);
      if (info.nativeOutput) dawnSaid(info.nativeOutput);
      this.print(`backend: ${info.name} — ${info.detail}`);
    } else {
      this.print(`backend: ${info.summary}`);
    }
    this.backend = info;
    return info;
  }
}

export type ThreadsChoice = 'auto' | 1 | 2;

/** The --threads value, checked. */
export function threadsChoice(parsed: ParsedFlags): ThreadsChoice {
  const value = String(parsed.values.get('threads') ?? 'auto');
  if (value === 'auto') return 'auto';
  if (value === '1' || value === '2') return Number(value) as 1 | 2;
  throw new UsageError(`--threads: expected 1, 2 or auto, got '${value}'`);
}

/** The --backend value, checked. */
export function backendChoice(parsed: ParsedFlags): BackendChoice {
  const value = String(parsed.values.get('backend') ?? 'auto');
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new UsageError(`--backend: unknown backend '${value}' (expected one of ${BACKENDS.join(', ')})`);
  }
  return value as BackendChoice;
}

/** An integer flag of the CLI's own (not a CUT option), checked. */
export function intFlag(parsed: ParsedFlags, name: string, fallback: number, check: (n: number) => string | null): number {
  const raw = parsed.values.get(name);
  if (raw === undefined || raw === null) return fallback;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim() === '' ? NaN : raw);
  if (!Number.isInteger(n)) throw new UsageError(`--${name}: expected an integer, got '${String(raw)}'`);
  const problem = check(n);
  if (problem) throw new UsageError(`--${name}: ${problem}, got ${n}`);
  return n;
}

/** A string flag of the CLI's own. */
export function stringFlag(parsed: ParsedFlags, name: string, fallback: string): string {
  const raw = parsed.values.get(name);
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === 'boolean') throw new UsageError(`--${name}: expected a value`);
  return String(raw);
}

/** A boolean flag of the CLI's own. */
export function boolFlag(parsed: ParsedFlags, name: string): boolean {
  const raw = parsed.values.get(name);
  if (raw === undefined || raw === null) return false;
  if (typeof raw !== 'boolean') throw new UsageError(`--${name}: expected True or False, got '${String(raw)}'`);
  return raw;
}
