import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { binSpikes } from '../../datasets/teacher/binning.js';
import { cutEpochs } from '../../datasets/teacher/epochs.js';
import { seeded } from './teacher-random.js';

describe('cutEpochs', () => {
  const channels = 3;
  const samples = 1000;
  const fs = 100;
  // Each value encodes its channel and sample, so any misplaced copy shows.
  const data = Float32Array.from({ length: channels * samples }, (_, i) => Math.floor(i / samples) * 10000 + (i % samples));
  const signal = { data, channels, samples, sampleRate: fs, startTime: 2 };

  it('cuts [trial, time, channel] windows around events on the recording clock, keeping float32', () => {
    const events = [3, 5.004, 11.5];
    const { tensor, grid, firstSamples } = cutEpochs(signal, events, { pre: 0.2, post: 0.5 });
    expect(tensor.data).toBeInstanceOf(Float32Array);
    expect([tensor.trials, tensor.times, tensor.features]).toEqual([3, 70, 3]);
    // Event 1 falls 0.4 samples after a sample, so its first sample is 0.6 samples late: mean offset 0.2 samples.
    expect(grid.start).toBeCloseTo(-0.2 + 0.002, 9);
    expect(grid.step).toBeCloseTo(0.01, 12);
    expect(Array.from(firstSamples)).toEqual([80, 281, 930]);
    for (let i = 0; i < 3; i++) {
      for (let t = 0; t < 70; t++) {
        for (let c = 0; c < 3; c++) {
          expect(tensor.data[(i * 70 + t) * 3 + c]).toBe(c * 10000 + firstSamples[i]! + t);
        }
      }
    }
  });

  it('starts each epoch at the first bin centre at or after event - pre on a binned signal', () => {
    // Bins of 50 ms centred at 0.025 s + k·0.05 s; events on bin edges.
    const binned = { data: Float64Array.from({ length: 400 }, (_, i) => i), channels: 1, samples: 400, sampleRate: 20, startTime: 0.025 };
    const { tensor, grid, firstSamples } = cutEpochs(binned, [7, 3.5, 12], { pre: 0.5, post: 1 });
    expect(Array.from(firstSamples)).toEqual([130, 60, 230]);
    expect(grid.start).toBeCloseTo(-0.475, 9);
    expect(tensor.data[30]).toBe(60);
  });

  it('names the event whose window leaves the recording', () => {
    expect(() => cutEpochs(signal, [3, 2.1], { pre: 0.2, post: 0.5 })).toThrow(DatasetError);
    expect(() => cutEpochs(signal, [3, 2.1], { pre: 0.2, post: 0.5 })).toThrow(/event 1 at 2.1 s/);
    expect(() => cutEpochs(signal, [11.6], { pre: 0.2, post: 0.5 })).toThrow(/event 0 at 11.6 s needs samples \[940, 1010\)/);
    expect(() => cutEpochs(signal, [Number.NaN], { pre: 0.2, post: 0.5 })).toThrow(/event 0 at NaN s/);
  });
});

describe('binSpikes', () => {
  it('matches a brute-force count per bin, including spikes on bin edges', () => {
    const rng = seeded(3);
    const units = [0, 1, 2].map(() => Float64Array.from({ length: 400 }, () => Math.round(rng.uniform() * 20000) / 1000));
    // Exact edges (multiples of 10 ms away from the events) must land in the later bin.
    units[0]![0] = 5.1;
    units[0]![1] = 5.11;
    const events = [5.2, 9.75, 14];
    const width = 0.01;
    const { tensor, grid } = binSpikes(units, events, { pre: 0.1, post: 0.3 }, width);
    expect([tensor.trials, tensor.times, tensor.features]).toEqual([3, 40, 3]);
    expect(grid.start).toBeCloseTo(-0.095, 12);
    for (let i = 0; i < 3; i++) {
      for (let b = 0; b < 40; b++) {
        for (let u = 0; u < 3; u++) {
          // Integer milliseconds make the brute-force bin test exact.
          const lo = Math.round((events[i]! - 0.1) * 1000) + b * 10;
          let count = 0;
          for (const t of units[u]!) {
            const ms = Math.round(t * 1000);
            if (ms >= lo && ms < lo + 10) count++;
          }
          expect(tensor.data[(i * 40 + b) * 3 + u]).toBeCloseTo(count / width, 9);
        }
      }
    }
    expect(tensor.data[(0 * 40 + 0) * 3 + 0]).toBeGreaterThanOrEqual(100);
  });

  it('refuses a window that is not a whole number of bins, and non-finite spike times', () => {
    expect(() => binSpikes([[1]], [2], { pre: 0.1, post: 0.25 }, 0.1)).toThrow(/not a whole number of 0.1 s bins/);
    expect(() => binSpikes([[1], [1, Number.NaN]], [2], { pre: 0.1, post: 0.2 }, 0.1)).toThrow(/unit 1 spike 1 has time NaN/);
  });
});
