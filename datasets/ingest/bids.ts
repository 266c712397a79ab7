/** @file BIDS-iEEG runs: the data file with its `_ieeg.json`, `_channels.tsv`, `_events.tsv` and `_electrodes.tsv`, found by BIDS inheritance. */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DatasetError } from '../errors.js';
import { column, numberColumn, readCsv, readTsv, textColumn, type DelimitedTable } from './csv.js';
import { readEdf } from './edf.js';
import type { Recording } from './recording.js';
import type { ChannelRow, ElectrodePosition, TrialEvent } from './tables.js';
import { channelRows } from './tables.js';

/** A BIDS file name split into its entities (`sub`, `ses`, `task`, `acq`, `run`, ...), suffix and extension. */
export interface BidsName {
  entities: [string, string][];
  suffix: string;
  extension: string;
}

/** One row of `_events.tsv`. */
export interface BidsEvent {
  onset: number;
  duration: number;
  /** The condition column's value (`trial_type` by default). */
  condition: string;
  /** 1-based data row in the events file. */
  row: number;
}

/** A BIDS-iEEG run read whole: the recording, its channel rows, its events and the sidecars used. */
export interface BidsIeegRun {
  dataFile: string;
  subject: string;
  session: string;
  entities: Record<string, string>;
  /** The merged `_ieeg.json` sidecar (higher levels overridden by lower ones). */
  sidecar: Record<string, unknown>;
  recording: Recording;
  channels: ChannelRow[];
  events: BidsEvent[];
  /** The sidecar files found, by suffix. */
  files: { channels?: string; events?: string; electrodes?: string; sidecars: string[] };
}

export interface BidsIeegOptions {
  /** `_events.tsv` column giving each trial's condition. */
  conditionColumn?: string;
  /** `_electrodes.tsv` column used as the anatomical location; default the first non-standard column (an atlas label). */
  locationColumn?: string;
  /** Coordinate space to take when several `space-<label>_electrodes.tsv` files apply. */
  space?: string;
}

const ENTITY = /^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$/;
const ELECTRODE_STANDARD = new Set(['name', 'x', 'y', 'z', 'size', 'material', 'manufacturer', 'group', 'hemisphere', 'type', 'impedance', 'dimension']);
const DATA_EXTENSIONS = ['.edf'];

/** A TSV cell with BIDS's `n/a` (or nothing) read as absent. */
function present(cell: string | undefined): string | undefined {
  return cell === undefined || cell === '' || cell === 'n/a' ? undefined : cell;
}

/** Splits `sub-01_ses-01_task-x_run-01_ieeg.edf` into entities, suffix `ieeg` and extension `.edf`. */
export function parseBidsName(file: string): BidsName {
  const base = path.basename(file);
  const dot = base.indexOf('.');
  const stem = dot < 0 ? base : base.slice(0, dot);
  const extension = dot < 0 ? '' : base.slice(dot);
  const parts = stem.split('_');
  const suffix = parts.pop() ?? '';
  const entities: [string, string][] = [];
  for (const part of parts) {
    const m = ENTITY.exec(part);
    if (!m) throw new DatasetError(`${base}: '${part}' is not a BIDS key-value entity like sub-01; rename the file per the BIDS naming rules`);
    entities.push([m[1], m[2]]);
  }
  return { entities, suffix, extension };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Directories from the data file's folder up to the dataset root (the folder with dataset_description.json). */
async function inheritanceDirs(dataFile: string): Promise<string[]> {
  const dirs: string[] = [];
  let dir = path.dirname(path.resolve(dataFile));
  for (;;) {
    dirs.push(dir);
    if (await isFile(path.join(dir, 'dataset_description.json'))) return dirs;
    const name = path.basename(dir);
    const inDataset = name.startsWith('sub-') || name.startsWith('ses-') || name === 'ieeg';
    const parent = path.dirname(dir);
    if (!inDataset || parent === dir) return dirs;
    dir = parent;
  }
}

/**
 * Sidecar files with `suffix` and `extension` that apply to the data file by the inheritance principle: every
 * entity of the sidecar appears in the data file's name with the same value (entities in `free` may differ),
 * nearest folder first, then most specific.
 */
async function applicable(dataFile: string, suffix: string, extension: string, free: readonly string[] = []): Promise<string[]> {
  const data = new Map(parseBidsName(dataFile).entities);
  const found: { file: string; depth: number; specificity: number }[] = [];
  const dirs = await inheritanceDirs(dataFile);
  for (const [depth, dir] of dirs.entries()) {
    for (const name of await readdir(dir)) {
      if (!name.endsWith(`${suffix}${extension}`)) continue;
      if (name !== `${suffix}${extension}` && !name.endsWith(`_${suffix}${extension}`)) continue;
      let parsed: BidsName;
      try {
        parsed = parseBidsName(name);
      } catch {
        continue;
      }
      if (parsed.suffix !== suffix || parsed.extension !== extension) continue;
      if (parsed.entities.every(([k, v]) => free.includes(k) || data.get(k) === v)) {
        found.push({ file: path.join(dir, name), depth, specificity: parsed.entities.length });
      }
    }
  }
  found.sort((a, b) => a.depth - b.depth || b.specificity - a.specificity);
  return found.map((f) => f.file);
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new DatasetError(`${file}: not valid JSON (${(err as Error).message}); fix the sidecar`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DatasetError(`${file}: a BIDS sidecar must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

function hasColumn(table: DelimitedTable, name: string): boolean {
  return table.columns.some((c) => c.name === name);
}

/**
 * Reads an `_electrodes.tsv` (or any TSV with `name`, `x`, `y`, `z`): positions by contact name, `n/a` as null,
 * and the location from `locationColumn` or the first non-standard column (an atlas label).
 */
export async function readElectrodes(file: string, locationColumn?: string): Promise<Map<string, ElectrodePosition>> {
  const table = await readTsv(file);
  for (const required of ['name', 'x', 'y', 'z']) column(table, required);
  const names = textColumn(table, 'name');
  const [x, y, z] = ['x', 'y', 'z'].map((c) => numberColumn(table, c));
  const locationName = locationColumn ?? table.columns.find((c) => !ELECTRODE_STANDARD.has(c.name))?.name;
  const location = locationName ? textColumn(table, locationName) : undefined;
  const out = new Map<string, ElectrodePosition>();
  names.forEach((name, r) => {
    if (out.has(name)) throw new DatasetError(`${path.basename(file)}: row ${r + 1} (line ${table.lines[r]}) repeats electrode '${name}'; names must be unique`);
    const coordinate = (v: number) => (Number.isNaN(v) ? null : v);
    out.set(name, { x: coordinate(x[r]), y: coordinate(y[r]), z: coordinate(z[r]), location: present(location?.[r]) ?? null });
  });
  return out;
}

/**
 * Reads an events file (`_events.tsv`, or a `.csv` with the same columns): numeric `onset`, optional `duration`
 * (n/a is 0) and the condition column.
 */
export async function readBidsEvents(file: string, conditionColumn = 'trial_type'): Promise<BidsEvent[]> {
  const table = path.extname(file).toLowerCase() === '.csv' ? await readCsv(file) : await readTsv(file);
  const name = path.basename(file);
  const onset = numberColumn(table, 'onset');
  const duration = hasColumn(table, 'duration') ? numberColumn(table, 'duration') : new Float64Array(onset.length);
  const condition = hasColumn(table, conditionColumn) ? textColumn(table, conditionColumn) : undefined;
  if (!condition && conditionColumn !== 'trial_type') column(table, conditionColumn);
  return Array.from(onset, (t, r) => {
    if (!Number.isFinite(t)) throw new DatasetError(`${name}: row ${r + 1} (line ${table.lines[r]}) has onset '${t}'; every event needs a numeric onset in seconds`);
    const d = duration[r];
    if (d < 0) throw new DatasetError(`${name}: row ${r + 1} (line ${table.lines[r]}) has negative duration ${d}`);
    return { onset: t, duration: Number.isNaN(d) ? 0 : d, condition: present(condition?.[r]) ?? 'event', row: r + 1 };
  });
}

/** Channel names, types and statuses from `_channels.tsv`, checked against the recording's channels. */
async function readChannelsTsv(file: string, recording: Recording): Promise<{ types: Map<string, string>; bad: Set<string> }> {
  const table = await readTsv(file);
  const base = path.basename(file);
  const names = textColumn(table, 'name');
  const types = textColumn(table, 'type');
  column(table, 'units');
  const status = hasColumn(table, 'status') ? textColumn(table, 'status') : undefined;
  const recorded = new Set(recording.channels.map((c) => c.name));
  const listed = new Set<string>();
  const typeOf = new Map<string, string>();
  const bad = new Set<string>();
  names.forEach((name, r) => {
    const where = `${base}: row ${r + 1} (line ${table.lines[r]})`;
    if (!recorded.has(name)) throw new DatasetError(`${where} names channel '${name}', which ${path.basename(recording.file)} does not have`);
    if (listed.has(name)) throw new DatasetError(`${where} lists channel '${name}' a second time`);
    listed.add(name);
    typeOf.set(name, types[r].toUpperCase());
    const s = present(status?.[r]) ?? 'good';
    if (s !== 'good' && s !== 'bad') throw new DatasetError(`${where}: status '${s}' of channel '${name}' must be good, bad or n/a`);
    if (s === 'bad') bad.add(name);
  });
  const unlisted = recording.channels.filter((c) => !listed.has(c.name)).map((c) => c.name);
  if (unlisted.length > 0) {
    throw new DatasetError(`${base}: channels ${unlisted.join(', ')} of ${path.basename(recording.file)} are missing; BIDS lists every recorded channel`);
  }
  return { types: typeOf, bad };
}

/**
 * Reads one BIDS-iEEG run from its data file (`sub-<label>[_ses-<label>]_task-<label>..._ieeg.edf`): the recording,
 * channel types and bad channels from `_channels.tsv`, contacts' positions from `_electrodes.tsv`, events from
 * `_events.tsv`, and the merged `_ieeg.json`, each found by BIDS inheritance. Mismatches throw a `DatasetError`
 * naming the file and the row, channel or field.
 */
export async function readBidsIeeg(dataFile: string, options: BidsIeegOptions = {}): Promise<BidsIeegRun> {
  const parsed = parseBidsName(dataFile);
  const base = path.basename(dataFile);
  if (parsed.suffix !== 'ieeg') throw new DatasetError(`${base}: a BIDS-iEEG data file ends in _ieeg.<ext>; this one has suffix '${parsed.suffix}'`);
  if (!DATA_EXTENSIONS.includes(parsed.extension)) {
    throw new DatasetError(`${base}: iEEG data in '${parsed.extension}' is not supported; b2m reads ${DATA_EXTENSIONS.join(', ')} (convert BrainVision or MEF3 to EDF)`);
  }
  if (!(await isFile(dataFile))) throw new DatasetError(`${dataFile}: no such file; check the path`);
  const entities = Object.fromEntries(parsed.entities);
  if (!entities.sub) throw new DatasetError(`${base}: BIDS file names start with sub-<label>`);
  const sidecars = (await applicable(dataFile, 'ieeg', '.json')).reverse();
  const sidecar: Record<string, unknown> = {};
  for (const file of sidecars) Object.assign(sidecar, await readJson(file));
  const recording = await readEdf(dataFile, { defaultType: 'SEEG', subject: entities.sub });
  const declared = sidecar.SamplingFrequency;
  if (typeof declared === 'number' && recording.channels.length > 0) {
    const rate = recording.channels[0].rate;
    if (Math.abs(declared - rate) > 1e-3 * rate) {
      throw new DatasetError(`${sidecars[sidecars.length - 1]}: SamplingFrequency is ${declared} Hz but ${base} is sampled at ${rate} Hz; fix the sidecar`);
    }
  }
  const [channelsFile] = await applicable(dataFile, 'channels', '.tsv');
  const [eventsFile] = await applicable(dataFile, 'events', '.tsv');
  let electrodeFiles = await applicable(dataFile, 'electrodes', '.tsv', ['space']);
  if (options.space) electrodeFiles = electrodeFiles.filter((f) => parseBidsName(f).entities.some(([k, v]) => k === 'space' && v === options.space));
  const nearest = electrodeFiles.filter((f) => path.dirname(f) === path.dirname(electrodeFiles[0] ?? ''));
  const spaces = new Set(nearest.map((f) => parseBidsName(f).entities.find(([k]) => k === 'space')?.[1] ?? ''));
  if (spaces.size > 1) {
    throw new DatasetError(`${base}: electrodes are given in several spaces (${[...spaces].join(', ')}); choose one with the 'space' option`);
  }
  const { types, bad } = channelsFile ? await readChannelsTsv(channelsFile, recording) : { types: new Map<string, string>(), bad: new Set<string>() };
  const electrodes = electrodeFiles[0] ? await readElectrodes(electrodeFiles[0], options.locationColumn) : undefined;
  for (const c of recording.channels) {
    const t = types.get(c.name);
    if (t) c.type = t;
  }
  const events = eventsFile ? await readBidsEvents(eventsFile, options.conditionColumn) : [];
  return {
    dataFile,
    subject: entities.sub,
    session: entities.ses ?? '',
    entities,
    sidecar,
    recording,
    channels: channelRows(recording, { electrodes, bad }),
    events,
    files: { channels: channelsFile, events: eventsFile, electrodes: electrodeFiles[0], sidecars },
  };
}

/** BIDS events as trials: trial id = the event's row order, condition from the chosen column; `include` filters conditions. */
export function trialEvents(run: BidsIeegRun, include?: readonly string[]): TrialEvent[] {
  const keep = include ? new Set(include) : undefined;
  const file = run.files.events ? path.basename(run.files.events) : 'events';
  return run.events
    .filter((e) => !keep || keep.has(e.condition))
    .map((e) => ({ onset: e.onset, condition: e.condition, trialId: e.row - 1, source: `${file}: row ${e.row}` }));
}

/** Every BIDS-iEEG data file under a dataset root, in name order. */
export async function findBidsIeegRuns(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory() && (entry.name.startsWith('sub-') || entry.name.startsWith('ses-') || entry.name === 'ieeg')) await walk(p);
      else if (entry.isFile() && /_ieeg\.[a-z0-9]+$/.test(entry.name) && DATA_EXTENSIONS.includes(path.extname(entry.name))) out.push(p);
    }
  };
  try {
    await walk(root);
  } catch (err) {
    throw new DatasetError(`${root}: cannot walk the BIDS folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (out.length === 0) throw new DatasetError(`${root}: no sub-*/[ses-*/]ieeg/*_ieeg.edf files; is this a BIDS-iEEG dataset root?`);
  return out.sort();
}
