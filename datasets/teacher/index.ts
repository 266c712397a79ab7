/**
 * @file Teacher features from brain recordings, and `buildTeacherLatents`, the chain that turns per-trial brain
 * features into the latents a student regresses onto: z-score → PCA(k) (or the evoked reduction, given a
 * pre-stimulus baseline) → optional condition average → align.
 */
import { DatasetError } from '../errors.js';
import { alignTrials, type Aligned } from './align.js';
import { conditionAverage, distinctKeys, type ConditionKey } from './condition-average.js';
import { fitEvoked, projectEvoked, type EvokedModel } from './evoked.js';
import { fitPca, projectPca, type PcaModel } from './pca.js';
import { checkTrialIndices, type TimeGrid, type TrialTensor } from './types.js';
import { applyZScore, fitZScore, type ZScoreStats } from './zscore.js';

export { alignTrials, warpTimes, type AlignTarget, type Aligned } from './align.js';
export { bandPower, type BandPowerOptions } from './band-power.js';
export { binSpikes, type BinnedRates } from './binning.js';
export { conditionAverage, type ConditionAverages, type ConditionKey } from './condition-average.js';
export { symmetricEigen, type SymmetricEigen } from './eigen.js';
export { cutEpochs, type EpochWindow, type Epochs } from './epochs.js';
export { fitEvoked, projectEvoked, type EvokedModel } from './evoked.js';
export { fft } from './fft.js';
export { analyticSignal, butterworthBandpass, envelope, filtfilt, sosFilter, type Sos } from './filters.js';
export { fitPca, projectPca, type PcaModel } from './pca.js';
export { signalFromRecording } from './signal.js';
export { gridTime, type ContinuousSignal, type FloatArray, type TimeGrid, type TrialTensor } from './types.js';
export { applyZScore, fitZScore, type ZScoreStats } from './zscore.js';

export interface TeacherLatentOptions {
  /** Brain features per trial, `[trial, time, feature]`: binned rates, band power… */
  features: TrialTensor;
  /** Time of each feature bin on the trial's clock (e.g. relative to the epoch's event). */
  grid: TimeGrid;
  /** Trials the z-score, the PCA and the condition averages are fit on; the others are only transformed. */
  trainTrials: ArrayLike<number>;
  /** Number of latents. */
  k: number;
  /**
   * The same features cut from each trial's pre-stimulus baseline (same shape as `features`). When given, the
   * reduction is the evoked one (`fitEvoked`: axes of largest post-stimulus over baseline variance) instead of
   * z-score → PCA.
   */
  baseline?: TrialTensor;
  /** Landmark event times per trial (trials × L) on the features' clock, for alignment. */
  landmarks?: ArrayLike<number>;
  /** A condition key per trial: when given, the training trials are averaged per condition. */
  conditions?: ArrayLike<ConditionKey>;
  /**
   * The student's time grid and landmarks (L shared, or L per output row). Output rows are the brain trials, or
   * `sourceRows` (brain trial per row) when averaging is off, or one per entry of `conditions` (the condition of
   * each output row) when it is on. Absent: the latents stay on the brain's grid, one row per trial or condition.
   */
  target?: { grid: TimeGrid; landmarks?: ArrayLike<number>; sourceRows?: ArrayLike<number>; conditions?: ArrayLike<ConditionKey> };
}

export interface TeacherLatents {
  /** `[row, time, k]` latents on the output grid. */
  latents: TrialTensor<Float64Array>;
  grid: TimeGrid;
  /** Per row and time: 1 where brain data was recorded, 0 where the edge value was held. */
  covered: Uint8Array;
  /** The z-score and PCA of the default reduction; absent when a baseline selected the evoked one. */
  zscore?: ZScoreStats;
  pca?: PcaModel;
  /** The evoked reduction, when a baseline was given. */
  evoked?: EvokedModel;
  /** When averaging: the condition keys (in averaged-row order) and their training trial counts. */
  conditions?: { keys: ConditionKey[]; counts: Int32Array };
}

/** Each condition's mean landmarks over its training trials, and every training trial warped onto them. */
function alignWithinConditions(
  latents: TrialTensor,
  grid: TimeGrid,
  landmarks: ArrayLike<number>,
  keys: ArrayLike<ConditionKey>,
  train: Int32Array,
): { aligned: TrialTensor<Float64Array>; alignedKeys: ConditionKey[]; templates: Float64Array } {
  const count = landmarks.length / latents.trials;
  const sorted = distinctKeys(keys, train, 'buildTeacherLatents');
  const index = new Map(sorted.map((k, i) => [k, i] as const));
  const templates = new Float64Array(sorted.length * count);
  const n = new Int32Array(sorted.length);
  for (const t of train) {
    const c = index.get(keys[t]!)!;
    n[c] = n[c]! + 1;
    for (let m = 0; m < count; m++) templates[c * count + m] = templates[c * count + m]! + landmarks[t * count + m]!;
  }
  for (let c = 0; c < sorted.length; c++) for (let m = 0; m < count; m++) templates[c * count + m] = templates[c * count + m]! / n[c]!;
  const rowLandmarks = new Float64Array(train.length * count);
  train.forEach((t, r) => {
    const c = index.get(keys[t]!)!;
    rowLandmarks.set(templates.subarray(c * count, (c + 1) * count), r * count);
  });
  const { tensor } = alignTrials(latents, grid, landmarks, { grid, landmarks: rowLandmarks, sourceRows: train });
  return { aligned: tensor, alignedKeys: Array.from(train, (t) => keys[t]!), templates };
}

/**
 * z-score (training statistics) → PCA to k latents (fit on training trials), or with a baseline the evoked
 * reduction (`fitEvoked`) → optionally the mean per condition
 * of the training trials → alignment to the student's grid. With landmarks, trials of a condition are first
 * warped onto the condition's mean landmarks, so averaging does not blur events whose timing varies from trial
 * to trial (a variable delay, say); the condition means then carry those mean landmarks into the final
 * alignment.
 */
export function buildTeacherLatents(options: TeacherLatentOptions): TeacherLatents {
  const { features, grid, k, landmarks, conditions, target } = options;
  const train = checkTrialIndices(options.trainTrials, features.trials, 'buildTeacherLatents trainTrials');
  if (conditions && conditions.length !== features.trials) {
    throw new DatasetError(`buildTeacherLatents: ${conditions.length} condition keys for ${features.trials} trials; give one key per trial.`);
  }
  if (landmarks && landmarks.length % features.trials !== 0) {
    throw new DatasetError(`buildTeacherLatents: ${landmarks.length} landmarks do not divide evenly among ${features.trials} trials.`);
  }
  let latents: TrialTensor<Float64Array>;
  let reduction: Pick<TeacherLatents, 'zscore' | 'pca' | 'evoked'>;
  if (options.baseline) {
    const evoked = fitEvoked(features, options.baseline, train, k);
    latents = projectEvoked(evoked, features);
    reduction = { evoked };
  } else {
    const zscore = fitZScore(features, train);
    const standardised = applyZScore(zscore, features);
    const pca = fitPca(standardised, train, k);
    latents = projectPca(pca, standardised);
    reduction = { zscore, pca };
  }
  let rowLandmarks: ArrayLike<number> | undefined = landmarks;
  let averaged: { keys: ConditionKey[]; counts: Int32Array } | undefined;
  if (conditions) {
    if (landmarks && landmarks.length > 0) {
      const { aligned, alignedKeys, templates } = alignWithinConditions(latents, grid, landmarks, conditions, train);
      const avg = conditionAverage(aligned, alignedKeys);
      latents = avg.tensor;
      rowLandmarks = templates;
      averaged = { keys: avg.keys, counts: avg.counts };
    } else {
      const avg = conditionAverage(latents, conditions, train);
      latents = avg.tensor;
      averaged = { keys: avg.keys, counts: avg.counts };
    }
  }
  let result: Aligned = { tensor: latents, grid, covered: new Uint8Array(latents.trials * latents.times).fill(1) };
  if (target) {
    let sourceRows = target.sourceRows;
    if (averaged) {
      if (sourceRows) throw new DatasetError('buildTeacherLatents: with conditions, map output rows by target.conditions, not target.sourceRows.');
      if (target.conditions) {
        const index = new Map(averaged.keys.map((key, i) => [key, i] as const));
        sourceRows = Array.from(target.conditions, (key, r) => {
          const c = index.get(key);
          if (c === undefined) {
            throw new DatasetError(`buildTeacherLatents: target row ${r} has condition ${String(key)}, which no training brain trial has; the brain data covers ${averaged!.keys.join(', ')}.`);
          }
          return c;
        });
      }
    } else if (target.conditions) {
      throw new DatasetError('buildTeacherLatents: target.conditions needs per-trial conditions to average; give conditions, or map rows with target.sourceRows.');
    }
    result = alignTrials(latents, grid, rowLandmarks, { grid: target.grid, landmarks: target.landmarks, ...(sourceRows ? { sourceRows } : {}) });
  }
  return {
    latents: result.tensor,
    grid: result.grid,
    covered: result.covered,
    ...reduction,
    ...(averaged ? { conditions: averaged } : {}),
  };
}
