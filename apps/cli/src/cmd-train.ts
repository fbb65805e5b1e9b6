// `cutjs train`: the reference's train.py. Flags and config are checked, then every image of the
// dataset, and only then the backend starts and @cut/trainer's runTraining writes anything.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cropSizeProblem, lastEpoch, runTraining, type CUTOptions, type TrainingResult, type WorkerBackend } from '@cut/trainer';
import { resolveGeneratorFile } from './checkpoint.js';
import { trainFlags } from './command-flags.js';
import { UsageError } from './flags.js';
import { EXIT, backendChoice, cutOptionsFrom, threadsChoice, type Context, type ThreadsChoice } from './context.js';
import { formatHelp, parseFlags } from './flags.js';
import { checkDataset } from './preflight.js';
import { Progress, formatDuration } from './progress.js';
import type { BackendChoice } from './backends.js';
import { nativeThreadPlan } from './native-threads.js';

const USAGE = `Usage: cutjs train --dataroot <dir> --name <run> [flags]

The reference's train.py: 'python train.py --dataroot ./datasets/grumpifycat --name grumpycat_CUT
--CUT_mode CUT' becomes 'cutjs train --dataroot ./datasets/grumpifycat --name grumpycat_CUT
--CUT_mode CUT'. Writes <checkpoints_dir>/<name>/: train_opt.txt, loss_log.txt, log.jsonl,
web/index.html (loss curves and samples), latest_net_{G,D,F}.pth and <epoch>_net_*.pth (PyTorch
format, loadable by the reference) with train_state.json (exact resume: --continue_train).
Ctrl-C, SIGTERM, SIGHUP and a closed standard output (| head) save the latest checkpoint and
stop (exit codes 130, 143, 129, 141). One run at a time per folder (train.lock).`;

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
  const { dataset, checked } = await checkDataset(options);
  const where = dataset.mode === 'aligned' ? `${dataset.pathsA.length} A|B pairs in ${dataset.dirA}` : `${dataset.pathsA.length} images in ${dataset.dirA}, ${dataset.pathsB.length} in ${dataset.dirB}`;
  ctx.print(`data: ${where} (${checked} checked)`);
  return { imagesA: dataset.pathsA.length, imagesB: dataset.pathsB.length };
}

/** This module's built twin that exports loadBackend, for the worker thread (the dist file when running from sources). */
function backendModuleUrl(): string {
  const here = import.meta.url;
  return (here.endsWith('.ts') ? new URL('../dist/backends.js', here) : new URL('./backends.js', here)).href;
}

/**
 * The worker thread's backend when training runs on two threads, else null (with a note when
 * 2 were asked for but can't be used): CUT's identity half on the wasm or cpu backend, whose
 * kernels run on the calling thread (GPU backends already run in parallel).
 */
export function workerBackendFor(options: CUTOptions, threads: ThreadsChoice, ctx: Context): WorkerBackend | null {
  const backend = ctx.backend?.name ?? '';
  // With the native convolutions one JS thread drives every core (see native-threads.ts).
  if (nativeThreadPlan(backend, threads).jsThreads === 1) return null;
  if (threads === 1) return null;
  const why = !['wasm', 'cpu'].includes(backend)
    ? `the ${backend} backend runs its own threads`
    : !(options.nce_idt && options.lambda_NCE > 0)
      ? `${options.CUT_mode === 'FastCUT' ? 'FastCUT' : 'this configuration'} has no identity half (nce_idt) to run beside the main one`
      : threads === 'auto' && availableParallelism() < 2
        ? 'this machine has 1 core'
        : null;
  if (why) {
    if (threads === 2) ctx.warn(`--threads 2: training on 1 thread (${why})`);
    return null;
  }
  return { module: backendModuleUrl(), backend };
}

/** Runs the training with progress output and Ctrl-C handling, on an already loaded backend. */
export async function train(options: CUTOptions, ctx: Context, threads: ThreadsChoice = 'auto'): Promise<TrainingResult & { exitCode: number }> {
  const runDir = join(options.checkpoints_dir, options.name);
  if (!options.continue_train && existsSync(join(runDir, 'latest_net_G.pth'))) {
    ctx.warn(`note: ${runDir} already holds a run; this new run replaces its checkpoints (the reference does too; --continue_train resumes it instead)`);
  }
  ctx.print(
    `train: ${options.name} (${options.CUT_mode}, ${options.netG}, ngf ${options.ngf}, ndf ${options.ndf}), crop ${options.crop_size} from ${options.preprocess} ${options.load_size}, ` +
      `epochs ${options.epoch_count}..${lastEpoch(options)} (lr decays after ${options.n_epochs}), seed ${options.seed}`,
  );
  const stdout = ctx.io.stdout;
  const progress = new Progress(stdout, { tty: stdout.isTTY === true && !process.env.CI, columns: stdout.columns });
  const controller = new AbortController();
  const stopOnExternal = () => controller.abort();
  ctx.io.signal?.addEventListener('abort', stopOnExternal);
  if (ctx.io.signal?.aborted) controller.abort();
  // Ctrl-C, SIGTERM (docker stop, kill), SIGHUP (a closed terminal or SSH session) and a
  // closed standard output all stop the run the same way: the iteration finishes, latest is saved.
  const SIGNAL_EXIT: Record<string, number> = { SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated, SIGHUP: EXIT.hangup };
  let stoppedBy: { code: number; why: string } | null = null;
  const stop = (code: number, why: string) => {
    if (stoppedBy === null) {
      stoppedBy = { code, why };
      progress.log(`${why}: saving the latest checkpoint after this iteration (again quits without saving)`);
      if (ctx.stdoutClosed !== null) ctx.warn(`cutjs train: ${why}: saving the latest checkpoint after this iteration`);
      controller.abort();
    } else {
      progress.finish();
      ctx.warn(`cutjs train: ${why} again; quitting without saving`);
      process.exit(code);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => stop(SIGNAL_EXIT[signal] ?? EXIT.interrupted, signal === 'SIGINT' ? 'interrupted' : `${signal} received`);
  const stopListening = ctx.onStdoutClosed((code) => stop(EXIT.brokenPipe, `standard output closed (${code})`));
  if (ctx.io.handleSigint) for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, onSignal);
  const start = Date.now();
  let iterations = 0;
  const workerBackend = workerBackendFor(options, threads, ctx);
  const plan = nativeThreadPlan(ctx.backend?.name ?? '', threads);
  ctx.print(
    workerBackend
      ? `threads: 2 (G on real_A and the D step here, G on real_B in a worker, both ${workerBackend.backend}${plan.native})`
      : `threads: ${plan.cores ?? 1}${plan.native}`,
  );
  try {
    const result = await runTraining(options, {
      workerBackend: workerBackend ?? undefined,
      log: (line) => progress.log(line),
      onIteration: (info) => {
        iterations++;
        progress.update(info);
      },
      signal: controller.signal,
    });
    progress.finish();
    const took = formatDuration((Date.now() - start) / 1000);
    ctx.print(
      result.stoppedBy === 'signal'
        ? `stopped in epoch ${result.epoch} after ${result.totalIters} images (${took}); resume with --continue_train`
        : iterations === 0
          ? `nothing trained: the run had already finished (${result.totalIters} images)`
          : `done: ${result.totalIters} images in ${took}`,
    );
    ctx.print(`checkpoints: ${result.checkpointDir}`);
    if (!options.no_html) ctx.print(`training page: ${join(result.checkpointDir, 'web', 'index.html')}`);
    return { ...result, exitCode: result.stoppedBy === 'signal' ? (stoppedBy as { code: number } | null)?.code ?? EXIT.interrupted : EXIT.ok };
  } catch (e) {
    progress.finish();
    throw e;
  } finally {
    if (ctx.io.handleSigint) for (const signal of Object.keys(SIGNAL_EXIT)) process.off(signal, onSignal);
    stopListening();
    ctx.io.signal?.removeEventListener('abort', stopOnExternal);
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
  await ctx.loadBackend(backend);
  const result = await train(options, ctx, threads);
  return result.exitCode;
}
