/** @file NWB 2.x (HDF5) through h5wasm: list time series, read one with its rate or timestamps and conversion, the Units and trials tables. */
import { open } from 'node:fs/promises';
import path from 'node:path';
import h5wasm, { Reference } from 'h5wasm/node';
import { DatasetError } from '../errors.js';
import { recordingFromMatrix, type Recording } from './recording.js';

type H5File = InstanceType<typeof h5wasm.File>;
type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;
type H5Entity = ReturnType<H5Group['get']>;

/** What a time series is, read from its attributes without loading its data. */
export interface NwbSeriesInfo {
  name: string;
  /** HDF5 path, e.g. `/acquisition/ElectricalSeries`. */
  path: string;
  /** `TimeSeries`, `ElectricalSeries`, or an extension's type such as `TimeSeriesWithID`. */
  neurodataType: string;
  namespace: string;
  description: string;
  /** Shape of `data`; the first axis is time. */
  shape: number[];
  dtype: string;
  /** `data` attribute `unit`; empty when the file omits it. */
  unit: string;
  /** Stored values × conversion + offset give values in `unit`. */
  conversion: number;
  offset: number;
  /** Samples per second when the series stores `starting_time` and its `rate`. */
  rate?: number;
  startingTime?: number;
  /** How many timestamps the series stores, when it has `timestamps` instead of a rate. */
  timestampCount?: number;
  /** Rows of the electrodes table the series' channels come from (ElectricalSeries). */
  electrodeCount?: number;
}

/** A column of an NWB DynamicTable: numbers, text, or a ragged column (values with per-row end offsets). */
export type NwbColumn =
  | { name: string; kind: 'number'; values: Float64Array }
  | { name: string; kind: 'text'; values: string[] }
  | { name: string; kind: 'ragged'; values: Float64Array; ends: Float64Array };

/** An NWB DynamicTable (units, trials, electrodes): row ids and columns in `colnames` order. */
export interface NwbTable {
  path: string;
  ids: Float64Array;
  columns: NwbColumn[];
}

/** The top of an NWB file: its identity, every time series, and the Units and trials tables when present. */
export interface NwbContents {
  file: string;
  nwbVersion: string;
  identifier: string;
  sessionDescription: string;
  sessionStartTime: string;
  series: NwbSeriesInfo[];
  /** Sorted-unit table: unit count, spike count and columns, when `/units` exists. */
  units?: { path: string; count: number; spikeCount: number; columns: string[] };
  /** Trials table: trial count and columns, when `/intervals/trials` exists. */
  trials?: { path: string; count: number; columns: string[] };
}

/** One series' samples as float32 in its unit (conversion and offset applied), time-major `[time, ...rest]`. */
export interface NwbSeries extends NwbSeriesInfo {
  data: Float32Array;
  timestamps?: Float64Array;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const SKIPPED_ROOTS = new Set(['specifications']);

function attr(obj: { attrs: Record<string, { value: unknown }> }, name: string): unknown {
  return obj.attrs[name]?.value ?? undefined;
}

function attrText(obj: { attrs: Record<string, { value: unknown }> }, name: string): string {
  const v = attr(obj, name);
  return v === undefined || v === null ? '' : String(v);
}

function attrNumber(obj: { attrs: Record<string, { value: unknown }> }, name: string, fallback: number): number {
  const v = attr(obj, name);
  if (v === undefined || v === null) return fallback;
  const n = Number(ArrayBuffer.isView(v) ? (v as unknown as ArrayLike<number>)[0] : v);
  return Number.isFinite(n) ? n : fallback;
}

function isGroup(e: H5Entity): e is H5Group {
  return e instanceof h5wasm.Group;
}

function isDataset(e: H5Entity): e is H5Dataset {
  return e instanceof h5wasm.Dataset;
}

function asNumbers(v: unknown): Float64Array {
  if (v instanceof Float64Array) return v;
  if (ArrayBuffer.isView(v)) return Float64Array.from(v as unknown as ArrayLike<number | bigint>, Number);
  if (Array.isArray(v)) return Float64Array.from(v.flat(Infinity) as (number | bigint)[], Number);
  return Float64Array.of(Number(v));
}

function asScalar(v: unknown): number {
  return asNumbers(v)[0] ?? Number.NaN;
}

/** Checks the HDF5 signature (at 0 or a power-of-two user-block offset) so a wrong file gives a clear error. */
async function checkHdf5(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new DatasetError(`${file}: cannot open the NWB file (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the path`);
  }
  try {
    const size = (await handle.stat()).size;
    const probe = new Uint8Array(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      await handle.read(probe, 0, 8, at);
      if (HDF5_SIGNATURE.every((b, i) => probe[i] === b)) return;
    }
  } finally {
    await handle.close();
  }
  throw new DatasetError(`${path.basename(file)}: not an HDF5 file (no HDF5 signature); NWB 2.x files are HDF5`);
}

async function withFile<T>(file: string, body: (f: H5File) => T): Promise<T> {
  await checkHdf5(file);
  await h5wasm.ready;
  let f: H5File;
  try {
    f = new h5wasm.File(path.resolve(file), 'r');
  } catch (err) {
    throw new DatasetError(`${path.basename(file)}: HDF5 could not open the file (${(err as Error).message}); is it a complete NWB file?`);
  }
  try {
    return body(f);
  } finally {
    f.close();
  }
}

function seriesInfo(group: H5Group, groupPath: string): NwbSeriesInfo | undefined {
  const data = group.get('data');
  const starting = group.get('starting_time');
  const timestamps = group.get('timestamps');
  if (!isDataset(data) || !(isDataset(starting) || isDataset(timestamps))) return undefined;
  const info: NwbSeriesInfo = {
    name: groupPath.slice(groupPath.lastIndexOf('/') + 1),
    path: groupPath,
    neurodataType: attrText(group, 'neurodata_type'),
    namespace: attrText(group, 'namespace'),
    description: attrText(group, 'description'),
    shape: data.shape ?? [],
    dtype: dtypeName(data),
    unit: attrText(data, 'unit'),
    conversion: attrNumber(data, 'conversion', 1),
    offset: attrNumber(data, 'offset', 0),
  };
  if (isDataset(starting)) {
    info.rate = attrNumber(starting, 'rate', Number.NaN);
    info.startingTime = asScalar(starting.value);
  } else if (isDataset(timestamps)) {
    info.timestampCount = (timestamps.shape ?? [0])[0];
  }
  const electrodes = group.get('electrodes');
  if (isDataset(electrodes)) info.electrodeCount = (electrodes.shape ?? [0])[0];
  return info;
}

/** NumPy-style name of a dataset's element type (`int64`, `float32`, `string`, ...). */
function dtypeName(set: H5Dataset): string {
  const meta = set.metadata;
  if (meta.type === 0) return `${meta.signed ? 'int' : 'uint'}${meta.size * 8}`;
  if (meta.type === 1) return `float${meta.size * 8}`;
  if (meta.type === 3) return 'string';
  return String(set.dtype);
}

function walkSeries(group: H5Group, groupPath: string, out: NwbSeriesInfo[]): void {
  for (const key of group.keys()) {
    if (groupPath === '' && SKIPPED_ROOTS.has(key)) continue;
    const child = group.get(key);
    if (!isGroup(child)) continue;
    const childPath = `${groupPath}/${key}`;
    const info = seriesInfo(child, childPath);
    if (info) out.push(info);
    else walkSeries(child, childPath, out);
  }
}

function textValue(v: unknown): string {
  if (Array.isArray(v)) return v.length > 0 ? String(v[0]) : '';
  return v === undefined || v === null ? '' : String(v);
}

/** Reads a DynamicTable group: `id`, then each column in `colnames` order, ragged where `<name>_index` exists. */
function readTable(root: H5File, tablePath: string): NwbTable | undefined {
  const group = root.get(tablePath);
  if (!isGroup(group)) return undefined;
  const idSet = group.get('id');
  const ids = isDataset(idSet) ? asNumbers(idSet.value) : new Float64Array(0);
  const rawNames = attr(group, 'colnames');
  const names = (Array.isArray(rawNames) ? rawNames : rawNames === undefined || rawNames === '' ? [] : [rawNames]).map(String);
  const columns: NwbColumn[] = [];
  for (const name of names) {
    const set = group.get(name);
    if (!isDataset(set)) continue;
    const index = group.get(`${name}_index`);
    const value = set.value;
    if (isDataset(index)) {
      columns.push({ name, kind: 'ragged', values: asNumbers(value), ends: asNumbers(index.value) });
    } else if (typeof value === 'string' || (Array.isArray(value) && value.some((v) => typeof v === 'string'))) {
      columns.push({ name, kind: 'text', values: (Array.isArray(value) ? value : [value]).map(String) });
    } else if (ArrayBuffer.isView(value) || Array.isArray(value) || typeof value === 'number' || typeof value === 'bigint') {
      columns.push({ name, kind: 'number', values: asNumbers(value) });
    }
  }
  return { path: tablePath, ids, columns };
}

/** Lists what an NWB file holds: identity, every time series (any type with data and a rate or timestamps), units and trials. */
export async function inspectNwb(file: string): Promise<NwbContents> {
  return withFile(file, (f) => {
    const series: NwbSeriesInfo[] = [];
    walkSeries(f, '', series);
    const contents: NwbContents = {
      file,
      nwbVersion: attrText(f, 'nwb_version'),
      identifier: textValue(isDataset(f.get('identifier')) ? (f.get('identifier') as H5Dataset).value : ''),
      sessionDescription: textValue(isDataset(f.get('session_description')) ? (f.get('session_description') as H5Dataset).value : ''),
      sessionStartTime: textValue(isDataset(f.get('session_start_time')) ? (f.get('session_start_time') as H5Dataset).value : ''),
      series,
    };
    const units = readTable(f, '/units');
    if (units) {
      const spikes = units.columns.find((c) => c.name === 'spike_times');
      contents.units = {
        path: units.path,
        count: units.ids.length,
        spikeCount: spikes ? spikes.values.length : 0,
        columns: units.columns.map((c) => c.name),
      };
    }
    const trials = readTable(f, '/intervals/trials');
    if (trials) contents.trials = { path: trials.path, count: trials.ids.length, columns: trials.columns.map((c) => c.name) };
    return contents;
  });
}

function findSeries(file: string, all: NwbSeriesInfo[], wanted: string): NwbSeriesInfo {
  const matches = all.filter((s) => s.path === wanted || s.path === `/${wanted}` || s.name === wanted);
  if (matches.length === 1) return matches[0];
  const listing = all.length > 0 ? all.map((s) => `${s.path} (${s.neurodataType || 'untyped'})`).join(', ') : 'none';
  if (matches.length === 0) {
    throw new DatasetError(`${path.basename(file)}: no time series named '${wanted}'; the file holds: ${listing}`);
  }
  throw new DatasetError(`${path.basename(file)}: the name '${wanted}' matches ${matches.length} series; name one by path: ${listing}`);
}

/**
 * Reads one time series by name or HDF5 path: its data as float32 in its unit (stored × conversion + offset), and
 * its timestamps when it has no rate. A missing series throws a `DatasetError` naming the file and the series and
 * listing the series the file does hold.
 */
export async function readNwbSeries(file: string, name: string): Promise<NwbSeries> {
  return withFile(file, (f) => {
    const all: NwbSeriesInfo[] = [];
    walkSeries(f, '', all);
    const info = findSeries(file, all, name);
    const group = f.get(info.path) as H5Group;
    const raw = (group.get('data') as H5Dataset).value;
    const stored = asNumbers(raw);
    const data = new Float32Array(stored.length);
    for (let i = 0; i < stored.length; i++) data[i] = stored[i] * info.conversion + info.offset;
    const series: NwbSeries = { ...info, data };
    const timestamps = group.get('timestamps');
    if (isDataset(timestamps)) series.timestamps = asNumbers(timestamps.value);
    return series;
  });
}

/** The sorted-unit table (`/units`): spike times per unit as a ragged column plus any other columns. */
export async function readNwbUnits(file: string): Promise<NwbTable> {
  return withFile(file, (f) => {
    const table = readTable(f, '/units');
    if (!table) throw new DatasetError(`${path.basename(file)}: no Units table at /units; the file has no sorted spikes`);
    if (!table.columns.some((c) => c.name === 'spike_times' && c.kind === 'ragged')) {
      throw new DatasetError(`${path.basename(file)}: /units has no ragged 'spike_times' column (with 'spike_times_index'); columns: ${table.columns.map((c) => c.name).join(', ')}`);
    }
    return table;
  });
}

/** The trials table (`/intervals/trials`) with `start_time`, `stop_time` and the experiment's own columns. */
export async function readNwbTrials(file: string): Promise<NwbTable> {
  return withFile(file, (f) => {
    const table = readTable(f, '/intervals/trials');
    if (!table) throw new DatasetError(`${path.basename(file)}: no trials table at /intervals/trials`);
    if (!table.columns.some((c) => c.name === 'start_time')) {
      throw new DatasetError(`${path.basename(file)}: /intervals/trials has no 'start_time' column; columns: ${table.columns.map((c) => c.name).join(', ')}`);
    }
    return table;
  });
}

/** Spike times of unit row `row` of a Units table. */
export function unitSpikeTimes(units: NwbTable, row: number): Float64Array {
  const col = units.columns.find((c) => c.name === 'spike_times');
  if (!col || col.kind !== 'ragged') throw new DatasetError(`${units.path}: no ragged 'spike_times' column`);
  const start = row === 0 ? 0 : col.ends[row - 1];
  return col.values.subarray(start, col.ends[row]);
}

export interface NwbRecordingOptions {
  /** Channel type for the series' channels; NWB does not say whether a probe is SEEG, ECoG or a microelectrode. */
  channelType?: string;
  subject?: string;
}

/**
 * A regularly sampled series as a `Recording` (channel-major), its channels named from the electrodes table's
 * `label` column when present (else `e<id>`, or `ch<i>` without electrodes). Timestamps must be evenly spaced.
 */
export async function nwbSeriesToRecording(file: string, name: string, options: NwbRecordingOptions = {}): Promise<Recording> {
  const series = await readNwbSeries(file, name);
  const base = path.basename(file);
  const rest = series.shape.slice(1);
  if (rest.length > 1) throw new DatasetError(`${base}: series '${series.path}' has shape [${series.shape.join(', ')}]; a recording needs [time] or [time, channels]`);
  const count = rest[0] ?? 1;
  let rate = series.rate ?? Number.NaN;
  let start = series.startingTime ?? 0;
  if (series.timestamps) {
    const t = series.timestamps;
    start = t[0] ?? 0;
    rate = t.length > 1 ? (t.length - 1) / (t[t.length - 1] - t[0]) : Number.NaN;
    for (let i = 1; i < t.length; i++) {
      if (Math.abs(t[i] - t[i - 1] - 1 / rate) > 1e-3 / rate) {
        throw new DatasetError(`${base}: series '${series.path}' has uneven timestamps (at sample ${i}: ${t[i - 1]} → ${t[i]} s); resample it before ingest`);
      }
    }
  }
  if (!(rate > 0)) throw new DatasetError(`${base}: series '${series.path}' has no positive sampling rate`);
  const names = await electrodeNames(file, series, count);
  const contents = await inspectNwb(file);
  const recording = recordingFromMatrix(file, series.data, names, rate, {
    subject: options.subject ?? contents.identifier,
    type: options.channelType,
    unit: series.unit,
    format: `NWB ${contents.nwbVersion}`,
    timeOffset: start,
  });
  recording.startTime = contents.sessionStartTime;
  return recording;
}

async function electrodeNames(file: string, series: NwbSeries, count: number): Promise<string[]> {
  if (series.electrodeCount === undefined) return Array.from({ length: count }, (_, i) => `ch${i}`);
  return withFile(file, (f) => {
    const region = (f.get(series.path) as H5Group).get('electrodes') as H5Dataset;
    const rows = asNumbers(region.value);
    const rawRef = attr(region, 'table');
    const ref = Array.isArray(rawRef) ? rawRef[0] : rawRef;
    const target = ref instanceof Reference ? (f.dereference(ref) as unknown as H5Entity) : null;
    const tablePath = isGroup(target) ? target.path : '/general/extracellular_ephys/electrodes';
    const table = readTable(f, tablePath);
    if (rows.length !== count) {
      throw new DatasetError(`${path.basename(file)}: series '${series.path}' has ${count} channels but its electrodes region lists ${rows.length}`);
    }
    const label = table?.columns.find((c) => c.name === 'label' && c.kind === 'text');
    return Array.from(rows, (r) => (label && label.kind === 'text' ? label.values[r] : `e${table?.ids[r] ?? r}`));
  });
}
