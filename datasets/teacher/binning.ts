/** @file Spike times to binned firing rates around events, in the `[trial, time, unit]` layout. */
import { DatasetError } from '../errors.js';
import type { EpochWindow } from './epochs.js';
import type { TimeGrid, TrialTensor } from './types.js';

/** Binned rates with the grid of bin centres relative to each event. */
export interface BinnedRates {
  tensor: TrialTensor<Float64Array>;
  grid: TimeGrid;
}

/** First index in sorted `a` whose value is `>= x`. */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedSpikes(times: ArrayLike<number>, unit: number): Float64Array {
  const out = Float64Array.from(times as ArrayLike<number>);
  let sorted = true;
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw new DatasetError(`binSpikes: unit ${unit} spike ${i} has time ${out[i]}; spike times must be finite seconds.`);
    }
    if (i > 0 && out[i]! < out[i - 1]!) sorted = false;
  }
  return sorted ? out : out.sort();
}

/**
 * Counts each unit's spikes in bins of `binWidth` seconds covering `[event - pre, event + post)` and divides by
 * the width, giving rates in spikes per second. Bin `b` is the half-open interval
 * `[event - pre + b·w, event - pre + (b+1)·w)`, so a spike on an edge falls in the later bin; edges are moved
 * 1 ns earlier so that "on the edge" survives the rounding of `event - pre + b·w` (no recording resolves spike
 * times that finely), and each edge is shared by its two bins so that none double-counts or loses a spike. The
 * window must hold a whole number of bins. Spike times need not be sorted.
 */
export function binSpikes(
  units: readonly ArrayLike<number>[],
  eventTimes: ArrayLike<number>,
  window: EpochWindow,
  binWidth: number,
): BinnedRates {
  if (!(binWidth > 0)) throw new DatasetError(`binSpikes: binWidth must be positive seconds, got ${binWidth}.`);
  if (!(window.pre >= 0) || !(window.post >= 0)) {
    throw new DatasetError(`binSpikes: window pre and post must be non-negative seconds, got pre=${window.pre}, post=${window.post}.`);
  }
  const span = window.pre + window.post;
  const bins = Math.round(span / binWidth);
  if (bins === 0 || Math.abs(bins * binWidth - span) > 1e-9 * Math.max(1, span)) {
    throw new DatasetError(
      `binSpikes: the window pre + post = ${span} s is not a whole number of ${binWidth} s bins; adjust pre, post or binWidth.`,
    );
  }
  const trials = eventTimes.length;
  const nUnits = units.length;
  const sorted = units.map((u, i) => sortedSpikes(u, i));
  const data = new Float64Array(trials * bins * nUnits);
  const rate = 1 / binWidth;
  const slack = 1e-9;
  for (let i = 0; i < trials; i++) {
    const event = eventTimes[i]!;
    if (!Number.isFinite(event)) throw new DatasetError(`binSpikes: event ${i} has time ${event}; event times must be finite seconds.`);
    const first = event - window.pre;
    for (let u = 0; u < nUnits; u++) {
      const spikes = sorted[u]!;
      let lo = lowerBound(spikes, first - slack);
      for (let b = 0; b < bins; b++) {
        const edge = first + (b + 1) * binWidth - slack;
        let hi = lo;
        while (hi < spikes.length && spikes[hi]! < edge) hi++;
        data[(i * bins + b) * nUnits + u] = (hi - lo) * rate;
        lo = hi;
      }
    }
  }
  return {
    tensor: { data, trials, times: bins, features: nUnits },
    grid: { start: -window.pre + binWidth / 2, step: binWidth, count: bins },
  };
}
