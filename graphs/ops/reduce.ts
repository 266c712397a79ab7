/** @file Reductions (sum, mean, max, min, log-sum-exp) over axes, and the sum-to-shape that undoes broadcasting in gradients. */
import { GraphError } from '../errors.js';
import { type GradContext, type OpDef, defineOp } from '../op.js';
import { type Dim, type Shape, Tensor, isFloat, normalizeAxes, sameShape } from '../tensor.js';
import { cast, div, equal, exp, mul, sub } from './elementwise.js';
import { expand, expandAs, sizeOf, squeeze, unsqueeze } from './shape.js';

/** Axes are normalized (non-negative, sorted, non-empty unless the input is a scalar). */
export interface ReduceAttrs {
  axes: number[];
  keepdims: boolean;
}

function reduceShape(inputs: readonly Tensor[], attrs: ReduceAttrs) {
  const x = inputs[0];
  const shape: Dim[] = [];
  for (let i = 0; i < x.rank; i++) {
    if (!attrs.axes.includes(i)) shape.push(x.shape[i]);
    else if (attrs.keepdims) shape.push(1);
  }
  return [{ dtype: x.dtype, shape }];
}

/** ReduceSum takes axes as an input from opset 13, the other reductions from opset 18. */
function reduceEncoding(axesAsInputSince: number) {
  return (attrs: ReduceAttrs, opset: number) => {
    const keepdims = { name: 'keepdims', type: 'int' as const, value: attrs.keepdims ? 1 : 0 };
    if (opset >= axesAsInputSince) return { attributes: [keepdims], extraInputs: [attrs.axes] };
    return { attributes: [keepdims, { name: 'axes', type: 'ints' as const, value: attrs.axes }] };
  };
}

/** The output gradient with the reduced axes restored as size-1 dims. */
function keptGrad(ctx: GradContext<ReduceAttrs>): Tensor {
  const g = ctx.grads[0] as Tensor;
  return ctx.attrs.keepdims ? g : unsqueeze(g, ctx.attrs.axes);
}

/** The forward output with the reduced axes kept as size-1 dims. */
function keptOutput(ctx: GradContext<ReduceAttrs>): Tensor {
  const y = ctx.outputs[0];
  return ctx.attrs.keepdims ? y : unsqueeze(y, ctx.attrs.axes);
}

/** Number of reduced elements per output element, as a float scalar (computed at run time for symbolic dims). */
function reducedCount(ctx: GradContext<ReduceAttrs>): Tensor | number {
  const x = ctx.inputs[0];
  let n = 1;
  for (const a of ctx.attrs.axes) {
    const d = x.shape[a];
    if (typeof d !== 'number') return cast(div(sizeOf(x), sizeOf(ctx.outputs[0])), x.dtype);
    n *= d;
  }
  return n;
}

export const ReduceSum = defineOp<ReduceAttrs>({
  type: 'ReduceSum',
  shape: reduceShape,
  encode: reduceEncoding(13),
  grad: (ctx) => [expandAs(keptGrad(ctx), ctx.inputs[0])],
});

export const ReduceMean = defineOp<ReduceAttrs>({
  type: 'ReduceMean',
  shape: reduceShape,
  encode: reduceEncoding(18),
  grad: (ctx) => [expandAs(div(keptGrad(ctx), reducedCount(ctx)), ctx.inputs[0])],
});

/** Gradient of max/min: shared equally among the elements that attain the extreme. */
function extremeGrad(ctx: GradContext<ReduceAttrs>): (Tensor | null)[] {
  const x = ctx.inputs[0];
  const mask = cast(equal(x, keptOutput(ctx)), x.dtype);
  const count = reduceSum(mask, ctx.attrs.axes, true);
  return [mul(mask, div(keptGrad(ctx), count))];
}

export const ReduceMax = defineOp<ReduceAttrs>({ type: 'ReduceMax', shape: reduceShape, encode: reduceEncoding(18), grad: extremeGrad });
export const ReduceMin = defineOp<ReduceAttrs>({ type: 'ReduceMin', shape: reduceShape, encode: reduceEncoding(18), grad: extremeGrad });

export const ReduceLogSumExp = defineOp<ReduceAttrs>({
  type: 'ReduceLogSumExp',
  shape: reduceShape,
  encode: reduceEncoding(18),
  grad: (ctx) => [mul(keptGrad(ctx), exp(sub(ctx.inputs[0], keptOutput(ctx))))],
});

/** Axes to reduce: a number, a list, or undefined for all. */
export type Axes = number | readonly number[] | undefined;

function reduce(op: OpDef<ReduceAttrs>, x: Tensor, axes: Axes, keepdims: boolean, floatOnly: boolean): Tensor {
  if (floatOnly && !isFloat(x.dtype)) throw new GraphError(`${op.name}: needs a float tensor, got ${x.toString()}`);
  if (x.rank === 0) return x;
  let list: number[];
  try {
    list = axes === undefined ? x.shape.map((_, i) => i) : normalizeAxes(typeof axes === 'number' ? [axes] : axes, x.rank);
  } catch (err) {
    throw new GraphError(`${op.name}: ${(err as Error).message} of ${x.toString()}`);
  }
  if (list.length === 0) return x;
  return x.graph.apply(op, [x], { axes: list, keepdims })[0];
}

export const reduceSum = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduce(ReduceSum, x, axes, keepdims, false);
export const reduceMean = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduce(ReduceMean, x, axes, keepdims, true);
export const reduceMax = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduce(ReduceMax, x, axes, keepdims, false);
export const reduceMin = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduce(ReduceMin, x, axes, keepdims, false);
export const reduceLogSumExp = (x: Tensor, axes?: Axes, keepdims = false): Tensor =>
  reduce(ReduceLogSumExp, x, axes, keepdims, true);

/**
 * Sums a broadcast gradient back to the shape of the operand it came from: leading extra axes are summed
 * away and axes where the operand had size 1 are summed with keepdims.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) return expand(g, shape);
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(i);
  let inner = false;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1 && g.shape[i + lead] !== 1) {
      axes.push(i + lead);
      inner = true;
    } else if (shape[i] !== g.shape[i + lead] && g.shape[i + lead] !== 1) {
      throw new GraphError(`cannot sum a gradient of shape [${g.shape.join(',')}] to [${shape.join(',')}]`);
    }
  }
  const reduced = inner ? reduceSum(g, axes, true) : reduceSum(g, axes, false);
  const squeezed = inner && lead > 0 ? squeeze(reduced, axes.slice(0, lead)) : reduced;
  return sameShape(squeezed.shape, shape) ? squeezed : expand(squeezed, shape);
}
