// File handling of a run folder: creating it with a useful message, appending to logs, and the
// lock that keeps two runs out of one folder.
import {
  accessSync,
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The nearest folder above `path` (or `path` itself) that exists. */
function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Creates the run folder; on failure, says which folder above it is missing, not a folder, or not writable. */
export function makeRunDir(runDir: string): void {
  try {
    mkdirSync(runDir, { recursive: true });
    accessSync(runDir, constants.W_OK);
  } catch (e) {
    const base = nearestExisting(runDir);
    let why = (e as Error).message;
    if (!statSync(base).isDirectory()) why = `${base} is a file, not a folder`;
    else if (!writable(base)) why = `${base} is not writable`;
    throw new Error(`${runDir}: cannot create the run folder (${why}); choose another --checkpoints_dir or --name`, { cause: e });
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Appends to a log file; an error (a full disk) names the file. */
export function appendLog(file: string, text: string): void {
  try {
    appendFileSync(file, text);
  } catch (e) {
    throw new Error(`${file}: cannot append to the log (${(e as Error).message})`, { cause: e });
  }
}

export const LOCK_FILE = 'train.lock';

interface LockRecord {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, someone else's
  }
}

function readLock(file: string): LockRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
    return Number.isInteger(r.pid) ? r : null;
  } catch {
    return null; // being written, or damaged
  }
}

/** A held run-folder lock; `release` removes the lock file if it is still ours. */
export interface RunLock {
  file: string;
  release(): void;
}

/**
 * Takes `<runDir>/train.lock` (our pid and host), so that two runs never write one folder.
 * A lock left by a process that no longer exists (killed, machine restarted) is taken over
 * with a note; one held by a live process (or by another machine, which cannot be checked)
 * is refused, naming its pid.
 */
export function acquireRunLock(runDir: string, note: (line: string) => void): RunLock {
  const file = join(runDir, LOCK_FILE);
  const me: LockRecord = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${file}: cannot create the lock (${(e as Error).message})`, { cause: e });
      const held = readLock(file);
      if (held && held.host !== me.host) {
        throw new Error(
          `${runDir} is in use by a training run on ${held.host} (pid ${held.pid}, since ${held.started}); ` + `if that run is over, delete ${file}`,
        );
      }
      if (held && alive(held.pid)) {
        throw new Error(
          `${runDir} is in use by another training run (pid ${held.pid}, since ${held.started}); ` +
            `wait for it to finish or stop it, or choose another --name`,
        );
      }
      if (!held) {
        // Maybe just being written by a run starting right now: look again before taking it.
        const age = Date.now() - statSafe(file);
        if (age < 2000) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
          continue;
        }
      }
      note(`note: taking over ${file}, left by ${held ? `pid ${held.pid} (no longer running)` : 'an unknown process'}`);
      try {
        unlinkSync(file);
      } catch {
        // another run removed it first; the next attempt decides
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return {
      file,
      release: () => {
        if (readLock(file)?.pid === me.pid) {
          try {
            unlinkSync(file);
          } catch {
            // already gone
          }
        }
      },
    };
  }
  throw new Error(`${file}: another run keeps taking this lock; choose another --name`);
}

function statSafe(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
