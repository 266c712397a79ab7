/**
 * @file The brain side of training in memory: a teacher table's latents keyed by trial id or condition (brain
 * data is scarce, hundreds of rows), and the strategy's choice of teacher table.
 */
import type { Data, Utf8 } from 'apache-arrow';
import { type Dataset, tensorRows, tensorShape } from '../../datasets/index.js';
import type { Strategy } from '../config.js';
import { B2mError } from '../errors.js';
import { isNullControl } from './null-controls.js';

/** The training data does not fit the run: a missing table or column, shapes that disagree. */
export class TrainDataError extends B2mError {}

/** Teacher rows with one entry per key: rows sharing a trial id (several subjects) or a condition are averaged. */
export interface TeacherData {
  /** The table read. */
  table: string;
  /** Time bins and latents per row (`latents` column `[time, k]`). */
  times: number;
  k: number;
  /** Entries (distinct keys). */
  rows: number;
  /** `[rows, times * k]`. */
  latents: Float32Array;
  /** `[rows, times]`, 1 where brain data was recorded (the optional `covered` column), or null (all recorded). */
  covered: Float32Array | null;
  /** Entry of each paired trial id. */
  byTrial: Map<number, number>;
  /** Entry of each condition whose rows have no trial id (condition averages). */
  byCondition: Map<string, number>;
}

/** The teacher table a strategy reads: none for `isolated`, `teacher` for the B2M strategies, `teacher-<control>` for the null controls. */
export function teacherTableFor(strategy: Strategy): string | null {
  if (strategy === 'isolated') return null;
  return isNullControl(strategy) ? `teacher-${strategy}` : 'teacher';
}

const decoder = new TextDecoder();

/**
 * Reads a teacher table (every row checked: finite latents, known splits) and averages rows that share a key:
 * the trial id when present, else the condition. A `covered` tensor column `[time]`, when the table has one, says
 * where each row's latents were recorded rather than held at an edge value.
 */
export async function loadTeacher(dataset: Dataset, name: string): Promise<TeacherData> {
  if (!dataset.tables[name]) {
    throw new TrainDataError(
      `${dataset.dir} has no table "${name}" (tables: ${Object.keys(dataset.tables).join(', ')}); ` +
        'build the teacher tables with `b2m teacher DATASET` (it writes the null controls\' tables too), or train with strategy isolated',
    );
  }
  const info = dataset.table(name);
  if (info.kind !== 'teacher') throw new TrainDataError(`${dataset.dir}: table "${name}" is a ${info.kind} table, not a teacher table`);
  const table = await dataset.read(name);
  const field = table.schema.fields.find((f) => f.name === 'latents')!;
  const [times, k] = tensorShape(field, name) as [number, number];
  const latents = tensorRows(table.getChild('latents') as never);
  const coveredField = table.schema.fields.find((f) => f.name === 'covered');
  let covered: Float32Array | null = null;
  if (coveredField) {
    const shape = tensorShape(coveredField, name);
    if (shape.length !== 1 || shape[0] !== times) {
      throw new TrainDataError(`${dataset.dir}: table "${name}" column "covered" must be a [${times}] tensor (one flag per time bin), found ${JSON.stringify(shape)}`);
    }
    covered = tensorRows(table.getChild('covered') as never);
  }
  const ids = table.getChild('trial_id')!;
  const conditions: string[] = [];
  for (const chunk of table.getChild('condition')!.data as Data<Utf8>[]) {
    const offsets = chunk.valueOffsets as Int32Array;
    for (let i = 0; i < chunk.length; i++) conditions.push(decoder.decode(chunk.values.subarray(offsets[i]!, offsets[i + 1]!)));
  }
  const size = times * k;
  const byTrial = new Map<number, number>();
  const byCondition = new Map<string, number>();
  const entryOf = new Int32Array(table.numRows);
  for (let r = 0; r < table.numRows; r++) {
    const id = ids.get(r) as number | null;
    const map = id === null ? byCondition : byTrial;
    const key = (id ?? conditions[r]!) as never;
    let e = map.get(key);
    if (e === undefined) {
      e = byTrial.size + byCondition.size;
      map.set(key, e);
    }
    entryOf[r] = e;
  }
  const rows = byTrial.size + byCondition.size;
  const sum = new Float64Array(rows * size);
  const coveredSum = covered ? new Float64Array(rows * times) : null;
  const count = new Int32Array(rows);
  for (let r = 0; r < table.numRows; r++) {
    const e = entryOf[r]!;
    count[e] = count[e]! + 1;
    for (let j = 0; j < size; j++) sum[e * size + j] = sum[e * size + j]! + latents[r * size + j]!;
    if (coveredSum) for (let t = 0; t < times; t++) coveredSum[e * times + t] = Math.max(coveredSum[e * times + t]!, covered![r * times + t]!);
  }
  const out = new Float32Array(rows * size);
  for (let e = 0; e < rows; e++) for (let j = 0; j < size; j++) out[e * size + j] = sum[e * size + j]! / count[e]!;
  return {
    table: name,
    times,
    k,
    rows,
    latents: out,
    covered: coveredSum ? Float32Array.from(coveredSum) : null,
    byTrial,
    byCondition,
  };
}

/** The teacher entry of a task row: by its trial id, else by its condition; -1 when the brain has nothing for it. */
export function teacherEntry(teacher: TeacherData, trialId: number, condition: string | undefined): number {
  if (trialId >= 0) {
    const e = teacher.byTrial.get(trialId);
    if (e !== undefined) return e;
  }
  if (condition !== undefined) {
    const e = teacher.byCondition.get(condition);
    if (e !== undefined) return e;
  }
  return -1;
}

