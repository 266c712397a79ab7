/** @file Symbolic tensors: dtypes, shapes with symbolic dimensions, and the shape algebra the op rules share. */
import { GraphError } from './errors.js';
import type { Graph } from './graph.js';
import type { Init } from './init.js';
import type { Node } from './op.js';

/** Element types a graph tensor can hold. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';
/** The float type a whole graph is built in. */
export type FloatType = 'float32' | 'float64';
/**
 * One dimension: a number, or a symbol resolved at run time. The batch dimension is `'batch'`; products of
 * symbols made by reshapes read like `'100*batch'`.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];
/** Host storage for constant and parameter values, by dtype. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
/** Where a tensor comes from. */
export type TensorKind = 'input' | 'param' | 'constant' | 'node';

/** A symbolic tensor of a graph: an input, a parameter, a constant, or an output of a node. */
export class Tensor {
  private data: TensorData | null;

  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: TensorKind,
    /** The node that computes this tensor (kind 'node'). */
    readonly producer: Node | null = null,
    readonly outputIndex = 0,
    value: TensorData | null = null,
    /** A parameter's initializer. */
    readonly init: Init | null = null,
  ) {
    this.data = value;
  }

  /**
   * Values of a constant, or initial values of a parameter: drawn on first use from its initializer and the
   * graph's seed, so a graph whose values are never read (a compiled model) never draws them.
   */
  get value(): TensorData | null {
    if (this.data === null && this.init !== null) this.data = this.graph.initialValues(this);
    return this.data;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** `name float32[batch,3]`, for messages. */
  toString(): string {
    return `${this.name} ${this.dtype}${formatShape(this.shape)}`;
  }
}

export function isFloat(dtype: DType): dtype is FloatType {
  return dtype === 'float32' || dtype === 'float64';
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** Splits a dim into its numeric coefficient and its sorted symbols: '100*batch' -> 100, ['batch']. */
export function dimFactors(d: Dim): { coef: number; symbols: string[] } {
  if (typeof d === 'number') return { coef: d, symbols: [] };
  let coef = 1;
  const symbols: string[] = [];
  for (const part of d.split('*')) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coef *= Number(p);
    else symbols.push(p);
  }
  symbols.sort();
  return { coef, symbols };
}

function dimFromFactors(coef: number, symbols: string[]): Dim {
  if (symbols.length === 0) return coef;
  if (coef === 0) return 0;
  const sym = [...symbols].sort().join('*');
  return coef === 1 ? sym : `${coef}*${sym}`;
}

/** The product of two dims, symbolic where either is. */
export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const fa = dimFactors(a);
  const fb = dimFactors(b);
  return dimFromFactors(fa.coef * fb.coef, [...fa.symbols, ...fb.symbols]);
}

/** a / b when it divides exactly (symbols of b must all appear in a), else undefined. */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  const fa = dimFactors(a);
  const fb = dimFactors(b);
  if (fb.coef === 0 || fa.coef % fb.coef !== 0) return undefined;
  const rest = [...fa.symbols];
  for (const s of fb.symbols) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return dimFromFactors(fa.coef / fb.coef, rest);
}

/** Number of elements, symbolic when the shape is. */
export function shapeSize(shape: Shape): Dim {
  let size: Dim = 1;
  for (const d of shape) size = mulDims(size, d);
  return size;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

/** Numpy broadcasting of two shapes; a symbolic dim broadcasts only against 1 or itself. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = new Array(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else throw new GraphError(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (dim ${da} vs ${db})`);
  }
  return out;
}

/** Resolves a possibly negative axis against a rank, or throws naming the axis. */
export function normalizeAxis(axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new GraphError(`axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Resolves, checks and sorts a list of axes; duplicates are an error. */
export function normalizeAxes(axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normalizeAxis(a, rank)).sort((x, y) => x - y);
  for (let i = 1; i < out.length; i++) {
    if (out[i] === out[i - 1]) throw new GraphError(`axis ${out[i]} is listed twice in [${axes.join(',')}]`);
  }
  return out;
}

/** Allocates host storage of a dtype. */
export function allocData(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'bool':
      return new Uint8Array(length);
  }
}

/** Reads element i of host storage as a number. */
export function dataAt(data: TensorData, i: number): number {
  const v = data[i];
  return typeof v === 'bigint' ? Number(v) : v;
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Readonly<Record<DType, number>> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

/** Same dims, position by position. */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
