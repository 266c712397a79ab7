/**
 * @file `b2m teacher`: the teacher tables of a dataset from its brain table, per subject: binned rates by z-score →
 * PCA(k) → optional condition average → alignment to the student's time grid; EEG epochs by time windows → the
 * evoked reduction (or PCA). For the real brain data and for each null control (`teacher`,
 * `teacher-shuffled-brain`, `teacher-noise-brain`), added to the dataset directory.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Data, Schema, type Table, type Utf8 } from 'apache-arrow';
import {
  type Dataset,
  fixedShapeTensorField,
  MANIFEST_FILE,
  type ManifestTable,
  openDataset,
  parseManifest,
  recordBatchFromColumns,
  serializeManifest,
  teacherSchema,
  tensorRows,
  tensorShape,
  validateSchema,
  writeTable,
} from '../../datasets/index.js';
import { buildTeacherLatents, butterworthBandpass, envelope, filtfilt, type TimeGrid } from '../../datasets/teacher/index.js';
import type { ExperimentConfig, TeacherConfig } from '../config.js';
import { B2mError } from '../errors.js';
import { NULL_CONTROLS, nullControlBrainTable, type NullControl } from '../train/null-controls.js';

/** The dataset's brain table cannot give teacher features for this config. */
export class TeacherError extends B2mError {}

/** Task events used as alignment landmarks, in time order (columns of both the trials and the brain table). */
const LANDMARK_COLUMNS = ['offer1_on', 'offer1_off', 'offer2_on', 'offer2_off', 'go_cue', 'decision_bin'] as const;

/** Time windows an EEG epoch's post-onset part (and its baseline) is averaged into: the reduction sees windows × channels features. */
const EEG_WINDOWS = 8;

/** What `writeTeacherTables` wrote. */
export interface TeacherTablesResult {
  tables: { name: string; rows: number; shape: number[] }[];
}

const decoder = new TextDecoder();

function textColumn(table: Table, name: string): string[] {
  const out: string[] = [];
  const column = table.getChild(name);
  if (!column) throw new TeacherError(`the table has no "${name}" column`);
  for (const chunk of column.data as Data<Utf8>[]) {
    const offsets = chunk.valueOffsets as Int32Array;
    for (let i = 0; i < chunk.length; i++) out.push(decoder.decode(chunk.values.subarray(offsets[i]!, offsets[i + 1]!)));
  }
  return out;
}

function intColumn(table: Table, name: string, where: string): (number | null)[] {
  const column = table.getChild(name);
  if (!column) throw new TeacherError(`${where} has no "${name}" column, which aligning brain trials to the student's trials needs (the task events ${LANDMARK_COLUMNS.join(', ')})`);
  return Array.from({ length: table.numRows }, (_, i) => column.get(i) as number | null);
}

/** Landmarks `[rows, L]` of a table's event columns. */
function landmarksOf(table: Table, where: string): Float64Array {
  const columns = LANDMARK_COLUMNS.map((c) => intColumn(table, c, where));
  const out = new Float64Array(table.numRows * columns.length);
  for (let r = 0; r < table.numRows; r++) columns.forEach((c, m) => (out[r * columns.length + m] = c[r] ?? Number.NaN));
  return out;
}

/** The rows of one teacher table, assembled subject by subject. */
interface TeacherRows {
  trialId: (number | null)[];
  condition: string[];
  subject: string[];
  split: string[];
  latents: number[][];
  covered: number[][];
}

function emptyRows(): TeacherRows {
  return { trialId: [], condition: [], subject: [], split: [], latents: [], covered: [] };
}

/** Task-trial landmarks by trial id, and their mean per condition (for brain rows paired by condition only). */
interface TaskTiming {
  timeBins: number;
  byTrial: Map<number, Float64Array>;
  byCondition: Map<string, Float64Array>;
}

async function taskTiming(dataset: Dataset): Promise<TaskTiming> {
  const trials = await dataset.read('trials');
  const ids = intColumn(trials, 'trial_id', 'the trials table');
  const conditions = textColumn(trials, 'condition');
  const marks = landmarksOf(trials, 'the trials table');
  const L = LANDMARK_COLUMNS.length;
  const byTrial = new Map<number, Float64Array>();
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  for (let r = 0; r < trials.numRows; r++) {
    const row = marks.subarray(r * L, (r + 1) * L);
    byTrial.set(ids[r]!, row);
    let s = sums.get(conditions[r]!);
    if (!s) sums.set(conditions[r]!, (s = { sum: new Float64Array(L), n: 0 }));
    for (let m = 0; m < L; m++) s.sum[m] = s.sum[m]! + row[m]!;
    s.n++;
  }
  const byCondition = new Map([...sums].map(([key, s]) => [key, s.sum.map((v) => v / s.n)] as const));
  const timeBins = tensorShape(trials.schema.fields.find((f) => f.name === 'inputs')!, 'trials')[0]!;
  return { timeBins, byTrial, byCondition };
}

/** Row indices of `values` grouped by value, in first-seen order. */
function groupRows(values: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  values.forEach((v, i) => {
    let list = out.get(v);
    if (!list) out.set(v, (list = []));
    list.push(i);
  });
  return out;
}

/** Memory-decision teacher rows: each subject's binned counts, reduced and warped onto the student's grid by the task events. */
function decisionTeacher(brain: Table, timing: TaskTiming, teacher: TeacherConfig): TeacherRows {
  const field = brain.schema.fields.find((f) => f.name === 'features')!;
  const [times, channels] = tensorShape(field, 'brain') as [number, number];
  const all = tensorRows(brain.getChild('features') as never);
  const ids = intColumn(brain, 'trial_id', 'the brain table');
  const conditions = textColumn(brain, 'condition');
  const subjects = textColumn(brain, 'subject');
  const splits = textColumn(brain, 'split');
  const marks = landmarksOf(brain, 'the brain table');
  const L = LANDMARK_COLUMNS.length;
  const T = timing.timeBins;
  const out = emptyRows();
  for (const [subject, rows] of groupRows(subjects)) {
    const size = times * channels;
    const data = new Float32Array(rows.length * size);
    const landmarks = new Float64Array(rows.length * L);
    rows.forEach((r, i) => {
      data.set(all.subarray(r * size, (r + 1) * size), i * size);
      landmarks.set(marks.subarray(r * L, (r + 1) * L), i * L);
    });
    const train = rows.flatMap((r, i) => (splits[r] === 'train' ? [i] : []));
    if (train.length <= teacher.latents) {
      throw new TeacherError(`subject "${subject}" has ${train.length} training brain trials, too few for teacher.latents = ${teacher.latents} PCA components; lower teacher.latents or record more trials`);
    }
    const studentGrid: TimeGrid = { start: 0, step: 1, count: T };
    const targetMarks = (id: number | null, condition: string, where: string): Float64Array => {
      const found = (id === null ? undefined : timing.byTrial.get(id)) ?? timing.byCondition.get(condition);
      if (!found) throw new TeacherError(`${where}: neither its trial_id (${id}) nor its condition "${condition}" occurs in the trials table, so it cannot be aligned to a student trial`);
      return found;
    };
    const features = { data, trials: rows.length, times, features: channels };
    const grid: TimeGrid = { start: 0, step: 1, count: times };
    if (teacher.conditionAverage) {
      const keys = rows.map((r) => conditions[r]!);
      const trainKeys = [...new Set(train.map((i) => keys[i]!))].sort();
      const target = new Float64Array(trainKeys.length * L);
      trainKeys.forEach((key, c) => target.set(targetMarks(null, key, `condition "${key}"`), c * L));
      const result = buildTeacherLatents({ features, grid, trainTrials: train, k: teacher.latents, landmarks, conditions: keys, target: { grid: studentGrid, landmarks: target, conditions: trainKeys } });
      trainKeys.forEach((key, c) => pushRow(out, null, key, subject, 'train', result.latents.data, result.covered, c, T, teacher.latents));
    } else {
      const target = new Float64Array(rows.length * L);
      rows.forEach((r, i) => target.set(targetMarks(ids[r]!, conditions[r]!, `brain row ${r}`), i * L));
      const result = buildTeacherLatents({ features, grid, trainTrials: train, k: teacher.latents, landmarks, target: { grid: studentGrid, landmarks: target } });
      rows.forEach((r, i) => pushRow(out, ids[r]!, conditions[r]!, subject, splits[r]!, result.latents.data, result.covered, i, T, teacher.latents));
    }
  }
  return out;
}

/** Where a brain table's epochs sit in time: samples per second and the first sample's time from the event (s). */
export interface EpochTiming {
  rate: number;
  start: number;
}

/** The epoch timing a dataset's manifest records (simulated and ingested EEG), or null when it records none. */
export function epochTimingOf(dataset: Dataset): EpochTiming | null {
  const rate = dataset.manifest.samplingRates?.brain;
  const start = dataset.manifest.extra?.epochStartSeconds;
  return typeof rate === 'number' && typeof start === 'number' ? { rate, start } : null;
}

/**
 * Mean (or, with a band, log band power) of each channel in `windows` equal windows of the samples
 * `[start, start + length)` of every listed epoch, as `[epoch, windows × channels]` rows, one array per start.
 * Band power is filtered once per epoch and channel for all the starts.
 */
function windowFeatures(all: Float32Array, rows: readonly number[], samples: number, channels: number, starts: readonly number[], length: number, windows: number, band: EpochBand | null): Float64Array[] {
  const width = windows * channels;
  const outs = starts.map(() => new Float64Array(rows.length * width));
  const edges = starts.map((from) => Array.from({ length: windows + 1 }, (_, w) => from + Math.floor((w * length) / windows)));
  const signal = new Float64Array(channels * samples);
  rows.forEach((r, i) => {
    const base = r * samples * channels;
    if (band) {
      for (let s = 0; s < samples; s++) for (let c = 0; c < channels; c++) signal[c * samples + s] = all[base + s * channels + c]!;
      for (let c = 0; c < channels; c++) {
        const power = envelope(filtfilt(band.sos, signal.subarray(c * samples, (c + 1) * samples)));
        outs.forEach((out, k) => {
          const e = edges[k]!;
          for (let w = 0; w < windows; w++) {
            let sum = 0;
            for (let s = e[w]!; s < e[w + 1]!; s++) sum += power[s]! * power[s]!;
            out[i * width + w * channels + c] = Math.log(sum / (e[w + 1]! - e[w]!) + band.floor);
          }
        });
      }
      return;
    }
    outs.forEach((out, k) => {
      const e = edges[k]!;
      for (let w = 0; w < windows; w++) {
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let s = e[w]!; s < e[w + 1]!; s++) sum += all[base + s * channels + c]!;
          out[i * width + w * channels + c] = sum / (e[w + 1]! - e[w]!);
        }
      }
    });
  });
  return outs;
}

/** A band-pass for band-power features, and the power floor that keeps the log finite on a flat channel. */
interface EpochBand {
  sos: Float64Array;
  floor: number;
}

/**
 * Driving teacher rows: each subject's EEG epochs, from scene onset on, averaged into windows (or their log band
 * power) and reduced to k latents per scene. The `evoked` reduction weighs them against the same windows of the
 * pre-stimulus baseline; `pca` uses the post-onset windows alone (the whole epoch when its timing is unknown).
 */
function sceneTeacher(brain: Table, teacher: TeacherConfig, timing: EpochTiming | null, where: string): TeacherRows {
  const field = brain.schema.fields.find((f) => f.name === 'features')!;
  const [samples, channels] = tensorShape(field, 'brain') as [number, number];
  const all = tensorRows(brain.getChild('features') as never);
  const ids = intColumn(brain, 'trial_id', 'the brain table');
  const conditions = textColumn(brain, 'condition');
  const subjects = textColumn(brain, 'subject');
  const splits = textColumn(brain, 'split');
  const onset = timing ? Math.min(samples, Math.max(0, Math.round(-timing.start * timing.rate))) : 0;
  const length = samples - onset;
  if (length < 1) throw new TeacherError(`${where}: the brain epochs end before the event (they start at ${timing!.start} s and hold ${samples} samples at ${timing!.rate} Hz); cut epochs that extend past the event.`);
  if (teacher.reduction === 'evoked') {
    if (!timing) {
      throw new TeacherError(`${where}: its manifest records no epoch start (extra.epochStartSeconds) or brain sampling rate, which the evoked teacher needs to tell the pre-stimulus baseline from the response; ingest the recording with \`b2m ingest\` (it records both), or set teacher.reduction=pca.`);
    }
    if (onset < length) {
      throw new TeacherError(
        `${where}: the evoked teacher compares the ${(length / timing.rate).toFixed(3)} s after each event with as long a baseline before it, but the epochs keep only ${(onset / timing.rate).toFixed(3)} s before the event; re-ingest with --pre ${(length / timing.rate).toFixed(3)} or more (or a shorter --post), or set teacher.reduction=pca.`,
      );
    }
  }
  let band: EpochBand | null = null;
  if (teacher.band) {
    if (!timing) throw new TeacherError(`${where}: its manifest records no brain sampling rate, which band power (teacher.band) needs; ingest the recording with \`b2m ingest\`, or drop teacher.band.`);
    const [low, high] = teacher.band;
    if (high >= timing.rate / 2) throw new TeacherError(`teacher.band is [${low}, ${high}] Hz, but the brain data is sampled at ${timing.rate} Hz; keep the band below ${timing.rate / 2} Hz (Nyquist).`);
    band = { sos: butterworthBandpass(4, low, high, timing.rate), floor: 1e-12 };
  }
  const windows = Math.min(EEG_WINDOWS, length);
  const width = windows * channels;
  const out = emptyRows();
  for (const [subject, rows] of groupRows(subjects)) {
    const starts = teacher.reduction === 'evoked' ? [onset, onset - length] : [onset];
    const [data, baseline] = windowFeatures(all, rows, samples, channels, starts, length, windows, band) as [Float64Array, Float64Array?];
    const train = rows.flatMap((r, i) => (splits[r] === 'train' ? [i] : []));
    if (train.length <= teacher.latents) {
      throw new TeacherError(`subject "${subject}" has ${train.length} training brain scenes, too few for teacher.latents = ${teacher.latents} components; lower teacher.latents or record more scenes`);
    }
    const tensor = (values: Float64Array) => ({ data: values, trials: rows.length, times: 1, features: width });
    const result = buildTeacherLatents({
      features: tensor(data),
      ...(baseline ? { baseline: tensor(baseline) } : {}),
      grid: { start: 0, step: 1, count: 1 },
      trainTrials: train,
      k: teacher.latents,
    });
    rows.forEach((r, i) => pushRow(out, ids[r]!, conditions[r]!, subject, splits[r]!, result.latents.data, result.covered, i, 1, teacher.latents));
  }
  return out;
}

function pushRow(out: TeacherRows, id: number | null, condition: string, subject: string, split: string, latents: Float64Array, covered: Uint8Array, row: number, times: number, k: number): void {
  out.trialId.push(id);
  out.condition.push(condition);
  out.subject.push(subject);
  out.split.push(split);
  out.latents.push(Array.from(latents.subarray(row * times * k, (row + 1) * times * k)));
  out.covered.push(Array.from(covered.subarray(row * times, (row + 1) * times)));
}

function teacherBatch(rows: TeacherRows, times: number, k: number) {
  const base = teacherSchema({ latents: [times, k] });
  const schema = new Schema([...base.fields, fixedShapeTensorField('covered', [times])], base.metadata);
  const batch = recordBatchFromColumns(schema, {
    trial_id: rows.trialId,
    condition: rows.condition,
    subject: rows.subject,
    split: rows.split,
    latents: Float32Array.from(rows.latents.flat()),
    covered: Float32Array.from(rows.covered.flat()),
  }, 'teacher table');
  return { schema, batch };
}

function reductionText(config: ExperimentConfig): string {
  const k = config.teacher.latents;
  return config.teacher.reduction === 'evoked' ? `the ${k} axes of largest post-onset over baseline variance` : `z-score, PCA to ${k} latents`;
}

/** The teacher settings a dataset's manifest records with its teacher tables; tables built otherwise are stale. */
export function teacherRecord(config: ExperimentConfig): Record<string, string | number | boolean | null> {
  const { latents, reduction, band, conditionAverage } = config.teacher;
  return { latents, reduction, band: band ? band.join('-') : null, conditionAverage, seed: config.seed };
}

/** The teacher-table names a strategy list needs: `teacher` for any brain strategy, `teacher-<control>` per null control. */
export function teacherTablesNeeded(strategies: readonly string[]): string[] {
  const names: string[] = [];
  if (strategies.some((s) => s !== 'isolated')) names.push('teacher');
  for (const control of NULL_CONTROLS) if (strategies.includes(control)) names.push(`teacher-${control}`);
  return names;
}

/**
 * Builds the teacher tables `config.compare.strategies` needs from the dataset's `brain` table and adds them to
 * the dataset directory (table files, then the manifest, each written under a temporary name and renamed).
 * Null controls are drawn with the config's seed before the features are extracted, as from real data.
 */
export async function writeTeacherTables(datasetDir: string, config: ExperimentConfig, strategies: readonly string[] = config.compare.strategies): Promise<TeacherTablesResult> {
  const dataset = await openDataset(datasetDir);
  if (!dataset.tables.brain) {
    throw new TeacherError(`${datasetDir} has no brain table (tables: ${Object.keys(dataset.tables).join(', ')}); teacher features come from recorded brain activity: simulate a dataset (\`b2m simulate\`) or ingest a recording (\`b2m ingest\`).`);
  }
  const needed = teacherTablesNeeded(strategies.length > 0 ? strategies : ['contrastive']);
  const brain = await dataset.read('brain');
  const rnn = config.experiment === 'memory-decision';
  if (rnn && !dataset.tables.trials) {
    throw new TeacherError(`${datasetDir} has a brain table but no trials table; the memory-decision teacher aligns brain trials to the student's trials. Add the task trials (\`b2m ingest csv\` or \`b2m simulate memory-decision\`).`);
  }
  const timing = rnn ? await taskTiming(dataset) : null;
  const written: TeacherTablesResult['tables'] = [];
  const entries: Record<string, ManifestTable> = {};
  for (const name of needed) {
    const control = name === 'teacher' ? null : (name.slice('teacher-'.length) as NullControl);
    const source = control ? nullControlBrainTable(brain, control, config.seed) : brain;
    const rows = rnn ? decisionTeacher(source, timing!, config.teacher) : sceneTeacher(source, config.teacher, epochTimingOf(dataset), datasetDir);
    const times = rnn ? timing!.timeBins : 1;
    const { schema, batch } = teacherBatch(rows, times, config.teacher.latents);
    const file = path.join(dataset.dir, `${name}.arrow`);
    const result = await writeTable(file, batch, { kind: 'teacher', schema });
    const layout = validateSchema('teacher', result.schema, file);
    entries[name] = {
      kind: 'teacher',
      files: result.files.map((f) => path.basename(f)),
      rows: result.rows,
      shapes: layout.tensors,
      description: `${control ? `null control ${control}: ` : ''}per subject, ${reductionText(config)}${config.teacher.conditionAverage ? ', condition averages' : ''}${rnn ? ", aligned to the student's trials by task events" : `, from ${config.teacher.band ? `log ${config.teacher.band.join('–')} Hz power in ` : ''}time windows of each EEG epoch after onset`}`,
    };
    written.push({ name, rows: result.rows, shape: [times, config.teacher.latents] });
  }
  await updateManifest(dataset.dir, entries, teacherRecord(config));
  return { tables: written };
}

async function updateManifest(dir: string, entries: Record<string, ManifestTable>, teacher: Record<string, unknown>): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  const current = JSON.parse(await readFile(file, 'utf8')) as { tables: Record<string, ManifestTable>; extra?: Record<string, unknown> };
  const next = parseManifest({ ...current, tables: { ...current.tables, ...entries }, extra: { ...(current.extra ?? {}), teacher } }, file);
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, serializeManifest(next));
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}
