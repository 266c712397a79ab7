/** @file Simulator output as the data layer's tables (trials, brain, channels, scenes) and as dataset directories. */

import type { Schema } from 'apache-arrow';
import { writeDataset, type Dataset, type DatasetTableInput, type ManifestInput } from '../dataset.js';
import type { SplitSummary } from '../manifest.js';
import { recordBatchFromColumns } from '../record-batch.js';
import { brainSchema, channelsSchema, type ExtraColumns, scenesSchema, SPLITS, trialsSchema } from '../schemas.js';
import { SCENE_FACTORS, type DrivingSceneData } from './driving-scenes.js';
import {
  EVENT_NAMES,
  memoryConditionKey,
  type MemoryDecisionData,
  TASK_FEATURES,
  type TrialEvents,
} from './memory-decision.js';

/** Column names of the trial events, in epoch order (`go` is `go_cue`; the decision bin is `decision_bin`). */
const EVENT_COLUMNS: Record<Exclude<(typeof EVENT_NAMES)[number], 'decision'>, string> = {
  fixationOn: 'fixation_on',
  offer1On: 'offer1_on',
  offer1Off: 'offer1_off',
  offer2On: 'offer2_on',
  offer2Off: 'offer2_off',
  go: 'go_cue',
};

const TASK_EXTRAS: ExtraColumns = {
  offer1: 'int32',
  offer2: 'int32',
  delay_bins: 'int32',
  ...Object.fromEntries(Object.values(EVENT_COLUMNS).map((c) => [c, 'int32' as const])),
};

const BRAIN_EXTRAS: ExtraColumns = { ...TASK_EXTRAS, decision_bin: 'int32', choice: 'int32' };

function eventColumns(events: TrialEvents): Record<string, Int32Array> {
  return Object.fromEntries(Object.entries(EVENT_COLUMNS).map(([key, column]) => [column, events[key as keyof TrialEvents]]));
}

function names(codes: ArrayLike<number>, vocabulary: readonly string[]): string[] {
  return Array.from(codes, (c) => vocabulary[c]!);
}

function table(kind: DatasetTableInput['kind'], schema: Schema, columns: Parameters<typeof recordBatchFromColumns>[1], extra: Partial<DatasetTableInput> = {}): DatasetTableInput {
  return { kind, schema, source: recordBatchFromColumns(schema, columns, `${kind} table`), ...extra };
}

function channelTable(
  channels: readonly { subject: string; name: string; location: string; x: number; y: number; z: number }[],
  type: string,
): DatasetTableInput {
  return table('channels', channelsSchema(), {
    subject: channels.map((c) => c.subject),
    name: channels.map((c) => c.name),
    type: channels.map(() => type),
    x: Float32Array.from(channels, (c) => c.x),
    y: Float32Array.from(channels, (c) => c.y),
    z: Float32Array.from(channels, (c) => c.z),
    location: channels.map((c) => c.location),
    status: channels.map(() => 'good'),
  });
}

/** A split summary for rows laid out by the simulators' split codes (each row its own unit). */
function splitSummary(codes: Uint8Array, seed: number): SplitSummary {
  const counts = { train: 0, val: 0, test: 0 };
  for (const c of codes) counts[SPLITS[c]!]++;
  const total = codes.length;
  const fractions = { train: counts.train / total, val: counts.val / total, test: counts.test / total };
  return { by: 'trial', seed, fractions, counts, unitCounts: { ...counts } };
}

/**
 * The memory-decision experiment as tables: `trials` (task inputs `[time, features]`, label, decision bin, offers,
 * delay and event bins), `brain` (counts `[time, neurons]` per brain trial with its offers, the subject's choice
 * and its own event bins) and `channels` (one row per unit).
 */
export function memoryDecisionTables(data: MemoryDecisionData): Record<string, DatasetTableInput> {
  const { task, brain } = data;
  const trials = table(
    'trials',
    trialsSchema({ inputs: [task.timeBins, task.featureNames.length] }, TASK_EXTRAS),
    {
      trial_id: task.trialId,
      subject: names(task.subject, task.subjectNames),
      session: Array.from({ length: task.count }, () => 'ses-sim'),
      split: names(task.split, SPLITS),
      condition: Array.from({ length: task.count }, (_, i) => memoryConditionKey(task.offer1[i]!, task.offer2[i]!)),
      inputs: task.inputs,
      label: task.label,
      decision_bin: task.events.decision,
      offer1: task.offer1,
      offer2: task.offer2,
      delay_bins: task.delayBins,
      ...eventColumns(task.events),
    },
    { units: { inputs: 'task input per time bin' }, description: `inputs features: ${task.featureNames.join(', ')}` },
  );
  const brainTable = table(
    'brain',
    brainSchema({ features: [brain.timeBins, brain.neurons] }, BRAIN_EXTRAS),
    {
      trial_id: Array.from(brain.trialId, (id) => (id < 0 ? null : id)),
      condition: Array.from({ length: brain.count }, (_, i) => memoryConditionKey(brain.offer1[i]!, brain.offer2[i]!)),
      subject: names(brain.subject, brain.subjectNames),
      split: names(brain.split, SPLITS),
      features: brain.features,
      offer1: brain.offer1,
      offer2: brain.offer2,
      delay_bins: brain.delayBins,
      ...eventColumns(brain.events),
      choice: brain.choice,
      decision_bin: brain.events.decision,
    },
    {
      units: { features: `spike counts per ${brain.binSeconds * 1000} ms bin` },
      description: 'simulated neural population; event columns are bins of the recording grid',
    },
  );
  return { trials, brain: brainTable, channels: channelTable(brain.channels, 'spikes') };
}

/**
 * The driving experiment as tables: `scenes` (image `[height, width, 3]` and one float column per factor),
 * `brain` (EEG `[samples, channels]` per viewed scene; `trial_id` is the scene id) and `channels`.
 */
export function drivingSceneTables(data: DrivingSceneData): Record<string, DatasetTableInput> {
  const { scenes, eeg } = data;
  const scenesTable = table(
    'scenes',
    scenesSchema({ image: [scenes.height, scenes.width, 3] }, SCENE_FACTORS),
    {
      scene_id: scenes.sceneId,
      split: names(scenes.split, SPLITS),
      image: scenes.images,
      ...scenes.factors,
    },
    { units: { image: 'linear RGB intensity in [0, 1]' } },
  );
  const brainTable = table(
    'brain',
    brainSchema({ features: [eeg.samples, eeg.channels] }),
    {
      trial_id: eeg.sceneId,
      condition: Array.from(eeg.sceneId, (id) => `scene=${id}`),
      subject: names(eeg.subject, eeg.subjectNames),
      split: names(eeg.split, SPLITS),
      features: eeg.features,
    },
    {
      units: { features: 'µV' },
      description: `simulated EEG epochs from ${eeg.epochStart * 1000} ms after scene onset; trial_id is the scene_id`,
    },
  );
  return { scenes: scenesTable, brain: brainTable, channels: channelTable(eeg.channelInfo, 'eeg') };
}

/** Options for writing a simulated dataset. */
export interface SimulatedDatasetOptions {
  /** The b2m version recorded in the manifest's provenance. */
  version: string;
  /** Dataset name in the manifest. */
  name?: string;
  /** Replace an existing directory (only once the new one is complete). */
  overwrite?: boolean;
}

const SIMULATION_NOTE = 'Simulated data standing in for recordings that are not public; not real brain activity.';

/** Writes the memory-decision experiment as a dataset directory (atomically) and opens it. */
export async function writeMemoryDecisionDataset(dir: string, data: MemoryDecisionData, options: SimulatedDatasetOptions): Promise<Dataset> {
  const manifest: ManifestInput = {
    kind: 'memory-decision',
    name: options.name ?? 'memory-decision (simulated)',
    description: SIMULATION_NOTE,
    samplingRates: { brain: 1 / data.brain.binSeconds },
    provenance: { generator: 'memoryDecisionSimulator', version: options.version, config: data.config },
    seed: data.seed,
    splits: splitSummary(data.task.split, data.seed),
    extra: {
      simulated: true,
      inputFeatures: [...TASK_FEATURES],
      latentNames: [...data.brain.latentNames],
      labels: { 0: 'offer 1 larger', 1: 'offer 2 larger' },
    },
  };
  return writeDataset(dir, { tables: memoryDecisionTables(data), manifest }, { overwrite: options.overwrite });
}

/** Writes the driving experiment as a dataset directory (atomically) and opens it. */
export async function writeDrivingSceneDataset(dir: string, data: DrivingSceneData, options: SimulatedDatasetOptions): Promise<Dataset> {
  const manifest: ManifestInput = {
    kind: 'driving',
    name: options.name ?? 'driving (simulated)',
    description: SIMULATION_NOTE,
    samplingRates: { brain: data.eeg.sampleRate },
    provenance: { generator: 'drivingSceneSimulator', version: options.version, config: data.config },
    seed: data.seed,
    splits: splitSummary(data.scenes.split, data.seed),
    extra: { simulated: true, sceneFactors: [...SCENE_FACTORS], epochStartSeconds: data.eeg.epochStart },
  };
  return writeDataset(dir, { tables: drivingSceneTables(data), manifest }, { overwrite: options.overwrite });
}
