/** @file Cutting trial epochs around event times out of a continuous multichannel recording. */
import { DatasetError } from '../errors.js';
import type { ContinuousSignal, FloatArray, TimeGrid, TrialTensor } from './types.js';

/** Window around each event, in seconds: `pre` before it and `post` after it (both non-negative). */
export interface EpochWindow {
  pre: number;
  post: number;
}

/**
 * Epochs in the `[trial, time, channel]` layout. `grid` gives each sample's time relative to its event: exact when
 * events sit at the same phase of the sampling grid (on samples, or on bin edges of a binned signal), otherwise
 * each epoch's first sample lies less than one sample period after `-pre` and `grid.start` is their mean offset.
 */
export interface Epochs<T extends FloatArray = FloatArray> {
  tensor: TrialTensor<T>;
  grid: TimeGrid;
  /** Index of each epoch's first sample in the continuous recording. */
  firstSamples: Int32Array;
}

/**
 * Cuts one epoch per event: the `round((pre + post)·fs)` consecutive samples starting at the first sample whose
 * time is at or after `event - pre` (sample `s` sits at `startTime + s / fs`; a microsecond of slack absorbs
 * rounding), transposed to `[trial, time, channel]`. The output has the input's float type. An event whose
 * window leaves the recording is an error naming the event, not a silently shorter epoch.
 */
export function cutEpochs<T extends FloatArray>(
  signal: ContinuousSignal & { data: T },
  eventTimes: ArrayLike<number>,
  window: EpochWindow,
): Epochs<T> {
  const { data, channels, samples, sampleRate } = signal;
  const t0 = signal.startTime ?? 0;
  if (!(sampleRate > 0)) throw new DatasetError(`cutEpochs: sampleRate must be positive, got ${sampleRate}.`);
  if (data.length !== channels * samples) {
    throw new DatasetError(
      `cutEpochs: signal data has ${data.length} values but channels × samples = ${channels} × ${samples}.`,
    );
  }
  if (!(window.pre >= 0) || !(window.post >= 0)) {
    throw new DatasetError(`cutEpochs: window pre and post must be non-negative seconds, got pre=${window.pre}, post=${window.post}.`);
  }
  const length = Math.round((window.pre + window.post) * sampleRate);
  if (length === 0) throw new DatasetError('cutEpochs: the window holds no samples; widen pre or post.');
  const trials = eventTimes.length;
  const firstSamples = new Int32Array(trials);
  let offset = 0;
  for (let i = 0; i < trials; i++) {
    const t = eventTimes[i]!;
    const position = (t - window.pre - t0) * sampleRate;
    const first = Math.ceil(position - 1e-6 * sampleRate);
    if (!Number.isFinite(t) || first < 0 || first + length > samples) {
      const end = t0 + samples / sampleRate;
      throw new DatasetError(
        `cutEpochs: event ${i} at ${t} s needs samples [${first}, ${first + length}) but the recording has ` +
          `[0, ${samples}) (${t0} to ${end} s); drop the event or shorten the window (pre=${window.pre} s, post=${window.post} s).`,
      );
    }
    firstSamples[i] = first;
    offset += (first - position) / sampleRate;
  }
  const out = new (data.constructor as new (n: number) => T)(trials * length * channels);
  for (let i = 0; i < trials; i++) {
    const first = firstSamples[i]!;
    const base = i * length * channels;
    for (let c = 0; c < channels; c++) {
      const src = c * samples + first;
      for (let s = 0; s < length; s++) out[base + s * channels + c] = data[src + s]!;
    }
  }
  return {
    tensor: { data: out, trials, times: length, features: channels },
    grid: { start: -window.pre + (trials > 0 ? offset / trials : 0), step: 1 / sampleRate, count: length },
    firstSamples,
  };
}
