/** @file Neural-network ops: Softmax, LogSoftmax, LayerNormalization, SoftmaxCrossEntropyLoss, and logSigmoid. */
import { GraphError } from '../errors.js';
import { type GradContext, type OutputSpec, defineOp } from '../op.js';
import { type Dim, Tensor, formatShape, isFloat, normalizeAxis, sameShape, shapeSize } from '../tensor.js';
import { add, cast, div, equal, exp, mul, neg, softplus, sqrt, sub } from './elementwise.js';
import { reduceMean, reduceSum, sumToShape } from './reduce.js';
import { sizeOf, unsqueeze } from './shape.js';

function floatInput(x: Tensor): void {
  if (!isFloat(x.dtype)) throw new GraphError(`needs a float tensor, got ${x.toString()}`);
}

const axisAttribute = (a: { axis: number }) => ({ attributes: [{ name: 'axis', type: 'int' as const, value: a.axis }] });

function softmaxShape(inputs: readonly Tensor[], a: { axis: number }): OutputSpec[] {
  const x = inputs[0];
  floatInput(x);
  if (a.axis < 0 || a.axis >= x.rank) throw new GraphError(`axis ${a.axis} is out of range for rank ${x.rank}`);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
}

/** Softmax along one axis (opset 13 semantics: only that axis is normalized). */
export const Softmax = defineOp<{ axis: number }>({
  type: 'Softmax',
  shape: softmaxShape,
  encode: axisAttribute,
  grad: ({ outputs: [y], grads: [g], attrs }) => {
    const gt = g as Tensor;
    return [mul(y, sub(gt, reduceSum(mul(gt, y), attrs.axis, true)))];
  },
});

/** log(softmax(x)) along one axis, computed stably by onnxruntime (opset 13 semantics). */
export const LogSoftmax = defineOp<{ axis: number }>({
  type: 'LogSoftmax',
  shape: softmaxShape,
  encode: axisAttribute,
  grad: ({ outputs: [y], grads: [g], attrs }) => {
    const gt = g as Tensor;
    return [sub(gt, mul(exp(y), reduceSum(gt, attrs.axis, true)))];
  },
});

function axisOf(x: Tensor, axis: number, what: string): number {
  try {
    return normalizeAxis(axis, x.rank);
  } catch (err) {
    throw new GraphError(`${what} of ${x.toString()}: ${(err as Error).message}`);
  }
}

/** Softmax of x along `axis` (default last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return x.graph.apply(Softmax, [x], { axis: axisOf(x, axis, 'softmax') })[0];
}

/** Log-softmax of x along `axis` (default last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return x.graph.apply(LogSoftmax, [x], { axis: axisOf(x, axis, 'logSoftmax') })[0];
}

/** log(sigmoid(x)) = -softplus(-x), finite for any x. */
export function logSigmoid(x: Tensor): Tensor {
  return neg(softplus(neg(x)));
}

export interface LayerNormAttrs {
  /** First normalized axis (non-negative); normalization runs over axes axis..rank-1. */
  axis: number;
  epsilon: number;
  /**
   * Whether the node also outputs the mean and inverse standard deviation (float32; onnxruntime stores them in
   * float32 whatever the input type), which the gradient then reuses. Float64 graphs recompute them instead,
   * so their gradients keep full precision.
   */
  stats: boolean;
}

/** Shape of the statistics: the leading dims, then 1 for each normalized axis. */
function statShape(x: Tensor, axis: number): Dim[] {
  return x.shape.map((d, i) => (i < axis ? d : 1));
}

/** LayerNormalization (opset 17): y = (x - mean) / sqrt(var + epsilon) * scale + bias over axes axis..rank-1. */
export const LayerNormalization = defineOp<LayerNormAttrs>({
  type: 'LayerNormalization',
  shape: (inputs, a) => {
    const [x, scale, bias] = inputs;
    floatInput(x);
    const normalized = x.shape.slice(a.axis);
    for (const [t, what] of [
      [scale, 'scale'],
      [bias, 'bias'],
    ] as const) {
      if (!t) continue;
      if (t.dtype !== x.dtype) throw new GraphError(`${what} dtype ${t.dtype} differs from the input's ${x.dtype}`);
      if (!sameShape(t.shape, normalized)) {
        throw new GraphError(`${what} must have the normalized shape ${formatShape(normalized)}, got ${formatShape(t.shape)}`);
      }
    }
    const out: OutputSpec[] = [{ dtype: x.dtype, shape: [...x.shape] }];
    if (a.stats) out.push({ dtype: 'float32', shape: statShape(x, a.axis) }, { dtype: 'float32', shape: statShape(x, a.axis) });
    return out;
  },
  encode: (a) => ({
    attributes: [
      { name: 'axis', type: 'int', value: a.axis },
      { name: 'epsilon', type: 'float', value: a.epsilon },
    ],
  }),
  grad: (ctx) => layerNormGrad(ctx),
});

function layerNormGrad({ inputs: [x, scale, bias], outputs, grads, attrs, wants }: GradContext<LayerNormAttrs>): (Tensor | null)[] {
  if (grads[1] || grads[2]) {
    throw new GraphError('no gradient through the mean and inverse standard deviation outputs of LayerNormalization; use stopGradient() on them');
  }
  const g = grads[0] as Tensor;
  const axes: number[] = [];
  for (let i = attrs.axis; i < x.rank; i++) axes.push(i);
  let mean: Tensor;
  let invStd: Tensor;
  if (attrs.stats) {
    mean = cast(outputs[1], x.dtype);
    invStd = cast(outputs[2], x.dtype);
  } else {
    mean = reduceMean(x, axes, true);
    const centered = sub(x, mean);
    invStd = div(1, sqrt(add(reduceMean(mul(centered, centered), axes, true), attrs.epsilon)));
  }
  const xhat = mul(sub(x, mean), invStd);
  let dx: Tensor | null = null;
  if (wants[0]) {
    const gs = scale ? mul(g, scale) : g;
    const inner = sub(sub(gs, reduceMean(gs, axes, true)), mul(xhat, reduceMean(mul(gs, xhat), axes, true)));
    dx = mul(invStd, inner);
  }
  const dscale = scale && wants[1] ? sumToShape(mul(g, xhat), scale.shape) : null;
  const dbias = bias && wants[2] ? sumToShape(g, bias.shape) : null;
  return bias ? [dx, dscale, dbias] : [dx, dscale];
}

/**
 * Layer normalization over the trailing axes from `axis` (default -1) with a scale and optional bias of the
 * normalized shape. One LayerNormalization node; in float32 its saved statistics feed the gradient.
 */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor | null = null, opts: { axis?: number; epsilon?: number } = {}): Tensor {
  const axis = axisOf(x, opts.axis ?? -1, 'layerNorm');
  const epsilon = opts.epsilon ?? 1e-5;
  if (!(epsilon > 0)) throw new GraphError(`layerNorm: epsilon must be positive, got ${epsilon}`);
  const stats = x.dtype === 'float32';
  return x.graph.apply(LayerNormalization, bias ? [x, scale, bias] : [x, scale], { axis, epsilon, stats })[0];
}

/** How per-element losses are combined. */
export type Reduction = 'mean' | 'sum' | 'none';

/** SoftmaxCrossEntropyLoss (opset 13): scores [N, C, d...] and int64 labels [N, d...]; class axis 1. */
export const SoftmaxCrossEntropyLoss = defineOp<{ reduction: Reduction }>({
  type: 'SoftmaxCrossEntropyLoss',
  shape: (inputs, a) => {
    const [scores, labels] = inputs;
    floatInput(scores);
    if (scores.rank < 2) throw new GraphError(`scores must be [batch, classes, ...], got ${formatShape(scores.shape)}`);
    if (labels.dtype !== 'int64') throw new GraphError(`labels must be int64 class indices, got ${labels.toString()}`);
    const expect = [scores.shape[0], ...scores.shape.slice(2)];
    if (!sameShape(labels.shape, expect)) {
      throw new GraphError(`labels must have shape ${formatShape(expect)} (scores without the class axis), got ${formatShape(labels.shape)}`);
    }
    return [
      { dtype: scores.dtype, shape: a.reduction === 'none' ? [...expect] : [] },
      { dtype: scores.dtype, shape: [...scores.shape] },
    ];
  },
  encode: (a) => ({ attributes: [{ name: 'reduction', type: 'string', value: a.reduction }] }),
  grad: ({ inputs: [scores, labels], outputs: [, logProb], grads: [gLoss, gLogProb], attrs }) => {
    const probs = exp(logProb);
    const parts: Tensor[] = [];
    if (gLoss) {
      let scale = attrs.reduction === 'none' ? unsqueeze(gLoss, 1) : gLoss;
      if (attrs.reduction === 'mean') scale = div(scale, elementCount(labels, scores));
      parts.push(mul(sub(probs, oneHot(labels, scores)), scale));
    }
    if (gLogProb) parts.push(sub(gLogProb, mul(probs, reduceSum(gLogProb, 1, true))));
    return [parts.length === 2 ? add(parts[0], parts[1]) : parts[0], null];
  },
});

/** Number of labels as a float scalar of the scores' dtype; read at run time when the batch is symbolic. */
function elementCount(labels: Tensor, scores: Tensor): Tensor | number {
  const n = shapeSize(labels.shape);
  return typeof n === 'number' ? n : cast(sizeOf(labels), scores.dtype);
}

/** One-hot of int64 labels [N, d...] along axis 1, as the scores' dtype and shape. */
function oneHot(labels: Tensor, scores: Tensor): Tensor {
  const classes = scores.shape[1];
  if (typeof classes !== 'number') throw new GraphError(`the class axis of ${scores.toString()} must be static`);
  const ids = labels.graph.constant(
    Array.from({ length: classes }, (_, i) => i),
    { dtype: 'int64', shape: [1, classes, ...new Array<number>(scores.rank - 2).fill(1)] },
  );
  return cast(equal(unsqueeze(labels, 1), ids), scores.dtype);
}

/**
 * Cross-entropy of softmax(logits) against integer class labels, one stable node: logits [N, C, d...],
 * labels int64 [N, d...]. 'mean' (default) averages over every label, 'sum' adds, 'none' keeps [N, d...].
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, reduction: Reduction = 'mean'): Tensor {
  return logits.graph.apply(SoftmaxCrossEntropyLoss, [logits, labels], { reduction })[0];
}
