/**
 * @file Ingest of real recordings into b2m tables: one call per format reads the source whole, builds its channel,
 * brain or scenes tables, and writes them into an output folder all at once or not at all.
 */
import path from 'node:path';
import { writeDataset, type Dataset, type DatasetTableInput, type ManifestInput } from '../dataset.js';
import { DatasetError } from '../errors.js';
import { assignSplits } from '../splits.js';
import type { EpochWindow } from '../teacher/epochs.js';
import { readBidsEvents, readBidsIeeg, readElectrodes, trialEvents } from './bids.js';
import { numericMatrix, readCsv } from './csv.js';
import { readEdf } from './edf.js';
import { readImageFolder, type ImageReadOptions } from './images.js';
import { npyToFloat32, readNpy } from './npy.js';
import { inspectNwb, nwbSeriesToRecording, readNwbTrials, type NwbColumn } from './nwb.js';
import { recordingFromMatrix, type Recording } from './recording.js';
import {
  brainBatch,
  channelRows,
  channelsBatch,
  epochRecording,
  eventsFromAnnotations,
  scenesBatch,
  type ChannelRow,
  type RecordingEpochs,
  type TrialEvent,
} from './tables.js';

export * from './bids.js';
export * from './csv.js';
export * from './edf.js';
export * from './images.js';
export * from './npy.js';
export * from './nwb.js';
export * from './recording.js';
export * from './tables.js';

/** Seeded random val/test fractions of the trials (or scenes); the rest is `train`. */
export interface SplitFractions {
  val?: number;
  test?: number;
  seed?: number;
}

/** Where and how an ingest writes its dataset directory. */
export interface IngestOutputOptions {
  /** The b2m version recorded in the manifest's provenance. */
  version: string;
  /** Replace an existing dataset directory (only once the new one is complete). */
  overwrite?: boolean;
  name?: string;
  description?: string;
  /** All rows are `train` unless fractions are given. */
  splits?: SplitFractions;
}

/** Options shared by the recording formats. */
export interface RecordingIngestOptions extends IngestOutputOptions {
  /** Seconds kept before and after each event. */
  window?: EpochWindow;
  /** Only events whose condition is listed become trials. */
  conditions?: readonly string[];
  subject?: string;
}

const DEFAULT_WINDOW: EpochWindow = { pre: 0.2, post: 0.8 };

/** Splits by key with the dataset layer's seeded assignment, and its summary for the manifest. */
function splitRows(keys: ArrayLike<number>, fractions: SplitFractions = {}) {
  const val = fractions.val ?? 0;
  const test = fractions.test ?? 0;
  return assignSplits(keys, { by: 'trial', fractions: { train: 1 - val - test, val, test }, seed: fractions.seed ?? 0 });
}

/** A recording's tables and manifest fields, ready for `writeDataset`. */
interface PendingDataset {
  tables: Record<string, DatasetTableInput>;
  manifest: Omit<ManifestInput, 'kind' | 'provenance'> & { generator: string; source: string[] };
}

/** Writes the dataset directory all at once (tables and manifest) or, on any error, not at all. */
function writeIngest(outDir: string, pending: PendingDataset, options: IngestOutputOptions, config: unknown): Promise<Dataset> {
  const { generator, source, ...rest } = pending.manifest;
  return writeDataset(
    outDir,
    {
      tables: pending.tables,
      manifest: {
        kind: 'ingest',
        ...(options.name ? { name: options.name } : {}),
        ...(options.description ? { description: options.description } : {}),
        ...rest,
        provenance: { generator, source: source.map((f) => path.resolve(f)), version: options.version, config },
      },
    },
    { overwrite: options.overwrite },
  );
}

function seconds(t: number): string {
  return String(Number(t.toFixed(6)));
}

/** The options a caller gave, minus output-only ones, as the manifest's record of the configuration. */
function configOf(options: object): Record<string, unknown> {
  const { version: _version, overwrite: _overwrite, ...rest } = options as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

/**
 * The `channels` table of a recording and, when events remain after the `conditions` filter, the `brain` table of
 * epochs of its good channels, with the brain rate and the split summary for the manifest.
 */
function recordingDataset(
  subject: string,
  recording: Recording,
  rows: ChannelRow[],
  events: TrialEvent[],
  options: RecordingIngestOptions,
  generator: string,
  source: string[],
): PendingDataset {
  const pending: PendingDataset = {
    tables: { channels: { kind: 'channels', source: channelsBatch(subject, rows), description: `channels of ${path.basename(recording.file)}` } },
    manifest: { generator, source },
  };
  const kept = options.conditions ? events.filter((e) => options.conditions!.includes(e.condition)) : events;
  if (options.conditions && kept.length === 0) {
    throw new DatasetError(
      `${recording.file}: no event has a condition among ${options.conditions.join(', ')}; the events' conditions are ${[...new Set(events.map((e) => e.condition))].join(', ') || 'none'}`,
    );
  }
  if (kept.length > 0) {
    const good = rows.filter((r) => r.status === 'good');
    const epochs: RecordingEpochs = epochRecording(recording, kept, options.window ?? DEFAULT_WINDOW, good.map((r) => r.name));
    const { split, summary } = splitRows(Int32Array.from(kept, (e) => e.trialId), options.splits);
    const units = [...new Set(good.map((r) => r.unit))];
    pending.tables.brain = {
      kind: 'brain',
      source: brainBatch(subject, epochs, split),
      units: { features: units.join(', ') },
      description: `epochs from ${seconds(epochs.start)} s to ${seconds(epochs.start + epochs.times / epochs.rate)} s around each event, good channels`,
    };
    pending.manifest.samplingRates = { brain: epochs.rate };
    pending.manifest.extra = { ...pending.manifest.extra, epochStartSeconds: epochs.start };
    pending.manifest.splits = summary;
    pending.manifest.seed = options.splits?.seed ?? 0;
  }
  return pending;
}

export interface EdfIngestOptions extends RecordingIngestOptions {
  /** An electrodes TSV (`name`, `x`, `y`, `z`, atlas columns) whose positions fill the channel table. */
  electrodes?: string;
  locationColumn?: string;
  /** Type of channels whose label names none (e.g. `SEEG`, `ECOG`, `EEG`). */
  defaultType?: string;
  /** Channels to mark bad and leave out of the brain table. */
  bad?: readonly string[];
}

/** An EDF/EDF+ file to a dataset with a `channels` table, and a `brain` table of one epoch per EDF+ annotation when it has any. */
export async function ingestEdf(file: string, outDir: string, options: EdfIngestOptions): Promise<Dataset> {
  const recording = await readEdf(file, { defaultType: options.defaultType, subject: options.subject });
  const names = new Set(recording.channels.map((c) => c.name));
  for (const b of options.bad ?? []) {
    if (!names.has(b)) throw new DatasetError(`${path.basename(file)}: bad channel '${b}' is not in the file; its channels are ${[...names].join(', ')}`);
  }
  const electrodes = options.electrodes ? await readElectrodes(options.electrodes, options.locationColumn) : undefined;
  const rows = channelRows(recording, { electrodes, bad: new Set(options.bad ?? []) });
  const sources = options.electrodes ? [file, options.electrodes] : [file];
  const pending = recordingDataset(recording.subject, recording, rows, eventsFromAnnotations(recording), options, 'edf', sources);
  return writeIngest(outDir, pending, options, configOf(options));
}

export interface BidsIngestOptions extends RecordingIngestOptions {
  conditionColumn?: string;
  locationColumn?: string;
  space?: string;
}

/** One BIDS-iEEG run (its `_ieeg.edf`) to `channels` (bad channels marked) and `brain` (an epoch per event, good channels only). */
export async function ingestBidsIeeg(dataFile: string, outDir: string, options: BidsIngestOptions): Promise<Dataset> {
  const run = await readBidsIeeg(dataFile, options);
  const subject = options.subject ?? run.subject;
  const { channels, events, electrodes, sidecars } = run.files;
  const sources = [dataFile, ...sidecars, ...[channels, events, electrodes].filter((f): f is string => f !== undefined)];
  const pending = recordingDataset(subject, run.recording, run.channels, trialEvents(run), options, 'bids-ieeg', sources);
  return writeIngest(outDir, pending, options, configOf(options));
}

export interface NwbIngestOptions extends RecordingIngestOptions {
  /** Name or path of the time series to ingest. */
  series: string;
  channelType?: string;
  /** Trials-table column giving each trial's condition; default the first text column. */
  conditionColumn?: string;
  /** Trials-table column the epochs are centred on. */
  eventColumn?: string;
}

function trialsToEvents(file: string, columns: NwbColumn[], eventColumn: string, conditionColumn?: string): TrialEvent[] {
  const base = path.basename(file);
  const names = columns.map((c) => c.name).join(', ');
  const times = columns.find((c) => c.name === eventColumn);
  if (!times || times.kind !== 'number') throw new DatasetError(`${base}: the trials table has no numeric column '${eventColumn}'; columns: ${names}`);
  const condition = conditionColumn ? columns.find((c) => c.name === conditionColumn) : columns.find((c) => c.kind === 'text');
  if (conditionColumn && !condition) throw new DatasetError(`${base}: the trials table has no column '${conditionColumn}'; columns: ${names}`);
  return Array.from(times.values, (onset, i) => ({
    onset,
    trialId: i,
    condition: condition && condition.kind !== 'ragged' ? String(condition.values[i]) : 'trial',
    source: `${base}: trials row ${i}`,
  }));
}

/** An NWB time series to `channels`, and `brain` with an epoch per row of the file's trials table when it has one. */
export async function ingestNwb(file: string, outDir: string, options: NwbIngestOptions): Promise<Dataset> {
  const recording = await nwbSeriesToRecording(file, options.series, { channelType: options.channelType, subject: options.subject });
  const contents = await inspectNwb(file);
  const events = contents.trials ? trialsToEvents(file, (await readNwbTrials(file)).columns, options.eventColumn ?? 'start_time', options.conditionColumn) : [];
  const pending = recordingDataset(recording.subject, recording, channelRows(recording), events, options, 'nwb', [file]);
  return writeIngest(outDir, pending, options, configOf(options));
}

export interface MatrixIngestOptions extends RecordingIngestOptions {
  /** Sampling rate of a continuous `[time, channels]` array or CSV, Hz. */
  rate?: number;
  /** An events file (TSV or CSV with `onset` and a condition column) to cut trials from a continuous array. */
  events?: string;
  conditionColumn?: string;
  channelType?: string;
  unit?: string;
  /** Per-trial conditions of a `[trials, time, channels]` array. */
  trialConditions?: readonly string[];
}

async function continuousDataset(
  file: string,
  out: string,
  values: ArrayLike<number>,
  names: string[],
  format: string,
  options: MatrixIngestOptions,
): Promise<Dataset> {
  const base = path.basename(file);
  if (!(options.rate !== undefined && options.rate > 0)) throw new DatasetError(`${base}: a continuous [time, channels] recording needs its sampling rate; pass rate (Hz)`);
  const subject = options.subject ?? base.replace(/\.[^.]+$/, '');
  const recording = recordingFromMatrix(file, values, names, options.rate, { subject, type: options.channelType, unit: options.unit, format });
  const eventsFile = options.events;
  const events = eventsFile
    ? (await readBidsEvents(eventsFile, options.conditionColumn)).map((e) => ({ onset: e.onset, condition: e.condition, trialId: e.row - 1, source: `${path.basename(eventsFile)}: row ${e.row}` }))
    : [];
  const sources = eventsFile ? [file, eventsFile] : [file];
  const pending = recordingDataset(subject, recording, channelRows(recording), events, options, format.split(' ')[0], sources);
  return writeIngest(out, pending, options, configOf(options));
}

/**
 * A `.npy` array to a dataset: `[trials, time, channels]` becomes the `brain` table directly (conditions from
 * `trialConditions`); `[time, channels]` is a continuous recording at `rate`, cut into epochs at the `events` file's onsets.
 */
export async function ingestNpy(file: string, out: string, options: MatrixIngestOptions): Promise<Dataset> {
  const array = await readNpy(file);
  const base = path.basename(file);
  const values = npyToFloat32(array);
  if (array.shape.length === 2) {
    const names = Array.from({ length: array.shape[1] }, (_, c) => `ch${c}`);
    return continuousDataset(file, out, values, names, `npy ${array.dtype}`, options);
  }
  if (array.shape.length !== 3) {
    throw new DatasetError(`${base}: shape [${array.shape.join(', ')}] is neither [trials, time, channels] nor [time, channels]`);
  }
  const subject = options.subject ?? base.replace(/\.[^.]+$/, '');
  const [trials, times, channels] = array.shape;
  const conditions = options.trialConditions ?? new Array<string>(trials).fill('all');
  if (conditions.length !== trials) throw new DatasetError(`${base}: ${conditions.length} trial conditions for ${trials} trials (shape [${array.shape.join(', ')}])`);
  const names = Array.from({ length: channels }, (_, c) => `ch${c}`);
  const epochs: RecordingEpochs = {
    features: values,
    trials,
    times,
    channels: names,
    rate: options.rate ?? 0,
    start: 0,
    events: conditions.map((condition, i) => ({ onset: Number.NaN, condition, trialId: i })),
  };
  const rows: ChannelRow[] = names.map((name) => ({
    name,
    type: options.channelType ?? 'MISC',
    unit: options.unit ?? '',
    rate: options.rate ?? 0,
    status: 'good',
    x: null,
    y: null,
    z: null,
    location: null,
  }));
  const { split, summary } = splitRows(Int32Array.from({ length: trials }, (_, i) => i), options.splits);
  const pending: PendingDataset = {
    tables: {
      channels: { kind: 'channels', source: channelsBatch(subject, rows) },
      brain: { kind: 'brain', source: brainBatch(subject, epochs, split), ...(options.unit ? { units: { features: options.unit } } : {}) },
    },
    manifest: { generator: 'npy', source: [file], splits: summary, seed: options.splits?.seed ?? 0, ...(options.rate ? { samplingRates: { brain: options.rate } } : {}) },
  };
  return writeIngest(out, pending, options, configOf(options));
}

/** A CSV whose numeric columns are channels and rows are samples at `rate` (a `time` column is left out), cut at the `events` onsets. */
export async function ingestCsv(file: string, out: string, options: MatrixIngestOptions & { columns?: readonly string[] }): Promise<Dataset> {
  const table = await readCsv(file);
  const chosen = options.columns ?? table.columns.filter((c) => c.kind === 'number' && c.name !== 'time').map((c) => c.name);
  const { columns, values } = numericMatrix(table, chosen);
  return continuousDataset(file, out, values, columns, 'csv', options);
}

export interface ImageIngestOptions extends ImageReadOptions, IngestOutputOptions {}

/** A folder of frames or stills (or one image) to a `scenes` table, resized to the student's size (64×64 by default). */
export async function ingestImages(dirOrFile: string, outDir: string, options: ImageIngestOptions): Promise<Dataset> {
  const images = await readImageFolder(dirOrFile, options);
  const { split, summary } = splitRows(Int32Array.from(images.frames), options.splits);
  const pending: PendingDataset = {
    tables: { scenes: { kind: 'scenes', source: scenesBatch(images, split), units: { image: 'intensity 0-1' }, description: `images of ${path.basename(dirOrFile)}` } },
    manifest: { generator: 'images', source: images.files, splits: summary, seed: options.splits?.seed ?? 0 },
  };
  return writeIngest(outDir, pending, options, configOf(options));
}
