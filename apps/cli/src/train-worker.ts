// The thread `cutjs train` computes on: it loads the backend and runs the training loop, sending
// its output to the main thread, which stays free to answer signals and a closed standard output
// while an iteration computes (seconds at crop 256). The main thread's stop flag is read after
// every iteration.
import { parentPort, workerData } from 'node:worker_threads';
import type { CUTOptions, IterationInfo, TrainingResult } from '@cut/trainer';
import type { BackendChoice } from '@cut/backends';
import { trainHere } from './cmd-train.js';
import { Context, type ThreadsChoice } from './context.js';
import { UsageError } from './flags.js';

export interface TrainWorkerData {
  options: CUTOptions;
  backend: BackendChoice;
  /** --verbose: how the backend was chosen, in full. */
  verbose: boolean;
  threads: ThreadsChoice;
  /** An Int32Array's buffer: non-zero asks the loop to save and stop after the current iteration. */
  stop: SharedArrayBuffer;
}

export type TrainWorkerMessage =
  | { type: 'stdout'; text: string }
  | { type: 'stderr'; text: string }
  | { type: 'log'; line: string }
  | { type: 'iteration'; info: IterationInfo }
  | { type: 'done'; result: TrainingResult }
  | { type: 'error'; message: string; stack?: string; usage: boolean };

const port = parentPort!;
const data = workerData as TrainWorkerData;
const post = (m: TrainWorkerMessage) => port.postMessage(m);
const stop = new Int32Array(data.stop);

async function start(): Promise<void> {
  const ctx = new Context({
    stdout: { write: (text: string) => post({ type: 'stdout', text }) },
    stderr: { write: (text: string) => post({ type: 'stderr', text }) },
  });
  await ctx.loadBackend(data.backend, data.verbose);
  const result = await trainHere(data.options, ctx, data.threads, {
    log: (line) => post({ type: 'log', line }),
    onIteration: (info) => post({ type: 'iteration', info }),
    signal: {
      get aborted() {
        return Atomics.load(stop, 0) !== 0;
      },
    },
  });
  post({ type: 'done', result });
}

start().catch((e: Error) => post({ type: 'error', message: e.message, stack: e.stack, usage: e instanceof UsageError }));
