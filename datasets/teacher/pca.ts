/** @file PCA to k latents, fit on the training split: covariance, symmetric eigendecomposition, projection. */
import { DatasetError } from '../errors.js';
import { symmetricEigen } from './eigen.js';
import { projectOnAxes, sampleMoments } from './moments.js';
import { checkTensor, checkTrialIndices, type TrialTensor } from './types.js';

export interface PcaModel {
  features: number;
  k: number;
  /** Per-feature mean of the training rows, subtracted before projection. */
  mean: Float64Array;
  /** The k principal axes as rows (k × features), unit length, largest-magnitude entry positive. */
  components: Float64Array;
  /** Variance along every principal axis (all `features` of them, descending; sample variance, n - 1). */
  variances: Float64Array;
  /** Total variance of the training rows: the sum of `variances`, the trace of the covariance. */
  totalVariance: number;
  /** Share of the total variance each of the k kept axes explains. */
  explainedVarianceRatio: Float64Array;
}

/**
 * Fits PCA on every time bin of the training trials (each bin a sample, each feature a dimension): the sample
 * covariance, its eigendecomposition by Jacobi rotations (see `symmetricEigen` for the sign convention), the k
 * axes of largest variance. Held-out trials do not enter the mean or the covariance.
 */
export function fitPca(tensor: TrialTensor, trainTrials: ArrayLike<number>, k: number): PcaModel {
  checkTensor(tensor, 'fitPca');
  const { times, features } = tensor;
  if (!Number.isInteger(k) || k < 1 || k > features) {
    throw new DatasetError(`fitPca: k must be an integer from 1 to the number of features (${features}), got ${k}.`);
  }
  const train = checkTrialIndices(trainTrials, tensor.trials, 'fitPca trainTrials');
  const n = train.length * times;
  if (n < 2) throw new DatasetError(`fitPca: the training split has ${n} sample(s); PCA needs at least 2.`);
  const { mean, cov } = sampleMoments(tensor, train);
  const eig = symmetricEigen(cov, features);
  const variances = eig.values.map((v) => Math.max(0, v));
  let totalVariance = 0;
  for (let f = 0; f < features; f++) totalVariance += cov[f * features + f]!;
  const explainedVarianceRatio = new Float64Array(k);
  for (let i = 0; i < k; i++) explainedVarianceRatio[i] = totalVariance > 0 ? variances[i]! / totalVariance : 0;
  return {
    features,
    k,
    mean,
    components: eig.vectors.slice(0, k * features),
    variances,
    totalVariance,
    explainedVarianceRatio,
  };
}

/** Projects every trial onto the model's axes: `(x - mean) · componentsᵀ`, giving `[trial, time, k]`. */
export function projectPca(model: PcaModel, tensor: TrialTensor): TrialTensor<Float64Array> {
  return projectOnAxes(model, tensor, 'projectPca');
}
