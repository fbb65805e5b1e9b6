// The reference's train.py: epochs epoch_count .. n_epochs + n_epochs_decay over the unaligned
// dataset, the learning-rate schedule, loss printing, the HTML results page and checkpoints,
// plus what the reference lacks: exact resumption, a clean stop on a signal, a stop on a
// non-finite loss, and a machine-readable log.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '@cut/core-tensors';
import { NETWORK_OPTION_NAMES } from '@cut/networks';
import { CUTModel, type LossName } from '../cut-model.js';
import { BatchLoader, type Batch } from '../data/loader.js';
import { createDataset } from '../data/create-dataset.js';
import type { ImageDataset } from '../data/dataset.js';
import { formatTrainOpt, keepStateEpochs, optionStrings, validateOptions, type CUTOptions } from '../options.js';
import { cropSizeProblem } from '../input-size.js';
import { TwoThreadTrainer } from '../parallel/two-thread.js';
import type { WorkerBackend } from '../parallel/protocol.js';
import { CUT_PLATEAU_METRIC, ReduceLROnPlateau, lastEpoch, learningRateAt, plateauAt } from '../schedule.js';
import { writeFileAtomic } from '@cut/files';
import { loadOptimizers, loadWeights, readTrainState, removeUnusedSnapshots, saveCheckpoint, stateFileName, type TrainState } from './checkpoint.js';
import { formatLossLine, lossLogHeader, pyFixed } from './loss-log.js';
import { acquireRunLock, appendLog, makeRunDir, type RunLock } from './run-files.js';
import { ResultsPage, tensorToImage, type EvalPoint, type LossPoint } from './web.js';
import { BEST_G_FILE, TrainingEvaluator, readBest, type EvalLogRecord } from '../eval/during-training.js';

/** What `onIteration` receives after every training iteration. */
export interface IterationInfo {
  epoch: number;
  /** Iterations (batches) done in this epoch, 1..itersPerEpoch. */
  epochIter: number;
  /** Images trained since the run began (the reference's total_iters; iterations × batch_size). */
  totalIters: number;
  /** Iterations (batches) per epoch. */
  itersPerEpoch: number;
  /** The last epoch, n_epochs + n_epochs_decay. */
  nEpochs: number;
  losses: Partial<Record<LossName, number>>;
  lr: number;
  /** Wall-clock seconds per iteration (data wait included), mean over the last 10 iterations. */
  secondsPerIter: number;
  imagesPerSecond: number;
}

export interface TrainingHooks {
  /** Console lines, as the reference prints them (losses, saves, epoch ends, learning rate). */
  log?(line: string): void;
  onIteration?(info: IterationInfo): void;
  /**
   * Read after every iteration: once aborted, `latest` is saved and the run returns (aborted
   * before the run starts: after its first iteration). An AbortSignal, or any object whose
   * `aborted` another thread sets (a SharedArrayBuffer flag read by a getter).
   */
  signal?: { readonly aborted: boolean };
  /**
   * Train on two threads (`TwoThreadTrainer`, CUT with nce_idt only): a worker thread with this
   * backend runs the real_B half of every iteration. Same numbers as one thread.
   */
  workerBackend?: WorkerBackend;
}

export interface TrainingResult {
  stoppedBy: 'done' | 'signal';
  /** Epoch of the last iteration trained (the epoch the run would continue in, when none was). */
  epoch: number;
  totalIters: number;
  /** `<checkpoints_dir>/<name>`. */
  checkpointDir: string;
}

/** One line of `log.jsonl`, written at every `print_freq` (the evaluations' lines are `EvalLogRecord`s, `type: 'eval'`). */
export interface TrainLogRecord {
  type?: undefined;
  time: string;
  epoch: number;
  /** Images done in the epoch (the reference's epoch_iter) and since the run began. */
  epochIter: number;
  totalIters: number;
  /** Epochs done, with the fraction of the current one (the x of the loss curves). */
  progress: number;
  losses: Partial<Record<LossName, number>>;
  lr: number;
  /** Since the previous record: wall-clock seconds per iteration and images per second. */
  secondsPerIter: number;
  imagesPerSecond: number;
  /** The reference's smoothed compute seconds per image and this interval's data wait. */
  optimizeTime: number;
  dataTime: number;
  numTensors: number;
  rss: number;
  backend: string;
}

/** Why `dataset_mode single` cannot train (the reference's CUT fails on it too: set_input reads the missing B). */
export const singleTrainingError =
  "--dataset_mode single has one folder and no B images, so CUT cannot train on it (it is for 'cutjs test'); use unaligned (trainA/, trainB/) or aligned (train/ with A|B pairs)";

/** The data loader's seed, derived from the model's so one `seed` fixes the whole run. */
function loaderSeed(modelSeed: number): number {
  return new SeededRng(modelSeed ^ 0x5bd1e995).nextUint32();
}

/**
 * The loss history for the curves from `log.jsonl`, and the evaluations (`type: 'eval'`): when a
 * run restarted from an earlier checkpoint, the records it superseded (same or later total_iters)
 * are dropped, each kind on its own.
 */
function readHistory(file: string): { losses: TrainLogRecord[]; evals: EvalLogRecord[] } {
  const losses: TrainLogRecord[] = [];
  const evals: EvalLogRecord[] = [];
  if (!existsSync(file)) return { losses, evals };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let r: TrainLogRecord | EvalLogRecord;
    try {
      r = JSON.parse(line) as TrainLogRecord | EvalLogRecord;
    } catch {
      continue; // a line cut short by a crash
    }
    const out: Array<{ totalIters: number }> = r.type === 'eval' ? evals : losses;
    while (out.length > 0 && out[out.length - 1]!.totalIters >= r.totalIters) out.pop();
    out.push(r);
  }
  return { losses, evals };
}

const now = () => performance.now() / 1000;

/**
 * Trains CUT / FastCUT as the reference's train.py does, on the current tfjs backend, writing
 * `<checkpoints_dir>/<name>/`: train_opt.txt, loss_log.txt, log.jsonl, web/index.html, and
 * checkpoints (`latest_net_{G,D,F}.pth`, `<epoch>_net_*.pth`, with our resume state).
 * With `continue_train`, resumes from the checkpoint named by `epoch` (latest, a number or
 * iter_<n>): exactly, when our state file is there; from the weights alone (fresh optimisers,
 * `epoch_count`, like the reference) when only .pth files are (e.g. written by the reference).
 */
export async function runTraining(options: CUTOptions, hooks: TrainingHooks = {}): Promise<TrainingResult> {
  const opts = validateOptions(options as unknown as Record<string, unknown>, 'runTraining');
  const log = hooks.log ?? (() => undefined);
  const runDir = join(opts.checkpoints_dir, opts.name);
  const nEpochs = lastEpoch(opts);
  // What can be checked without writing: sizes, the dataset, the networks (e.g. nce_layers).
  const tooSmall = cropSizeProblem(opts);
  if (tooSmall) throw new Error(tooSmall);
  const fullStateEpochs = keepStateEpochs(opts);
  if (opts.dataset_mode === 'single') throw new Error(singleTrainingError);
  const dataset = await createDataset(opts);
  const loadDir = opts.continue_train && opts.pretrained_name ? join(opts.checkpoints_dir, opts.pretrained_name) : runDir;
  const resumeState = opts.continue_train && loadDir === runDir ? readTrainState(loadDir, opts.epoch) : null;
  const model = new CUTModel(opts, resumeState?.seeds.model != null ? { seed: resumeState.seeds.model } : {});
  let lock: RunLock | null = null;
  let loader: BatchLoader | null = null;
  let twoThreads: TwoThreadTrainer | null = null;
  let evaluator: TrainingEvaluator | null = null;
  try {
    // --eval_freq: the weights file and the test folders, before anything is written.
    evaluator = await TrainingEvaluator.create(opts, runDir);
    makeRunDir(runDir);
    lock = acquireRunLock(runDir, log);
    // Snapshot folders no state file names (a save cut short by a crash or a full disk) are of no use.
    removeUnusedSnapshots(runDir);
    // Said once the folder is ours (a run refused by the lock replaces nothing).
    if (!opts.continue_train && existsSync(join(runDir, 'latest_net_G.pth'))) {
      log(`note: ${runDir} already holds a run; this new run replaces its checkpoints (the reference does too; --continue_train resumes it instead)`);
    }
    // Where to start: our state (exact), reference weights, or nothing.
    if (resumeState) warnAboutChangedOptions(resumeState, opts, log);
    if (resumeState && resumeState.epoch > nEpochs) {
      log(
        `note: ${join(runDir, stateFileName(opts.epoch))} is the end of a finished run (${resumeState.totalIters} images, ` +
          `epochs ${resumeState.firstEpoch}..${resumeState.epoch - 1}); nothing to train. Raise --n_epochs or --n_epochs_decay to train longer`,
      );
      return { stoppedBy: 'done', epoch: resumeState.epoch - 1, totalIters: resumeState.totalIters, checkpointDir: runDir };
    }
    log(`The number of training images = ${Math.min(dataset.length, opts.max_dataset_size)}`);
    if (opts.lr > 0.01) log(`warning: --lr ${opts.lr} is far above the usual 0.0002; training is likely to diverge`);
    if (hooks.workerBackend) twoThreads = await TwoThreadTrainer.start(model, hooks.workerBackend);
    if (opts.continue_train) {
      if (resumeState) loadWeights(model, loadDir, { state: resumeState });
      else {
        loadWeights(model, loadDir, { label: opts.epoch });
        log(
          `loaded the weights of '${opts.epoch}' from ${loadDir} without a training state (${stateFileName(opts.epoch)}): fresh optimizers, starting at epoch ${opts.epoch_count}`,
        );
      }
    }
    const seeds = resumeState?.seeds ?? { model: model.seed, loader: model.seed === null ? null : loaderSeed(model.seed) };
    loader = resumeState
      ? resumedLoader(dataset, resumeState, nEpochs, join(runDir, stateFileName(opts.epoch)))
      : new BatchLoader(dataset, { seed: seeds.loader ?? undefined, startEpoch: opts.epoch_count, endEpoch: nEpochs });
    const firstEpoch = resumeState?.firstEpoch ?? opts.epoch_count;
    const schedule = { ...opts, epoch_count: firstEpoch };
    // lr_policy plateau: a scheduler with state, stepped at the end of every epoch and saved with
    // each checkpoint (a resume continues from the saved one); the other policies follow the epoch.
    const plateau =
      opts.lr_policy !== 'plateau'
        ? null
        : resumeState?.schedule
          ? ReduceLROnPlateau.fromState(resumeState.schedule)
          : plateauAt(schedule, loader.epoch);
    const lrFor = (epoch: number) => plateau?.lr ?? learningRateAt(schedule, epoch);
    const itersPerEpoch = loader.batchesPerEpoch;
    const imagesPerEpoch = itersPerEpoch * opts.batch_size;

    // Files of the run.
    writeFileAtomic(join(runDir, 'train_opt.txt'), formatTrainOpt(opts));
    const lossLog = join(runDir, 'loss_log.txt');
    appendLog(lossLog, `${lossLogHeader(new Date())}\n`);
    const jsonLog = join(runDir, 'log.jsonl');
    const logged = readHistory(jsonLog);
    const history = logged.losses.filter((r) => r.totalIters <= (resumeState?.totalIters ?? 0));
    const evals = logged.evals.filter((r) => r.totalIters <= (resumeState?.totalIters ?? 0));
    if (evaluator) {
      // The best epoch so far: kept when resuming from a point after it (exactly, from our state).
      const best = opts.continue_train && loadDir === runDir ? readBest(runDir) : null;
      if (best && resumeState && best.totalIters <= resumeState.totalIters) {
        evaluator.best = best;
        log(`best epoch so far: ${best.epoch} (FID ${best.fid.toFixed(3)}, ${BEST_G_FILE})`);
      } else if (best) {
        log(`note: ${join(runDir, 'best.json')} (epoch ${best.epoch}) is not from before this resume point; the next evaluation replaces it`);
      }
    }
    const evalPoints = (): EvalPoint[] => evals.map((r) => ({ epoch: r.epoch, fid: r.fid, kid: r.kid }));
    const page = opts.no_html ? null : new ResultsPage(join(runDir, 'web'), opts.name, opts.display_winsize);
    const labels = ['real_A', 'fake_B', 'real_B', ...(model.identityPair ? ['idt_B'] : [])];
    const points = (): LossPoint[] => history.map((r) => ({ x: r.progress, losses: r.losses as Record<string, number> }));
    page?.writeIndex(points(), model.lossNames, labels, loader.epoch, evalPoints());

    let totalIters = resumeState?.totalIters ?? 0;
    let steps = resumeState?.steps ?? 0;
    let optimizeTime = resumeState?.optimizeTime ?? 0.1;
    let dataTime = 0;
    let lastEpochTrained = loader.epoch;
    let warnedDiverging = false;
    const recent: number[] = [];
    let lastLog = { time: now(), totalIters, steps };
    /** Step of the last checkpoint written (the resumed one counts). */
    let savedAtStep = resumeState?.steps ?? -1;

    const stateNow = (epoch: number, epochIter: number) => ({
      epoch,
      epochIter,
      totalIters,
      steps,
      firstEpoch,
      optimizeTime,
      seeds,
      ...(plateau && { schedule: plateau.state() }),
      rng: { model: model.rng.getState(), loader: loader!.state() },
      backend: tf.getBackend(),
      options: Object.fromEntries(optionStrings(opts)),
    });
    /** `trained`: the epoch of the last iteration (for messages); `epoch`, `epochIter`: where the next one starts. */
    const save = async (labelsToSave: string[], trained: number, epoch: number, epochIter: number) => {
      try {
        const fullStateLabels = labelsToSave.filter((l) => !/^\d+$/.test(l) || fullStateEpochs === 'all' || fullStateEpochs.includes(Number(l)));
        await saveCheckpoint({ runDir, model, labels: labelsToSave, fullStateLabels, state: stateNow(epoch, epochIter) });
      } catch (e) {
        throw new Error(`iteration ${steps} (epoch ${trained}): ${(e as Error).message}`, { cause: e });
      }
      savedAtStep = steps;
    };

    if (loader.hasNext)
      log(
        `starting at epoch ${loader.epoch} (iteration ${loader.batchIndex + 1} of ${itersPerEpoch}), learning rate = ${pyFixed(lrFor(loader.epoch), 7)}`,
      );
    for (let epoch = loader.epoch; epoch <= nEpochs && loader.hasNext; epoch++) {
      const epochStart = now();
      let epochIter = resumeState && epoch === resumeState.epoch ? resumeState.epochIter : 0;
      let htmlSavedThisEpoch = false;
      const lr = lrFor(epoch);
      model.setLearningRate(lr);
      model.setEpoch(epoch); // the successors' set_epoch (Hneg-SRC's curriculum on gamma)
      let iterDataTime = now();
      let iterEnd = now();
      while (loader.hasNext && loader.epoch === epoch) {
        const batch: Batch = await loader.next();
        const iterStart = now();
        if (totalIters % opts.print_freq === 0) dataTime = iterStart - iterDataTime;
        const batchSize = batch.shapeA[0];
        totalIters += batchSize;
        epochIter += batchSize;
        steps += 1;
        const realA = tf.tensor4d(batch.A, batch.shapeA);
        const realB = tf.tensor4d(batch.B!, batch.shapeB!); // every dataset but single (refused above) has a B
        try {
          const optimizeStart = now();
          if (!model.isInitialized) {
            model.dataDependentInitialize(realA, realB);
            if (resumeState) {
              // The initialisation drew from the model's generator; continue from the saved stream.
              model.rng.setState(resumeState.rng.model);
              loadOptimizers(model, loadDir, resumeState);
            }
            model.setLearningRate(lr);
            twoThreads?.invalidate();
          }
          if (twoThreads) await twoThreads.optimizeParameters(realA, realB);
          else model.optimizeParameters(realA, realB);
          const losses = await model.currentLosses(); // waits for the step to finish
          optimizeTime = ((now() - optimizeStart) / batchSize) * 0.005 + 0.995 * optimizeTime;
          for (const [name, value] of Object.entries(losses)) {
            if (!Number.isFinite(value)) {
              throw new Error(
                `iteration ${steps} (epoch ${epoch}): loss ${name} is ${value} (${Object.entries(losses)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(', ')}); training stopped, ` +
                  `${savedAtStep >= 0 ? `the last checkpoint (iteration ${savedAtStep}) was kept` : 'no checkpoint was written'} (a lower --lr may help)`,
              );
            }
          }
          lastEpochTrained = epoch;
          const huge = Object.entries(losses).find(([, v]) => Math.abs(v) > 1e6);
          if (huge && !warnedDiverging) {
            warnedDiverging = true;
            log(
              `warning: loss ${huge[0]} is ${huge[1].toExponential(2)} at iteration ${steps} (epoch ${epoch}): training is diverging; a lower --lr may help (now ${opts.lr})`,
            );
          }

          if (page && totalIters % opts.display_freq === 0 && (totalIters % opts.update_html_freq === 0 || !htmlSavedThisEpoch)) {
            htmlSavedThisEpoch = true;
            await page.saveVisuals(epoch, await visuals(model, realA, realB));
            page.writeIndex(points(), model.lossNames, labels, epoch, evalPoints());
          }

          const t = now();
          recent.push(t - iterEnd);
          iterEnd = t;
          if (recent.length > 10) recent.shift();
          const secondsPerIter = recent.reduce((a, b) => a + b, 0) / recent.length;

          if (totalIters % opts.print_freq === 0) {
            const line = formatLossLine(epoch, epochIter, optimizeTime, dataTime, losses as Record<string, number>);
            log(line);
            appendLog(lossLog, `${line}\n`);
            const span = t - lastLog.time;
            const record: TrainLogRecord = {
              time: new Date().toISOString(),
              epoch,
              epochIter,
              totalIters,
              progress: epoch - 1 + epochIter / imagesPerEpoch,
              losses,
              lr,
              secondsPerIter: span / Math.max(1, steps - lastLog.steps),
              imagesPerSecond: (totalIters - lastLog.totalIters) / span,
              optimizeTime,
              dataTime,
              numTensors: tf.memory().numTensors,
              rss: process.memoryUsage().rss,
              backend: tf.getBackend(),
            };
            appendLog(jsonLog, `${JSON.stringify(record)}\n`);
            history.push(record);
            lastLog = { time: t, totalIters, steps };
            page?.writeIndex(points(), model.lossNames, labels, epoch, evalPoints());
          }

          hooks.onIteration?.({
            epoch,
            epochIter: batch.index + 1,
            totalIters,
            itersPerEpoch,
            nEpochs,
            losses,
            lr,
            secondsPerIter,
            imagesPerSecond: batchSize / secondsPerIter,
          });
        } finally {
          tf.dispose([realA, realB]);
        }

        // Checkpoints: latest every save_latest_freq images, latest + <epoch> every save_epoch_freq epochs.
        const endOfEpoch = loader.epoch !== epoch;
        // The reference's update_learning_rate at the end of the epoch (its metric is always 0); a
        // checkpoint saved now is one for the start of the next epoch.
        if (endOfEpoch) plateau?.step(CUT_PLATEAU_METRIC);
        const toSave: string[] = [];
        if (totalIters % opts.save_latest_freq === 0) {
          log(`saving the latest model (epoch ${epoch}, total_iters ${totalIters})`);
          toSave.push(opts.save_by_iter ? `iter_${totalIters}` : 'latest');
        }
        if (endOfEpoch && epoch % opts.save_epoch_freq === 0) {
          log(`saving the model at the end of epoch ${epoch}, iters ${totalIters}`);
          toSave.push('latest', String(epoch));
        }
        const stopping = hooks.signal?.aborted === true;
        if (stopping && !toSave.includes('latest')) toSave.push('latest');
        if (toSave.length > 0) await save(toSave, epoch, endOfEpoch ? epoch + 1 : epoch, endOfEpoch ? 0 : epochIter);
        if (stopping) {
          log(`stopped at epoch ${epoch}, total_iters ${totalIters}; saved the latest model (continue with --continue_train)`);
          return { stoppedBy: 'signal', epoch, totalIters, checkpointDir: runDir };
        }
        iterDataTime = now();
      }
      log(`End of epoch ${epoch} / ${nEpochs} \t Time Taken: ${Math.trunc(now() - epochStart)} sec`);
      log(`learning rate = ${pyFixed(lrFor(epoch + 1), 7)}`);
      // --eval_freq: after the epoch's checkpoint; reads G only (no generator state, no batch-norm statistics change).
      if (evaluator && lastEpochTrained === epoch && TrainingEvaluator.due(opts, epoch)) {
        const { fake, dirA, dirB } = evaluator.images;
        log(`evaluating epoch ${epoch}: FID and KID of ${fake} images of ${dirA} translated, against ${dirB}`);
        const r = await evaluator.evaluate(model.netG, epoch, totalIters, log);
        appendLog(jsonLog, `${JSON.stringify(r)}\n`);
        evals.push(r);
        const line = formatEvalLine(r);
        log(`${line}${r.best ? '(best so far)' : `(best: epoch ${evaluator.best?.epoch}, FID ${pyFixed(evaluator.best?.fid ?? NaN, 3)})`}`);
        appendLog(lossLog, `${line}\n`);
        page?.writeIndex(points(), model.lossNames, labels, epoch, evalPoints());
      }
    }
    // The reference saves only on its save frequencies; keep the final weights in any case.
    if (steps > 0 && savedAtStep !== steps) {
      log(`saving the latest model at the end of training (epoch ${lastEpochTrained}, total_iters ${totalIters})`);
      await save(['latest'], lastEpochTrained, loader.epoch, 0);
    }
    return { stoppedBy: 'done', epoch: lastEpochTrained, totalIters, checkpointDir: runDir };
  } finally {
    loader?.close();
    await twoThreads?.close();
    evaluator?.dispose();
    model.dispose();
    lock?.release();
  }
}

/** The loss_log.txt line of an evaluation, in the reference's style: `(epoch: 2, total_iters: 800, images: 120 vs 140, time: 95.123) FID: 61.702 KID: 0.012 KID_std: 0.001 `. */
export function formatEvalLine(r: EvalLogRecord): string {
  return (
    `(epoch: ${r.epoch}, total_iters: ${r.totalIters}, images: ${r.fake} vs ${r.real}, time: ${pyFixed(r.seconds, 3)}) ` +
    `FID: ${pyFixed(r.fid, 3)} KID: ${pyFixed(r.kid, 5)} KID_std: ${pyFixed(r.kidStd, 5)} `
  );
}

/** The data loader where a state file left it; a changed dataset is named with the ways forward. */
function resumedLoader(dataset: ImageDataset, state: TrainState, nEpochs: number, stateFile: string): BatchLoader {
  try {
    return new BatchLoader(dataset, { state: state.rng.loader, endEpoch: nEpochs });
  } catch (e) {
    throw new Error(
      `${stateFile}: the dataset is not the one this run was trained on (${(e as Error).message
        .replace(/^BatchLoader: saved state does not fit this data \((.*)\)$/, '$1')
        .replace(
          /\|([AB])\| (\d+) vs (\d+)/g,
          (_, d: string, then: string, now: string) => `${d === 'A' ? dataset.dirA : dataset.dirB}: ${then} images then, ${now} now`,
        )}), ` +
        `so the exact resume cannot continue its data order. Put the data back as it was; or, to go on with this data from the ` +
        `weights alone (fresh optimizers and data order), delete or rename ${stateFile}`,
      { cause: e },
    );
  }
}

/** The sample images of the current batch: the reference's visual_names (idt_B with nce_idt, or Hneg-SRC's dce_idt). */
async function visuals(model: CUTModel, realA: tf.Tensor4D, realB: tf.Tensor4D) {
  const fakeB = model.translate(realA);
  const idtB = model.identityPair ? model.translate(realB) : null;
  try {
    const out: Array<[string, Awaited<ReturnType<typeof tensorToImage>>]> = [
      ['real_A', await tensorToImage(realA)],
      ['fake_B', await tensorToImage(fakeB)],
      ['real_B', await tensorToImage(realB)],
    ];
    if (idtB) out.push(['idt_B', await tensorToImage(idtB)]);
    return out;
  } finally {
    tf.dispose([fakeB, ...(idtB ? [idtB] : [])]);
  }
}

/** Options that change what a resumed run computes; a difference is reported, not refused. */
const RUN_DEFINING: readonly (keyof CUTOptions)[] = [
  'CUT_mode',
  ...NETWORK_OPTION_NAMES,
  'num_patches',
  'nce_idt',
  'nce_T',
  'lambda_GAN',
  'lambda_NCE',
  'nce_includes_all_negatives_from_minibatch',
  'flip_equivariance',
  'nce_loss',
  'lambda_HDCE',
  'lambda_SRC',
  'dce_idt',
  'HDCE_gamma',
  'HDCE_gamma_min',
  'use_curriculum',
  'step_gamma',
  'step_gamma_epoch',
  'no_Hneg',
  'eps',
  'cost_type',
  'neg_term_weight',
  'QS_mode',
  'gan_mode',
  'lr',
  'beta1',
  'beta2',
  'lr_policy',
  'lr_decay_iters',
  'n_epochs',
  'n_epochs_decay',
  'batch_size',
  'load_size',
  'crop_size',
  'preprocess',
  'no_flip',
  'serial_batches',
  'direction',
  'max_dataset_size',
  'phase',
];

/** Options that only set the learning-rate schedule: changing them keeps the past exact when the past rates stay. */
const SCHEDULE_ONLY: readonly (keyof CUTOptions)[] = ['n_epochs', 'n_epochs_decay', 'lr_policy', 'lr_decay_iters'];

function warnAboutChangedOptions(state: TrainState, opts: CUTOptions, log: (line: string) => void): void {
  const current = optionStrings(opts);
  let changed = RUN_DEFINING.filter((k) => state.options[k] !== undefined && state.options[k] !== current.get(k));
  // A longer (or otherwise rescheduled) run is what an uninterrupted run with the new values
  // would have been, as long as every epoch trained so far had the same learning rate.
  // Not with Hneg-SRC's --use_curriculum: its gamma follows n_epochs + n_epochs_decay too.
  const curriculum = opts.use_curriculum && (opts.nce_loss === 'hdce' || opts.nce_loss === 'dce');
  const rescheduled = changed.filter((k) => SCHEDULE_ONLY.includes(k) && !(curriculum && (k === 'n_epochs' || k === 'n_epochs_decay')));
  if (rescheduled.length > 0) {
    try {
      const saved = validateOptions({ ...state.options, epoch_count: state.firstEpoch }, 'saved state');
      const now = { ...opts, epoch_count: state.firstEpoch };
      let same = true;
      const lastTrained = state.epochIter > 0 ? state.epoch : state.epoch - 1;
      for (let e = state.firstEpoch; e <= lastTrained && e <= lastEpoch(saved); e++) same &&= learningRateAt(saved, e) === learningRateAt(now, e);
      if (same) {
        changed = changed.filter((k) => !rescheduled.includes(k));
        log(
          `note: ${rescheduled.map((k) => `${k} ${state.options[k]} -> ${current.get(k)}`).join(', ')}: the epochs trained so far had the ` +
            `same learning rates under the new values, so this continues as a run started with them would`,
        );
      }
    } catch {
      // saved options that no longer validate: report every difference
    }
  }
  if (changed.length > 0) {
    const list = changed.map((k) => `${k} ${state.options[k]} -> ${current.get(k)}`);
    log(`note: resuming with options that differ from the saved run (${list.join(', ')}); the result will differ from an uninterrupted run`);
  }
}
