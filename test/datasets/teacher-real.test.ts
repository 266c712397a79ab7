import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readEdf } from '../../datasets/ingest/edf.js';
import type { Recording } from '../../datasets/ingest/recording.js';
import { DatasetError } from '../../datasets/errors.js';
import { bandPower } from '../../datasets/teacher/band-power.js';
import { cutEpochs } from '../../datasets/teacher/epochs.js';
import { buildTeacherLatents } from '../../datasets/teacher/index.js';
import { signalFromRecording } from '../../datasets/teacher/signal.js';

const edf = path.resolve(import.meta.dirname, '../../../shared/data/real/seeg/sample_seeg.edf');
const contacts = ["L'1", "L'2", "L'3", "L'4", "F'1", "F'2"];

describe('high-gamma teacher features from real sEEG (sample_seeg.edf)', () => {
  let recording: Recording;
  beforeAll(async () => {
    recording = await readEdf(edf);
  });

  it('gives finite, positive high-gamma power a small fraction of each contact broadband power', () => {
    const signal = signalFromRecording(recording, contacts);
    expect([signal.channels, signal.samples, signal.sampleRate]).toEqual([6, 20000, 1000]);
    const power = bandPower(signal, { binWidth: 0.1, log: false });
    expect(power.samples).toBe(200);
    const logPower = bandPower(signal, { binWidth: 0.1 });
    for (let c = 0; c < 6; c++) {
      const raw = signal.data.subarray(c * 20000, (c + 1) * 20000);
      let mean = 0;
      for (const x of raw) mean += x / raw.length;
      let variance = 0;
      for (const x of raw) variance += (x - mean) ** 2 / raw.length;
      const bins = Array.from(power.data.subarray(c * 200, (c + 1) * 200));
      expect(bins.every((p) => Number.isFinite(p) && p > 0)).toBe(true);
      const sorted = [...bins].sort((a, b) => a - b);
      const medianPower = sorted[100]!;
      // Intracranial high gamma is a few µV: power of order 0.1–1000 µV², far below the broadband variance.
      expect(medianPower).toBeGreaterThan(0.1);
      expect(medianPower).toBeLessThan(1000);
      expect(medianPower).toBeLessThan(variance / 5);
      for (let b = 0; b < 200; b += 17) expect(logPower.data[c * 200 + b]).toBeCloseTo(Math.log(bins[b]!), 9);
    }
  });

  it('epochs band power around the annotations and reduces it to teacher latents', () => {
    const power = bandPower(signalFromRecording(recording, contacts), { binWidth: 0.05 });
    const marks = recording.annotations.map((a) => a.onset);
    const epochs = cutEpochs(power, marks, { pre: 0.5, post: 1 });
    expect([epochs.tensor.trials, epochs.tensor.times, epochs.tensor.features]).toEqual([3, 30, 6]);
    // Marks fall on bin edges, so an epoch starts at the bin centred 25 ms after mark - 0.5 s.
    expect(epochs.grid.start).toBeCloseTo(-0.475, 9);
    const first = Math.round((marks[1]! - 0.475 - 0.025) / 0.05);
    expect(epochs.tensor.data[(1 * 30 + 0) * 6]).toBe(power.data[first]);
    const events = Array.from({ length: 18 }, (_, i) => i + 1);
    const many = cutEpochs(power, events, { pre: 0.5, post: 0.5 });
    const latents = buildTeacherLatents({ features: many.tensor, grid: many.grid, trainTrials: events.slice(0, 12).map((_, i) => i), k: 3 });
    expect([latents.latents.trials, latents.latents.times, latents.latents.features]).toEqual([18, 20, 3]);
    expect(latents.latents.data.every(Number.isFinite)).toBe(true);
    const ratios = Array.from(latents.pca!.explainedVarianceRatio);
    expect(ratios[0]).toBeGreaterThan(1 / 6);
    expect(ratios.reduce((s, r) => s + r, 0)).toBeLessThanOrEqual(1 + 1e-12);
  });

  it('names a channel the recording lacks and an annotation too close to the end', () => {
    expect(() => signalFromRecording(recording, ["L'1", 'Cz'])).toThrow(DatasetError);
    expect(() => signalFromRecording(recording, ["L'1", 'Cz'])).toThrow(/no channel named 'Cz'/);
    const power = bandPower(signalFromRecording(recording, ["L'1"]), { binWidth: 0.05 });
    expect(() => cutEpochs(power, [5, 19.8], { pre: 0.5, post: 1 })).toThrow(/event 1 at 19.8 s/);
  });
});
