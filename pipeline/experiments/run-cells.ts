/**
 * @file Runs grid cells on this machine: up to `jobs` trainers at a time, each in its own worker thread with one
 * onnxruntime intra-op thread, skipping finished cells and resuming interrupted ones from their checkpoints.
 * Ctrl-C asks every running trainer to checkpoint and stop; a second Ctrl-C ends them after their current step, without a checkpoint.
 */
import path from 'node:path';
import type { Progress, StageProgress } from '../progress.js';
import { startTrainingWorker, type TrainResult, type TrainingWorker } from '../train/index.js';
import { type Cell, cellConfig, cellFinished, type Grid } from './grid.js';

/** Options of {@link runCells}. */
export interface RunCellsOptions {
  /** Trainers running at once (default 2). */
  jobs?: number;
  /** Intra-op threads per trainer (default 1). */
  threads?: number;
  progress: Progress;
  /** Shared folder of compiled training artifacts (default `DIR/.artifacts`). */
  cacheDir?: string;
}

/** What a call ran. */
export interface RunCellsResult {
  /** Cells trained to the end by this call. */
  trained: number[];
  /** Cells already finished before this call. */
  skipped: number[];
  /** True when interrupted (Ctrl-C): the running cells checkpointed and the rest did not start. */
  stopped: boolean;
  /** Wall-clock seconds per cell trained by this call, by run directory. */
  durations: Record<string, number>;
  /** Training throughput per cell trained by this call, by run directory. */
  stepsPerSecond: Record<string, number>;
}

/** Trains one cell in a worker thread and follows its steps on `progress`. */
export function startCell(dir: string, grid: Grid, cell: Cell, options: RunCellsOptions): TrainingWorker {
  const experiment = grid.experiments.find((e) => e.name === cell.experiment)!;
  const config = cellConfig(experiment, cell, options.threads ?? 1);
  const name = `${cell.experiment}/${cell.strategy}/seed-${cell.seed}`;
  let bar: StageProgress | undefined;
  return startTrainingWorker(
    {
      config,
      dataset: path.resolve(dir, experiment.dataset),
      strategy: cell.strategy,
      runDir: path.resolve(dir, cell.dir),
      cacheDir: options.cacheDir ?? path.resolve(dir, '.artifacts'),
    },
    (event) => {
      bar ??= options.progress.stage(name, event.total);
      if (event.split === 'train') bar.update(event.step);
      else bar.update(event.step, scoreFields(event.values));
      if (event.step === event.total && event.split !== 'train') bar.done(scoreFields(event.values));
    },
  );
}

function scoreFields(values: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  if (values.accuracy !== undefined) out['val acc'] = values.accuracy;
  if (values.recon_mse !== undefined) out['val mse'] = values.recon_mse;
  return out;
}

/** Runs the grid's unfinished cells (all, or those listed), `jobs` at a time. */
export async function runCells(dir: string, grid: Grid, options: RunCellsOptions, only?: readonly number[]): Promise<RunCellsResult> {
  const wanted = only ? only.map((i) => grid.cells[i]!) : grid.cells;
  const skipped = wanted.filter((c) => cellFinished(dir, c)).map((c) => c.index);
  const queue = wanted.filter((c) => !skipped.includes(c.index));
  const result: RunCellsResult = { trained: [], skipped, stopped: false, durations: {}, stepsPerSecond: {} };
  if (queue.length === 0) return result;
  const total = options.progress.stage('cells', wanted.length);
  total.update(skipped.length);
  const running = new Set<TrainingWorker>();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    result.stopped = true;
    if (interrupts === 1) {
      options.progress.warn('interrupted: the running cells checkpoint and stop; run the same command again to continue (Ctrl-C again ends them after their current step, without a checkpoint).');
      for (const w of running) w.stop();
    } else {
      for (const w of running) void w.kill();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const jobs = Math.max(1, options.jobs ?? 2);
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (!result.stopped && failure === undefined) {
      const cell = queue.shift();
      if (!cell) return;
      const started = performance.now();
      const worker = startCell(dir, grid, cell, options);
      running.add(worker);
      let outcome: TrainResult;
      try {
        outcome = await worker.result;
      } catch (err) {
        failure ??= err;
        for (const w of running) if (w !== worker) w.stop();
        return;
      } finally {
        running.delete(worker);
      }
      if (outcome.stopped) return;
      result.trained.push(cell.index);
      result.durations[cell.dir] = (performance.now() - started) / 1000;
      result.stepsPerSecond[cell.dir] = outcome.stepsPerSecond;
      total.increment();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, lane));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure !== undefined) throw failure;
  if (!result.stopped) total.done();
  return result;
}
