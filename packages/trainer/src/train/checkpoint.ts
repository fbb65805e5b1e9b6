// Training checkpoints: the reference's files (`<label>_net_{G,D,F}.pth`, loadable by its
// test.py) plus our resume state, so that `continue_train` takes exactly the steps an
// uninterrupted run would have taken.
//
// Layout of `<checkpoints_dir>/<name>/`:
//   latest_net_G.pth, 5_net_G.pth, ...        the reference's names (state_dict, GPU key style)
//   train_state.json                          resume state of `latest` (`<label>_train_state.json` for others)
//   snapshots/<iters>-<stamp>/net_{G,D,F}.pth, optimizers.bin
//                                             what a state file refers to; never modified once written
//
// Crash safety: a save writes a new snapshot folder (each file atomic: temp + fsync + rename),
// then copies its weights to the reference names (temp copy + fsync + rename; never hard links,
// so that rewriting one of those files in place, as cp or torch.save do, changes nothing else), then renames
// the state file into place last. A state file only ever names a complete snapshot that is
// not touched again, so a process killed at any point leaves the previous state loadable
// (even when the reference-named files were already replaced). Snapshots no state file
// names any more are deleted after each save.
//
// Disk: the full state (snapshot with optimizers.bin) is kept for `latest` (and iter_<n>) and for
// the epochs asked for (`fullStateLabels`); other epoch checkpoints are the weights alone, as the
// reference writes them (resuming from one starts fresh optimisers).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { RngState } from '@cut/core-tensors';
import type { CUTModel, NetName } from '../cut-model.js';
import type { LoaderState } from '../data/loader.js';
import type { PlateauState } from '../schedule.js';
import {
  copyFileAtomic,
  fsyncDir,
  loadNetworkWeights,
  loadPatchSamplerWeights,
  saveNetworkWeights,
  savePatchSamplerWeights,
  writeFileAtomic,
} from '@cut/files';
import { encodeOptimizerStates, restoreOptimizerStates } from '../optim/optimizer-state.js';

export const TRAIN_STATE_FORMAT = 'cut-train-state';
const SNAPSHOTS = 'snapshots';
const NETS: readonly NetName[] = ['G', 'D', 'F'];

export interface FileRecord {
  /** Relative to the run folder, '/'-separated. */
  path: string;
  bytes: number;
  sha256: string;
}

/** `train_state.json`: where a run stands after the iteration it was saved at. */
export interface TrainState {
  format: typeof TRAIN_STATE_FORMAT;
  version: 1;
  /** The checkpoint label: latest, an epoch number, or iter_<n>. */
  label: string;
  savedAt: string;
  /** Epoch of the next iteration, and the images already trained in that epoch (0 at an epoch boundary). */
  epoch: number;
  epochIter: number;
  /** Images trained since the run began (the reference's total_iters), and optimisation steps. */
  totalIters: number;
  steps: number;
  /** The run's first epoch (its original epoch_count): the learning-rate schedule counts from it. */
  firstEpoch: number;
  /**
   * `lr_policy plateau`: the scheduler as the next epoch starts (PyTorch's state_dict fields); a
   * resume continues from it. Absent for the other policies (functions of the epoch alone).
   */
  schedule?: PlateauState;
  /** The reference's smoothed seconds per image (`optimize_time`), for the loss log. */
  optimizeTime: number;
  /** Seeds the run started from (null: not seeded, e.g. resumed from reference weights). */
  seeds: { model: number | null; loader: number | null };
  /** Generator states to continue from: the model's (init, flips, patch ids) and the data loader's. */
  rng: { model: RngState; loader: LoaderState };
  backend: string;
  files: Record<NetName | 'optimizers', FileRecord>;
  /** Every option as train_opt.txt shows it. */
  options: Record<string, string>;
}

/** The state file of a checkpoint label. */
export function stateFileName(label: string): string {
  return label === 'latest' ? 'train_state.json' : `${label}_train_state.json`;
}

/** The reference's weight file of a label and network: `<label>_net_<G|D|F>.pth`. */
export function weightFileName(label: string, net: NetName): string {
  return `${label}_net_${net}.pth`;
}

function fileRecord(runDir: string, path: string): FileRecord {
  const bytes = readFileSync(path);
  return {
    path: relative(runDir, path).split('\\').join('/'),
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/**
 * Names of parameters holding NaN or ±Infinity (`G model.1.weight`), found on the device with
 * one read: x − x is 0 for finite x and NaN otherwise.
 */
export async function nonFiniteParameters(model: CUTModel): Promise<string[]> {
  const names: string[] = [];
  const sums: tf.Scalar[] = [];
  for (const net of NETS) {
    for (const [name, v] of model.named(net)) {
      names.push(`${net} ${name}`);
      sums.push(tf.tidy(() => tf.sum(tf.sub(v, v))));
    }
  }
  if (sums.length === 0) return [];
  const stacked = tf.stack(sums);
  const values = await stacked.data();
  tf.dispose([stacked, ...sums]);
  return names.filter((_, i) => Number.isNaN(values[i]!));
}

export interface SaveCheckpointArgs {
  runDir: string;
  model: CUTModel;
  /** Labels to save under (e.g. ['latest'] or ['latest', '5']): one snapshot, several names. */
  labels: readonly string[];
  /**
   * Labels that get a state file (exact resume); the others get the weights alone, and any old
   * state file of theirs is removed. Default: all of them.
   */
  fullStateLabels?: readonly string[];
  /** The state minus what the save fills in (label, savedAt, files). */
  state: Omit<TrainState, 'format' | 'version' | 'label' | 'savedAt' | 'files'>;
}

/**
 * Saves the model (weights and optimiser state) under every label: the reference's weight
 * files and our state files. Refuses (before writing anything) when a weight is not finite.
 */
export async function saveCheckpoint(args: SaveCheckpointArgs): Promise<void> {
  const bad = await nonFiniteParameters(args.model);
  if (bad.length > 0) {
    throw new Error(
      `weights are not finite (${bad.slice(0, 3).join(', ')}${bad.length > 3 ? `, and ${bad.length - 3} more` : ''}); checkpoint not written`,
    );
  }
  try {
    await writeCheckpoint(args);
  } catch (e) {
    // A save that failed (a full disk) leaves no snapshot folder that no state file names.
    try {
      removeUnusedSnapshots(args.runDir);
    } catch {
      // the save's own error is the one to report
    }
    throw e;
  }
}

async function writeCheckpoint({ runDir, model, labels, state, fullStateLabels }: SaveCheckpointArgs): Promise<void> {
  const snapshotsDir = join(runDir, SNAPSHOTS);
  const stamp = `${String(state.totalIters).padStart(9, '0')}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const dir = join(snapshotsDir, stamp);
  mkdirSync(dir, { recursive: true });
  const paths: Record<NetName | 'optimizers', string> = {
    G: join(dir, 'net_G.pth'),
    D: join(dir, 'net_D.pth'),
    F: join(dir, 'net_F.pth'),
    optimizers: join(dir, 'optimizers.bin'),
  };
  await saveNetworkWeights(model.netG, paths.G);
  await saveNetworkWeights(model.netD, paths.D);
  await savePatchSamplerWeights(model.netF, paths.F);
  writeFileAtomic(paths.optimizers, await encodeOptimizerStates(model));
  fsyncDir(dir);
  fsyncDir(snapshotsDir);
  const files = {
    G: fileRecord(runDir, paths.G),
    D: fileRecord(runDir, paths.D),
    F: fileRecord(runDir, paths.F),
    optimizers: fileRecord(runDir, paths.optimizers),
  };
  for (const label of new Set(labels)) {
    const full = fullStateLabels === undefined || fullStateLabels.includes(label);
    if (!full) {
      // An older state file of this label would describe other weights: it goes first.
      removeIfPresent(join(runDir, stateFileName(label)));
    }
    for (const net of NETS) copyFileAtomic(paths[net], join(runDir, weightFileName(label, net)));
    fsyncDir(runDir);
    if (!full) continue;
    const record: TrainState = {
      format: TRAIN_STATE_FORMAT,
      version: 1,
      label,
      savedAt: new Date().toISOString(),
      ...state,
      files,
    };
    writeFileAtomic(join(runDir, stateFileName(label)), `${JSON.stringify(record, null, 1)}\n`);
  }
  removeUnusedSnapshots(runDir);
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file}: cannot remove (${(e as Error).message})`, { cause: e });
  }
}

/** Deletes snapshot folders that no state file of the run refers to (left by older saves or interrupted ones). */
export function removeUnusedSnapshots(runDir: string): void {
  const snapshotsDir = join(runDir, SNAPSHOTS);
  if (!existsSync(snapshotsDir)) return;
  const used = new Set<string>();
  for (const f of readdirSync(runDir)) {
    if (f !== 'train_state.json' && !f.endsWith('_train_state.json')) continue;
    try {
      const s = JSON.parse(readFileSync(join(runDir, f), 'utf8')) as TrainState;
      for (const r of Object.values(s.files ?? {})) used.add(resolve(runDir, r.path, '..'));
    } catch {
      // An unreadable state file keeps nothing alive; it cannot be resumed from anyway.
    }
  }
  for (const d of readdirSync(snapshotsDir)) {
    const p = join(snapshotsDir, d);
    if (!used.has(resolve(p))) rmSync(p, { recursive: true, force: true });
  }
}

/** A state file, read and checked (format, files present with their recorded size and hash). */
export function readTrainState(runDir: string, label: string): TrainState | null {
  const file = join(runDir, stateFileName(label));
  if (!existsSync(file)) return null;
  let s: TrainState;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as TrainState;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (s.format !== TRAIN_STATE_FORMAT || s.version !== 1) throw new Error(`${file}: not a ${TRAIN_STATE_FORMAT} version 1 file`);
  for (const key of [...NETS, 'optimizers'] as const) {
    const r = s.files?.[key];
    if (!r) throw new Error(`${file}: no '${key}' file recorded`);
    const path = join(runDir, r.path);
    if (!existsSync(path)) {
      throw new Error(
        `${file}: ${path} is missing (the ${SNAPSHOTS}/ folder holds the exact resume state; was it deleted or moved?). ` +
          `Put it back, resume from another checkpoint (--epoch), or delete ${stateFileName(s.label)} to load the weights ${weightFileName(s.label, 'G').replace('_G', '_{G,D,F}')} alone (fresh optimizers).`,
      );
    }
    const got = fileRecord(runDir, path);
    if (got.bytes !== r.bytes || got.sha256 !== r.sha256) {
      const shared = key === 'optimizers' ? '' : ' (this file is written once and never changed: was it edited or copied over?)';
      throw new Error(
        `${file}: ${path} does not match the state (${got.bytes} bytes, sha256 ${got.sha256.slice(0, 12)}…; recorded ${r.bytes}, ` +
          `${r.sha256.slice(0, 12)}…)${shared}. Resume from another checkpoint (--epoch), or delete ${stateFileName(s.label)} to load the weights alone.`,
      );
    }
  }
  return s;
}

/** Loads the weights a state (or, without one, the reference-named files of `label`) refers to. */
export function loadWeights(model: CUTModel, runDir: string, source: { state: TrainState } | { label: string }): void {
  for (const net of NETS) {
    const path = 'state' in source ? join(runDir, source.state.files[net].path) : join(runDir, weightFileName(source.label, net));
    if (!existsSync(path))
      throw new Error(`${path}: no such checkpoint file (continue_train, epoch '${'state' in source ? source.state.label : source.label}')`);
    if (net === 'F') loadPatchSamplerWeights(model.netF, path);
    else loadNetworkWeights(net === 'G' ? model.netG : model.netD, path);
  }
}

/** Restores the optimisers of a state (after `dataDependentInitialize`, so that F's exists). */
export function loadOptimizers(model: CUTModel, runDir: string, state: TrainState): void {
  const path = join(runDir, state.files.optimizers.path);
  restoreOptimizerStates(model, readFileSync(path), path);
}
