/**
 * @file Ingest of real recordings into b2m tables: one call per format reads the source whole, builds its channel,
 * brain or scenes tables, and writes them into an output folder all at once or not at all.
 */
import { mkdir, mkdtemp, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import { DatasetError } from '../errors.js';
import type { TableKind } from '../schemas.js';
import { writeTable } from '../table-io.js';
import type { EpochWindow } from '../teacher/epochs.js';
import { readBidsEvents, readBidsIeeg, readElectrodes, trialEvents } from './bids.js';
import { numericMatrix, readCsv } from './csv.js';
import { readEdf } from './edf.js';
import { readImageFolder, type ImageReadOptions } from './images.js';
import { npyToFloat32, readNpy } from './npy.js';
import { inspectNwb, nwbSeriesToRecording, readNwbTrials, type NwbColumn } from './nwb.js';
import { recordingFromMatrix, type Recording } from './recording.js';
import {
  assignSplits,
  brainBatch,
  channelRows,
  channelsBatch,
  epochRecording,
  eventsFromAnnotations,
  scenesBatch,
  type ChannelRow,
  type RecordingEpochs,
  type SplitFractions,
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

/** What an ingest wrote: each table's file and row count. */
export interface IngestResult {
  outDir: string;
  subject: string;
  tables: Partial<Record<'channels' | 'brain' | 'scenes', { file: string; rows: number }>>;
}

/** Options shared by the recording formats. */
export interface RecordingIngestOptions {
  /** Seconds kept before and after each event. */
  window?: EpochWindow;
  /** Seeded random val/test fractions of the trials; all trials are `train` by default. */
  splits?: SplitFractions;
  /** Only events whose condition is listed become trials. */
  conditions?: readonly string[];
  subject?: string;
}

const DEFAULT_WINDOW: EpochWindow = { pre: 0.2, post: 0.8 };

interface PendingTable {
  kind: TableKind;
  batch: RecordBatch;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes every table into `outDir` through a staging folder inside it, then renames them into place; any failure
 * removes the staging folder (and `outDir` if this call created it), so nothing half-made is left. Existing
 * tables are never overwritten.
 */
async function writeTables(outDir: string, subject: string, tables: Record<string, PendingTable>): Promise<IngestResult> {
  for (const name of Object.keys(tables)) {
    const target = path.join(outDir, `${name}.arrow`);
    if (await exists(target)) throw new DatasetError(`${target} already exists; ingest into a new folder or remove the old table first`);
  }
  const created = !(await exists(outDir));
  await mkdir(outDir, { recursive: true });
  const staging = await mkdtemp(path.join(outDir, '.ingest-'));
  const result: IngestResult = { outDir, subject, tables: {} };
  try {
    const written: [string, string][] = [];
    for (const [name, { kind, batch }] of Object.entries(tables)) {
      const file = path.join(staging, `${name}.arrow`);
      const out = await writeTable(file, batch, { kind });
      written.push([file, path.join(outDir, `${name}.arrow`)]);
      result.tables[name as keyof IngestResult['tables']] = { file: path.join(outDir, `${name}.arrow`), rows: out.rows };
    }
    for (const [from, to] of written) await rename(from, to);
    await rm(staging, { recursive: true, force: true });
    return result;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (created && (await readdir(outDir)).length === 0) await rmdir(outDir);
    throw err;
  }
}

function recordingTables(
  subject: string,
  recording: Recording,
  rows: ChannelRow[],
  events: TrialEvent[],
  options: RecordingIngestOptions,
): Record<string, PendingTable> {
  const tables: Record<string, PendingTable> = { channels: { kind: 'channels', batch: channelsBatch(subject, rows) } };
  const kept = options.conditions ? events.filter((e) => options.conditions!.includes(e.condition)) : events;
  if (options.conditions && kept.length === 0) {
    throw new DatasetError(`${recording.file}: no event has a condition among ${options.conditions.join(', ')}; the events' conditions are ${[...new Set(events.map((e) => e.condition))].join(', ') || 'none'}`);
  }
  if (kept.length > 0) {
    const good = rows.filter((r) => r.status === 'good').map((r) => r.name);
    const epochs: RecordingEpochs = epochRecording(recording, kept, options.window ?? DEFAULT_WINDOW, good);
    tables.brain = { kind: 'brain', batch: brainBatch(subject, epochs, assignSplits(epochs.trials, options.splits)) };
  }
  return tables;
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

/** An EDF/EDF+ file to `channels.arrow`, and `brain.arrow` with one epoch per EDF+ annotation when it has any. */
export async function ingestEdf(file: string, outDir: string, options: EdfIngestOptions = {}): Promise<IngestResult> {
  const recording = await readEdf(file, { defaultType: options.defaultType, subject: options.subject });
  const names = new Set(recording.channels.map((c) => c.name));
  for (const b of options.bad ?? []) {
    if (!names.has(b)) throw new DatasetError(`${path.basename(file)}: bad channel '${b}' is not in the file; its channels are ${[...names].join(', ')}`);
  }
  const electrodes = options.electrodes ? await readElectrodes(options.electrodes, options.locationColumn) : undefined;
  const rows = channelRows(recording, { electrodes, bad: new Set(options.bad ?? []) });
  const tables = recordingTables(recording.subject, recording, rows, eventsFromAnnotations(recording), options);
  return writeTables(outDir, recording.subject, tables);
}

export interface BidsIngestOptions extends RecordingIngestOptions {
  conditionColumn?: string;
  locationColumn?: string;
  space?: string;
}

/** One BIDS-iEEG run (its `_ieeg.edf`) to `channels.arrow` (bad channels marked) and `brain.arrow` (an epoch per event, good channels). */
export async function ingestBidsIeeg(dataFile: string, outDir: string, options: BidsIngestOptions = {}): Promise<IngestResult> {
  const run = await readBidsIeeg(dataFile, options);
  const subject = options.subject ?? run.subject;
  return writeTables(outDir, subject, recordingTables(subject, run.recording, run.channels, trialEvents(run), options));
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
  const times = columns.find((c) => c.name === eventColumn);
  if (!times || times.kind !== 'number') throw new DatasetError(`${base}: the trials table has no numeric column '${eventColumn}'; columns: ${columns.map((c) => c.name).join(', ')}`);
  const condition = conditionColumn ? columns.find((c) => c.name === conditionColumn) : columns.find((c) => c.kind === 'text');
  if (conditionColumn && !condition) throw new DatasetError(`${base}: the trials table has no column '${conditionColumn}'; columns: ${columns.map((c) => c.name).join(', ')}`);
  return Array.from(times.values, (onset, i) => ({
    onset,
    trialId: i,
    condition: condition && condition.kind !== 'ragged' ? String(condition.values[i]) : 'trial',
    source: `${base}: trials row ${i}`,
  }));
}

/** An NWB time series to `channels.arrow`, and `brain.arrow` with an epoch per row of the file's trials table when it has one. */
export async function ingestNwb(file: string, outDir: string, options: NwbIngestOptions): Promise<IngestResult> {
  const recording = await nwbSeriesToRecording(file, options.series, { channelType: options.channelType, subject: options.subject });
  const contents = await inspectNwb(file);
  const events = contents.trials ? trialsToEvents(file, (await readNwbTrials(file)).columns, options.eventColumn ?? 'start_time', options.conditionColumn) : [];
  return writeTables(outDir, recording.subject, recordingTables(recording.subject, recording, channelRows(recording), events, options));
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

async function continuousTables(
  file: string,
  out: string,
  values: ArrayLike<number>,
  names: string[],
  format: string,
  options: MatrixIngestOptions,
): Promise<IngestResult> {
  const base = path.basename(file);
  if (!(options.rate !== undefined && options.rate > 0)) throw new DatasetError(`${base}: a continuous [time, channels] recording needs its sampling rate; pass rate (Hz)`);
  const subject = options.subject ?? base.replace(/\.[^.]+$/, '');
  const recording = recordingFromMatrix(file, values, names, options.rate, { subject, type: options.channelType, unit: options.unit, format });
  const events = options.events
    ? (await readBidsEvents(options.events, options.conditionColumn)).map((e) => ({ onset: e.onset, condition: e.condition, trialId: e.row - 1, source: `${path.basename(options.events!)}: row ${e.row}` }))
    : [];
  return writeTables(out, subject, recordingTables(subject, recording, channelRows(recording), events, options));
}

/**
 * A `.npy` array to tables: `[trials, time, channels]` becomes `brain.arrow` directly (conditions from
 * `trialConditions`); `[time, channels]` is a continuous recording at `rate`, cut into epochs at the `events` file's onsets.
 */
export async function ingestNpy(file: string, out: string, options: MatrixIngestOptions = {}): Promise<IngestResult> {
  const array = await readNpy(file);
  const base = path.basename(file);
  const values = npyToFloat32(array);
  const subject = options.subject ?? base.replace(/\.[^.]+$/, '');
  if (array.shape.length === 3) {
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
    const rows: ChannelRow[] = names.map((name) => ({ name, type: options.channelType ?? 'MISC', unit: options.unit ?? '', rate: options.rate ?? 0, status: 'good', x: null, y: null, z: null, location: null }));
    return writeTables(out, subject, {
      channels: { kind: 'channels', batch: channelsBatch(subject, rows) },
      brain: { kind: 'brain', batch: brainBatch(subject, epochs, assignSplits(trials, options.splits)) },
    });
  }
  if (array.shape.length !== 2) {
    throw new DatasetError(`${base}: shape [${array.shape.join(', ')}] is neither [trials, time, channels] nor [time, channels]`);
  }
  const names = Array.from({ length: array.shape[1] }, (_, c) => `ch${c}`);
  return continuousTables(file, out, values, names, `npy ${array.dtype}`, options);
}

/** A CSV whose numeric columns are channels and rows are samples at `rate` (a `time` column is left out), cut at the `events` onsets. */
export async function ingestCsv(file: string, out: string, options: MatrixIngestOptions & { columns?: readonly string[] } = {}): Promise<IngestResult> {
  const table = await readCsv(file);
  const chosen = options.columns ?? table.columns.filter((c) => c.kind === 'number' && c.name !== 'time').map((c) => c.name);
  const { columns, values } = numericMatrix(table, chosen);
  return continuousTables(file, out, values, columns, 'csv', options);
}

export interface ImageIngestOptions extends ImageReadOptions {
  splits?: SplitFractions;
}

/** A folder of frames or stills (or one image) to `scenes.arrow`, resized to the student's size (64×64 by default). */
export async function ingestImages(dirOrFile: string, outDir: string, options: ImageIngestOptions = {}): Promise<IngestResult> {
  const images = await readImageFolder(dirOrFile, options);
  return writeTables(outDir, '', { scenes: { kind: 'scenes', batch: scenesBatch(images, assignSplits(images.files.length, options.splits)) } });
}
