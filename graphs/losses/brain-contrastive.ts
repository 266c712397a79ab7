/** @file Brain Contrastive Transfer: projection heads on both sides, L2-normalised embeddings, symmetric multi-positive InfoNCE with a bounded learnable temperature. */
import { GraphError } from '../errors.js';
import type { Graph } from '../graph.js';
import { init } from '../init.js';
import { linear } from '../layers/linear.js';
import { add, cast, div, exp, greater, maximum, mul, neg, relu, sigmoid, sqrt, sub } from '../ops/elementwise.js';
import { gemm } from '../ops/matmul.js';
import { logSoftmax } from '../ops/nn.js';
import { reduceSum } from '../ops/reduce.js';
import { unsqueeze } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';

/** A projection head: one linear map, or linear -> ReLU -> linear with a hidden width of twice the output. */
export type ProjectionHead = 'linear' | 'mlp';

export interface TemperatureOptions {
  /** Starting temperature, within [min, max]. */
  init: number;
  min: number;
  max: number;
  /** Learn the temperature (default true); otherwise it stays at `init`. */
  learnable?: boolean;
}

export interface BrainContrastiveOptions {
  /** Size of the shared embedding. */
  projectionDim: number;
  /** Head on the student side (default 'linear'). */
  studentHead?: ProjectionHead;
  /** Head on the brain side (default 'linear'). */
  brainHead?: ProjectionHead;
  temperature: TemperatureOptions;
}

export interface BrainContrastiveResult {
  /** The symmetric InfoNCE loss, a scalar. */
  loss: Tensor;
  /** The temperature in use, a scalar. */
  temperature: Tensor;
  /** L2-normalised embeddings [batch, projectionDim]. */
  studentEmbedding: Tensor;
  brainEmbedding: Tensor;
  /** Cosine similarities over the temperature [batch, batch]: row = student item, column = brain item. */
  logits: Tensor;
}

/** Subtracted from the logits of pairs with a missing side, so their softmax weight is exactly zero in float32 and float64. */
const MASKED = 1e9;

function checkTemperature(t: TemperatureOptions): void {
  const ok = (v: number) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!ok(t.min) || !ok(t.max) || !ok(t.init) || t.min > t.max || t.init < t.min || t.init > t.max) {
    throw new GraphError(
      `brainContrastiveLoss: temperature needs 0 < min <= init <= max, got init ${t.init}, min ${t.min}, max ${t.max}`,
    );
  }
}

/**
 * The temperature, bounded in log space: log t = log min + (log max - log min) * sigmoid(theta), with theta the
 * parameter `log_temperature`. The gradient never vanishes at a bound the way a clip's does, and equal steps in
 * theta scale t by equal factors. theta starts where t = init (init at a bound starts a hair inside it).
 */
function temperature(g: Graph, t: TemperatureOptions): Tensor {
  checkTemperature(t);
  if (t.learnable === false || t.min === t.max) return g.scalar(t.init);
  const lo = Math.log(t.min);
  const span = Math.log(t.max) - lo;
  const frac = Math.min(1 - 1e-4, Math.max(1e-4, (Math.log(t.init) - lo) / span));
  const theta = g.param('log_temperature', [], init.constant(Math.log(frac / (1 - frac))));
  return exp(add(mul(sigmoid(theta), span), lo));
}

function projection(name: string, x: Tensor, kind: ProjectionHead, dim: number): Tensor {
  if (kind === 'linear') return linear(name, x, dim);
  if (kind === 'mlp') {
    return x.graph.scope(name, () => linear('fc2', relu(linear('fc1', x, 2 * dim, { weightInit: init.kaimingUniform() })), dim));
  }
  throw new GraphError(`brainContrastiveLoss: head '${name}' must be 'linear' or 'mlp', got '${String(kind)}'`);
}

/** Rows scaled to unit L2 norm (the 1e-12 keeps a zero row finite). */
export function l2Normalize(x: Tensor): Tensor {
  return div(x, sqrt(add(reduceSum(mul(x, x), -1, true), 1e-12)));
}

/**
 * One direction of multi-positive InfoNCE: anchors along the other axis, candidates along `axis`. Each anchor's
 * loss is minus the mean log-probability of its positives; anchors without a positive are left out of the mean.
 */
function directional(masked: Tensor, positives: Tensor, axis: 0 | 1): Tensor {
  const logp = logSoftmax(masked, axis);
  const count = reduceSum(positives, axis);
  const perAnchor = div(reduceSum(mul(positives, logp), axis), maximum(count, 1));
  const anchors = reduceSum(cast(greater(count, 0), masked.dtype));
  return neg(div(reduceSum(perAnchor), maximum(anchors, 1)));
}

/**
 * Brain Contrastive Transfer loss. `student` [batch, Ds] and `brain` [batch, Db] are projected by their heads
 * (`student_head`, `brain_head` under the current scope) to `projectionDim`, L2-normalised, and compared by cosine
 * similarity over the temperature. `positives` [batch, batch] is 1 where row i's student item and row j's brain
 * item form a positive pair (the same trial, or the same condition), and `mask` [batch] is 1 where a row has brain
 * data: pairs with a masked row are neither positives nor negatives. The loss averages the student-to-brain and
 * brain-to-student directions, each a supervised-contrastive InfoNCE that averages the log-likelihood over an
 * anchor's positives. Brain inputs of masked rows must still be finite (zeros will do).
 */
export function brainContrastiveLoss(
  student: Tensor,
  brain: Tensor,
  positives: Tensor,
  mask: Tensor,
  opts: BrainContrastiveOptions,
): BrainContrastiveResult {
  const g = student.graph;
  if (student.rank !== 2 || brain.rank !== 2) {
    throw new GraphError(`brainContrastiveLoss: student and brain features must be [batch, features], got ${student.toString()} and ${brain.toString()}`);
  }
  if (positives.rank !== 2 || mask.rank !== 1) {
    throw new GraphError(`brainContrastiveLoss: positives must be [batch, batch] and mask [batch], got ${positives.toString()} and ${mask.toString()}`);
  }
  if (!Number.isInteger(opts.projectionDim) || opts.projectionDim < 1) {
    throw new GraphError(`brainContrastiveLoss: projectionDim must be a positive integer, got ${opts.projectionDim}`);
  }
  const t = temperature(g, opts.temperature);
  const zs = l2Normalize(projection('student_head', student, opts.studentHead ?? 'linear', opts.projectionDim));
  const zb = l2Normalize(projection('brain_head', brain, opts.brainHead ?? 'linear', opts.projectionDim));
  const logits = div(gemm(zs, zb, null, { transB: true }), t);
  const pairMask = mul(unsqueeze(mask, 1), unsqueeze(mask, 0));
  const masked = sub(logits, mul(sub(1, pairMask), MASKED));
  const pos = mul(positives, pairMask);
  const loss = mul(add(directional(masked, pos, 1), directional(masked, pos, 0)), 0.5);
  return { loss, temperature: t, studentEmbedding: zs, brainEmbedding: zb, logits };
}
