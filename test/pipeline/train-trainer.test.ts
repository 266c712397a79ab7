import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/index.js';
import { cachedTraining } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import type { ExperimentConfig } from '../../pipeline/config.js';
import {
  b2mModelOptions,
  latestCheckpoint,
  listCheckpoints,
  loadTeacher,
  optimizerOf,
  readMetrics,
  readRepresentations,
  startTrainingWorker,
  taskTable,
  train,
  TrainDataError,
  TrainingError,
  trainInWorker,
  TrainStream,
  type TrainOptions,
} from '../../pipeline/train/index.js';
import { drivingConfig, drivingDataset, memoryConfig, memoryDataset } from './train-fixtures.js';

let root: string;
let memory: string;
let driving: string;
let cache: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'b2m-train-'));
  memory = path.join(root, 'memory');
  driving = path.join(root, 'driving');
  cache = path.join(root, 'cache');
  await memoryDataset(memory);
  await drivingDataset(driving);
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const options = (strategy: TrainOptions['strategy'], run: string, config: ExperimentConfig = memoryConfig(), extra: Partial<TrainOptions> = {}): TrainOptions => ({
  config,
  dataset: config.experiment === 'driving' ? driving : memory,
  strategy,
  runDir: path.join(root, run),
  cacheDir: cache,
  ...extra,
});

/** Metrics rows without the wall-clock column, which alone may differ between runs. */
async function metricsWithoutTime(runDir: string): Promise<unknown[]> {
  const { rows } = await readMetrics(runDir);
  return rows.map((r) => {
    const { wall_s: _, ...values } = r.values;
    return { ...r, values };
  });
}

async function finalParams(runDir: string): Promise<Map<string, Buffer>> {
  const ckpt = await latestCheckpoint(runDir);
  const out = new Map<string, Buffer>();
  for (const [k, v] of ckpt!.bundle.params) out.set(`param:${k}`, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  for (const [k, v] of ckpt!.bundle.state) out.set(`state:${k}`, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  return out;
}

describe('train', () => {
  it('writes the metrics table, final held-out scores and an exported student that runs', async () => {
    const result = await train(options('both', 'both-a'));
    expect(result.steps).toBe(12);
    expect(result.stopped).toBe(false);
    const { columns, rows } = await readMetrics(result.runDir);
    expect(columns).toEqual([
      'loss', 'term.task', 'term.contrastive', 'term.latent', 'metric.correct', 'metric.count', 'accuracy',
      'grad_norm', 'lr', 'lambda_contrastive', 'lambda_latent', 'wall_s',
    ]);
    expect(rows.filter((r) => r.split === 'train').map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(rows.filter((r) => r.split === 'val').map((r) => r.step)).toEqual([4, 8, 12]);
    for (const r of rows) {
      const v = r.values;
      expect(v.loss).toBeCloseTo(v['term.task']! + v.lambda_contrastive! * v['term.contrastive']! + v.lambda_latent! * v['term.latent']!, 4);
      expect(v.accuracy).toBeCloseTo(v['metric.correct']! / v['metric.count']!, 12);
    }
    expect(rows.find((r) => r.split === 'train')!.values['metric.count']).toBe(20);
    expect(rows.find((r) => r.split === 'val')!.values['metric.count']).toBe(64);
    const final = JSON.parse(await readFile(path.join(result.runDir, 'final.json'), 'utf8'));
    expect(final.val.accuracy).toBe(result.final!.val.accuracy);
    expect(final.test['metric.count']).toBe(64);
    expect(final.test['term.latent']).toBeUndefined();
    const session = await ort.InferenceSession.create(path.join(result.runDir, 'student.onnx'));
    const out = await session.run({
      inputs: new ort.Tensor('float32', new Float32Array(2 * 24 * 4), [2, 24, 4]),
      decision_mask: new ort.Tensor('float32', new Float32Array(48).fill(1 / 24), [2, 24]),
    });
    expect(out.choice_logits!.dims).toEqual([2, 2]);
    await session.release();
    const reps = await readRepresentations(result.runDir);
    const teacher = await loadTeacher(await openDataset(memory), 'teacher');
    expect(reps.activation).toBe('hidden');
    expect(reps.studentShape).toEqual([24, 16]);
    expect(reps.brainShape).toEqual([24, 4]);
    expect(reps.ids.length).toBe(20);
    for (const [i, id] of reps.ids.entries()) {
      const e = teacher.byTrial.get(id)!;
      expect(Array.from(reps.brain.subarray(i * 96, (i + 1) * 96))).toEqual(Array.from(teacher.latents.subarray(e * 96, (e + 1) * 96)));
    }
    expect(reps.student.length).toBe(20 * 24 * 16);
  }, 120_000);

  it('gives every strategy the same task batches and the same student start (paired comparisons)', async () => {
    const seen: Record<string, Float32Array[]> = { isolated: [], 'shuffled-brain': [] };
    for (const strategy of ['isolated', 'shuffled-brain'] as const) {
      await train(options(strategy, `pairs-${strategy}`, memoryConfig({ train: { steps: 3 } }), {
        onBatch: (_, feeds) => seen[strategy]!.push((feeds.inputs!.data as Float32Array).slice()),
      }));
    }
    expect(seen.isolated).toHaveLength(3);
    expect(seen['shuffled-brain']).toEqual(seen.isolated);
    const dataset = await openDataset(memory);
    const teacher = await loadTeacher(dataset, 'teacher');
    const task = taskTable(dataset, 'decisionRnn', false);
    const config = memoryConfig();
    const student = async (strategy: 'isolated' | 'both') => {
      const spec = b2mTrainingSpec(b2mModelOptions(config, strategy, task.xShape, teacher));
      const optimizer = optimizerOf(config);
      const { artifacts, hit } = await cachedTraining(cache, spec, { ...spec.compile, optimizer, cacheKey: { ...(spec.compile.cacheKey as object), optimizer } });
      expect(hit).toBe(true);
      return new Map([...artifacts.params].filter(([k]) => k.startsWith('student.')));
    };
    const a = await student('isolated');
    const b = await student('both');
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(Array.from(b.get(k)!)).toEqual(Array.from(v));
  }, 120_000);

  it('resumes after the worker is killed, bit for bit like an uninterrupted run', async () => {
    const config = memoryConfig({ train: { steps: 16 } });
    await train(options('both', 'resume-whole', config, { checkpointEvery: 2 }));
    const killed = options('both', 'resume-killed', config, { checkpointEvery: 2 });
    const { shouldStop: _s, onProgress: _p, onBatch: _b, ...plain } = killed;
    let kill: Promise<void> | undefined;
    const worker = startTrainingWorker(plain, (event) => {
      if (event.step >= 7 && !kill) kill = worker.kill();
    });
    await expect(worker.result).rejects.toThrow(/ended .* before finishing/);
    await kill;
    const left = await listCheckpoints(killed.runDir);
    expect(left.length).toBeGreaterThan(0);
    expect(left.at(-1)!.step).toBeLessThan(16);
    const resumed = await train(killed);
    expect(resumed.resumedFrom).toBe(left.at(-1)!.step);
    expect(resumed.steps).toBe(16);
    const whole = await finalParams(path.join(root, 'resume-whole'));
    const again = await finalParams(killed.runDir);
    expect([...again.keys()]).toEqual([...whole.keys()]);
    for (const [k, v] of whole) expect(again.get(k)!.equals(v), k).toBe(true);
    expect(await metricsWithoutTime(killed.runDir)).toEqual(await metricsWithoutTime(path.join(root, 'resume-whole')));
  }, 180_000);

  it('compiles once for every seed, starts each seed from its own values, and resumes only the seed of the checkpoint', async () => {
    const entries = async (): Promise<string[]> => (await readdir(cache)).filter((n) => !n.startsWith('.')).sort();
    await train(options('latent', 'seeds-11', memoryConfig({ train: { steps: 2 } })));
    const compiled = await entries();
    await train(options('latent', 'seeds-12', memoryConfig({ seed: 12, train: { steps: 2 } })));
    expect(await entries()).toEqual(compiled);
    const run = async (dir: string) => JSON.parse(await readFile(path.join(root, dir, 'run.json'), 'utf8')) as { artifactHash: string; seed: number };
    expect((await run('seeds-12')).artifactHash).toBe((await run('seeds-11')).artifactHash);
    const first = (await latestCheckpoint(path.join(root, 'seeds-11')))!.bundle.params;
    const second = (await latestCheckpoint(path.join(root, 'seeds-12')))!.bundle.params;
    expect(Array.from(second.get('student.readout.weight')!)).not.toEqual(Array.from(first.get('student.readout.weight')!));
    await expect(train(options('latent', 'seeds-11', memoryConfig({ seed: 12, train: { steps: 4 } })))).rejects.toThrow(/holds a checkpoint of seed 11, and this config has seed 12/);
  }, 120_000);

  it('checkpoints and stops cleanly on SIGINT while training in a worker', async () => {
    const config = memoryConfig({ train: { steps: 200 } });
    const result = await trainInWorker(options('isolated', 'sigint', config), (event) => {
      if (event.step === 3) process.emit('SIGINT');
    });
    expect(result.stopped).toBe(true);
    expect(result.steps).toBeGreaterThanOrEqual(3);
    expect(result.steps).toBeLessThan(200);
    const latest = await latestCheckpoint(result.runDir);
    expect(latest!.state.step).toBe(result.steps);
    expect(process.listenerCount('SIGINT')).toBe(0);
  }, 120_000);

  it('stops on a NaN in the brain batch, naming the step and the term, and keeps the last good checkpoint', async () => {
    const run = options('latent', 'nan', memoryConfig(), {
      checkpointEvery: 2,
      onBatch: (step, feeds) => {
        if (step === 7) (feeds.brain_latents!.data as Float32Array)[0] = Number.NaN;
      },
    });
    const error = await train(run).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(/training stopped at step 7: term\.latent is NaN\..*step-000000006/);
    const latest = await latestCheckpoint(run.runDir);
    expect(latest!.state.step).toBe(6);
    for (const v of latest!.bundle.params.values()) expect(v.every(Number.isFinite)).toBe(true);
    const { rows } = await readMetrics(run.runDir);
    expect(Math.max(...rows.map((r) => r.step))).toBe(6);
    const contrastive = options('contrastive', 'nan-contrastive', memoryConfig(), {
      checkpointEvery: 2,
      onBatch: (step, feeds) => {
        if (step === 3) (feeds.brain_features!.data as Float32Array)[5] = Number.NaN;
      },
    });
    await expect(train(contrastive)).rejects.toThrow(/training stopped at step 3: term\.contrastive is NaN\..*step-000000002/);
    expect((await latestCheckpoint(contrastive.runDir))!.state.step).toBe(2);
  }, 120_000);

  it('pairs by condition with condition-averaged brain rows, and refuses trial pairing with them', async () => {
    const dir = path.join(root, 'memory-by-condition');
    await memoryDataset(dir, 3, true);
    const positives: Float32Array[] = [];
    const masks: Float32Array[] = [];
    const config = memoryConfig({ train: { steps: 4 }, losses: { contrastive: { projectionDim: 8, pairing: 'condition' } } });
    const result = await train(options('both', 'by-condition', config, {
      dataset: dir,
      onBatch: (_, feeds) => {
        positives.push((feeds.positives!.data as Float32Array).slice());
        masks.push((feeds.contrastive_mask!.data as Float32Array).slice());
      },
    }));
    expect(result.steps).toBe(4);
    expect(masks[0]!.length).toBe(16);
    expect(masks.flatMap((m) => Array.from(m)).filter((v) => v === 1).length).toBeGreaterThan(16);
    const offDiagonal = positives.map((p) => Array.from(p).filter((v, i) => v === 1 && Math.floor(i / 16) !== i % 16).length);
    expect(Math.max(...offDiagonal)).toBeGreaterThan(0);
    await expect(train(options('both', 'by-condition-trial', memoryConfig(), { dataset: dir }))).rejects.toThrow(/holds condition averages .*losses.contrastive.pairing: condition/);
  }, 120_000);

  it('trains the scene VAE with both brain terms and exports it', async () => {
    const result = await train(options('both', 'vae', drivingConfig()));
    expect(result.steps).toBe(6);
    const { columns, rows } = await readMetrics(result.runDir);
    expect(columns).toEqual(expect.arrayContaining(['term.reconstruction', 'term.kl', 'term.contrastive', 'term.latent', 'recon_mse', 'beta']));
    for (const r of rows) expect(r.values.recon_mse).toBeCloseTo(r.values['metric.recon_sse']! / (r.values['metric.count']! * 16 * 16 * 3), 9);
    expect(rows.filter((r) => r.split === 'val').map((r) => r.step)).toEqual([3, 6]);
    const session = await ort.InferenceSession.create(path.join(result.runDir, 'student.onnx'));
    const out = await session.run({ images: new ort.Tensor('float32', new Float32Array(16 * 16 * 3).fill(0.5), [1, 16, 16, 3]) });
    expect(out.reconstruction!.dims).toEqual([1, 16, 16, 3]);
    await session.release();
  }, 120_000);

  it('limits training to a budget of task trials, and says when the data cannot fill it or a batch', async () => {
    const dataset = await openDataset(memory);
    const task = taskTable(dataset, 'decisionRnn', false);
    const stream = await TrainStream.open(task, { batchSize: 10, seed: 1, taskTrials: 30 });
    const ids = new Set<number>();
    for (let i = 0; i < 9; i++) for (const id of (await stream.next()).id) ids.add(id);
    await stream.close();
    expect(ids.size).toBe(30);
    expect(Math.max(...ids)).toBe(29);
    await expect(TrainStream.open(task, { batchSize: 10, seed: 1, taskTrials: 401 })).rejects.toThrow(/asks for 401 training trials but table "trials" has only 400/);
    await expect(TrainStream.open(task, { batchSize: 10, seed: 1, taskTrials: 8 })).rejects.toThrow(/gives 8 training rows within the task budget, fewer than one batch of 10/);
    await expect(TrainStream.open(task, { batchSize: 401, seed: 1 })).rejects.toThrow(/gives 400 training rows, fewer than one batch of 401/);
  });

  it('names the missing teacher table and the command that builds it', async () => {
    const run = options('latent', 'no-teacher', drivingConfig(), { dataset: memory });
    const config = { ...memoryConfig() } as ExperimentConfig;
    await expect(train({ ...run, config, dataset: driving, strategy: 'noise-brain' })).rejects.toThrow(TrainDataError);
    await expect(train({ ...run, config, dataset: driving, strategy: 'noise-brain' })).rejects.toThrow(/no table "teacher-noise-brain".*b2m teacher/);
    expect(await stat(path.join(root, 'no-teacher', 'checkpoints')).catch(() => null)).toBeNull();
  });
});
