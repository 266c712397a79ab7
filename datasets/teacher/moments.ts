/** @file Sample mean and covariance of trial tensors, fit on a subset of trials (PCA, the evoked reduction). */
import type { TrialTensor } from './types.js';

/** Mean and sample covariance (divisor n - 1) over every time bin of the listed trials, each bin a sample (`n` of them). */
export function sampleMoments(tensor: TrialTensor, train: Int32Array): { mean: Float64Array; cov: Float64Array; n: number } {
  const { data, times, features: d } = tensor;
  const n = train.length * times;
  const mean = new Float64Array(d);
  for (const t of train) {
    for (let o = t * times * d; o < (t + 1) * times * d; o += d) for (let f = 0; f < d; f++) mean[f] = mean[f]! + data[o + f]!;
  }
  for (let f = 0; f < d; f++) mean[f] = mean[f]! / n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (const t of train) {
    for (let o = t * times * d; o < (t + 1) * times * d; o += d) {
      for (let f = 0; f < d; f++) row[f] = data[o + f]! - mean[f]!;
      for (let i = 0; i < d; i++) {
        const ri = row[i]!;
        for (let j = i; j < d; j++) cov[i * d + j] = cov[i * d + j]! + ri * row[j]!;
      }
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const c = cov[i * d + j]! / (n - 1);
      cov[i * d + j] = c;
      cov[j * d + i] = c;
    }
  }
  return { mean, cov, n };
}
