/**
 * @file The evoked reduction: the k axes along which post-stimulus brain features vary most relative to ongoing
 * activity, i.e. the generalized eigenvectors of the post-stimulus covariance against the covariance of the same
 * features cut from the pre-stimulus baseline (shrunk by Ledoit and Wolf's estimator).
 *
 * PCA keeps the directions of largest variance, which in EEG are the ongoing background (1/f activity, alpha)
 * rather than what a stimulus evokes. Whitening by the baseline's covariance first makes ongoing activity equally
 * loud in every direction, so what stands out is the variance the stimulus adds: the same idea as noise-normalized
 * source estimates and signal-to-noise-maximizing spatial filters in EEG/MEG analysis.
 */
import { DatasetError } from '../errors.js';
import { symmetricEigen } from './eigen.js';
import { projectOnAxes, sampleMoments } from './moments.js';
import { checkTensor, checkTrialIndices, type TrialTensor } from './types.js';

export interface EvokedModel {
  features: number;
  k: number;
  /** Per-feature mean of the training rows' post-stimulus features, subtracted before projection. */
  mean: Float64Array;
  /** The k axes as rows (k × features): a latent is `(x - mean) · axis`. Unit variance of ongoing activity along each. */
  components: Float64Array;
  /**
   * Post-stimulus variance over baseline variance along every generalized eigenvector (all `features` of them,
   * descending): 1 where the stimulus adds nothing, more where it evokes activity.
   */
  ratios: Float64Array;
  /** Ledoit–Wolf shrinkage intensity applied to the baseline covariance (0: sample covariance; 1: scaled identity). */
  shrinkage: number;
}

/**
 * Ledoit and Wolf's (2004) optimal shrinkage intensity of a sample covariance toward `trace / d · I`, from the
 * samples' squared norms: b² = (Σ‖xₖ‖⁴ / n − ‖S‖²) / n against d² = ‖S − μI‖², with S the 1/n covariance.
 */
function ledoitWolf(tensor: TrialTensor, train: Int32Array, mean: Float64Array, cov: Float64Array, n: number): number {
  const { data, times, features: d } = tensor;
  const scale = (n - 1) / n;
  let trace = 0;
  for (let i = 0; i < d; i++) trace += cov[i * d + i]! * scale;
  const mu = trace / d;
  let frob = 0;
  let dist = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const s = cov[i * d + j]! * scale;
      frob += s * s;
      dist += (s - (i === j ? mu : 0)) ** 2;
    }
  }
  let fourth = 0;
  for (const t of train) {
    for (let o = t * times * d; o < (t + 1) * times * d; o += d) {
      let sq = 0;
      for (let f = 0; f < d; f++) sq += (data[o + f]! - mean[f]!) ** 2;
      fourth += sq * sq;
    }
  }
  const b2 = Math.min(dist, Math.max(0, (fourth / n - frob) / n));
  return dist > 0 ? b2 / dist : 1;
}

/** Row-major d × d product `a · b`. */
function multiply(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const oi = i * d;
    for (let k = 0; k < d; k++) {
      const aik = a[oi + k]!;
      if (aik === 0) continue;
      const bk = k * d;
      for (let j = 0; j < d; j++) out[oi + j] = out[oi + j]! + aik * b[bk + j]!;
    }
  }
  return out;
}

/**
 * Fits the evoked reduction on the training trials: `post` holds each trial's features after the stimulus and
 * `baseline` the same features (same shape, same windows) cut from before it. The baseline covariance is shrunk
 * (Ledoit–Wolf), its inverse square root whitens the post-stimulus covariance, and the k leading eigenvectors of
 * the whitened covariance, mapped back, are the axes. Held-out trials enter neither covariance.
 */
export function fitEvoked(post: TrialTensor, baseline: TrialTensor, trainTrials: ArrayLike<number>, k: number): EvokedModel {
  checkTensor(post, 'fitEvoked post');
  checkTensor(baseline, 'fitEvoked baseline');
  const d = post.features;
  if (baseline.trials !== post.trials || baseline.times !== post.times || baseline.features !== d) {
    throw new DatasetError(
      `fitEvoked: the baseline is [${baseline.trials}, ${baseline.times}, ${baseline.features}] but the post-stimulus features are [${post.trials}, ${post.times}, ${d}]; cut both with the same windows from every trial.`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > d) {
    throw new DatasetError(`fitEvoked: k must be an integer from 1 to the number of features (${d}), got ${k}.`);
  }
  const train = checkTrialIndices(trainTrials, post.trials, 'fitEvoked trainTrials');
  if (train.length * post.times < 2) throw new DatasetError(`fitEvoked: the training split has ${train.length * post.times} sample(s); the reduction needs at least 2.`);
  const signal = sampleMoments(post, train);
  const noise = sampleMoments(baseline, train);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += noise.cov[i * d + i]!;
  if (!(trace > 0) || !Number.isFinite(trace)) {
    throw new DatasetError(
      'fitEvoked: the pre-stimulus baseline has no variance, so there is no ongoing activity to weigh the evoked response against; use the PCA reduction (teacher.reduction: pca) for noiseless data.',
    );
  }
  const shrinkage = ledoitWolf(baseline, train, noise.mean, noise.cov, noise.n);
  const mu = trace / d;
  const shrunk = noise.cov.map((v, ij) => (1 - shrinkage) * v + (Math.floor(ij / d) === ij % d ? shrinkage * mu : 0));
  const eig = symmetricEigen(shrunk, d);
  const floor = eig.values[0]! * 1e-12;
  const whiten = new Float64Array(d * d);
  for (let q = 0; q < d; q++) {
    const f = 1 / Math.sqrt(Math.max(eig.values[q]!, floor));
    const vq = eig.vectors.subarray(q * d, (q + 1) * d);
    for (let a = 0; a < d; a++) {
      const fa = f * vq[a]!;
      for (let b = 0; b < d; b++) whiten[a * d + b] = whiten[a * d + b]! + fa * vq[b]!;
    }
  }
  const whitened = multiply(multiply(whiten, signal.cov, d), whiten, d);
  for (let a = 0; a < d; a++) {
    for (let b = a + 1; b < d; b++) {
      const v = (whitened[a * d + b]! + whitened[b * d + a]!) / 2;
      whitened[a * d + b] = v;
      whitened[b * d + a] = v;
    }
  }
  const gen = symmetricEigen(whitened, d);
  const components = new Float64Array(k * d);
  for (let q = 0; q < k; q++) {
    const vq = gen.vectors.subarray(q * d, (q + 1) * d);
    for (let a = 0; a < d; a++) {
      const va = vq[a]!;
      for (let b = 0; b < d; b++) components[q * d + b] = components[q * d + b]! + va * whiten[a * d + b]!;
    }
  }
  return { features: d, k, mean: signal.mean, components, ratios: gen.values.map((v) => Math.max(0, v)), shrinkage };
}

/** Projects every trial onto the model's axes: `(x - mean) · componentsᵀ`, giving `[trial, time, k]`. */
export function projectEvoked(model: EvokedModel, tensor: TrialTensor): TrialTensor<Float64Array> {
  return projectOnAxes(model, tensor, 'projectEvoked');
}
