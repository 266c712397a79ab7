/** @file Averaging trials per condition key: one mean time course per condition. */
import { DatasetError } from '../errors.js';
import { checkTensor, checkTrialIndices, type TrialTensor } from './types.js';

export type ConditionKey = string | number;

export interface ConditionAverages {
  /** `[condition, time, feature]` means, rows in the order of `keys`. */
  tensor: TrialTensor<Float64Array>;
  /** The distinct keys of the averaged trials, sorted (numbers ascending, strings by code unit). */
  keys: ConditionKey[];
  /** Trials averaged into each condition. */
  counts: Int32Array;
}

/** Sorted distinct keys, checked to be all numbers or all strings; `what` names the caller. */
export function distinctKeys(keys: ArrayLike<ConditionKey>, rows: ArrayLike<number>, what: string): ConditionKey[] {
  const distinct = new Set<ConditionKey>();
  let kind: string | undefined;
  for (let i = 0; i < rows.length; i++) {
    const key = keys[rows[i]!]!;
    const type = typeof key;
    if ((type !== 'string' && type !== 'number') || (type === 'number' && !Number.isFinite(key))) {
      throw new DatasetError(`${what}: trial ${rows[i]} has condition key ${String(key)}; keys must be strings or finite numbers.`);
    }
    if (kind !== undefined && type !== kind) {
      throw new DatasetError(`${what}: trial ${rows[i]} has a ${type} condition key but earlier trials have ${kind} keys; use one kind.`);
    }
    kind = type;
    distinct.add(key);
  }
  return [...distinct].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Averages the listed trials (all trials when `trials` is absent) per condition key. Trials of one condition
 * should share their timing, or be time-aligned first (`buildTeacherLatents` does that with landmarks).
 */
export function conditionAverage(
  tensor: TrialTensor,
  keys: ArrayLike<ConditionKey>,
  trials?: ArrayLike<number>,
): ConditionAverages {
  checkTensor(tensor, 'conditionAverage');
  if (keys.length !== tensor.trials) {
    throw new DatasetError(`conditionAverage: ${keys.length} condition keys for ${tensor.trials} trials; give one key per trial.`);
  }
  const rows = checkTrialIndices(trials ?? Array.from({ length: tensor.trials }, (_, i) => i), tensor.trials, 'conditionAverage trials');
  const sorted = distinctKeys(keys, rows, 'conditionAverage');
  const index = new Map(sorted.map((k, i) => [k, i] as const));
  const block = tensor.times * tensor.features;
  const out = new Float64Array(sorted.length * block);
  const counts = new Int32Array(sorted.length);
  for (const t of rows) {
    const c = index.get(keys[t]!)!;
    counts[c] = counts[c]! + 1;
    const src = t * block;
    const dst = c * block;
    for (let j = 0; j < block; j++) out[dst + j] = out[dst + j]! + tensor.data[src + j]!;
  }
  for (let c = 0; c < sorted.length; c++) {
    const inv = 1 / counts[c]!;
    for (let j = c * block; j < (c + 1) * block; j++) out[j] = out[j]! * inv;
  }
  return { tensor: { data: out, trials: sorted.length, times: tensor.times, features: tensor.features }, keys: sorted, counts };
}
