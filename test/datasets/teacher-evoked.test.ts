/** @file The evoked reduction: generalized-eigen properties, Ledoit–Wolf shrinkage against a direct reference, and recovery of an evoked axis that PCA misses. */
import { describe, expect, it } from 'vitest';
import { buildTeacherLatents, fitEvoked, fitPca, projectEvoked, type TrialTensor } from '../../datasets/teacher/index.js';
import { DatasetError } from '../../datasets/errors.js';
import { seeded } from './teacher-random.js';

/** Samples (rows) → covariance with divisor n - 1 and mean. */
function covariance(rows: Float64Array[], d: number): { mean: Float64Array; cov: Float64Array } {
  const n = rows.length;
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j]! / n;
  const cov = new Float64Array(d * d);
  for (const r of rows) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] += ((r[a]! - mean[a]!) * (r[b]! - mean[b]!)) / (n - 1);
  return { mean, cov };
}

/** Ledoit–Wolf intensity written from the paper's definitions, with the per-sample sum spelled out. */
function ledoitWolfReference(rows: Float64Array[], d: number): number {
  const n = rows.length;
  const { mean, cov } = covariance(rows, d);
  const s = cov.map((v) => (v * (n - 1)) / n);
  let mu = 0;
  for (let a = 0; a < d; a++) mu += s[a * d + a]! / d;
  let d2 = 0;
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) d2 += (s[a * d + b]! - (a === b ? mu : 0)) ** 2;
  let b2 = 0;
  for (const r of rows) {
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) b2 += ((r[a]! - mean[a]!) * (r[b]! - mean[b]!) - s[a * d + b]!) ** 2;
  }
  return Math.min(b2 / (n * n), d2) / d2;
}

function quadratic(u: Float64Array, m: Float64Array, v: Float64Array, d: number): number {
  let s = 0;
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) s += u[a]! * m[a * d + b]! * v[b]!;
  return s;
}

/**
 * Trials with strong ongoing activity along `loud` (in baseline and response alike) and an evoked response only
 * after onset along `evokedAxis`, weaker in raw variance than the ongoing activity.
 */
function synthetic(trials: number, d: number, seed: number) {
  const rng = seeded(seed);
  const loud = new Float64Array(d).map((_, i) => (i < d / 2 ? 1 : 0));
  const evokedAxis = new Float64Array(d).map((_, i) => (i % 2 === 0 ? 1 : -1) / Math.sqrt(d));
  const post = new Float64Array(trials * d);
  const base = new Float64Array(trials * d);
  const amplitude = new Float64Array(trials);
  for (let t = 0; t < trials; t++) {
    const gPost = 3 * rng.normal();
    const gBase = 3 * rng.normal();
    const evoked = 1.5 * rng.normal();
    amplitude[t] = evoked;
    for (let j = 0; j < d; j++) {
      post[t * d + j] = gPost * loud[j]! + evoked * evokedAxis[j]! + 0.5 * rng.normal();
      base[t * d + j] = gBase * loud[j]! + 0.5 * rng.normal();
    }
  }
  const tensor = (data: Float64Array): TrialTensor => ({ data, trials, times: 1, features: d });
  return { post: tensor(post), baseline: tensor(base), evokedAxis, loud, amplitude };
}

function rowsOf(t: TrialTensor, train: number[]): Float64Array[] {
  return train.map((i) => Float64Array.from(t.data.subarray(i * t.features, (i + 1) * t.features)));
}

describe('fitEvoked', () => {
  const d = 10;
  const { post, baseline, evokedAxis, loud, amplitude } = synthetic(300, d, 5);
  const train = Array.from({ length: 240 }, (_, i) => i);

  it('shrinks the baseline covariance by the Ledoit–Wolf intensity of a direct reference', () => {
    const model = fitEvoked(post, baseline, train, 3);
    const reference = ledoitWolfReference(rowsOf(baseline, train), d);
    expect(reference).toBeGreaterThan(0);
    expect(model.shrinkage).toBeCloseTo(reference, 10);
  });

  it('gives axes with unit baseline variance, uncorrelated, whose response variance is the ratio', () => {
    const k = 4;
    const model = fitEvoked(post, baseline, train, k);
    const noise = covariance(rowsOf(baseline, train), d);
    let mu = 0;
    for (let a = 0; a < d; a++) mu += noise.cov[a * d + a]! / d;
    const shrunk = noise.cov.map((v, ij) => (1 - model.shrinkage) * v + (Math.floor(ij / d) === ij % d ? model.shrinkage * mu : 0));
    const signal = covariance(rowsOf(post, train), d);
    const axis = (q: number) => model.components.subarray(q * d, (q + 1) * d);
    for (let p = 0; p < k; p++) {
      for (let q = 0; q < k; q++) {
        expect(quadratic(axis(p), shrunk, axis(q), d)).toBeCloseTo(p === q ? 1 : 0, 9);
        expect(quadratic(axis(p), signal.cov, axis(q), d)).toBeCloseTo(p === q ? model.ratios[p]! : 0, 8);
      }
    }
    for (let q = 1; q < d; q++) expect(model.ratios[q]!).toBeLessThanOrEqual(model.ratios[q - 1]!);
    // No direction beats the first axis's ratio of response to baseline variance.
    const rng = seeded(9);
    for (let trial = 0; trial < 200; trial++) {
      const v = new Float64Array(d).map(() => rng.normal());
      expect(quadratic(v, signal.cov, v, d) / quadratic(v, shrunk, v, d)).toBeLessThanOrEqual(model.ratios[0]! + 1e-9);
    }
  });

  it('finds the evoked axis where PCA finds the ongoing activity', () => {
    const model = fitEvoked(post, baseline, train, 1);
    const latents = projectEvoked(model, post);
    const pca = fitPca(post, train, 1);
    const cosine = (u: ArrayLike<number>, v: ArrayLike<number>) => {
      let uv = 0;
      let uu = 0;
      let vv = 0;
      for (let j = 0; j < d; j++) {
        uv += u[j]! * v[j]!;
        uu += u[j]! ** 2;
        vv += v[j]! ** 2;
      }
      return Math.abs(uv) / Math.sqrt(uu * vv);
    };
    expect(cosine(pca.components, loud)).toBeGreaterThan(0.95);
    expect(cosine(pca.components, evokedAxis)).toBeLessThan(0.2);
    // The latent tracks each trial's evoked amplitude.
    const truth = Array.from(amplitude);
    const x = Array.from(latents.data);
    const mx = x.reduce((a, b) => a + b, 0) / x.length;
    const my = truth.reduce((a, b) => a + b, 0) / truth.length;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    x.forEach((v, i) => {
      sxy += (v - mx) * (truth[i]! - my);
      sxx += (v - mx) ** 2;
      syy += (truth[i]! - my) ** 2;
    });
    expect(Math.abs(sxy) / Math.sqrt(sxx * syy)).toBeGreaterThan(0.9);
  });

  it('is what buildTeacherLatents uses when a baseline is given', () => {
    const out = buildTeacherLatents({ features: post, baseline, grid: { start: 0, step: 1, count: 1 }, trainTrials: train, k: 2 });
    expect(out.pca).toBeUndefined();
    expect(out.evoked!.k).toBe(2);
    expect(Array.from(out.latents.data)).toEqual(Array.from(projectEvoked(fitEvoked(post, baseline, train, 2), post).data));
  });

  it('refuses a baseline of another shape and one without variance', () => {
    const short: TrialTensor = { data: baseline.data.subarray(0, 299 * d), trials: 299, times: 1, features: d };
    expect(() => fitEvoked(post, short, train, 2)).toThrow(/cut both with the same windows/);
    const flat: TrialTensor = { data: new Float64Array(300 * d), trials: 300, times: 1, features: d };
    expect(() => fitEvoked(post, flat, train, 2)).toThrow(DatasetError);
    expect(() => fitEvoked(post, flat, train, 2)).toThrow(/teacher.reduction: pca/);
  });
});
