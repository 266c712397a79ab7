/**
 * @file Sample mean and covariance of trial tensors, fit on a subset of trials, and projection onto fitted axes:
 * what PCA and the evoked reduction share.
 */
import { DatasetError } from '../errors.js';
import { checkTensor, type TrialTensor } from './types.js';

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

/** Axes fit on centred features: `(x - mean) · componentsᵀ` gives the k latents. */
export interface LinearAxes {
  features: number;
  k: number;
  mean: Float64Array;
  /** k × features, one axis per row. */
  components: Float64Array;
}

/** Projects every trial onto the axes, giving `[trial, time, k]`; `what` names the caller in errors. */
export function projectOnAxes(model: LinearAxes, tensor: TrialTensor, what: string): TrialTensor<Float64Array> {
  checkTensor(tensor, what);
  const { data, features } = tensor;
  if (features !== model.features) {
    throw new DatasetError(`${what}: the model was fit on ${model.features} features but the tensor has ${features}.`);
  }
  const { k, mean, components } = model;
  const rows = tensor.trials * tensor.times;
  const out = new Float64Array(rows * k);
  const centred = new Float64Array(features);
  for (let r = 0; r < rows; r++) {
    const o = r * features;
    for (let f = 0; f < features; f++) centred[f] = data[o + f]! - mean[f]!;
    for (let c = 0; c < k; c++) {
      let s = 0;
      const base = c * features;
      for (let f = 0; f < features; f++) s += centred[f]! * components[base + f]!;
      out[r * k + c] = s;
    }
  }
  return { data: out, trials: tensor.trials, times: tensor.times, features: k };
}
