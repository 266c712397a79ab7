/**
 * @file Time alignment: piecewise-linear warps between trials' landmark events (fixation, offer 1, delay,
 * offer 2, go…) that resample a brain trial's time course onto a student trial's time grid.
 */
import { DatasetError } from '../errors.js';
import { checkTensor, gridTime, type TimeGrid, type TrialTensor } from './types.js';

function checkIncreasing(landmarks: ArrayLike<number>, offset: number, count: number, what: string): void {
  for (let m = 0; m < count; m++) {
    const v = landmarks[offset + m]!;
    if (!Number.isFinite(v)) throw new DatasetError(`${what}: landmark ${m} is ${v}; landmark times must be finite seconds.`);
    if (m > 0 && !(v > landmarks[offset + m - 1]!)) {
      throw new DatasetError(`${what}: landmark ${m} (${v} s) does not come after landmark ${m - 1} (${landmarks[offset + m - 1]} s); landmarks must increase.`);
    }
  }
}

/**
 * Maps times on one trial's clock to another's: the piecewise-linear function through the landmark pairs
 * `(from[m], to[m])`, so `from[m]` goes exactly to `to[m]`. Before the first and after the last landmark it
 * continues with slope 1 (time is shifted, not stretched, outside the landmarks); with no landmarks it is the
 * identity. Landmarks must increase strictly on both clocks.
 */
export function warpTimes(
  times: ArrayLike<number>,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  fromOffset = 0,
  toOffset = 0,
  count = from.length,
): Float64Array {
  const out = new Float64Array(times.length);
  let seg = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (count === 0) {
      out[i] = t;
      continue;
    }
    if (t <= from[fromOffset]!) {
      out[i] = to[toOffset]! + (t - from[fromOffset]!);
      continue;
    }
    if (t >= from[fromOffset + count - 1]!) {
      out[i] = to[toOffset + count - 1]! + (t - from[fromOffset + count - 1]!);
      continue;
    }
    if (seg >= count - 1 || t < from[fromOffset + seg]!) seg = 0;
    while (t >= from[fromOffset + seg + 1]!) seg++;
    const f0 = from[fromOffset + seg]!;
    const f1 = from[fromOffset + seg + 1]!;
    const t0 = to[toOffset + seg]!;
    const t1 = to[toOffset + seg + 1]!;
    out[i] = t === f0 ? t0 : t0 + ((t - f0) * (t1 - t0)) / (f1 - f0);
  }
  return out;
}

/** Where the output rows come from and which grid and landmarks they are aligned to. */
export interface AlignTarget {
  grid: TimeGrid;
  /** Landmark times on the target clock: one set of L shared by all rows, or rows × L. */
  landmarks?: ArrayLike<number>;
  /** The source trial for each output row; by default row i comes from source trial i. */
  sourceRows?: ArrayLike<number>;
}

export interface Aligned {
  tensor: TrialTensor<Float64Array>;
  grid: TimeGrid;
  /** 1 where the warped time fell inside the source's recorded span, 0 where the edge value was held. */
  covered: Uint8Array;
}

/**
 * Resamples source trials onto the target grid: each target time is warped to the source trial's clock through
 * the landmarks (see `warpTimes`) and the source is read there by linear interpolation between its bins.
 * Outside the source's span the nearest edge value is held and `covered` says so. Positions within 1e-9 bins of
 * a source bin read that bin exactly, so matching grids and landmarks reproduce the source bit for bit. With no
 * landmarks on either side this is plain resampling on a common clock.
 */
export function alignTrials(
  source: TrialTensor,
  sourceGrid: TimeGrid,
  sourceLandmarks: ArrayLike<number> | undefined,
  target: AlignTarget,
): Aligned {
  checkTensor(source, 'alignTrials');
  if (sourceGrid.count !== source.times) {
    throw new DatasetError(`alignTrials: the source grid has ${sourceGrid.count} times but the tensor has ${source.times}.`);
  }
  if (!(sourceGrid.step > 0) || !(target.grid.step > 0)) {
    throw new DatasetError(`alignTrials: grid steps must be positive, got source ${sourceGrid.step} s and target ${target.grid.step} s.`);
  }
  const rows = target.sourceRows?.length ?? source.trials;
  if (target.sourceRows) {
    for (let r = 0; r < rows; r++) {
      const s = target.sourceRows[r]!;
      if (!Number.isInteger(s) || s < 0 || s >= source.trials) {
        throw new DatasetError(`alignTrials: target row ${r} names source trial ${s}, outside [0, ${source.trials}).`);
      }
    }
  }
  const count = sourceLandmarks ? sourceLandmarks.length / source.trials : 0;
  if (!Number.isInteger(count)) {
    throw new DatasetError(`alignTrials: ${sourceLandmarks!.length} source landmarks do not divide evenly among ${source.trials} trials.`);
  }
  const targetLandmarks = target.landmarks ?? [];
  const shared = targetLandmarks.length === count;
  if (!shared && targetLandmarks.length !== rows * count) {
    throw new DatasetError(
      `alignTrials: the source has ${count} landmarks per trial, so the target needs ${count} shared landmarks or ${count} for each of its ${rows} rows; it has ${targetLandmarks.length}.`,
    );
  }
  if (count > 0) {
    for (let t = 0; t < source.trials; t++) checkIncreasing(sourceLandmarks!, t * count, count, `alignTrials source trial ${t}`);
    for (let r = 0; r < (shared ? 1 : rows); r++) checkIncreasing(targetLandmarks, r * count, count, `alignTrials target row ${r}`);
  }
  const { features } = source;
  const { grid } = target;
  const times = new Float64Array(grid.count);
  for (let i = 0; i < grid.count; i++) times[i] = gridTime(grid, i);
  const out = new Float64Array(rows * grid.count * features);
  const covered = new Uint8Array(rows * grid.count);
  const last = source.times - 1;
  for (let r = 0; r < rows; r++) {
    const s = target.sourceRows ? target.sourceRows[r]! : r;
    const warped = warpTimes(times, targetLandmarks, sourceLandmarks ?? [], shared ? 0 : r * count, s * count, count);
    const srcBase = s * source.times * features;
    for (let i = 0; i < grid.count; i++) {
      let x = (warped[i]! - sourceGrid.start) / sourceGrid.step;
      const nearest = Math.round(x);
      if (Math.abs(x - nearest) < 1e-9) x = nearest;
      covered[r * grid.count + i] = x >= 0 && x <= last ? 1 : 0;
      x = Math.min(Math.max(x, 0), last);
      const j = Math.floor(x);
      const w = x - j;
      const dst = (r * grid.count + i) * features;
      const a = srcBase + j * features;
      if (w === 0) {
        for (let f = 0; f < features; f++) out[dst + f] = source.data[a + f]!;
      } else {
        const b = a + features;
        for (let f = 0; f < features; f++) out[dst + f] = (1 - w) * source.data[a + f]! + w * source.data[b + f]!;
      }
    }
  }
  return { tensor: { data: out, trials: rows, times: grid.count, features }, grid, covered };
}
