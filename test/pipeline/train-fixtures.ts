/** @file Small simulated datasets with teacher tables (real, shuffled and noise controls) for the trainer's tests, and a small config. */
import { Field, Schema } from 'apache-arrow';
import {
  type DatasetTableInput,
  fixedShapeTensorField,
  recordBatchFromColumns,
  SPLITS,
  teacherSchema,
  writeDataset,
} from '../../datasets/index.js';
import {
  drivingSceneTables,
  drivingSceneSimulator,
  type MemoryDecisionData,
  memoryConditionKey,
  memoryDecisionSimulator,
  memoryDecisionTables,
} from '../../datasets/simulators/index.js';
import { buildTeacherLatents } from '../../datasets/teacher/index.js';
import { type ExperimentConfig, experimentConfigSchema } from '../../pipeline/config.js';
import { type NullControl, nullControlTrials } from '../../pipeline/train/null-controls.js';

const K = 4;

function teacherTable(schema: Schema, columns: Parameters<typeof recordBatchFromColumns>[1]): DatasetTableInput {
  return { kind: 'teacher', schema, source: recordBatchFromColumns(schema, columns, 'teacher table') };
}

/**
 * Teacher latents of memory-decision brain trials aligned by events onto their task trials' grid, with `covered`;
 * with `byCondition`, the training trials' latents averaged per subject and condition, without trial ids.
 */
function memoryTeacher(data: MemoryDecisionData, features: Float32Array, byCondition = false): DatasetTableInput {
  const { brain, task } = data;
  const taskIndex = new Map(Array.from(task.trialId, (id, i) => [id, i] as const));
  const ev = (e: typeof brain.events, i: number) => [e.offer1On[i]!, e.offer1Off[i]!, e.offer2On[i]!, e.offer2Off[i]!, e.go[i]!, e.decision[i]!];
  const landmarks = Array.from({ length: brain.count }, (_, i) => ev(brain.events, i)).flat();
  const target = Array.from({ length: brain.count }, (_, i) => ev(task.events, taskIndex.get(brain.trialId[i]!)!)).flat();
  const train = Array.from({ length: brain.count }, (_, i) => i).filter((i) => brain.split[i] === 0);
  const t = buildTeacherLatents({
    features: { data: features, trials: brain.count, times: brain.timeBins, features: brain.neurons },
    grid: { start: 0, step: 1, count: brain.timeBins },
    trainTrials: train,
    k: K,
    landmarks,
    target: { grid: { start: 0, step: 1, count: task.timeBins }, landmarks: target },
  });
  const base = teacherSchema({ latents: [task.timeBins, K] });
  const schema = new Schema([...base.fields, fixedShapeTensorField('covered', [task.timeBins]) as Field], base.metadata);
  const condition = (i: number) => memoryConditionKey(brain.offer1[i]!, brain.offer2[i]!);
  if (byCondition) {
    const size = task.timeBins * K;
    const groups = new Map<string, number[]>();
    for (const i of train) {
      const key = `${brain.subject[i]}|${condition(i)}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    }
    const members = [...groups.values()];
    const latents = new Float32Array(members.length * size);
    members.forEach((rows, g) => {
      for (const i of rows) for (let j = 0; j < size; j++) latents[g * size + j] += t.latents.data[i * size + j]! / rows.length;
    });
    return teacherTable(schema, {
      trial_id: members.map(() => null),
      condition: members.map((rows) => condition(rows[0]!)),
      subject: members.map((rows) => brain.subjectNames[brain.subject[rows[0]!]!]!),
      split: members.map(() => 'train'),
      latents,
      covered: new Float32Array(members.length * task.timeBins).fill(1),
    });
  }
  return teacherTable(schema, {
    trial_id: brain.trialId,
    condition: Array.from({ length: brain.count }, (_, i) => condition(i)),
    subject: Array.from(brain.subject, (s) => brain.subjectNames[s]!),
    split: Array.from(brain.split, (s) => SPLITS[s]!),
    latents: Float32Array.from(t.latents.data),
    covered: Float32Array.from(t.covered),
  });
}

function groupsOf(subject: Int32Array, split: Uint8Array): Int32Array {
  return Int32Array.from(subject, (s, i) => s * 3 + split[i]!);
}

/**
 * A small memory-decision dataset: 400 training task trials of 24 bins, 2 subjects × 40 brain trials, teacher
 * tables for every strategy (per trial, or condition averages with `byCondition`).
 */
export async function memoryDataset(dir: string, seed = 3, byCondition = false): Promise<MemoryDecisionData> {
  const data = memoryDecisionSimulator(
    {
      task: {
        trials: { train: 400, val: 64, test: 64 },
        timing: { timeBins: 24, fixationBins: 2, offerBins: 2, delayBins: [3, 8], goGapBins: 1, responseBins: 1 },
      },
      brain: {
        subjects: 2,
        trialsPerSubject: 40,
        valFraction: 0.25,
        neurons: 12,
        latentDims: 6,
        timing: { timeBins: 30, fixationBins: 2, offerBins: 3, delayBins: [4, 10], goGapBins: 1, responseBins: 2 },
      },
    },
    seed,
  );
  const { brain } = data;
  const b = { features: brain.features, rows: brain.count, times: brain.timeBins, channels: brain.neurons, groups: groupsOf(brain.subject, brain.split) };
  const controls: NullControl[] = ['shuffled-brain', 'noise-brain'];
  const tables: Record<string, DatasetTableInput> = {
    ...memoryDecisionTables(data),
    teacher: memoryTeacher(data, brain.features, byCondition),
    ...Object.fromEntries(controls.map((c) => [`teacher-${c}`, memoryTeacher(data, nullControlTrials(c, b, seed), byCondition)])),
  };
  await writeDataset(dir, { tables, manifest: { kind: 'memory-decision', name: 'trainer test', provenance: { generator: 'test', version: '0' }, seed } }, { overwrite: true });
  return data;
}

/** A small driving dataset: 96 training scenes of 16 × 16, one subject's EEG of 32 scenes, a teacher table of its PCA latents. */
export async function drivingDataset(dir: string, seed = 5): Promise<void> {
  const data = drivingSceneSimulator(
    {
      images: { scenes: { train: 96, val: 16, test: 16 }, height: 16, width: 16 },
      eeg: { subjects: 1, scenesPerSubject: 32, channels: 8, samples: 16 },
    },
    seed,
  );
  const { eeg } = data;
  const train = Array.from({ length: eeg.count }, (_, i) => i).filter((i) => eeg.split[i] === 0);
  const t = buildTeacherLatents({
    features: { data: eeg.features, trials: eeg.count, times: eeg.samples, features: eeg.channels },
    grid: { start: 0, step: 1, count: eeg.samples },
    trainTrials: train,
    k: 2,
  });
  const teacher = teacherTable(teacherSchema({ latents: [eeg.samples, 2] }), {
    trial_id: eeg.sceneId,
    condition: Array.from(eeg.sceneId, (id) => `scene=${id}`),
    subject: Array.from(eeg.subject, (s) => eeg.subjectNames[s]!),
    split: Array.from(eeg.split, (s) => SPLITS[s]!),
    latents: Float32Array.from(t.latents.data),
  });
  await writeDataset(dir, { tables: { ...drivingSceneTables(data), teacher }, manifest: { kind: 'driving', name: 'trainer test', provenance: { generator: 'test', version: '0' }, seed } }, { overwrite: true });
}

/** A resolved memory-decision config sized for tests, with overrides merged section by section. */
export function memoryConfig(overrides: { train?: Record<string, unknown>; student?: Record<string, unknown>; losses?: Record<string, unknown>; seed?: number } = {}): ExperimentConfig {
  return experimentConfigSchema.parse({
    experiment: 'memory-decision',
    seed: overrides.seed ?? 11,
    student: { hidden: 16, ...overrides.student },
    losses: { contrastive: { projectionDim: 8 }, ...overrides.losses },
    train: { steps: 12, batchSize: 16, evalEvery: 4, threads: 1, ...overrides.train },
  });
}

/** A resolved driving config sized for tests. */
export function drivingConfig(overrides: { train?: Record<string, unknown> } = {}): ExperimentConfig {
  return experimentConfigSchema.parse({
    experiment: 'driving',
    seed: 4,
    student: { latent: 4, channels: [4, 8] },
    losses: { contrastive: { projectionDim: 8 } },
    train: { steps: 6, batchSize: 8, evalEvery: 3, threads: 1, ...overrides.train },
  });
}
