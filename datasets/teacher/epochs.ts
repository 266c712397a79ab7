/** @file Cutting trial epochs around event times out of a continuous multichannel recording. */
import { DatasetError } from '../errors.js';
import type { ContinuousSignal, FloatArray, TimeGrid, TrialTensor } from './types.js';

/** Window around each event, in seconds: `pre` before it and `post` after it (both non-negative). */
export interface EpochWindow {
  pre: number;
  post: number;
}

/** Epochs in the `[trial, time, channel]` layout, the grid giving each sample's time relative to its event. */
export interface Epochs<T extends FloatArray = FloatArray> {
  tensor: TrialTensor<T>;
  grid: TimeGrid;
  /** Sample index of each event in the continuous recording. */
  eventSamples: Int32Array;
}

/**
 * Cuts one epoch per event: samples `[e - round(pre·fs), e + round(post·fs))` where `e = round((t - t₀)·fs)` is the
 * event's sample and `t₀` the signal's `startTime`, transposed to `[trial, time, channel]`. The output has the input's float type. An event whose
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
  const before = Math.round(window.pre * sampleRate);
  const length = before + Math.round(window.post * sampleRate);
  if (length === 0) throw new DatasetError('cutEpochs: the window holds no samples; widen pre or post.');
  const trials = eventTimes.length;
  const eventSamples = new Int32Array(trials);
  for (let i = 0; i < trials; i++) {
    const t = eventTimes[i]!;
    const first = Math.round((t - t0) * sampleRate) - before;
    if (!Number.isFinite(t) || first < 0 || first + length > samples) {
      const end = t0 + samples / sampleRate;
      throw new DatasetError(
        `cutEpochs: event ${i} at ${t} s needs samples [${first}, ${first + length}) but the recording has ` +
          `[0, ${samples}) (${t0} to ${end} s); drop the event or shorten the window (pre=${window.pre} s, post=${window.post} s).`,
      );
    }
    eventSamples[i] = first + before;
  }
  const out = new (data.constructor as new (n: number) => T)(trials * length * channels);
  for (let i = 0; i < trials; i++) {
    const first = eventSamples[i]! - before;
    const base = i * length * channels;
    for (let c = 0; c < channels; c++) {
      const src = c * samples + first;
      for (let s = 0; s < length; s++) out[base + s * channels + c] = data[src + s]!;
    }
  }
  return {
    tensor: { data: out, trials, times: length, features: channels },
    grid: { start: -before / sampleRate, step: 1 / sampleRate, count: length },
    eventSamples,
  };
}
