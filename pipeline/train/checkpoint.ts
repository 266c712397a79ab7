/**
 * @file Atomic checkpoints: a b2m bundle (parameters, optimizer state, step) plus a small JSON (data positions,
 * random state, metrics rows), written into a temporary folder renamed into place; the last good ones are kept.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BatcherPosition, RngState } from '../../datasets/index.js';
import type { TrainingIo } from '../../graphs/artifacts.js';
import { type Bundle, readBundle, writeBundle } from '../../graphs/bundle.js';
import { B2mError } from '../errors.js';
import type { PairedPosition } from './task-data.js';

/** A checkpoint folder cannot be read, or does not belong to this run. */
export class CheckpointError extends B2mError {}

export const CHECKPOINT_FORMAT = 1;
export const CHECKPOINTS_DIR = 'checkpoints';
const BUNDLE_FILE = 'bundle.onnx';
const STATE_FILE = 'checkpoint.json';
const NAME = /^step-(\d{9})$/;

/** Everything besides the bundle that resuming needs. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  /** Steps taken (equals the bundle's step). */
  step: number;
  /** Hash of the compiled artifacts: a checkpoint resumes only the same model and optimizer. */
  artifactHash: string;
  /** The run's seed, which the artifacts (shared by every seed) do not record. */
  seed: number;
  /** Position of the training batch stream after the last step. */
  taskStream: BatcherPosition;
  /** Position of the brain-paired row sampler, or null when the run draws none. */
  paired: PairedPosition | null;
  /** State of the generator of VAE noise, or null. */
  noise: RngState | null;
  /** Rows of the metrics table written up to this step. */
  metricsRows: number;
  /** Training wall time before this checkpoint, in seconds. */
  elapsedSeconds: number;
}

/** A checkpoint read back. */
export interface Checkpoint {
  dir: string;
  state: CheckpointState;
  bundle: Bundle;
}

function checkpointName(step: number): string {
  return `step-${String(step).padStart(9, '0')}`;
}

/**
 * Writes a checkpoint of `step` under `runDir/checkpoints/` and keeps only the newest `keep` (default 2), so a
 * crash while writing or a corrupt newest checkpoint still leaves a good one. Leftover temporary folders of a
 * writer that crashed are removed (one trainer writes a run folder at a time).
 */
export async function saveCheckpoint(
  runDir: string,
  source: { io: TrainingIo; trainStep: Uint8Array; inference: Uint8Array },
  values: { params: ReadonlyMap<string, ArrayLike<number>>; state: ReadonlyMap<string, ArrayLike<number>> },
  state: CheckpointState,
  keep = 2,
): Promise<string> {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  await mkdir(root, { recursive: true });
  const bundle = writeBundle(source, values.params, values.state, state.step);
  const final = path.join(root, checkpointName(state.step));
  const tmp = path.join(root, `.tmp-${checkpointName(state.step)}-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  try {
    await writeFile(path.join(tmp, BUNDLE_FILE), bundle);
    await writeFile(path.join(tmp, STATE_FILE), `${JSON.stringify(state, null, 1)}\n`);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw new CheckpointError(`cannot write checkpoint ${final}: ${(err as Error).message}; check that the run folder is writable and the disk has room`);
  }
  const all = await listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(old.dir, { recursive: true, force: true });
  for (const entry of await readdir(root)) {
    if (entry.startsWith('.tmp-')) await rm(path.join(root, entry), { recursive: true, force: true });
  }
  return final;
}

/** Complete checkpoints of a run, oldest first. */
export async function listCheckpoints(runDir: string): Promise<{ step: number; dir: string }[]> {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return [];
  }
  return entries
    .map((e) => NAME.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(root, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/** Reads one checkpoint folder. */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  let state: CheckpointState;
  let bundle: Bundle;
  try {
    state = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as CheckpointState;
    bundle = readBundle(new Uint8Array(await readFile(path.join(dir, BUNDLE_FILE))));
  } catch (err) {
    throw new CheckpointError(`checkpoint ${dir} cannot be read: ${(err as Error).message}`);
  }
  if (state.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`checkpoint ${dir} has format ${String(state.format)}; this b2m reads ${CHECKPOINT_FORMAT}`);
  if (state.step !== bundle.step) throw new CheckpointError(`checkpoint ${dir}: its JSON says step ${state.step} but its bundle holds step ${bundle.step}`);
  return { dir, state, bundle };
}

/**
 * The newest checkpoint of a run that reads back whole, or null when there is none. Unreadable newer ones are
 * skipped and reported through `onSkip`.
 */
export async function latestCheckpoint(runDir: string, onSkip?: (dir: string, reason: string) => void): Promise<Checkpoint | null> {
  const all = await listCheckpoints(runDir);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      return await readCheckpoint(all[i]!.dir);
    } catch (err) {
      onSkip?.(all[i]!.dir, (err as Error).message);
    }
  }
  return null;
}
