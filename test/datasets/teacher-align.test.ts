import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { alignTrials, warpTimes } from '../../datasets/teacher/align.js';
import { conditionAverage } from '../../datasets/teacher/condition-average.js';
import { buildTeacherLatents } from '../../datasets/teacher/index.js';
import { seeded } from './teacher-random.js';

describe('conditionAverage', () => {
  it('matches a brute-force loop over the listed trials, keys sorted', () => {
    const rng = seeded(2);
    const trials = 12;
    const times = 4;
    const features = 3;
    const data = rng.normals(trials * times * features);
    const keys = ['b', 'a', 'c', 'a', 'b', 'b', 'c', 'a', 'c', 'z', 'a', 'b'];
    const subset = [0, 1, 2, 3, 4, 6, 7, 8, 10];
    const avg = conditionAverage({ data, trials, times, features }, keys, subset);
    expect(avg.keys).toEqual(['a', 'b', 'c']);
    expect(Array.from(avg.counts)).toEqual([4, 2, 3]);
    avg.keys.forEach((key, c) => {
      for (let j = 0; j < times * features; j++) {
        let sum = 0;
        let n = 0;
        for (const t of subset) {
          if (keys[t] !== key) continue;
          sum += data[t * times * features + j]!;
          n++;
        }
        expect(avg.tensor.data[c * times * features + j]).toBeCloseTo(sum / n, 12);
      }
    });
  });

  it('sorts numeric keys numerically and refuses mixed key kinds', () => {
    const tensor = { data: Float64Array.from([1, 2, 3]), trials: 3, times: 1, features: 1 };
    expect(conditionAverage(tensor, [10, 9, 10]).keys).toEqual([9, 10]);
    expect(() => conditionAverage(tensor, [1, 'a', 1])).toThrow(DatasetError);
    expect(() => conditionAverage(tensor, [1, 'a', 1])).toThrow(/trial 1 has a string condition key/);
  });
});

describe('warpTimes and alignTrials', () => {
  const from = [0.5, 1.0, 2.2, 3.0];
  const to = [0.4, 1.3, 1.9, 3.5];

  it('maps each landmark exactly onto its target and interpolates linearly between', () => {
    expect(Array.from(warpTimes(from, from, to))).toEqual(to);
    const mid = warpTimes([0.75, 1.6, 0, 4], from, to);
    expect(mid[0]).toBeCloseTo((0.4 + 1.3) / 2, 12);
    expect(mid[1]).toBeCloseTo(1.6, 12);
    expect(mid[2]).toBeCloseTo(-0.1, 12);
    expect(mid[3]).toBeCloseTo(4.5, 12);
  });

  it('is the identity when grids and landmarks match, bit for bit', () => {
    const rng = seeded(4);
    const source = { data: rng.normals(3 * 50 * 2), trials: 3, times: 50, features: 2 };
    const grid = { start: -0.5, step: 0.1, count: 50 };
    const landmarks = [0, 1, 2.5, 0.2, 1.1, 3, -0.3, 1.4, 2];
    const out = alignTrials(source, grid, landmarks, { grid, landmarks });
    expect(Array.from(out.tensor.data)).toEqual(Array.from(source.data));
    expect(out.covered.every((c) => c === 1)).toBe(true);
  });

  it('puts source landmarks at target landmark times on another grid, holding edges outside the span', () => {
    const sourceGrid = { start: 0, step: 0.01, count: 400 };
    // A feature equal to the source time shows, at each output bin, which source time was read.
    const data = Float64Array.from({ length: 400 }, (_, i) => i * 0.01);
    const target = { grid: { start: 0, step: 0.1, count: 40 }, landmarks: [0.5, 1.0, 2.2, 3.0] };
    const out = alignTrials({ data, trials: 1, times: 400, features: 1 }, sourceGrid, to, target);
    expect(out.tensor.data[5]).toBeCloseTo(0.4, 10);
    expect(out.tensor.data[10]).toBeCloseTo(1.3, 10);
    expect(out.tensor.data[22]).toBeCloseTo(1.9, 10);
    expect(out.tensor.data[30]).toBeCloseTo(3.5, 10);
    expect(out.tensor.data[16]).toBeCloseTo(1.3 + ((1.6 - 1.0) * 0.6) / 1.2, 10);
    // Target 3.5 s maps to source 4.0 s, past the last source bin (3.99 s).
    expect(out.tensor.data[35]).toBeCloseTo(3.99, 12);
    expect(out.covered[34]).toBe(1);
    expect(out.covered[35]).toBe(0);
  });

  it('names a trial whose landmarks do not increase', () => {
    const source = { data: new Float64Array(20), trials: 2, times: 10, features: 1 };
    const grid = { start: 0, step: 0.1, count: 10 };
    expect(() => alignTrials(source, grid, [0.1, 0.5, 0.4, 0.3], { grid, landmarks: [0.1, 0.5] })).toThrow(
      /source trial 1: landmark 1 \(0.3 s\) does not come after landmark 0/,
    );
  });
});

describe('buildTeacherLatents', () => {
  // A brain population of a delayed comparison: a transient at offer 2, whose time varies with the delay, and
  // whose sign depends on the condition; the student's trials have their own delays.
  const rng = seeded(9);
  const trials = 60;
  const times = 80;
  const neurons = 12;
  const grid = { start: 0, step: 0.05, count: times };
  const loading = rng.normals(neurons);
  const keys: string[] = [];
  const landmarks: number[] = [];
  const data = new Float64Array(trials * times * neurons);
  for (let i = 0; i < trials; i++) {
    const key = i % 2 === 0 ? 'left' : 'right';
    keys.push(key);
    const offer2 = 1.5 + 1.5 * rng.uniform();
    landmarks.push(0.5, offer2, offer2 + 0.6);
    for (let t = 0; t < times; t++) {
      const bump = Math.exp(-(((t * 0.05 - offer2) / 0.1) ** 2)) * (key === 'left' ? 1 : -1);
      for (let n = 0; n < neurons; n++) data[(i * times + t) * neurons + n] = 5 + 3 * bump * loading[n]! + 0.2 * rng.normal();
    }
  }
  const features = { data, trials, times, features: neurons };
  const train = Array.from({ length: 40 }, (_, i) => i);

  it('averages per condition after aligning trials within each condition, then warps onto student trials', () => {
    const studentGrid = { start: 0, step: 0.1, count: 30 };
    const studentLandmarks = [0.5, 1.5, 2.1, 0.5, 2.5, 3.1];
    const out = buildTeacherLatents({
      features,
      grid,
      trainTrials: train,
      k: 2,
      landmarks,
      conditions: keys,
      target: { grid: studentGrid, landmarks: studentLandmarks, conditions: ['right', 'left'] },
    });
    expect(out.conditions?.keys).toEqual(['left', 'right']);
    expect(Array.from(out.conditions!.counts)).toEqual([20, 20]);
    expect([out.latents.trials, out.latents.times, out.latents.features]).toEqual([2, 30, 2]);
    expect(out.pca!.explainedVarianceRatio[0]).toBeGreaterThan(0.5);
    // The first latent peaks at each student trial's offer 2, with opposite signs for the two conditions.
    const first = (row: number): number[] => Array.from({ length: 30 }, (_, t) => out.latents.data[(row * 30 + t) * 2]!);
    const peak = (xs: number[]): number => xs.reduce((best, x, i) => (Math.abs(x) > Math.abs(xs[best]!) ? i : best), 0);
    expect(peak(first(0))).toBe(15);
    expect(peak(first(1))).toBe(25);
    expect(Math.sign(first(0)[15]!)).toBe(-Math.sign(first(1)[25]!));
    // z-score and PCA statistics come from the training trials only.
    let mean0 = 0;
    for (const t of train) for (let b = 0; b < times; b++) mean0 += data[(t * times + b) * neurons]! / (train.length * times);
    expect(out.zscore!.mean[0]).toBeCloseTo(mean0, 12);
  });

  it('keeps one row per brain trial on the brain grid without conditions or target', () => {
    const out = buildTeacherLatents({ features, grid, trainTrials: train, k: 3 });
    expect([out.latents.trials, out.latents.times, out.latents.features]).toEqual([trials, times, 3]);
    expect(out.conditions).toBeUndefined();
  });

  it('names a student condition no brain trial has', () => {
    expect(() =>
      buildTeacherLatents({
        features,
        grid,
        trainTrials: train,
        k: 2,
        landmarks,
        conditions: keys,
        target: { grid, landmarks: [0.5, 2, 2.6], conditions: ['left', 'up'] },
      }),
    ).toThrow(/target row 1 has condition up, which no training brain trial has/);
  });
});
