/** @file Elementwise ops with numpy broadcasting: arithmetic, activations, comparisons, where, clip, cast. */
import { GraphError } from '../errors.js';
import type { Graph } from '../graph.js';
import { type GradRule, type OpDef, type OutputSpec, defineOp } from '../op.js';
import {
  type DType,
  type Dim,
  ONNX_DTYPE,
  Tensor,
  broadcastShapes,
  dataAt,
  isFloat,
  sameShape,
} from '../tensor.js';
import { sumToShape } from './reduce.js';

/** A tensor, or a plain number lifted to a scalar constant of the other operand's dtype. */
export type Operand = Tensor | number;

/** The graph of the first tensor among the operands; GraphError if there is none. */
export function graphOf(what: string, ...xs: Operand[]): Graph {
  for (const x of xs) if (x instanceof Tensor) return x.graph;
  throw new GraphError(`${what}: at least one operand must be a Tensor, got only numbers`);
}

/** Lifts a number to a scalar constant of `dtype`; a tensor passes through. */
export function lift(x: Operand, g: Graph, dtype: DType): Tensor {
  return x instanceof Tensor ? x : g.scalar(x, dtype);
}

/** The value of a rank-0 constant, else undefined. */
export function scalarValue(t: Tensor): number | undefined {
  return t.kind === 'constant' && t.rank === 0 && t.value !== null ? dataAt(t.value, 0) : undefined;
}

function dtypeOf(xs: Operand[]): DType {
  for (const x of xs) if (x instanceof Tensor) return x.dtype;
  throw new GraphError('at least one operand must be a Tensor');
}

function sameDType(inputs: readonly Tensor[], from = 0): DType {
  const d = inputs[from].dtype;
  for (let i = from + 1; i < inputs.length; i++) {
    if (inputs[i].dtype !== d) throw new GraphError(`dtypes ${d} and ${inputs[i].dtype} differ; cast() one of them`);
  }
  return d;
}

function broadcastAll(inputs: readonly Tensor[]): Dim[] {
  let shape: Dim[] = [...inputs[0].shape];
  for (let i = 1; i < inputs.length; i++) shape = broadcastShapes(shape, inputs[i].shape);
  return shape;
}

function floatOnly(inputs: readonly Tensor[]): void {
  for (const t of inputs) if (!isFloat(t.dtype)) throw new GraphError(`needs float tensors, got ${t.dtype}`);
}

const broadcastRule = (inputs: readonly Tensor[]): OutputSpec[] => [{ dtype: sameDType(inputs), shape: broadcastAll(inputs) }];
const floatBroadcastRule = (inputs: readonly Tensor[]): OutputSpec[] => {
  floatOnly(inputs);
  return broadcastRule(inputs);
};
const compareRule = (inputs: readonly Tensor[]): OutputSpec[] => {
  sameDType(inputs);
  return [{ dtype: 'bool', shape: broadcastAll(inputs) }];
};
const sameRule = (inputs: readonly Tensor[]): OutputSpec[] => [{ dtype: inputs[0].dtype, shape: [...inputs[0].shape] }];
const floatSameRule = (inputs: readonly Tensor[]): OutputSpec[] => {
  floatOnly(inputs);
  return sameRule(inputs);
};
const boolRule = (inputs: readonly Tensor[]): OutputSpec[] => {
  for (const t of inputs) if (t.dtype !== 'bool') throw new GraphError(`needs bool tensors, got ${t.dtype}`);
  return [{ dtype: 'bool', shape: broadcastAll(inputs) }];
};

function unaryGrad(f: (g: Tensor, x: Tensor, y: Tensor) => Tensor): GradRule<unknown> {
  return ({ inputs, outputs, grads }) => [f(grads[0] as Tensor, inputs[0], outputs[0])];
}

const floatAlpha = (attrs: { alpha: number }) => ({ attributes: [{ name: 'alpha', type: 'float' as const, value: attrs.alpha }] });

export const Add = defineOp({
  type: 'Add',
  shape: broadcastRule,
  grad: ({ inputs: [a, b], grads: [g], wants }) => [
    wants[0] ? sumToShape(g as Tensor, a.shape) : null,
    wants[1] ? sumToShape(g as Tensor, b.shape) : null,
  ],
});

export const Sub = defineOp({
  type: 'Sub',
  shape: broadcastRule,
  grad: ({ inputs: [a, b], grads: [g], wants }) => [
    wants[0] ? sumToShape(g as Tensor, a.shape) : null,
    wants[1] ? neg(sumToShape(g as Tensor, b.shape)) : null,
  ],
});

export const Mul = defineOp({
  type: 'Mul',
  shape: broadcastRule,
  grad: ({ inputs: [a, b], grads: [g], wants }) => {
    const gt = g as Tensor;
    if (a === b) return [mul(gt, mul(a, 2)), null];
    return [wants[0] ? sumToShape(mul(gt, b), a.shape) : null, wants[1] ? sumToShape(mul(gt, a), b.shape) : null];
  },
});

export const Div = defineOp({
  type: 'Div',
  shape: broadcastRule,
  grad: ({ inputs: [a, b], outputs: [y], grads: [g], wants }) => [
    wants[0] ? sumToShape(div(g as Tensor, b), a.shape) : null,
    wants[1] ? neg(sumToShape(div(mul(g as Tensor, y), b), b.shape)) : null,
  ],
});

export const Pow = defineOp({
  type: 'Pow',
  shape: floatBroadcastRule,
  grad: ({ inputs: [a, b], outputs: [y], grads: [g], wants }) => [
    wants[0] ? sumToShape(mul(g as Tensor, mul(pow(a, sub(b, 1)), b)), a.shape) : null,
    wants[1] ? sumToShape(mul(g as Tensor, mul(y, log(a))), b.shape) : null,
  ],
});

export const Max = defineOp({
  type: 'Max',
  shape: broadcastRule,
  grad: ({ inputs: [a, b], grads: [g], wants }) => {
    const mask = greaterOrEqual(a, b);
    return [
      wants[0] ? sumToShape(where(mask, g as Tensor, 0), a.shape) : null,
      wants[1] ? sumToShape(where(mask, 0, g as Tensor), b.shape) : null,
    ];
  },
});

export const Min = defineOp({
  type: 'Min',
  shape: broadcastRule,
  grad: ({ inputs: [a, b], grads: [g], wants }) => {
    const mask = lessOrEqual(a, b);
    return [
      wants[0] ? sumToShape(where(mask, g as Tensor, 0), a.shape) : null,
      wants[1] ? sumToShape(where(mask, 0, g as Tensor), b.shape) : null,
    ];
  },
});

/** Variadic sum with broadcasting; gradients accumulate through it. */
export const Sum = defineOp({
  type: 'Sum',
  shape: broadcastRule,
  grad: ({ inputs, grads: [g], wants }) => inputs.map((x, i) => (wants[i] ? sumToShape(g as Tensor, x.shape) : null)),
});

export const Neg = defineOp({ type: 'Neg', shape: sameRule, grad: unaryGrad((g) => neg(g)) });
export const Sqrt = defineOp({ type: 'Sqrt', shape: floatSameRule, grad: unaryGrad((g, _x, y) => div(mul(g, 0.5), y)) });
export const Exp = defineOp({ type: 'Exp', shape: floatSameRule, grad: unaryGrad((g, _x, y) => mul(g, y)) });
export const Log = defineOp({ type: 'Log', shape: floatSameRule, grad: unaryGrad((g, x) => div(g, x)) });
export const Abs = defineOp({ type: 'Abs', shape: sameRule, grad: unaryGrad((g, x) => mul(g, sign(x))) });
/** Sign has zero derivative almost everywhere: gradients through it vanish. */
export const Sign = defineOp({ type: 'Sign', shape: sameRule, grad: () => [null] });
export const Reciprocal = defineOp({
  type: 'Reciprocal',
  shape: floatSameRule,
  grad: unaryGrad((g, _x, y) => neg(mul(g, mul(y, y)))),
});
export const Relu = defineOp({ type: 'Relu', shape: sameRule, grad: unaryGrad((g, x) => where(greater(x, 0), g, 0)) });
export const LeakyRelu = defineOp<{ alpha: number }>({
  type: 'LeakyRelu',
  shape: floatSameRule,
  encode: floatAlpha,
  grad: ({ inputs: [x], grads: [g], attrs }) => [where(greater(x, 0), g as Tensor, mul(g as Tensor, attrs.alpha))],
});
export const Sigmoid = defineOp({
  type: 'Sigmoid',
  shape: floatSameRule,
  grad: unaryGrad((g, _x, y) => mul(g, mul(y, sub(1, y)))),
});
export const Tanh = defineOp({ type: 'Tanh', shape: floatSameRule, grad: unaryGrad((g, _x, y) => mul(g, sub(1, mul(y, y)))) });
/** ONNX Softplus; onnxruntime 1.30 runs it in float32 only, so float64 graphs compose it instead (see softplus()). */
export const Softplus = defineOp({ type: 'Softplus', shape: floatSameRule, grad: unaryGrad((g, x) => mul(g, sigmoid(x))) });
/** ONNX Elu; float32 only in onnxruntime 1.30, so float64 graphs compose it instead (see elu()). */
export const Elu = defineOp<{ alpha: number }>({
  type: 'Elu',
  shape: floatSameRule,
  encode: floatAlpha,
  grad: ({ inputs: [x], outputs: [y], grads: [g], attrs }) => [where(greater(x, 0), g as Tensor, mul(g as Tensor, add(y, attrs.alpha)))],
});

export const Identity = defineOp({ type: 'Identity', shape: sameRule, grad: unaryGrad((g) => g) });
/** Identity in the model, a wall for gradients. */
export const StopGradient = defineOp({ name: 'StopGradient', type: 'Identity', shape: sameRule, grad: () => [null] });

export const Where = defineOp({
  type: 'Where',
  shape: (inputs) => {
    if (inputs[0].dtype !== 'bool') throw new GraphError(`condition must be bool, got ${inputs[0].dtype}`);
    return [{ dtype: sameDType(inputs, 1), shape: broadcastAll(inputs) }];
  },
  grad: ({ inputs: [c, x, y], grads: [g], wants }) => [
    null,
    wants[1] ? sumToShape(where(c, g as Tensor, 0), x.shape) : null,
    wants[2] ? sumToShape(where(c, 0, g as Tensor), y.shape) : null,
  ],
});

export const Clip = defineOp({
  type: 'Clip',
  shape: (inputs) => {
    for (const t of inputs.slice(1)) if (t.rank !== 0) throw new GraphError(`clip bounds must be scalars, got ${t.toString()}`);
    return [{ dtype: sameDType(inputs), shape: [...inputs[0].shape] }];
  },
  grad: ({ inputs: [x, lo, hi], grads: [g], wants }) => {
    const gt = g as Tensor;
    const loV = scalarValue(lo);
    const hiV = scalarValue(hi);
    const aboveLo = loV === -Infinity ? null : greaterOrEqual(x, lo);
    const belowHi = hiV === Infinity ? null : lessOrEqual(x, hi);
    const inside = aboveLo && belowHi ? and(aboveLo, belowHi) : (aboveLo ?? belowHi);
    return [
      wants[0] ? (inside ? where(inside, gt, 0) : gt) : null,
      wants[1] ? sumToShape(where(less(x, lo), gt, 0), []) : null,
      wants[2] ? sumToShape(where(greater(x, hi), gt, 0), []) : null,
    ];
  },
});

export const Cast = defineOp<{ to: DType }>({
  type: 'Cast',
  shape: (inputs, attrs) => [{ dtype: attrs.to, shape: [...inputs[0].shape] }],
  encode: (attrs) => ({ attributes: [{ name: 'to', type: 'int', value: ONNX_DTYPE[attrs.to] }] }),
  grad: ({ inputs: [x], outputs: [y], grads: [g] }) => {
    if (!isFloat(x.dtype) || !isFloat(y.dtype)) {
      const from = x.producer ? ` (produced by ${x.producer.op.name} node ${x.producer.name})` : '';
      throw new GraphError(
        `no gradient through a cast from ${x.dtype} to ${y.dtype}: its input ${x.name}${from} is not differentiable; wrap the cast in stopGradient() if that path should carry no gradient`,
      );
    }
    return [cast(g as Tensor, x.dtype)];
  },
});

export const Greater = defineOp({ type: 'Greater', shape: compareRule });
export const Less = defineOp({ type: 'Less', shape: compareRule });
export const GreaterOrEqual = defineOp({ type: 'GreaterOrEqual', shape: compareRule });
export const LessOrEqual = defineOp({ type: 'LessOrEqual', shape: compareRule });
export const Equal = defineOp({ type: 'Equal', shape: compareRule });
export const And = defineOp({ type: 'And', shape: boolRule });
export const Or = defineOp({ type: 'Or', shape: boolRule });
export const Not = defineOp({ type: 'Not', shape: boolRule });

function apply1(op: OpDef<Record<string, never>>, x: Tensor): Tensor {
  return x.graph.apply(op, [x], {})[0];
}

type Fold = (a: number, b: number) => number;
const folds: Record<string, Fold> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
};

/** Applies a binary op, folding float scalar constants and the identities x+0, x-0, x*1, x/1, x^1. */
function binary(op: OpDef<Record<string, never>>, a: Operand, b: Operand): Tensor {
  const g = graphOf(op.name, a, b);
  const dtype = dtypeOf([a, b]);
  const ta = lift(a, g, dtype);
  const tb = lift(b, g, dtype);
  if (isFloat(dtype) && ta.dtype === tb.dtype) {
    const va = scalarValue(ta);
    const vb = scalarValue(tb);
    const fold = folds[op.name];
    if (fold && va !== undefined && vb !== undefined) return g.scalar(dtype === 'float32' ? Math.fround(fold(va, vb)) : fold(va, vb), dtype);
    const keepsA = (ta.rank >= tb.rank || sameShape(ta.shape, tb.shape)) && tb.rank === 0;
    const keepsB = ta.rank === 0;
    if (keepsA && ((vb === 0 && (op === Add || op === Sub)) || (vb === 1 && (op === Mul || op === Div || op === Pow)))) return ta;
    if (keepsB && ((va === 0 && op === Add) || (va === 1 && op === Mul))) return tb;
  }
  return g.apply(op, [ta, tb], {})[0];
}

export const add = (a: Operand, b: Operand): Tensor => binary(Add, a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary(Sub, a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary(Mul, a, b);
export const div = (a: Operand, b: Operand): Tensor => binary(Div, a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary(Pow, a, b);
/** Elementwise maximum of two tensors (ONNX Max). */
export const maximum = (a: Operand, b: Operand): Tensor => binary(Max, a, b);
/** Elementwise minimum of two tensors (ONNX Min). */
export const minimum = (a: Operand, b: Operand): Tensor => binary(Min, a, b);
export const greater = (a: Operand, b: Operand): Tensor => binary(Greater, a, b);
export const less = (a: Operand, b: Operand): Tensor => binary(Less, a, b);
export const greaterOrEqual = (a: Operand, b: Operand): Tensor => binary(GreaterOrEqual, a, b);
export const lessOrEqual = (a: Operand, b: Operand): Tensor => binary(LessOrEqual, a, b);
export const equal = (a: Operand, b: Operand): Tensor => binary(Equal, a, b);
export const and = (a: Tensor, b: Tensor): Tensor => a.graph.apply(And, [a, b], {})[0];
export const or = (a: Tensor, b: Tensor): Tensor => a.graph.apply(Or, [a, b], {})[0];
export const not = (a: Tensor): Tensor => apply1(Not, a);

/** Sum of one or more tensors of one dtype, broadcasting; one node whatever the count. */
export function sum(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new GraphError('sum: needs at least one tensor');
  if (xs.length === 1) return xs[0];
  if (xs.length === 2) return add(xs[0], xs[1]);
  return xs[0].graph.apply(Sum, xs, {})[0];
}

export const neg = (x: Tensor): Tensor => {
  const v = scalarValue(x);
  return v !== undefined && isFloat(x.dtype) ? x.graph.scalar(-v, x.dtype) : apply1(Neg, x);
};
export const sqrt = (x: Tensor): Tensor => apply1(Sqrt, x);
export const exp = (x: Tensor): Tensor => apply1(Exp, x);
export const log = (x: Tensor): Tensor => apply1(Log, x);
export const abs = (x: Tensor): Tensor => apply1(Abs, x);
export const sign = (x: Tensor): Tensor => apply1(Sign, x);
export const reciprocal = (x: Tensor): Tensor => apply1(Reciprocal, x);
export const square = (x: Tensor): Tensor => mul(x, x);
export const relu = (x: Tensor): Tensor => apply1(Relu, x);
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => x.graph.apply(LeakyRelu, [x], { alpha })[0];
export const sigmoid = (x: Tensor): Tensor => apply1(Sigmoid, x);
export const tanh = (x: Tensor): Tensor => apply1(Tanh, x);
export const identity = (x: Tensor): Tensor => apply1(Identity, x);
/** The same values, with no gradient flowing back through it. */
export const stopGradient = (x: Tensor): Tensor => apply1(StopGradient, x);

/** log(1 + e^x): one Softplus node in float32; in float64 the stable form max(x,0) + log(1 + e^-|x|). */
export function softplus(x: Tensor): Tensor {
  if (x.dtype === 'float32') return apply1(Softplus, x);
  return add(relu(x), log(add(exp(neg(abs(x))), 1)));
}

/** x for x > 0, alpha (e^x - 1) otherwise: one Elu node in float32, composed in float64. */
export function elu(x: Tensor, alpha = 1): Tensor {
  if (x.dtype === 'float32') return x.graph.apply(Elu, [x], { alpha })[0];
  return where(greater(x, 0), x, mul(sub(exp(minimum(x, 0)), 1), alpha));
}

/** Picks x where cond is true, y elsewhere, broadcasting all three. */
export function where(cond: Tensor, x: Operand, y: Operand): Tensor {
  const dtype = x instanceof Tensor ? x.dtype : y instanceof Tensor ? y.dtype : cond.graph.floatType;
  const g = cond.graph;
  return g.apply(Where, [cond, lift(x, g, dtype), lift(y, g, dtype)], {})[0];
}

/** Clamps x to [min, max]; null leaves a side open. Bounds are scalars. */
export function clip(x: Tensor, min: Operand | null, max: Operand | null): Tensor {
  const g = x.graph;
  const lo = lift(min ?? (isFloat(x.dtype) ? -Infinity : Number.MIN_SAFE_INTEGER), g, x.dtype);
  const hi = lift(max ?? (isFloat(x.dtype) ? Infinity : Number.MAX_SAFE_INTEGER), g, x.dtype);
  return g.apply(Clip, [x, lo, hi], {})[0];
}

/** Converts to another dtype; a no-op when the dtype already matches. */
export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return x.graph.apply(Cast, [x], { to })[0];
}
