/** @file Ingested recordings and images as b2m tables: channel rows, epochs around events as brain rows, frames as scene rows. */
import path from 'node:path';
import { Field, Int32, RecordBatch, Schema, Utf8 } from 'apache-arrow';
import { DatasetError } from '../errors.js';
import { recordBatchFromColumns } from '../record-batch.js';
import { brainSchema, channelsSchema, scenesSchema, SPLITS, type Split } from '../schemas.js';
import { cutEpochs, type EpochWindow } from '../teacher/epochs.js';
import type { ImageSet } from './images.js';
import type { Recording } from './recording.js';
import { segmentAt } from './recording.js';

/** Where a contact sits: coordinates (null when unknown) and an anatomical label. */
export interface ElectrodePosition {
  x: number | null;
  y: number | null;
  z: number | null;
  location: string | null;
}

/** One row of the channel table, before the subject is attached. */
export interface ChannelRow extends ElectrodePosition {
  name: string;
  type: string;
  unit: string;
  rate: number;
  status: 'good' | 'bad';
}

/** An event that becomes a trial: its time on the recording's clock, its condition and its trial id. */
export interface TrialEvent {
  onset: number;
  condition: string;
  trialId: number;
  /** Where the event came from (file and row), for error messages. */
  source?: string;
}

/** Epochs of the good channels, `[trial, time, channel]` row-major. */
export interface RecordingEpochs {
  features: Float32Array;
  trials: number;
  times: number;
  channels: string[];
  rate: number;
  /** Time of the first sample relative to the event, seconds. */
  start: number;
  events: TrialEvent[];
}

/**
 * The channel table rows of a recording: each channel with its type, unit and rate, positions and anatomical
 * label from `electrodes` (by channel name; unknown ones null), and `bad` ones marked so.
 */
export function channelRows(
  recording: Recording,
  options: { electrodes?: ReadonlyMap<string, ElectrodePosition>; bad?: ReadonlySet<string>; types?: ReadonlyMap<string, string> } = {},
): ChannelRow[] {
  return recording.channels.map((c) => {
    const e = options.electrodes?.get(c.name);
    return {
      name: c.name,
      type: options.types?.get(c.name) ?? c.type,
      unit: c.unit,
      rate: c.rate,
      status: options.bad?.has(c.name) ? 'bad' : 'good',
      x: e?.x ?? null,
      y: e?.y ?? null,
      z: e?.z ?? null,
      location: e?.location ?? null,
    };
  });
}

/** The channel table (plus `unit` and `sampling_rate` columns) of one subject. */
export function channelsBatch(subject: string, rows: readonly ChannelRow[]): RecordBatch {
  const schema = channelsSchema({ unit: 'utf8', sampling_rate: 'float32' });
  return recordBatchFromColumns(
    schema,
    {
      subject: rows.map(() => subject),
      name: rows.map((r) => r.name),
      type: rows.map((r) => r.type),
      x: rows.map((r) => r.x),
      y: rows.map((r) => r.y),
      z: rows.map((r) => r.z),
      location: rows.map((r) => r.location),
      status: rows.map((r) => r.status),
      unit: rows.map((r) => r.unit),
      sampling_rate: Float32Array.from(rows, (r) => r.rate),
    },
    `channel table of subject ${subject}`,
  );
}

/** EDF+ annotations as trial events: each annotation (optionally only those whose text is listed) is a trial. */
export function eventsFromAnnotations(recording: Recording, include?: readonly string[]): TrialEvent[] {
  const keep = include ? new Set(include) : undefined;
  return recording.annotations
    .filter((a) => !keep || keep.has(a.text))
    .map((a, i) => ({ onset: a.onset, condition: a.text, trialId: i, source: `${recording.file}: annotation '${a.text}' at ${a.onset} s` }));
}

/**
 * Cuts `[onset - pre, onset + post)` around each event from the named channels (all good ones by default).
 * Channels must share one sampling rate; an event whose window leaves the recording, or crosses a gap of a
 * discontinuous one, throws a `DatasetError` naming the event.
 */
export function epochRecording(
  recording: Recording,
  events: readonly TrialEvent[],
  window: EpochWindow,
  channelNames?: readonly string[],
): RecordingEpochs {
  const names = channelNames ?? recording.channels.map((c) => c.name);
  if (names.length === 0) throw new DatasetError(`${recording.file}: no channels left to epoch; check which channels are marked bad`);
  if (events.length === 0) throw new DatasetError(`${recording.file}: no events to cut epochs around; the brain table needs at least one trial`);
  const index = new Map(recording.channels.map((c, i) => [c.name, i]));
  const picked = names.map((n) => {
    const i = index.get(n);
    if (i === undefined) throw new DatasetError(`${recording.file}: no channel '${n}'; the channels are ${recording.channels.map((c) => c.name).join(', ')}`);
    return i;
  });
  const rate = recording.channels[picked[0]].rate;
  for (const i of picked) {
    const c = recording.channels[i];
    if (c.rate !== rate) {
      throw new DatasetError(
        `${recording.file}: channel '${c.name}' is sampled at ${c.rate} Hz but '${recording.channels[picked[0]].name}' at ${rate} Hz; ` +
          `epoch channels of one rate together (drop or mark the others bad)`,
      );
    }
  }
  const times = new Float64Array(events.length);
  events.forEach((e, k) => {
    const t = e.onset - recording.timeOffset;
    const segment = segmentAt(recording.segments, t, rate);
    const where = e.source ?? `event ${k} (trial ${e.trialId}, '${e.condition}')`;
    if (!segment || t - window.pre < segment.onset - 0.5 / rate || t + window.post > segment.onset + segment.duration + 0.5 / rate) {
      throw new DatasetError(
        `${where}: the window [${e.onset - window.pre}, ${e.onset + window.post}) s is not inside the recorded signal ` +
          `(${recording.segments.map((s) => `${s.onset + recording.timeOffset}–${s.onset + s.duration + recording.timeOffset} s`).join(', ')}); ` +
          `drop the event or shorten the window`,
      );
    }
    times[k] = segment.offset + t - segment.onset;
  });
  let trials = 0;
  let length = 0;
  let start = 0;
  let features = new Float32Array(0);
  for (const [c, i] of picked.entries()) {
    const data = recording.data[i];
    const epochs = cutEpochs({ data, channels: 1, samples: data.length, sampleRate: rate }, times, window);
    if (c === 0) {
      ({ trials, times: length } = epochs.tensor);
      start = epochs.grid.start;
      features = new Float32Array(trials * length * picked.length);
    }
    const src = epochs.tensor.data;
    for (let s = 0, n = trials * length; s < n; s++) features[s * picked.length + c] = src[s];
  }
  return { features, trials, times: length, channels: [...names], rate, start, events: [...events] };
}

/** The brain table of one subject's epochs, with each trial's event `onset` (seconds) kept as an extra column. */
export function brainBatch(subject: string, epochs: RecordingEpochs, splits: readonly Split[]): RecordBatch {
  if (splits.length !== epochs.trials) throw new DatasetError(`brain table of subject ${subject}: ${splits.length} splits for ${epochs.trials} trials`);
  for (const s of splits) if (!SPLITS.includes(s)) throw new DatasetError(`brain table of subject ${subject}: split '${s}' is not one of ${SPLITS.join(', ')}`);
  const schema = brainSchema({ features: [epochs.times, epochs.channels.length] }, { onset: 'float32' });
  return recordBatchFromColumns(
    schema,
    {
      trial_id: Int32Array.from(epochs.events, (e) => e.trialId),
      condition: epochs.events.map((e) => e.condition),
      subject: epochs.events.map(() => subject),
      split: [...splits],
      features: epochs.features,
      onset: Float32Array.from(epochs.events, (e) => e.onset),
    },
    `brain table of subject ${subject}`,
  );
}

/** The scenes table of an image set, keeping each image's file name and frame index. */
export function scenesBatch(images: ImageSet, splits: readonly Split[]): RecordBatch {
  const base = scenesSchema({ image: [images.height, images.width, 3] });
  const schema = new Schema(
    [
      ...base.fields,
      new Field('file', new Utf8(), false), new Field('frame', new Int32(), false), new Field('source_width', new Int32(), false), new Field('source_height', new Int32(), false)],
    base.metadata,
  );
  return recordBatchFromColumns(
    schema,
    {
      scene_id: Int32Array.from(images.files, (_, i) => i),
      split: [...splits],
      image: images.pixels,
      file: images.files.map((f) => path.basename(f)),
      frame: images.frames,
      source_width: Int32Array.from(images.sourceSizes, (s) => s.width),
      source_height: Int32Array.from(images.sourceSizes, (s) => s.height),
    },
    'scenes table',
  );
}
