/**
 * @file `train(options)`: compile (through the artifact cache), open sessions on the chosen device, run the
 * loop with host-side schedules, evaluate on the held-out split, write metrics and atomic checkpoints, resume
 * exactly, and stop on a non-finite loss naming the step and the term.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { openDataset, Rng, type Split } from '../../datasets/index.js';
import {
  activationOutput,
  cachedTraining,
  exportInference,
  LOSS_OUTPUT,
  metricOutput,
  termOutput,
  type TrainingArtifacts,
} from '../../graphs/artifacts.js';
import { b2mTrainingSpec, type B2mModelOptions } from '../../graphs/b2m.js';
import { createSession, TrainSession, type StepResult } from '../../graphs/train-session.js';
import type { ExperimentConfig, Strategy } from '../config.js';
import { B2mError } from '../errors.js';
import { type CheckpointState, CHECKPOINT_FORMAT, CHECKPOINTS_DIR, latestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { requireDevice, sessionOptions, type DeviceSettings } from './device.js';
import { FeedBuilder, type Pairing } from './feeds.js';
import { MetricsTable } from './metrics.js';
import { b2mModelOptions, optimizerOf } from './model.js';
import { learningRateAt, lossWeightAt } from './schedules.js';
import { REPRESENTATIONS_FILE, type Representations, writeRepresentations } from './representations.js';
import { loadEvalRows, PairedRows, selectRows, type TaskRows, taskTable, TrainStream } from './task-data.js';
import { loadTeacher, type TeacherData, teacherEntry, teacherTableFor, TrainDataError } from './teacher-data.js';

/** Training stopped on a non-finite loss; the message names the step and the term. */
export class TrainingError extends B2mError {}

export interface TrainOptions {
  /** A resolved experiment config (pipeline/config.ts). */
  config: ExperimentConfig;
  /** The dataset folder: its task table (`trials` or `scenes`) and teacher tables. */
  dataset: string;
  strategy: Strategy;
  /** The run folder: metrics.csv, checkpoints/, final.json, student.onnx, representations.arrow, run.json. */
  runDir: string;
  /** Folder of compiled artifacts shared between runs (default `<runDir>/artifacts`). */
  cacheDir?: string;
  /** Continue from the newest good checkpoint when there is one (default true); false deletes the run's checkpoints and results first. */
  resume?: boolean;
  /** Train on only the first N training rows of the task table (a task budget). */
  taskTrials?: number;
  /** Brain-paired training rows added to each batch (default: a quarter of the batch when brain rows pair by trial). */
  brainRowsPerBatch?: number;
  /** Held-out rows evaluated (default 4096, the first in table order). */
  evalRows?: number;
  /** Rows per evaluation batch (default 256). */
  evalBatchSize?: number;
  /** Steps between checkpoints (default `train.evalEvery`). */
  checkpointEvery?: number;
  /** Polled between steps; true checkpoints and returns with `stopped` (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Called after every step and every evaluation. */
  onProgress?: (event: TrainProgress) => void;
  /** Called with each step's feeds before the step runs (to inspect batches, or to corrupt one in a test). */
  onBatch?: (step: number, feeds: Readonly<Record<string, ort.Tensor>>) => void;
}

export interface TrainProgress {
  /** Steps taken. */
  step: number;
  total: number;
  split: 'train' | Split;
  /** The row written to the metrics table. */
  values: Readonly<Record<string, number>>;
}

/** Scores of one evaluation pass. */
export type EvalScores = Record<string, number>;

export interface TrainResult {
  runDir: string;
  strategy: Strategy;
  /** Steps taken. */
  steps: number;
  /** True when stopped by `shouldStop` before the last step (a checkpoint was written). */
  stopped: boolean;
  /** The step training resumed from (0 for a fresh run). */
  resumedFrom: number;
  /** Held-out scores at the end (absent when stopped). */
  final?: { val: EvalScores; test: EvalScores };
  /** Host-measured training throughput of this call (steps per second, excluding evaluations). */
  stepsPerSecond: number;
}

export const RUN_FILE = 'run.json';
export const FINAL_FILE = 'final.json';
export const STUDENT_FILE = 'student.onnx';

const BRAIN_TERMS = ['contrastive', 'latent'];

/** Trains one cell (experiment × strategy × seed) into `runDir`; see `TrainOptions`. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { config, strategy, runDir } = options;
  const device = await requireDevice(config.train.device);
  const settings: DeviceSettings = { device, graphOptimization: config.train.graphOptimization, ...(config.train.threads ? { threads: config.train.threads } : {}) };
  await mkdir(runDir, { recursive: true });

  const dataset = await openDataset(options.dataset);
  const kind = config.student.kind;
  const teacherName = teacherTableFor(strategy);
  const teacher = teacherName ? await loadTeacher(dataset, teacherName) : null;
  const realTeacher = teacherName === 'teacher' ? teacher : dataset.tables.teacher?.kind === 'teacher' ? await loadTeacher(dataset, 'teacher') : null;
  const pairingTeacher = realTeacher ?? teacher;
  const pairing: Pairing = config.losses.contrastive.pairing;
  const withConditions = pairing === 'condition' || (teacher !== null && teacher.byCondition.size > 0);
  const task = taskTable(dataset, kind, withConditions);
  const model = b2mModelOptions(config, strategy, task.xShape, teacher);
  if (model.contrastive && pairing === 'trial' && teacher && teacher.byTrial.size === 0) {
    throw new TrainDataError(
      `teacher table "${teacher.table}" holds condition averages (no trial ids), so its rows pair with task trials by condition; ` +
        'set losses.contrastive.pairing: condition (or build per-trial teacher rows with teacher.conditionAverage: false)',
    );
  }
  const spec = b2mTrainingSpec(model);
  const optimizer = optimizerOf(config);
  const { artifacts } = await cachedTraining(options.cacheDir ?? path.join(runDir, 'artifacts'), spec, {
    ...spec.compile,
    optimizer,
    cacheKey: { ...(spec.compile.cacheKey as object), optimizer },
  });
  const io = artifacts.io;

  if (options.resume === false) {
    for (const name of [CHECKPOINTS_DIR, FINAL_FILE, STUDENT_FILE, REPRESENTATIONS_FILE]) await rm(path.join(runDir, name), { recursive: true, force: true });
  }
  const checkpoint = options.resume === false ? null : await latestCheckpoint(runDir);
  if (checkpoint && checkpoint.state.artifactHash !== io.hash) {
    throw new TrainingError(
      `${runDir} holds a checkpoint of another model or optimizer (artifacts ${checkpoint.state.artifactHash}, this config compiles ${io.hash}); ` +
        'train into a new run folder, or pass resume: false (--no-resume) to start over here',
    );
  }
  if (checkpoint && checkpoint.state.seed !== config.seed) {
    throw new TrainingError(
      `${runDir} holds a checkpoint of seed ${String(checkpoint.state.seed)}, and this config has seed ${config.seed}; ` +
        'train into a new run folder, or pass resume: false (--no-resume) to start over here',
    );
  }
  const start = checkpoint?.state.step ?? 0;
  await writeFile(
    path.join(runDir, RUN_FILE),
    `${JSON.stringify({ experiment: config.experiment, strategy, seed: config.seed, dataset: dataset.dir, teacher: teacherName, artifactHash: io.hash, model, config }, null, 1)}\n`,
  );

  const batchSize = config.train.batchSize;
  const perBatch = options.brainRowsPerBatch ?? (pairingTeacher && pairingTeacher.byTrial.size > 0 ? Math.max(1, Math.round(batchSize / 4)) : 0);
  const stream = await TrainStream.open(task, { batchSize, seed: config.seed, taskTrials: options.taskTrials, resume: checkpoint?.state.taskStream });
  const paired = pairingTeacher
    ? await PairedRows.load(task, pairingTeacher, { seed: config.seed, perBatch, taskTrials: options.taskTrials, resume: checkpoint?.state.paired ?? undefined })
    : null;
  const noiseRng = kind === 'sceneVae' ? (checkpoint?.state.noise ? Rng.fromState(checkpoint.state.noise) : Rng.derive(config.seed, 'vae-noise')) : null;
  const dataInputs = (names: readonly string[]) => io.data.map((d) => d.name).filter((n) => names.includes(n));
  const trainFeeds = new FeedBuilder({ model, xShape: task.xShape, teacher, pairing, inputs: dataInputs(io.trainStep.inputs), capacity: batchSize + (paired ? perBatch : 0) });
  const evalBatch = options.evalBatchSize ?? 256;
  const evalFeeds = new FeedBuilder({ model, xShape: task.xShape, teacher, pairing, inputs: dataInputs(io.eval.inputs), capacity: evalBatch });
  const maxEval = options.evalRows ?? 4096;
  const valRows = await loadEvalRows(task, 'val', evalBatch, maxEval);

  const session = await TrainSession.create(
    checkpoint
      ? { io, trainStep: artifacts.trainStep, params: checkpoint.bundle.params, state: checkpoint.bundle.state, step: start }
      : { io, trainStep: artifacts.trainStep, params: artifacts.params },
    sessionOptions(settings),
  );
  const evaluator = new Evaluator(artifacts, await createSession(artifacts.eval, sessionOptions(settings)), evalFeeds, model);
  const columns = metricColumns(artifacts, model);
  const metrics = await MetricsTable.open(runDir, columns, checkpoint?.state.metricsRows ?? 0);

  const total = config.train.steps;
  const every = options.checkpointEvery ?? config.train.evalEvery;
  const knobsAt = (step: number) => knobValues(config, io.knobs.map((k) => k.name), step, total);
  let elapsed = checkpoint?.state.elapsedSeconds ?? 0;
  let stepSeconds = 0;
  let lastGood: string | null = checkpoint?.dir ?? null;
  let savedStep = start;
  const save = async (step: number): Promise<void> => {
    await metrics.flush();
    const state: CheckpointState = {
      format: CHECKPOINT_FORMAT,
      step,
      artifactHash: io.hash,
      seed: config.seed,
      taskStream: stream.position(),
      paired: paired?.position() ?? null,
      noise: noiseRng?.state() ?? null,
      metricsRows: metrics.rows,
      elapsedSeconds: elapsed,
    };
    lastGood = await saveCheckpoint(runDir, artifacts, { params: session.params(), state: session.state() }, state);
    savedStep = step;
  };

  let step = start;
  let stopped = false;
  try {
    let clock = performance.now();
    while (step < total) {
      if (options.shouldStop?.()) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      const rows = await stream.next();
      const parts: TaskRows[] = paired ? [rows, paired.next(perBatch)] : [rows];
      const feeds = trainFeeds.build(parts, noiseRng);
      const knobs = knobsAt(step);
      options.onBatch?.(step + 1, feeds);
      const result = await session.step(feeds, knobs);
      stepSeconds += (performance.now() - t0) / 1000;
      step = result.step;
      guard(result, step, lastGood);
      const now = performance.now();
      elapsed += (now - clock) / 1000;
      clock = now;
      const values = { ...stepValues(result, model), ...knobs, wall_s: elapsed };
      metrics.add({ step, split: 'train', values });
      options.onProgress?.({ step, total, split: 'train', values });
      if ((step % config.train.evalEvery === 0 || step === total) && valRows.length > 0) {
        const scores = await evaluator.run(valRows, session.paramTensors(), knobs);
        const evalValues = { ...scores, ...knobs, wall_s: elapsed };
        metrics.add({ step, split: 'val', values: evalValues });
        options.onProgress?.({ step, total, split: 'val', values: evalValues });
        clock = performance.now();
      }
      if (step % every === 0 || step === total) {
        await save(step);
        clock = performance.now();
      }
    }
    if (stopped && step !== savedStep) await save(step);
    let final: TrainResult['final'];
    if (!stopped) {
      const knobs = knobsAt(total - 1);
      const test = await loadEvalRows(task, 'test', evalBatch, maxEval);
      final = { val: await evaluator.run(valRows, session.paramTensors(), knobs), test: await evaluator.run(test, session.paramTensors(), knobs) };
      await writeAtomic(path.join(runDir, STUDENT_FILE), exportInference(artifacts, session.params()));
      if (realTeacher) {
        const held = selectRows(task, valRows, (id) => teacherEntry(realTeacher, id, undefined) >= 0);
        if (held.length > 0) await writeRepresentations(runDir, await evaluator.representations(held, session.paramTensors(), knobs, realTeacher));
      }
      await writeAtomic(path.join(runDir, FINAL_FILE), `${JSON.stringify({ steps: step, strategy, seed: config.seed, ...final }, null, 1)}\n`);
    }
    return { runDir, strategy, steps: step, stopped, resumedFrom: start, final, stepsPerSecond: (step - start) / Math.max(stepSeconds, 1e-9) };
  } finally {
    await stream.close();
    await session.release();
    await evaluator.release();
  }
}

/** Writes under a temporary name, then renames: `final.json`, written last, marks a finished run. */
async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** The knob values of a step: the scheduled learning rate and loss weights, and the VAE's β. */
export function knobValues(config: ExperimentConfig, names: readonly string[], step: number, total: number): Record<string, number> {
  const out: Record<string, number> = {};
  const has = (n: string) => names.includes(n);
  if (has('lr')) out.lr = learningRateAt(step, config.train.optimizer.lr, config.train.lrSchedule, total);
  const { contrastive, latent } = config.losses;
  if (has('lambda_contrastive')) out.lambda_contrastive = lossWeightAt(step, contrastive.weight, contrastive.schedule, total);
  if (has('lambda_latent')) out.lambda_latent = lossWeightAt(step, latent.weight, latent.schedule, total);
  if (has('beta') && config.student.kind === 'sceneVae') out.beta = config.student.beta;
  return out;
}

/** Columns of the metrics table for these artifacts. */
function metricColumns(artifacts: TrainingArtifacts, model: B2mModelOptions): string[] {
  const io = artifacts.io;
  const score = model.student.kind === 'decisionRnn' ? ['accuracy'] : ['recon_mse'];
  const knobs = ['lr', 'lambda_contrastive', 'lambda_latent', 'beta'].filter((k) => io.knobs.some((x) => x.name === k));
  return ['loss', ...io.terms.map(termOutput), ...io.metrics.map(metricOutput), ...score, 'grad_norm', ...knobs, 'wall_s'];
}

/** Per-row score from summed metrics: accuracy = correct / count; recon_mse = squared error per pixel value. */
function scores(values: Record<string, number>, model: B2mModelOptions): void {
  const count = values[metricOutput('count')] ?? 0;
  if (count === 0) return;
  if (model.student.kind === 'decisionRnn') values.accuracy = (values[metricOutput('correct')] ?? 0) / count;
  else {
    const [h, w] = model.student.imageSize;
    values.recon_mse = (values[metricOutput('recon_sse')] ?? 0) / (count * h * w * 3);
  }
}

function stepValues(r: StepResult, model: B2mModelOptions): Record<string, number> {
  const values: Record<string, number> = { loss: r.loss, grad_norm: r.gradNorm };
  for (const [n, v] of Object.entries(r.terms)) values[termOutput(n)] = v;
  for (const [n, v] of Object.entries(r.metrics)) values[metricOutput(n)] = v;
  scores(values, model);
  return values;
}

/** Stops on a non-finite loss, naming the step and every non-finite term (brain terms first). */
function guard(r: StepResult, step: number, lastGood: string | null): void {
  const bad = Object.entries(r.terms).filter(([, v]) => !Number.isFinite(v));
  bad.sort(([a], [b]) => Number(!BRAIN_TERMS.includes(a)) - Number(!BRAIN_TERMS.includes(b)));
  if (bad.length === 0 && Number.isFinite(r.loss) && Number.isFinite(r.gradNorm)) return;
  const what = bad.length > 0
    ? bad.map(([n, v]) => `${termOutput(n)} is ${v}`).join(', ')
    : Number.isFinite(r.loss) ? `the gradient norm is ${r.gradNorm}` : `the loss is ${r.loss}`;
  const brain = bad.some(([n]) => BRAIN_TERMS.includes(n)) ? ' Check the brain data of this batch (teacher table) for non-finite or huge values.' : '';
  const keep = lastGood ? ` The last good checkpoint, ${lastGood}, is kept; resume from it after fixing the cause (or lower the learning rate).` : ' No checkpoint was written before this step.';
  throw new TrainingError(`training stopped at step ${step}: ${what}.${brain}${keep}`);
}

/** Runs the eval model over held-out batches and sums or averages its outputs. */
class Evaluator {
  constructor(
    private readonly artifacts: TrainingArtifacts,
    private readonly session: ort.InferenceSession,
    private readonly feeds: FeedBuilder,
    private readonly model: B2mModelOptions,
  ) {}

  /**
   * Terms averaged over rows (brain terms over the rows with brain data; absent when no held-out row has any),
   * metrics summed, the loss averaged, and the score (accuracy or recon_mse).
   */
  async run(batches: readonly TaskRows[], params: Record<string, ort.Tensor>, knobs: Record<string, number>): Promise<EvalScores> {
    const io = this.artifacts.io;
    const sums: Record<string, number> = {};
    const fetch = [LOSS_OUTPUT, ...io.terms.map(termOutput), ...io.metrics.map(metricOutput)];
    const knobFeeds: Record<string, ort.Tensor> = {};
    for (const k of io.knobs) {
      if (io.eval.inputs.includes(k.input)) knobFeeds[k.input] = new ort.Tensor('float32', Float32Array.of(knobs[k.name] ?? k.default), []);
    }
    const weights: Record<string, number> = {};
    for (const b of batches) {
      const feeds: Record<string, ort.Tensor> = { ...params, ...knobFeeds, ...this.feeds.build([b], null) };
      const out = await this.session.run(feeds, fetch);
      const brainRows = this.feeds.brainRows(b.rows);
      for (const name of fetch) {
        const v = Number((out[name]!.data as Float32Array)[0]);
        const w = name.startsWith('metric.') ? 1 : BRAIN_TERMS.some((t) => name === termOutput(t)) ? brainRows : b.rows;
        sums[name] = (sums[name] ?? 0) + v * w;
        weights[name] = (weights[name] ?? 0) + w;
      }
    }
    const values: Record<string, number> = {};
    for (const name of fetch) {
      if (name.startsWith('metric.')) values[name] = sums[name]!;
      else if (weights[name]! > 0) values[name] = sums[name]! / weights[name]!;
    }
    scores(values, this.model);
    return values;
  }

  /**
   * The student's activation (decision RNN `hidden` [T, H], scene VAE `latent_mean`) on each row, with the row's
   * brain latents from `teacher` (every row must have some).
   */
  async representations(batches: readonly TaskRows[], params: Record<string, ort.Tensor>, knobs: Record<string, number>, teacher: TeacherData): Promise<Representations> {
    const io = this.artifacts.io;
    const activation = this.model.student.kind === 'decisionRnn' ? 'hidden' : 'latent_mean';
    const name = activationOutput(activation);
    const knobFeeds: Record<string, ort.Tensor> = {};
    for (const k of io.knobs) {
      if (io.eval.inputs.includes(k.input)) knobFeeds[k.input] = new ort.Tensor('float32', Float32Array.of(knobs[k.name] ?? k.default), []);
    }
    const parts: Float32Array[] = [];
    let studentShape: number[] = [];
    for (const b of batches) {
      const out = await this.session.run({ ...params, ...knobFeeds, ...this.feeds.build([b], null) }, [name]);
      parts.push((out[name]!.data as Float32Array).slice());
      studentShape = out[name]!.dims.slice(1) as number[];
    }
    const rows = batches.reduce((a, b) => a + b.rows, 0);
    const student = new Float32Array(rows * studentShape.reduce((a, b) => a * b, 1));
    let at = 0;
    for (const p of parts) {
      student.set(p, at);
      at += p.length;
    }
    const flat = teacher.times * teacher.k;
    const brain = new Float32Array(rows * flat);
    const ids = new Int32Array(rows);
    let r = 0;
    for (const b of batches) {
      for (let i = 0; i < b.rows; i++, r++) {
        const e = teacherEntry(teacher, b.id[i]!, undefined);
        ids[r] = b.id[i]!;
        brain.set(teacher.latents.subarray(e * flat, (e + 1) * flat), r * flat);
      }
    }
    return { ids, student, studentShape, brain, brainShape: [teacher.times, teacher.k], activation };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

