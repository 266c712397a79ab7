/** @file Shape ops: reshape, transpose, concat, split, slice, gather, scatter, squeeze, unsqueeze, expand, pad, shape and size. */
import { GraphError } from '../errors.js';
import { defineOp } from '../op.js';
import {
  type Dim,
  type Shape,
  Tensor,
  broadcastShapes,
  divDims,
  formatShape,
  isStatic,
  normalizeAxes,
  normalizeAxis,
  sameShape,
  shapeSize,
} from '../tensor.js';
import { cast } from './elementwise.js';
import { sumToShape } from './reduce.js';

const INT_MAX = Number.MAX_SAFE_INTEGER;

function checkInt(t: Tensor, what: string): void {
  if (t.dtype !== 'int64' && t.dtype !== 'int32') throw new GraphError(`${what} must be int64 or int32, got ${t.toString()}`);
}

export const Shape_ = defineOp({
  name: 'Shape',
  type: 'Shape',
  shape: (inputs) => [{ dtype: 'int64', shape: [inputs[0].rank] }],
});

export const Size = defineOp({ type: 'Size', shape: () => [{ dtype: 'int64', shape: [] }] });

/** The run-time shape of x as a 1-D int64 tensor. */
export const shapeOf = (x: Tensor): Tensor => x.graph.apply(Shape_, [x], {})[0];
/** The run-time element count of x as an int64 scalar. */
export const sizeOf = (x: Tensor): Tensor => x.graph.apply(Size, [x], {})[0];

export const Reshape = defineOp<{ to: Dim[] }>({
  type: 'Reshape',
  shape: (inputs, attrs) => {
    const from = shapeSize(inputs[0].shape);
    const to = shapeSize(attrs.to);
    if (String(from) !== String(to)) {
      throw new GraphError(`cannot reshape ${formatShape(inputs[0].shape)} (${from} elements) to ${formatShape(attrs.to)} (${to} elements)`);
    }
    return [{ dtype: inputs[0].dtype, shape: [...attrs.to] }];
  },
  grad: ({ inputs: [x], grads: [g] }) => [reshapeTo(g as Tensor, x.shape, x), null],
});

/** Reshapes to `shape`: numbers, symbolic dims, and at most one -1 (inferred from the element count). */
export function reshape(x: Tensor, shape: readonly Dim[]): Tensor {
  const out = [...shape];
  const minus = out.flatMap((d, i) => (d === -1 ? [i] : []));
  if (minus.length > 1) throw new GraphError(`reshape of ${x.toString()}: at most one -1 in ${formatShape(shape)}`);
  for (const d of out) {
    if (typeof d === 'number' && d !== -1 && !(Number.isInteger(d) && d >= 1)) {
      throw new GraphError(`reshape of ${x.toString()}: invalid dim ${d} in ${formatShape(shape)}`);
    }
  }
  if (minus.length === 1) {
    const rest = shapeSize(out.filter((_, i) => i !== minus[0]));
    const inferred = divDimsOrThrow(shapeSize(x.shape), rest, x, shape);
    out[minus[0]] = inferred;
  }
  return reshapeTo(x, out);
}

function divDimsOrThrow(total: Dim, part: Dim, x: Tensor, shape: readonly Dim[]): Dim {
  const q = divDims(total, part);
  if (q === undefined) {
    throw new GraphError(`cannot infer -1 reshaping ${x.toString()} to ${formatShape(shape)}: ${total} elements do not divide by ${part}`);
  }
  return q;
}

/** Reshape to an exact target; `like` (a tensor of that shape) gives it at run time when a constant cannot. */
export function reshapeTo(x: Tensor, to: Shape, like?: Tensor): Tensor {
  if (sameShape(x.shape, to)) return x;
  const spec: number[] = [];
  let unknown = 0;
  for (let i = 0; i < to.length; i++) {
    const d = to[i];
    if (typeof d === 'number') spec.push(d);
    else if (i < x.rank && x.shape[i] === d) spec.push(0);
    else {
      spec.push(-1);
      unknown++;
    }
  }
  let shapeTensor: Tensor;
  if (unknown <= 1) shapeTensor = x.graph.int64(spec);
  else if (like !== undefined) shapeTensor = shapeOf(like);
  else {
    throw new GraphError(
      `reshape of ${x.toString()} to ${formatShape(to)} moves several symbolic dims; reshape in two steps or keep symbolic dims in place`,
    );
  }
  return x.graph.apply(Reshape, [x, shapeTensor], { to: [...to] })[0];
}

export const Transpose = defineOp<{ perm: number[] }>({
  type: 'Transpose',
  shape: (inputs, attrs) => [{ dtype: inputs[0].dtype, shape: attrs.perm.map((p) => inputs[0].shape[p]) }],
  encode: (attrs) => ({ attributes: [{ name: 'perm', type: 'ints', value: attrs.perm }] }),
  grad: ({ grads: [g], attrs }) => [transpose(g as Tensor, inversePerm(attrs.perm))],
});

export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Permutes axes (default: reversed); the identity permutation adds no node. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? [...perm] : x.shape.map((_, i) => x.rank - 1 - i);
  const sorted = [...p].sort((a, b) => a - b);
  if (p.length !== x.rank || sorted.some((v, i) => v !== i)) {
    throw new GraphError(`transpose of ${x.toString()}: perm [${p.join(',')}] is not a permutation of 0..${x.rank - 1}`);
  }
  if (p.every((v, i) => v === i)) return x;
  return x.graph.apply(Transpose, [x], { perm: p })[0];
}

export const Concat = defineOp<{ axis: number }>({
  type: 'Concat',
  shape: (inputs, attrs) => {
    const first = inputs[0];
    let total = 0;
    for (const t of inputs) {
      if (t.dtype !== first.dtype) throw new GraphError(`dtypes ${first.dtype} and ${t.dtype} differ`);
      if (t.rank !== first.rank) throw new GraphError(`ranks differ: ${formatShape(first.shape)} vs ${formatShape(t.shape)}`);
      for (let i = 0; i < t.rank; i++) {
        if (i !== attrs.axis && t.shape[i] !== first.shape[i]) {
          throw new GraphError(`shapes ${formatShape(first.shape)} and ${formatShape(t.shape)} differ off axis ${attrs.axis}`);
        }
      }
      const d = t.shape[attrs.axis];
      if (typeof d !== 'number') throw new GraphError(`cannot concatenate along symbolic dim '${d}' (axis ${attrs.axis})`);
      total += d;
    }
    const shape = [...first.shape];
    shape[attrs.axis] = total;
    return [{ dtype: first.dtype, shape }];
  },
  encode: (attrs) => ({ attributes: [{ name: 'axis', type: 'int', value: attrs.axis }] }),
  grad: ({ inputs, grads: [g], attrs, wants }) => {
    const parts = split(g as Tensor, inputs.map((t) => t.shape[attrs.axis] as number), attrs.axis);
    return parts.map((p, i) => (wants[i] ? p : null));
  },
});

/** Concatenates along an axis (static along that axis). */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new GraphError('concat: needs at least one tensor');
  if (xs.length === 1) return xs[0];
  const ax = normalizeAxisFor('concat', axis, xs[0]);
  return xs[0].graph.apply(Concat, xs, { axis: ax })[0];
}

function normalizeAxisFor(what: string, axis: number, x: Tensor): number {
  try {
    return normalizeAxis(axis, x.rank);
  } catch (err) {
    throw new GraphError(`${what} of ${x.toString()}: ${(err as Error).message}`);
  }
}

export const Split = defineOp<{ axis: number; sizes: number[] }>({
  type: 'Split',
  shape: (inputs, attrs) => {
    const x = inputs[0];
    const d = x.shape[attrs.axis];
    const total = attrs.sizes.reduce((a, b) => a + b, 0);
    if (d !== total) throw new GraphError(`split sizes [${attrs.sizes.join(',')}] sum to ${total}, but axis ${attrs.axis} has ${d}`);
    return attrs.sizes.map((s) => {
      const shape = [...x.shape];
      shape[attrs.axis] = s;
      return { dtype: x.dtype, shape };
    });
  },
  encode: (attrs) => ({ attributes: [{ name: 'axis', type: 'int', value: attrs.axis }] }),
  grad: ({ outputs, grads, attrs }) => {
    const parts = grads.map((g, i) => g ?? zerosLike(outputs[i]));
    return [concat(parts, attrs.axis), null];
  },
});

/** Splits into parts of the given sizes, or into `sizes` equal parts when a number. */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxisFor('split', axis, x);
  const d = x.shape[ax];
  if (typeof d !== 'number') throw new GraphError(`split of ${x.toString()}: axis ${ax} is symbolic ('${d}')`);
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 1 || d % sizes !== 0) {
      throw new GraphError(`split of ${x.toString()}: axis ${ax} (${d}) does not divide into ${sizes} equal parts`);
    }
    list = new Array<number>(sizes).fill(d / sizes);
  } else list = [...sizes];
  if (list.length === 1) return [x];
  return x.graph.apply(Split, [x, x.graph.int64(list)], { axis: ax, sizes: list });
}

/** One sliced axis as given (ends clamped to +-2^53); sliceRange resolves it against the dim. */
interface SliceAxis {
  axis: number;
  start: number;
  end: number;
  step: number;
}

export const Slice = defineOp<{ axes: SliceAxis[] }>({
  type: 'Slice',
  shape: (inputs, attrs) => {
    const x = inputs[0];
    const shape = [...x.shape];
    for (const s of attrs.axes) shape[s.axis] = sliceRange(x.shape[s.axis], s).count;
    return [{ dtype: x.dtype, shape }];
  },
  grad: ({ inputs: [x], grads: [g], attrs }) => [sliceGrad(g as Tensor, x, attrs.axes), null, null, null, null],
});

/** First index, element count and |step| of a slice along a dim, following ONNX's clamping rules. */
function sliceRange(dim: Dim, s: SliceAxis): { first: number; count: number } {
  if (typeof dim !== 'number') throw new GraphError(`cannot slice symbolic dim '${dim}' (axis ${s.axis}) other than whole`);
  let start = s.start < 0 ? s.start + dim : s.start;
  let end = s.end < 0 ? s.end + dim : s.end;
  if (s.step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
    return { first: start, count: Math.max(0, Math.ceil((end - start) / s.step)) };
  }
  start = Math.min(Math.max(start, 0), dim - 1);
  end = Math.min(Math.max(end, -1), dim - 1);
  const count = Math.max(0, Math.ceil((start - end) / -s.step));
  return { first: start, count };
}

function sliceGrad(g: Tensor, x: Tensor, axes: readonly SliceAxis[]): Tensor {
  let cur = g;
  for (const s of axes) {
    const dim = x.shape[s.axis] as number;
    const { first, count } = sliceRange(dim, s);
    const stride = Math.abs(s.step);
    let lowest = first;
    if (s.step < 0) {
      lowest = first + (count - 1) * s.step;
      cur = slice(cur, [-1], [-INT_MAX], [s.axis], [-1]);
    }
    let span = count;
    if (stride > 1 && count > 0) {
      const spread = unsqueeze(cur, [s.axis + 1]);
      const pads = new Array<number>(2 * spread.rank).fill(0);
      pads[spread.rank + s.axis + 1] = stride - 1;
      const padded = pad(spread, pads);
      const merged = [...cur.shape];
      merged[s.axis] = count * stride;
      cur = reshapeTo(padded, merged);
      span = count * stride;
    }
    const pads = new Array<number>(2 * cur.rank).fill(0);
    pads[s.axis] = lowest;
    pads[cur.rank + s.axis] = dim - lowest - span;
    cur = pad(cur, pads);
  }
  return cur;
}

/** numpy-style slicing: starts/ends per listed axis (default 0..rank-1), optional steps (may be negative). */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Tensor {
  const ax = axes ?? starts.map((_, i) => i);
  const st = steps ?? starts.map(() => 1);
  if (ends.length !== starts.length || ax.length !== starts.length || st.length !== starts.length) {
    throw new GraphError(`slice of ${x.toString()}: starts, ends, axes and steps must have equal lengths`);
  }
  const list: SliceAxis[] = ax.map((a, i) => {
    if (st[i] === 0 || !Number.isInteger(st[i])) throw new GraphError(`slice of ${x.toString()}: step ${st[i]} must be a non-zero integer`);
    return { axis: normalizeAxisFor('slice', a, x), start: starts[i], end: clampEnd(ends[i]), step: st[i] };
  });
  const seen = new Set<number>();
  for (const s of list) {
    if (seen.has(s.axis)) throw new GraphError(`slice of ${x.toString()}: axis ${s.axis} is listed twice`);
    seen.add(s.axis);
  }
  const g = x.graph;
  const useful = list.filter((s) => !(s.start === 0 && s.end >= INT_MAX && s.step === 1));
  if (useful.length === 0) return x;
  return g.apply(
    Slice,
    [
      x,
      g.int64(useful.map((s) => s.start)),
      g.int64(useful.map((s) => s.end)),
      g.int64(useful.map((s) => s.axis)),
      g.int64(useful.map((s) => s.step)),
    ],
    { axes: useful },
  )[0];
}

function clampEnd(e: number): number {
  if (e >= INT_MAX || e === Infinity) return INT_MAX;
  if (e <= -INT_MAX || e === -Infinity) return -INT_MAX;
  return e;
}

export const Gather = defineOp<{ axis: number }>({
  type: 'Gather',
  shape: (inputs, attrs) => {
    const [data, indices] = inputs;
    checkInt(indices, 'gather indices');
    const shape = [...data.shape.slice(0, attrs.axis), ...indices.shape, ...data.shape.slice(attrs.axis + 1)];
    return [{ dtype: data.dtype, shape }];
  },
  encode: (attrs) => ({ attributes: [{ name: 'axis', type: 'int', value: attrs.axis }] }),
  grad: ({ inputs: [data, indices], grads: [g], attrs }) => {
    const a = attrs.axis;
    const k = indices.rank;
    const idx = unsqueeze(cast(indices, 'int64'), [k]);
    const front = [a, ...range(0, a), ...range(a + 1, data.rank)];
    const updates = transpose(g as Tensor, [...range(a, a + k), ...range(0, a), ...range(a + k, (g as Tensor).rank)]);
    const zeros = zerosOfShape(front.map((p) => data.shape[p]), data, front);
    return [transpose(scatterND(zeros, idx, updates, 'add'), inversePerm(front)), null];
  },
});

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** Takes entries along an axis; indices are an int tensor or a list (a number drops the axis). */
export function gather(data: Tensor, indices: Tensor | number | readonly number[], axis = 0): Tensor {
  const a = normalizeAxisFor('gather', axis, data);
  const g = data.graph;
  const idx =
    indices instanceof Tensor ? indices : typeof indices === 'number' ? g.constant(indices, { dtype: 'int64' }) : g.int64(indices);
  return g.apply(Gather, [data, idx], { axis: a })[0];
}

export const GatherND = defineOp({
  type: 'GatherND',
  shape: (inputs) => {
    const [data, indices] = inputs;
    if (indices.dtype !== 'int64') throw new GraphError(`GatherND indices must be int64, got ${indices.toString()}`);
    const depth = indices.shape[indices.rank - 1];
    if (typeof depth !== 'number' || depth > data.rank) throw new GraphError(`index depth ${depth} does not fit data rank ${data.rank}`);
    return [{ dtype: data.dtype, shape: [...indices.shape.slice(0, -1), ...data.shape.slice(depth)] }];
  },
  grad: ({ inputs: [data, indices], grads: [g] }) => [scatterND(zerosLike(data), indices, g as Tensor, 'add'), null],
});

/** Gathers slices of data addressed by the last axis of int64 indices (ONNX GatherND, batch_dims 0). */
export const gatherND = (data: Tensor, indices: Tensor): Tensor => data.graph.apply(GatherND, [data, indices], {})[0];

export const ScatterND = defineOp<{ reduction: 'none' | 'add' }>({
  type: 'ScatterND',
  shape: (inputs) => {
    const [data, indices, updates] = inputs;
    if (indices.dtype !== 'int64') throw new GraphError(`ScatterND indices must be int64, got ${indices.toString()}`);
    if (updates.dtype !== data.dtype) throw new GraphError(`updates dtype ${updates.dtype} differs from data ${data.dtype}`);
    const depth = indices.shape[indices.rank - 1];
    if (typeof depth !== 'number') throw new GraphError(`index depth must be static, got ${formatShape(indices.shape)}`);
    const expect = [...indices.shape.slice(0, -1), ...data.shape.slice(depth)];
    if (!sameShape(expect, updates.shape)) {
      throw new GraphError(`updates must have shape ${formatShape(expect)}, got ${formatShape(updates.shape)}`);
    }
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
  encode: (attrs) => ({ attributes: attrs.reduction === 'none' ? [] : [{ name: 'reduction', type: 'string', value: attrs.reduction }] }),
  grad: ({ inputs: [, indices, updates], grads: [g], attrs, wants }) => [
    wants[0] ? (attrs.reduction === 'add' ? (g as Tensor) : scatterND(g as Tensor, indices, zerosLike(updates), 'none')) : null,
    null,
    wants[2] ? gatherND(g as Tensor, indices) : null,
  ],
});

/** Writes (or adds, with 'add') updates into a copy of data at int64 index tuples. */
export const scatterND = (data: Tensor, indices: Tensor, updates: Tensor, reduction: 'none' | 'add' = 'none'): Tensor =>
  data.graph.apply(ScatterND, [data, indices, updates], { reduction })[0];

export const Squeeze = defineOp<{ axes: number[] }>({
  type: 'Squeeze',
  shape: (inputs, attrs) => {
    const x = inputs[0];
    for (const a of attrs.axes) if (x.shape[a] !== 1) throw new GraphError(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !attrs.axes.includes(i)) }];
  },
  grad: ({ grads: [g], attrs }) => [unsqueeze(g as Tensor, attrs.axes), null],
});

/** Removes size-1 axes (default: every static size-1 axis). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  let list: number[];
  try {
    list = axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes(typeof axes === 'number' ? [axes] : axes, x.rank);
  } catch (err) {
    throw new GraphError(`squeeze of ${x.toString()}: ${(err as Error).message}`);
  }
  if (list.length === 0) return x;
  return x.graph.apply(Squeeze, [x, x.graph.int64(list)], { axes: list })[0];
}

export const Unsqueeze = defineOp<{ axes: number[] }>({
  type: 'Unsqueeze',
  shape: (inputs, attrs) => {
    const x = inputs[0];
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < x.rank + attrs.axes.length; i++) shape.push(attrs.axes.includes(i) ? 1 : x.shape[j++]);
    return [{ dtype: x.dtype, shape }];
  },
  grad: ({ grads: [g], attrs }) => [squeeze(g as Tensor, attrs.axes), null],
});

/** Inserts size-1 axes at positions of the output. */
export function unsqueeze(x: Tensor, axes: number | readonly number[]): Tensor {
  const raw = typeof axes === 'number' ? [axes] : axes;
  if (raw.length === 0) return x;
  let list: number[];
  try {
    list = normalizeAxes(raw, x.rank + raw.length);
  } catch (err) {
    throw new GraphError(`unsqueeze of ${x.toString()}: ${(err as Error).message}`);
  }
  return x.graph.apply(Unsqueeze, [x, x.graph.int64(list)], { axes: list })[0];
}

export const Expand = defineOp<{ to: Dim[] }>({
  type: 'Expand',
  shape: (inputs, attrs) => [{ dtype: inputs[0].dtype, shape: broadcastShapes(inputs[0].shape, attrs.to) }],
  grad: ({ inputs: [x], grads: [g] }) => [sumToShape(g as Tensor, x.shape), null],
});

/** Broadcasts x to a shape; a symbolic target dim must already be x's (aligned) or come via expandAs. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapesFor('expand', x, shape);
  if (sameShape(out, x.shape)) return x;
  const lead = out.length - x.rank;
  const spec: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    const j = i + (out.length - shape.length);
    if (typeof d === 'number') spec.push(d);
    else if (j - lead >= 0 && x.shape[j - lead] === d) spec.push(1);
    else throw new GraphError(`expand of ${x.toString()} to ${formatShape(shape)}: symbolic dim '${d}' is not in the input; use expandAs(x, like)`);
  }
  return x.graph.apply(Expand, [x, x.graph.int64(spec)], { to: [...shape] })[0];
}

/** Broadcasts x to the shape of `like`, read at run time when it is symbolic. */
export function expandAs(x: Tensor, like: Tensor): Tensor {
  const out = broadcastShapesFor('expandAs', x, like.shape);
  if (sameShape(out, x.shape)) return x;
  if (isStatic(like.shape)) return expand(x, like.shape);
  const needsRuntime = like.shape.some((d, i) => typeof d === 'string' && x.shape[i - (like.rank - x.rank)] !== d);
  if (!needsRuntime) return expand(x, like.shape);
  return x.graph.apply(Expand, [x, shapeOf(like)], { to: [...like.shape] })[0];
}

function broadcastShapesFor(what: string, x: Tensor, shape: Shape): Dim[] {
  try {
    return broadcastShapes(x.shape, shape);
  } catch (err) {
    throw new GraphError(`${what} of ${x.toString()} to ${formatShape(shape)}: ${(err as Error).message}`);
  }
}

/** Zeros of x's dtype and shape (an Expand of one scalar; no large constant). */
export function zerosLike(x: Tensor): Tensor {
  return expandAs(x.graph.scalar(0, x.dtype), x);
}

/** Zeros of `shape`, whose symbolic dims are read from `like` permuted by `perm` at run time. */
function zerosOfShape(shape: Dim[], like: Tensor, perm: number[]): Tensor {
  const zero = like.graph.scalar(0, like.dtype);
  if (isStatic(shape)) return expand(zero, shape);
  const dims = gather(shapeOf(like), perm);
  return like.graph.apply(Expand, [zero, dims], { to: shape })[0];
}

export const Pad = defineOp<{ pads: number[] }>({
  type: 'Pad',
  shape: (inputs, attrs) => {
    const x = inputs[0];
    if (inputs[2].dtype !== x.dtype || inputs[2].rank !== 0) throw new GraphError(`pad value must be a ${x.dtype} scalar`);
    const shape = x.shape.map((d, i) => {
      const extra = attrs.pads[i] + attrs.pads[i + x.rank];
      if (extra === 0) return d;
      if (typeof d !== 'number') throw new GraphError(`cannot pad symbolic dim '${d}' (axis ${i})`);
      if (d + extra < 0) throw new GraphError(`pads [${attrs.pads.join(',')}] crop axis ${i} (size ${d}) below zero`);
      return d + extra;
    });
    return [{ dtype: x.dtype, shape }];
  },
  grad: ({ grads: [g], attrs }) => [pad(g as Tensor, attrs.pads.map((p) => -p)), null, null],
});

/**
 * Constant padding in ONNX layout: pads = [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}]; negative
 * entries crop.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length !== 2 * x.rank || pads.some((p) => !Number.isInteger(p))) {
    throw new GraphError(`pad of ${x.toString()}: pads must be ${2 * x.rank} integers (begins then ends), got [${pads.join(',')}]`);
  }
  if (pads.every((p) => p === 0)) return x;
  const g = x.graph;
  return g.apply(Pad, [x, g.int64(pads), g.scalar(value, x.dtype)], { pads: [...pads] })[0];
}
