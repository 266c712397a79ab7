/** @file The array layouts teacher-feature extraction works on (continuous signals, trial tensors, time grids) and their checks. */
import { DatasetError } from '../errors.js';

/** A float buffer as the data layer hands it over: Arrow columns are float32, our numerics run in float64. */
export type FloatArray = Float32Array | Float64Array;

/**
 * A continuous multichannel recording, channel-major: sample `s` of channel `c` is `data[c * samples + s]`.
 * `channelNames`, when present, is used in error messages.
 */
export interface ContinuousSignal {
  data: FloatArray;
  channels: number;
  samples: number;
  /** Samples per second. */
  sampleRate: number;
  /** Time of sample 0 in seconds on the recording's clock (event times use the same clock); 0 when absent. */
  startTime?: number;
  channelNames?: readonly string[];
}

/**
 * Per-trial features over time, trial-major then time-major: feature `f` at time bin `t` of trial `i` is
 * `data[(i * times + t) * features + f]`, the `[time, features]` layout of the trials table's tensors.
 */
export interface TrialTensor<T extends FloatArray = FloatArray> {
  data: T;
  trials: number;
  times: number;
  features: number;
}

/** Evenly spaced times, in seconds: `start + i * step` for `i` in `[0, count)`. */
export interface TimeGrid {
  start: number;
  step: number;
  count: number;
}

/** Time of bin `i` on a grid. */
export function gridTime(grid: TimeGrid, i: number): number {
  return grid.start + i * grid.step;
}

/**
 * Checks that `trials` lists distinct, in-range trial indices (at least `min` of them) and returns them as an
 * Int32Array; `what` names the caller and the list in the error.
 */
export function checkTrialIndices(trials: ArrayLike<number>, count: number, what: string, min = 1): Int32Array {
  if (trials.length < min) {
    throw new DatasetError(`${what}: needs at least ${min} trial${min === 1 ? '' : 's'}, got ${trials.length}.`);
  }
  const out = new Int32Array(trials.length);
  const seen = new Uint8Array(count);
  for (let i = 0; i < trials.length; i++) {
    const t = trials[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= count) {
      throw new DatasetError(`${what}: entry ${i} is ${t}, not a trial index in [0, ${count}).`);
    }
    if (seen[t]) throw new DatasetError(`${what}: trial ${t} is listed twice (entry ${i}); list each trial once.`);
    seen[t] = 1;
    out[i] = t;
  }
  return out;
}

/** Checks that a tensor's buffer holds trials × times × features values; `what` names the caller. */
export function checkTensor(tensor: TrialTensor, what: string): void {
  const { data, trials, times, features } = tensor;
  if (data.length !== trials * times * features) {
    throw new DatasetError(
      `${what}: tensor data has ${data.length} values but trials × times × features = ${trials} × ${times} × ${features}.`,
    );
  }
}
