// `cutjs train`: the reference's train.py. Flags and config are checked, then every image of the
// dataset, and only then the backend starts and @cut/trainer's runTraining writes anything.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  checkEvalSetup,
  cropSizeProblem,
  lastEpoch,
  runTraining,
  type CUTOptions,
  type TrainingHooks,
  type TrainingResult,
  type WorkerBackend,
} from '@cut/trainer';
import { resolveGeneratorFile } from './checkpoint.js';
import { cutOptionsFrom, trainFlags } from './command-flags.js';
import { UsageError } from './flags.js';
import { EXIT, backendChoice, boolFlag, threadsChoice, type Context, type ThreadsChoice } from './context.js';
import { formatHelp, parseFlags } from './flags.js';
import { checkDataset } from './preflight.js';
import { Progress, formatDuration } from './progress.js';
import { builtWorkerUrl, nativeThreadPlan, type BackendChoice } from '@cut/backends';
import type { TrainWorkerData, TrainWorkerMessage } from './train-worker.js';

const USAGE = `Usage: cutjs train --dataroot <dir> --name <run> [flags]

The reference's train.py: 'python train.py --dataroot ./datasets/grumpifycat --name grumpycat_CUT
--CUT_mode CUT' becomes 'cutjs train --dataroot ./datasets/grumpifycat --name grumpycat_CUT
--CUT_mode CUT'. Writes <checkpoints_dir>/<name>/: train_opt.txt, loss_log.txt, log.jsonl,
web/index.html (loss curves and samples), latest_net_{G,D,F}.pth and <epoch>_net_*.pth (PyTorch
format, loadable by the reference) with train_state.json (exact resume: --continue_train).
Ctrl-C, SIGTERM, SIGHUP and a closed standard output (| head) are answered at once on standard
error; the latest checkpoint is saved after the iteration under way and the run stops (exit codes
130, 143, 129, 141); a second Ctrl-C or signal quits without saving. One run at a time per folder
(train.lock).`;

/** Checks everything that can be checked before a run starts: the resume checkpoint and every image. */
export async function prepareTraining(options: CUTOptions, ctx: Context): Promise<{ imagesA: number; imagesB: number }> {
  if (options.dataroot === 'placeholder' && !existsSync('placeholder')) {
    throw new UsageError('--dataroot is required: the dataset folder holding trainA/ and trainB/');
  }
  const tooSmall = cropSizeProblem(options);
  if (tooSmall) throw new UsageError(tooSmall);
  if (options.continue_train) {
    resolveGeneratorFile(join(options.checkpoints_dir, options.pretrained_name ?? options.name), options.epoch);
  }
  // --eval_freq: the FID weights file and testA/testB, before the backend starts.
  const evalSetup = await checkEvalSetup(options);
  if (evalSetup)
    ctx.print(
      `evaluation: every ${options.eval_freq} epoch(s), ${evalSetup.fake} images of ${evalSetup.dataset.dirA} translated against ${evalSetup.real} of ${evalSetup.dataset.dirB}`,
    );
  const { dataset, checked } = await checkDataset(options);
  const where =
    dataset.mode === 'aligned'
      ? `${dataset.pathsA.length} A|B pairs in ${dataset.dirA}`
      : `${dataset.pathsA.length} images in ${dataset.dirA}, ${dataset.pathsB.length} in ${dataset.dirB}`;
  ctx.print(`data: ${where} (${checked} checked)`);
  return { imagesA: dataset.pathsA.length, imagesB: dataset.pathsB.length };
}

/**
 * The worker thread's backend when training runs on two threads, else null (with a note when
 * 2 were asked for but can't be used): CUT's identity half on the wasm or cpu backend, whose
 * kernels run on the calling thread (GPU backends already run in parallel).
 */
export function workerBackendFor(options: CUTOptions, threads: ThreadsChoice, ctx: Context): WorkerBackend | null {
  const backend = ctx.backend?.name ?? '';
  // With the native convolutions one JS thread drives every core (see @cut/backends' nativeThreadPlan).
  if (nativeThreadPlan(backend, threads).jsThreads === 1) return null;
  if (threads === 1) return null;
  const why = !['wasm', 'cpu'].includes(backend)
    ? `the ${backend} backend runs its own threads`
    : options.normG === 'batch'
      ? "--normG batch keeps its running statistics in one generator (a worker's copy would see only the identity half)"
      : options.netF === 'strided_conv'
        ? "--netF strided_conv keeps running averages over every netF call (a worker's copy would see only the identity half)"
        : options.nce_loss === 'hdce' || options.nce_loss === 'dce'
          ? `--nce_loss ${options.nce_loss} (Hneg-SRC's losses) trains on one thread`
          : !(options.nce_idt && options.lambda_NCE > 0)
            ? `${options.CUT_mode === 'FastCUT' ? 'FastCUT' : 'this configuration'} has no identity half (nce_idt) to run beside the main one`
            : threads === 'auto' && availableParallelism() < 2
              ? 'this machine has 1 core'
              : null;
  if (why) {
    if (threads === 2) ctx.warn(`--threads 2: training on 1 thread (${why})`);
    return null;
  }
  return { backend: backend as 'wasm' | 'cpu' };
}

/** What the training loop reports, wherever it runs. */
type LoopHooks = Required<Pick<TrainingHooks, 'log' | 'onIteration'>>;

/** Trains on this thread, on the backend `ctx` loaded: says how many threads, then runs the loop. */
export async function trainHere(options: CUTOptions, ctx: Context, threads: ThreadsChoice, hooks: TrainingHooks): Promise<TrainingResult> {
  const workerBackend = workerBackendFor(options, threads, ctx);
  const plan = nativeThreadPlan(ctx.backend?.name ?? '', threads);
  ctx.print(
    workerBackend
      ? `threads: 2 (G on real_A and the D step here, G on real_B in a worker, both ${workerBackend.backend}${plan.native})`
      : `threads: ${plan.cores ?? 1}${plan.native}`,
  );
  return runTraining(options, { ...hooks, workerBackend: workerBackend ?? undefined });
}

/** The backend the training thread loads, and whether it says how it chose it. */
interface TrainOnWorker {
  backend: BackendChoice;
  verbose?: boolean;
}

/**
 * Trains on a worker thread (train-worker.ts) that loads `backend` itself: an iteration computes
 * for seconds without a break, and this thread stays free to answer signals and a closed output
 * at once. `stop` is the flag the loop reads after every iteration.
 */
async function trainOnWorker(
  options: CUTOptions,
  ctx: Context,
  threads: ThreadsChoice,
  on: TrainOnWorker,
  stop: Int32Array,
  hooks: LoopHooks,
): Promise<TrainingResult> {
  const url = builtWorkerUrl(import.meta.url, 'train-worker.js', '../');
  const worker = new Worker(url, {
    workerData: {
      options,
      backend: on.backend,
      verbose: on.verbose ?? false,
      threads,
      stop: stop.buffer as SharedArrayBuffer,
    } satisfies TrainWorkerData,
  });
  try {
    return await new Promise<TrainingResult>((resolve, reject) => {
      worker.on('message', (m: TrainWorkerMessage) => {
        if (m.type === 'stdout') hooks.log(m.text.replace(/\n$/, ''));
        else if (m.type === 'stderr') ctx.io.stderr.write(m.text);
        else if (m.type === 'log') hooks.log(m.line);
        else if (m.type === 'iteration') hooks.onIteration(m.info);
        else if (m.type === 'done') resolve(m.result);
        else {
          const e = m.usage ? new UsageError(m.message) : new Error(m.message);
          if (m.stack) e.stack = m.stack;
          reject(e);
        }
      });
      worker.on('error', (e) => reject(new Error(`the training thread failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => reject(new Error(`the training thread exited unexpectedly (code ${code})`)));
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * Runs the training with progress output and Ctrl-C handling. With `onWorker`, the loop runs on
 * a worker thread that loads that backend (the `cutjs` binary); otherwise here, on the backend
 * already loaded.
 */
export async function train(
  options: CUTOptions,
  ctx: Context,
  threads: ThreadsChoice = 'auto',
  onWorker?: TrainOnWorker,
): Promise<TrainingResult & { exitCode: number }> {
  ctx.print(
    `train: ${options.name} (${options.CUT_mode}, ${options.netG}, ngf ${options.ngf}, ndf ${options.ndf}), crop ${options.crop_size} from ${options.preprocess} ${options.load_size}, ` +
      `epochs ${options.epoch_count}..${lastEpoch(options)} (lr decays after ${options.n_epochs}), seed ${options.seed}`,
  );
  const stdout = ctx.io.stdout;
  const progress = new Progress(stdout, { tty: stdout.isTTY === true && !process.env.CI, columns: stdout.columns });
  // The loop reads the flag (a worker thread) or the signal (this thread) after every iteration.
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const controller = new AbortController();
  const requestStop = () => {
    Atomics.store(stopFlag, 0, 1);
    controller.abort();
  };
  ctx.io.signal?.addEventListener('abort', requestStop);
  if (ctx.io.signal?.aborted) requestStop();
  // Ctrl-C, SIGTERM (docker stop, kill), SIGHUP (a closed terminal or SSH session) and a
  // closed standard output all stop the run the same way: the iteration finishes, latest is saved.
  // Said on standard error at once (it may be the only stream left); a second signal quits.
  const SIGNAL_EXIT: Record<string, number> = { SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated, SIGHUP: EXIT.hangup };
  let stoppedBy: { code: number; why: string } | null = null;
  const stop = (code: number, why: string) => {
    if (stoppedBy === null) {
      stoppedBy = { code, why };
      progress.clear();
      ctx.warn(`cutjs train: ${why}: saving the latest checkpoint after this iteration (again quits without saving)`);
      requestStop();
    } else {
      progress.finish();
      ctx.warn(`cutjs train: ${why} again; quitting without saving`);
      process.exit(code);
    }
  };
  const onSignal = (signal: NodeJS.Signals) =>
    stop(SIGNAL_EXIT[signal] ?? EXIT.interrupted, signal === 'SIGINT' ? 'interrupted' : `${signal} received`);
  const stopListening = ctx.onStdoutClosed((code) => stop(EXIT.brokenPipe, `standard output closed (${code})`));
  if (ctx.io.handleSigint) for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, onSignal);
  const start = Date.now();
  let iterations = 0;
  const hooks: LoopHooks = {
    log: (line) => progress.log(line),
    onIteration: (info) => {
      iterations++;
      progress.update(info);
    },
  };
  try {
    const result = onWorker
      ? await trainOnWorker(options, ctx, threads, onWorker, stopFlag, hooks)
      : await trainHere(options, ctx, threads, { ...hooks, signal: controller.signal });
    progress.finish();
    const took = formatDuration((Date.now() - start) / 1000);
    ctx.print(
      result.stoppedBy === 'signal'
        ? `stopped in epoch ${result.epoch} after ${result.totalIters} images (${took}); resume with --continue_train`
        : iterations === 0
          ? `nothing trained: the run had already finished (${result.totalIters} images)`
          : `done: ${result.totalIters} images in ${took}`,
    );
    if (result.stoppedBy === 'signal' && stoppedBy !== null) {
      ctx.warn(
        `cutjs train: saved the latest checkpoint (epoch ${result.epoch}, ${result.totalIters} image${result.totalIters === 1 ? '' : 's'}) in ${result.checkpointDir}; resume with --continue_train`,
      );
    }
    ctx.print(`checkpoints: ${result.checkpointDir}`);
    if (!options.no_html) ctx.print(`training page: ${join(result.checkpointDir, 'web', 'index.html')}`);
    return { ...result, exitCode: result.stoppedBy === 'signal' ? ((stoppedBy as { code: number } | null)?.code ?? EXIT.interrupted) : EXIT.ok };
  } catch (e) {
    progress.finish();
    throw e;
  } finally {
    if (ctx.io.handleSigint) for (const signal of Object.keys(SIGNAL_EXIT)) process.off(signal, onSignal);
    stopListening();
    ctx.io.signal?.removeEventListener('abort', requestStop);
  }
}

/** `seed None`: draw one here, so that it is printed and recorded in train_opt.txt. */
export function withSeed(options: CUTOptions): CUTOptions {
  return options.seed === null ? { ...options, seed: Math.floor(Math.random() * 2 ** 31) } : options;
}

export async function trainCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = trainFlags();
  const parsed = parseFlags(argv, table);
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table));
    return 0;
  }
  const backend: BackendChoice = backendChoice(parsed);
  const threads = threadsChoice(parsed);
  const options = withSeed(cutOptionsFrom(parsed));
  await prepareTraining(options, ctx);
  // The binary trains on a worker thread (which loads the backend), to answer signals at once.
  if (ctx.io.handleSigint) return (await train(options, ctx, threads, { backend, verbose: boolFlag(parsed, 'verbose') })).exitCode;
  await ctx.loadBackend(backend, boolFlag(parsed, 'verbose'));
  return (await train(options, ctx, threads)).exitCode;
}
