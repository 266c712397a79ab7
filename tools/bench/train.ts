/**
 * @file Training-step throughput of both students at the default experiment sizes: the trainer's own step
 * (feeds built on the host from task and brain rows, one `session.run`), on any execution provider. Runnable
 * alone: `npx tsx tools/bench/train.ts [--quick]` prints a table, then one JSON object per line.
 */
import { Rng } from '../../datasets/index.js';
import { compileTraining } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import { TrainSession } from '../../graphs/train-session.js';
import { type ExperimentConfig, experimentConfigSchema, type ExperimentKind, type Strategy } from '../../pipeline/config.js';
import { type Device, sessionOptions } from '../../pipeline/train/device.js';
import { FeedBuilder } from '../../pipeline/train/feeds.js';
import { b2mModelOptions, optimizerOf } from '../../pipeline/train/model.js';
import type { TaskRows } from '../../pipeline/train/task-data.js';
import type { TeacherData } from '../../pipeline/train/teacher-data.js';
import { knobValues } from '../../pipeline/train/trainer.js';

/** Task row shape and teacher time bins of an experiment's default config (its simulator's trial or scene size). */
function shapesOf(config: ExperimentConfig): { xShape: number[]; teacherTimes: number } {
  if (config.experiment === 'memory-decision') {
    const bins = config.data.simulator.timeBins;
    return { xShape: [bins, 4], teacherTimes: bins };
  }
  const size = config.data.simulator.imageSize;
  return { xShape: [size, size, 3], teacherTimes: 1 };
}

export interface StepRate {
  experiment: ExperimentKind;
  strategy: Strategy;
  device: Device;
  /** Rows per step: the batch plus the brain-paired rows. */
  rows: number;
  stepsPerSecond: number;
  /** Steps per CPU-second of this process (one intra-op thread on the CPU): what an idle core gives, whatever the machine's load. */
  stepsPerCpuSecond: number;
  /** Host time per step spent building feeds, in milliseconds. */
  hostMs: number;
  compileSeconds: number;
}

/** Random task rows with ids 0..rows-1 (images in [0, 1], labels 0/1, decision bins in the second half). */
function taskRows(rng: Rng, xShape: number[], rows: number, rnn: boolean, idBase: number): TaskRows {
  const size = xShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows * size);
  if (rnn) rng.fillNormal(x);
  else rng.fillUniform(x);
  return {
    rows,
    x,
    label: rnn ? Int32Array.from({ length: rows }, () => rng.int(2)) : null,
    decisionBin: rnn ? Int32Array.from({ length: rows }, () => xShape[0]! / 2 + rng.int(xShape[0]! / 2)) : null,
    id: Int32Array.from({ length: rows }, (_, i) => idBase + i),
    condition: null,
  };
}

/** Brain rows for ids 0..count-1. */
function teacherRows(rng: Rng, times: number, k: number, count: number): TeacherData {
  const latents = new Float32Array(count * times * k);
  rng.fillNormal(latents);
  return { table: 'teacher', times, k, rows: count, latents, covered: null, byTrial: new Map(Array.from({ length: count }, (_, i) => [i, i])), byCondition: new Map() };
}

/**
 * Steps per second of one experiment's student and strategy at the default config on `device`: `steps` timed
 * steps after `warmup` untimed ones, each with a quarter of the batch added as brain-paired rows as in training.
 */
export async function measureStepRate(experiment: ExperimentKind, strategy: Strategy, device: Device, steps: number, warmup = 3, threads?: number): Promise<StepRate> {
  const config: ExperimentConfig = experimentConfigSchema.parse({ experiment, train: { device, ...(threads ? { threads } : {}) } });
  const { xShape, teacherTimes } = shapesOf(config);
  const rnn = experiment === 'memory-decision';
  const rng = Rng.derive(1, 'bench-train', experiment);
  const perBatch = Math.round(config.train.batchSize / 4);
  const teacher = teacherRows(rng, teacherTimes, config.teacher.latents, perBatch * 4);
  const model = b2mModelOptions(config, strategy, xShape, strategy === 'isolated' ? null : teacher);
  const t0 = performance.now();
  const spec = b2mTrainingSpec(model);
  const artifacts = compileTraining(spec, { ...spec.compile, optimizer: optimizerOf(config) });
  const session = await TrainSession.create({ io: artifacts.io, trainStep: artifacts.trainStep, params: artifacts.params }, sessionOptions({ device, ...(threads ? { threads } : {}) }));
  const compileSeconds = (performance.now() - t0) / 1000;
  const inputs = artifacts.io.data.map((d) => d.name).filter((n) => artifacts.io.trainStep.inputs.includes(n));
  const feeds = new FeedBuilder({ model, xShape, teacher: strategy === 'isolated' ? null : teacher, pairing: 'trial', inputs, capacity: config.train.batchSize + perBatch });
  const batches = Array.from({ length: 4 }, (_, i) => [taskRows(rng, xShape, config.train.batchSize, rnn, 10_000 + i * 1000), taskRows(rng, xShape, perBatch, rnn, 0)]);
  const noise = rnn ? null : Rng.derive(1, 'vae-noise');
  const names = artifacts.io.knobs.map((k) => k.name);
  let host = 0;
  let timed = 0;
  let cpu = 0;
  for (let i = 0; i < warmup + steps; i++) {
    const c0 = process.cpuUsage();
    const h0 = performance.now();
    const f = feeds.build(batches[i % batches.length]!, noise);
    const knobs = knobValues(config, names, i, warmup + steps);
    const h1 = performance.now();
    await session.step(f, knobs);
    if (i >= warmup) {
      host += h1 - h0;
      timed += performance.now() - h0;
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1e6;
    }
  }
  await session.release();
  return {
    experiment,
    strategy,
    device,
    rows: config.train.batchSize + perBatch,
    stepsPerSecond: (steps * 1000) / timed,
    stepsPerCpuSecond: steps / cpu,
    hostMs: host / steps,
    compileSeconds,
  };
}

export interface TrainBenchResult {
  bench: string;
  value: number;
  unit: string;
  note: string;
}

/** `train_steps_per_s` of each student (isolated and with both brain terms) on the CPU, per CPU-second with one thread, and the host share of a step. */
export async function benchTrain(options: { quick?: boolean } = {}): Promise<TrainBenchResult[]> {
  const out: TrainBenchResult[] = [];
  const rnn = experimentConfigSchema.parse({ experiment: 'memory-decision' });
  const vae = experimentConfigSchema.parse({ experiment: 'driving' });
  const rnnName = rnn.experiment === 'memory-decision' ? `decision RNN (${rnn.student.cell.toUpperCase()}, ${rnn.data.simulator.timeBins} bins, hidden ${rnn.student.hidden})` : '';
  const vaeName = vae.experiment === 'driving' ? `scene VAE (${vae.data.simulator.imageSize}×${vae.data.simulator.imageSize}, channels ${vae.student.channels.join('/')}, latent ${vae.student.latent})` : '';
  for (const [experiment, student, steps] of [['memory-decision', rnnName, 30], ['driving', vaeName, 20]] as const) {
    for (const strategy of ['isolated', 'both'] as const) {
      const n = options.quick ? Math.ceil(steps / 3) : steps;
      const r = await measureStepRate(experiment, strategy, 'cpu', n);
      const one = await measureStepRate(experiment, strategy, 'cpu', n, 3, 1);
      const tag = `${experiment === 'memory-decision' ? 'rnn' : 'vae'}_${strategy}`;
      const note = `${student}, ${strategy}, ${r.rows} rows per step, cpu`;
      out.push({ bench: `train_steps_per_s.${tag}`, value: r.stepsPerSecond, unit: 'steps/s', note });
      out.push({ bench: `train_steps_per_cpu_s.${tag}`, value: one.stepsPerCpuSecond, unit: 'steps/cpu-s', note: 'one intra-op thread, per CPU-second of this process: free of machine load' });
      out.push({ bench: `train_host_ms_per_step.${tag}`, value: r.hostMs, unit: 'ms', note: 'feeds built on the host, per step' });
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchTrain({ quick: process.argv.includes('--quick') });
  for (const r of results) console.log(`${r.bench.padEnd(36)} ${r.value.toFixed(3).padStart(10)} ${r.unit.padEnd(8)} ${r.note}`);
  for (const r of results) console.log(JSON.stringify(r));
}
