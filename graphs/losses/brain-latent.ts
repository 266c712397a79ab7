/** @file Brain Latent Transfer: a linear readout from a student layer onto brain-derived latents, scored by masked mean squared error. */
import { GraphError } from '../errors.js';
import { linear } from '../layers/linear.js';
import { div, maximum, mul, square, sub } from '../ops/elementwise.js';
import { reduceSum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';

export interface BrainLatentResult {
  /** Masked mean squared error, a scalar. */
  loss: Tensor;
  /** The readout's prediction of the latents, the target's shape. */
  prediction: Tensor;
}

/**
 * Brain Latent Transfer loss. `features` [batch, D] or, time-aligned, [batch, T, D] (the tapped student layer)
 * are mapped by a linear readout `readout` (under the current scope) to the K brain latents `target` [batch, K]
 * or [batch, T, K]. `mask` [batch] or [batch, T] is 1 where brain data exists. The loss is the squared error
 * summed over masked entries and latents, divided by K times the number of masked entries (at least 1): the mean
 * squared error over what exists, 0 for a batch without brain data. Masked-out targets must be finite (zeros will do).
 */
export function brainLatentLoss(features: Tensor, target: Tensor, mask: Tensor): BrainLatentResult {
  const k = target.shape[target.rank - 1];
  const aligned = features.rank === 3;
  if ((features.rank !== 2 && !aligned) || target.rank !== features.rank || mask.rank !== features.rank - 1 || typeof k !== 'number') {
    throw new GraphError(
      `brainLatentLoss: expected features [batch, D] with target [batch, K] and mask [batch], or features [batch, T, D] with target [batch, T, K] and mask [batch, T]; got ${features.toString()}, ${target.toString()}, ${mask.toString()}`,
    );
  }
  if (aligned && (String(features.shape[1]) !== String(target.shape[1]) || String(mask.shape[1]) !== String(target.shape[1]))) {
    throw new GraphError(
      `brainLatentLoss: the student's ${String(features.shape[1])} tapped steps, the target's ${String(target.shape[1])} and the mask's ${String(mask.shape[1])} must agree (align the brain latents to the student's time grid)`,
    );
  }
  const prediction = linear('readout', features, k);
  const err = reduceSum(square(sub(prediction, target)), -1);
  const loss = div(reduceSum(mul(err, mask)), mul(maximum(reduceSum(mask), 1), k));
  return { loss, prediction };
}
