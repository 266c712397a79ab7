/** @file Z-scoring features with statistics from the training split only, applied to every trial. */
import { DatasetError } from '../errors.js';
import { checkTensor, checkTrialIndices, type TrialTensor } from './types.js';

/** Per-feature mean and standard deviation (population, as scikit-learn's StandardScaler) of the training split. */
export interface ZScoreStats {
  mean: Float64Array;
  std: Float64Array;
  /** Features constant over the training split: they are centred and left unscaled (std reported as 0). */
  constantFeatures: Int32Array;
}

/**
 * Mean and standard deviation of each feature over every time bin of the training trials, in two passes for
 * accuracy. Held-out trials never enter, so their statistics cannot leak into the features.
 */
export function fitZScore(tensor: TrialTensor, trainTrials: ArrayLike<number>): ZScoreStats {
  checkTensor(tensor, 'fitZScore');
  const train = checkTrialIndices(trainTrials, tensor.trials, 'fitZScore trainTrials');
  const { data, times, features } = tensor;
  const mean = new Float64Array(features);
  const sq = new Float64Array(features);
  for (const t of train) {
    for (let r = t * times; r < (t + 1) * times; r++) {
      const o = r * features;
      for (let f = 0; f < features; f++) mean[f] = mean[f]! + data[o + f]!;
    }
  }
  const n = train.length * times;
  for (let f = 0; f < features; f++) mean[f] = mean[f]! / n;
  for (const t of train) {
    for (let r = t * times; r < (t + 1) * times; r++) {
      const o = r * features;
      for (let f = 0; f < features; f++) {
        const d = data[o + f]! - mean[f]!;
        sq[f] = sq[f]! + d * d;
      }
    }
  }
  const std = new Float64Array(features);
  const constant: number[] = [];
  for (let f = 0; f < features; f++) {
    std[f] = Math.sqrt(sq[f]! / n);
    if (!(std[f]! > 0)) constant.push(f);
  }
  return { mean, std, constantFeatures: Int32Array.from(constant) };
}

/** `(x - mean) / std` per feature for every trial; constant features are only centred. */
export function applyZScore(stats: ZScoreStats, tensor: TrialTensor): TrialTensor<Float64Array> {
  checkTensor(tensor, 'applyZScore');
  const { data, features } = tensor;
  if (stats.mean.length !== features) {
    throw new DatasetError(`applyZScore: the statistics cover ${stats.mean.length} features but the tensor has ${features}.`);
  }
  const scale = new Float64Array(features);
  for (let f = 0; f < features; f++) scale[f] = stats.std[f]! > 0 ? 1 / stats.std[f]! : 1;
  const out = new Float64Array(data.length);
  for (let o = 0; o < data.length; o += features) {
    for (let f = 0; f < features; f++) out[o + f] = (data[o + f]! - stats.mean[f]!) * scale[f]!;
  }
  return { data: out, trials: tensor.trials, times: tensor.times, features };
}
