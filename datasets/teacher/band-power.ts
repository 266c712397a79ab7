/** @file Band power over time: band-pass, envelope, power, averaged into bins (e.g. high gamma, 70–150 Hz). */
import { DatasetError } from '../errors.js';
import { butterworthBandpass, envelope, filtfilt } from './filters.js';
import type { ContinuousSignal } from './types.js';

export interface BandPowerOptions {
  /** Band edges in Hz; high gamma (70–150 Hz) by default. */
  low?: number;
  high?: number;
  /** Butterworth prototype order (the band-pass has twice as many poles); 4 by default. */
  order?: number;
  /** Bin width in seconds. */
  binWidth: number;
  /** Natural log of the power (true by default): band power is log-normal-ish, and z-scoring wants it so. */
  log?: boolean;
}

/**
 * Per channel: zero-phase Butterworth band-pass, envelope by the analytic signal, instantaneous power (the
 * squared envelope), averaged over bins of `binWidth` seconds, optionally as natural log. Bin `b` averages
 * samples `[round(b·w·fs), round((b+1)·w·fs))`; a trailing partial bin is dropped. The result is a channel-major
 * signal at `1 / binWidth` Hz whose samples sit at the bin centres (its `startTime`), ready for `cutEpochs`. A
 * channel with no power in the band (flat, disconnected) cannot be logged and is an error naming it.
 */
export function bandPower(signal: ContinuousSignal, options: BandPowerOptions): ContinuousSignal & { data: Float64Array } {
  const { data, channels, samples, sampleRate } = signal;
  const low = options.low ?? 70;
  const high = options.high ?? 150;
  const log = options.log ?? true;
  const { binWidth } = options;
  if (data.length !== channels * samples) {
    throw new DatasetError(`bandPower: signal data has ${data.length} values but channels × samples = ${channels} × ${samples}.`);
  }
  const perBin = binWidth * sampleRate;
  if (!(perBin >= 1)) {
    throw new DatasetError(`bandPower: binWidth ${binWidth} s holds less than one sample at ${sampleRate} Hz; use wider bins.`);
  }
  const bins = Math.floor(samples / perBin + 1e-9);
  if (bins === 0) throw new DatasetError(`bandPower: the recording's ${samples} samples fill no ${binWidth} s bin.`);
  const sos = butterworthBandpass(options.order ?? 4, low, high, sampleRate);
  const edges = new Int32Array(bins + 1);
  for (let b = 0; b <= bins; b++) edges[b] = Math.min(samples, Math.round(b * perBin));
  const out = new Float64Array(channels * bins);
  for (let c = 0; c < channels; c++) {
    const env = envelope(filtfilt(sos, data.subarray(c * samples, (c + 1) * samples)));
    for (let b = 0; b < bins; b++) {
      let sum = 0;
      for (let s = edges[b]!; s < edges[b + 1]!; s++) sum += env[s]! * env[s]!;
      const power = sum / (edges[b + 1]! - edges[b]!);
      if (log && !(power > 0)) {
        const name = signal.channelNames?.[c] ?? `#${c}`;
        throw new DatasetError(
          `bandPower: channel ${name} has no power in ${low}–${high} Hz in bin ${b}; it is flat or disconnected: mark it bad and drop it.`,
        );
      }
      out[c * bins + b] = log ? Math.log(power) : power;
    }
  }
  return {
    data: out,
    channels,
    samples: bins,
    sampleRate: 1 / binWidth,
    startTime: (signal.startTime ?? 0) + binWidth / 2,
    ...(signal.channelNames ? { channelNames: signal.channelNames } : {}),
  };
}
