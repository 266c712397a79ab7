import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { symmetricEigen } from '../../datasets/teacher/eigen.js';
import { fitPca, projectPca } from '../../datasets/teacher/pca.js';
import type { TrialTensor } from '../../datasets/teacher/types.js';
import { applyZScore, fitZScore } from '../../datasets/teacher/zscore.js';
import { seeded } from './teacher-random.js';

/** Trials whose held-out half is shifted and scaled far away, so any leak of its statistics shows. */
function splitData(): { tensor: TrialTensor<Float64Array>; train: number[] } {
  const rng = seeded(11);
  const trials = 20;
  const times = 5;
  const features = 4;
  const data = new Float64Array(trials * times * features);
  for (let i = 0; i < data.length; i++) {
    const trial = Math.floor(i / (times * features));
    const f = i % features;
    data[i] = trial >= 10 ? 100 + 50 * rng.normal() : f + (f + 1) * rng.normal();
  }
  return { tensor: { data, trials, times, features }, train: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] };
}

describe('z-score', () => {
  it('uses training statistics only and applies them to every trial', () => {
    const { tensor, train } = splitData();
    const stats = fitZScore(tensor, train);
    const { times, features } = tensor;
    for (let f = 0; f < features; f++) {
      const vals: number[] = [];
      for (const t of train) for (let b = 0; b < times; b++) vals.push(tensor.data[(t * times + b) * features + f]!);
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
      expect(stats.mean[f]).toBeCloseTo(mean, 12);
      expect(stats.std[f]).toBeCloseTo(std, 12);
    }
    const z = applyZScore(stats, tensor);
    const o = (13 * times + 2) * features + 1;
    expect(z.data[o]).toBeCloseTo((tensor.data[o]! - stats.mean[1]!) / stats.std[1]!, 12);
    let heldOut = 0;
    for (let t = 10; t < 20; t++) for (let b = 0; b < times; b++) heldOut += z.data[(t * times + b) * features + 1]! / 50;
    expect(heldOut).toBeGreaterThan(10);
  });

  it('centres a constant feature without dividing by zero', () => {
    const tensor = { data: Float64Array.from([1, 5, 2, 5, 3, 5]), trials: 3, times: 1, features: 2 };
    const stats = fitZScore(tensor, [0, 1, 2]);
    expect(Array.from(stats.constantFeatures)).toEqual([1]);
    expect(Array.from(applyZScore(stats, tensor).data.filter((_, i) => i % 2 === 1))).toEqual([0, 0, 0]);
  });

  it('names a bad training index', () => {
    const { tensor } = splitData();
    expect(() => fitZScore(tensor, [0, 20])).toThrow(DatasetError);
    expect(() => fitZScore(tensor, [0, 20])).toThrow(/entry 1 is 20/);
    expect(() => fitZScore(tensor, [3, 3])).toThrow(/trial 3 is listed twice/);
  });
});

describe('symmetricEigen', () => {
  it('diagonalises a random symmetric matrix: A v = λ v, orthonormal, sorted, sign fixed', () => {
    const n = 12;
    const rng = seeded(5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    const { values, vectors } = symmetricEigen(a, n);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 10);
    for (let r = 0; r < n; r++) {
      if (r > 0) expect(values[r]).toBeLessThanOrEqual(values[r - 1]!);
      let big = 0;
      for (let i = 0; i < n; i++) if (Math.abs(vectors[r * n + i]!) > Math.abs(vectors[r * n + big]!)) big = i;
      expect(vectors[r * n + big]).toBeGreaterThan(0);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[r * n + j]!;
        expect(av).toBeCloseTo(values[r]! * vectors[r * n + i]!, 10);
      }
      for (let s = 0; s <= r; s++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += vectors[r * n + i]! * vectors[s * n + i]!;
        expect(dot).toBeCloseTo(r === s ? 1 : 0, 12);
      }
    }
  });
});

describe('PCA', () => {
  it('recovers a planted low-rank subspace and its variance accounts for the total', () => {
    const rng = seeded(21);
    const features = 30;
    const k = 3;
    const trials = 200;
    const times = 10;
    const basis = rng.normals(k * features);
    const data = new Float64Array(trials * times * features);
    for (let r = 0; r < trials * times; r++) {
      const z = [3 * rng.normal(), 2 * rng.normal(), 1.5 * rng.normal()];
      for (let f = 0; f < features; f++) {
        let v = 0.05 * rng.normal() + 7;
        for (let c = 0; c < k; c++) v += z[c]! * basis[c * features + f]!;
        data[r * features + f] = v;
      }
    }
    const tensor = { data, trials, times, features };
    const model = fitPca(tensor, Array.from({ length: trials }, (_, i) => i), k);
    expect(model.variances.reduce((s, v) => s + v, 0)).toBeCloseTo(model.totalVariance, 8);
    let ratio = 0;
    for (const v of model.explainedVarianceRatio) ratio += v;
    expect(ratio).toBeGreaterThan(0.999);
    // Cosines of the principal angles: each planted direction, orthonormalised, lies in the PCA span.
    const q: Float64Array[] = [];
    for (let c = 0; c < k; c++) {
      const v = basis.slice(c * features, (c + 1) * features);
      for (const u of q) {
        const d = v.reduce((s, x, i) => s + x * u[i]!, 0);
        for (let i = 0; i < features; i++) v[i] = v[i]! - d * u[i]!;
      }
      const norm = Math.hypot(...v);
      q.push(v.map((x) => x / norm));
    }
    for (const u of q) {
      let inSpan = 0;
      for (let c = 0; c < k; c++) {
        const d = u.reduce((s, x, i) => s + x * model.components[c * features + i]!, 0);
        inSpan += d * d;
      }
      expect(inSpan).toBeGreaterThan(0.9999);
    }
    const latents = projectPca(model, tensor);
    expect([latents.trials, latents.times, latents.features]).toEqual([trials, times, k]);
    // Projected variance along each axis is that axis's eigenvalue.
    for (let c = 0; c < k; c++) {
      let s = 0;
      let s2 = 0;
      for (let r = 0; r < trials * times; r++) {
        s += latents.data[r * k + c]!;
        s2 += latents.data[r * k + c]! ** 2;
      }
      const n = trials * times;
      expect(s / n).toBeCloseTo(0, 9);
      expect((s2 - (s * s) / n) / (n - 1)).toBeCloseTo(model.variances[c]!, 8);
    }
  });

  it('fits the mean and axes on the training trials only', () => {
    const { tensor, train } = splitData();
    const model = fitPca(tensor, train, 2);
    const onTrain = fitPca({ ...tensor, data: tensor.data.slice(0, 10 * 5 * 4), trials: 10 }, train, 2);
    for (let f = 0; f < 4; f++) {
      let mean = 0;
      for (const t of train) for (let b = 0; b < 5; b++) mean += tensor.data[(t * 5 + b) * 4 + f]! / 50;
      expect(model.mean[f]).toBeCloseTo(mean, 12);
      expect(model.mean[f]).toBeLessThan(10);
    }
    expect(Array.from(model.components)).toEqual(Array.from(onTrain.components));
    expect(model.totalVariance).toBe(onTrain.totalVariance);
    expect(() => fitPca(tensor, train, 5)).toThrow(/k must be an integer from 1 to the number of features \(4\)/);
  });
});
