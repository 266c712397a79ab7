/** @file Task losses of the students: cross-entropy at the decision bin or at every step, reconstruction (MSE or Bernoulli), Gaussian KL, and the correct count. */
import { GraphError } from '../errors.js';
import { add, cast, div, equal, exp, greaterOrEqual, maximum, mul, neg, sigmoid, softplus, square, sub } from '../ops/elementwise.js';
import { logSoftmax, softmaxCrossEntropy } from '../ops/nn.js';
import { reduceMax, reduceMean, reduceSum } from '../ops/reduce.js';
import { unsqueeze } from '../ops/shape.js';
import { type Tensor, isFloat, sameShape } from '../tensor.js';

/** How a reconstruction is scored: squared error of the sigmoid output, or the Bernoulli likelihood of its logits. */
export type ReconstructionKind = 'mse' | 'bernoulli';

function checkLabels(labels: Tensor, what: string): void {
  if (labels.dtype !== 'int64' || labels.rank !== 1) throw new GraphError(`${what}: labels must be int64 [batch], got ${labels.toString()}`);
}

function classesOf(logits: Tensor, what: string): number {
  const c = logits.shape[logits.rank - 1];
  if (!isFloat(logits.dtype) || typeof c !== 'number' || c < 2) {
    throw new GraphError(`${what}: logits must be float with a static class axis of at least 2 last, got ${logits.toString()}`);
  }
  return c;
}

function checkDecisionLogits(logits: Tensor, labels: Tensor, what: string): number {
  const classes = classesOf(logits, what);
  checkLabels(labels, what);
  if (logits.rank !== 2 || String(logits.shape[0]) !== String(labels.shape[0])) {
    throw new GraphError(`${what}: logits must be [batch, classes] over the labels' batch, got ${logits.toString()} and ${labels.toString()}`);
  }
  return classes;
}

/** One-hot rows of int64 labels [batch] as [batch, classes] in the dtype of `like`. */
export function oneHot(labels: Tensor, classes: number, like: Tensor): Tensor {
  const ids = labels.graph.constant(
    Array.from({ length: classes }, (_, i) => i),
    { dtype: 'int64', shape: [1, classes] },
  );
  return cast(equal(unsqueeze(labels, 1), ids), like.dtype);
}

/** sum(mask * values) / max(sum(mask), 1): the mean over the masked entries, 0 when none is set. */
export function maskedMean(values: Tensor, mask: Tensor): Tensor {
  return div(reduceSum(mul(values, mask)), maximum(reduceSum(mask), 1));
}

/** Mean cross-entropy of softmax(logits [batch, C]) against labels int64 [batch], as one stable node. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  checkDecisionLogits(logits, labels, 'crossEntropy');
  return softmaxCrossEntropy(logits, labels, 'mean');
}

/**
 * Cross-entropy of each trial's label at every step where `mask` [batch, T] is 1: logits [batch, T, C], labels
 * int64 [batch]. The sum over masked steps is divided by their number (at least 1).
 */
export function maskedSequenceCrossEntropy(logits: Tensor, labels: Tensor, mask: Tensor): Tensor {
  const classes = classesOf(logits, 'maskedSequenceCrossEntropy');
  checkLabels(labels, 'maskedSequenceCrossEntropy');
  if (logits.rank !== 3 || mask.rank !== 2 || String(mask.shape[1]) !== String(logits.shape[1])) {
    throw new GraphError(`maskedSequenceCrossEntropy: logits must be [batch, T, C] and mask [batch, T], got ${logits.toString()} and ${mask.toString()}`);
  }
  const target = unsqueeze(oneHot(labels, classes, logits), 1);
  const nll = neg(reduceSum(mul(logSoftmax(logits, -1), target), -1));
  return maskedMean(nll, mask);
}

/** Rows whose label's logit is the largest (ties count as correct), summed: a float scalar. */
export function correctCount(logits: Tensor, labels: Tensor): Tensor {
  const classes = checkDecisionLogits(logits, labels, 'correctCount');
  const picked = reduceSum(mul(logits, oneHot(labels, classes, logits)), 1);
  return reduceSum(cast(greaterOrEqual(picked, reduceMax(logits, 1)), logits.dtype));
}

/** Sum over every axis but the first: one value per batch row. */
function perRow(x: Tensor): Tensor {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  return axes.length === 0 ? x : reduceSum(x, axes);
}

/**
 * Reconstruction loss of decoder logits against targets in [0, 1] (same shape, batch first), summed over each
 * item and averaged over the batch. 'mse': squared error of sigmoid(logits) (a Gaussian likelihood up to
 * constants); 'bernoulli': binary cross-entropy of the logits, softplus(x) - y x, stable for any x.
 */
export function reconstructionLoss(logits: Tensor, target: Tensor, kind: ReconstructionKind): Tensor {
  if (!sameShape(logits.shape, target.shape) || logits.dtype !== target.dtype) {
    throw new GraphError(`reconstructionLoss: logits ${logits.toString()} and target ${target.toString()} must have one shape and dtype`);
  }
  if (kind === 'mse') return reduceMean(perRow(square(sub(sigmoid(logits), target))));
  if (kind === 'bernoulli') return reduceMean(perRow(sub(softplus(logits), mul(target, logits))));
  throw new GraphError(`reconstructionLoss: kind must be 'mse' or 'bernoulli', got '${String(kind)}'`);
}

/** Sum of squared errors over the whole batch (for metrics that add up over eval batches). */
export function sumSquaredError(prediction: Tensor, target: Tensor): Tensor {
  return reduceSum(square(sub(prediction, target)));
}

/**
 * KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 sum(exp(logvar) + mean^2 - 1 - logvar) over the latent axis, averaged
 * over the batch: mean and logvar [batch, latent].
 */
export function gaussianKl(mean: Tensor, logvar: Tensor): Tensor {
  if (mean.rank !== 2 || !sameShape(mean.shape, logvar.shape)) {
    throw new GraphError(`gaussianKl: mean and logvar must both be [batch, latent], got ${mean.toString()} and ${logvar.toString()}`);
  }
  const perDim = sub(add(exp(logvar), square(mean)), add(logvar, 1));
  return mul(reduceMean(reduceSum(perDim, 1)), 0.5);
}
