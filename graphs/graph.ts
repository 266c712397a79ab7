/** @file The graph builder: inputs, outputs, constants, scoped parameters with seeded initial values, and node recording. */
import { GraphError } from './errors.js';
import { type InitSpec, checkInit, paramValues, resolveInit } from './init.js';
import type { Node, OpDef } from './op.js';
import {
  type DType,
  type Dim,
  type FloatType,
  type Shape,
  type TensorData,
  Tensor,
  allocData,
  formatShape,
  isStatic,
  shapeSize,
} from './tensor.js';

export interface GraphOptions {
  /** Type of every float parameter and float constant; float64 for gradient checks, float32 for training. */
  floatType?: FloatType;
  /**
   * Seed of the parameter initializers (default 0). null builds a graph without values: reading a parameter's
   * value is an error, which keeps models compiled from it independent of any seed.
   */
  seed?: number | null;
  /** Graph name written into serialized models (default 'b2m'). */
  name?: string;
}

/** Values accepted by `constant`: a number, a flat list, or host storage. */
export type ConstantValues = number | boolean | readonly number[] | TensorData;

const NAME_PART = /^[A-Za-z0-9_-]+$/;

/** Records a computation as symbolic tensors and nodes; the same builder code yields float32 or float64 graphs. */
export class Graph {
  readonly floatType: FloatType;
  readonly seed: number | null;
  readonly name: string;
  /** Every recorded node, in creation (hence topological) order. */
  readonly nodes: Node[] = [];
  /** Graph inputs, in declaration order. */
  readonly inputs: Tensor[] = [];
  /** Parameters, in declaration order. */
  readonly params: Tensor[] = [];
  /** Named outputs declared with `output`. */
  readonly outputs = new Map<string, Tensor>();
  private tensorCount = 0;
  private scopeString = '';
  private readonly names = new Map<string, Tensor>();
  private readonly constCache = new Map<string, Tensor>();

  constructor(opts: GraphOptions = {}) {
    this.floatType = opts.floatType ?? 'float32';
    if (this.floatType !== 'float32' && this.floatType !== 'float64') {
      throw new GraphError(`Graph floatType must be 'float32' or 'float64', got '${String(this.floatType)}'`);
    }
    this.seed = opts.seed === undefined ? 0 : opts.seed;
    if (this.seed !== null && (!Number.isSafeInteger(this.seed) || this.seed < 0)) {
      throw new GraphError(`Graph seed must be a non-negative integer, got ${this.seed}`);
    }
    this.name = opts.name ?? 'b2m';
  }

  /** The current scope, dot-joined ('' at top level). */
  get scopePath(): string {
    return this.scopeString;
  }

  /** Runs fn with `name` appended to the scope; parameters and nodes made inside are named under it. */
  scope<T>(name: string, fn: () => T): T {
    if (!NAME_PART.test(name)) {
      throw new GraphError(`scope name "${name}" must be letters, digits, '_' or '-' (no dots; nest scopes instead)`);
    }
    const saved = this.scopeString;
    this.scopeString = saved === '' ? name : `${saved}.${name}`;
    try {
      return fn();
    } finally {
      this.scopeString = saved;
    }
  }

  /** Runs fn with the scope set to an absolute dot-joined path (used to name gradient nodes after their forward nodes). */
  atScope<T>(path: string, fn: () => T): T {
    const saved = this.scopeString;
    this.scopeString = path;
    try {
      return fn();
    } finally {
      this.scopeString = saved;
    }
  }

  /** Declares a graph input; a string dim is symbolic ('batch'). */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    this.claimName(name, 'input');
    checkShape(shape, `input "${name}"`, true);
    const t = new Tensor(this, this.tensorCount++, name, dtype, [...shape], 'input');
    this.inputs.push(t);
    this.names.set(name, t);
    return t;
  }

  /** Declares a named output (serialization uses these when no outputs are given). */
  output(name: string, tensor: Tensor): Tensor {
    this.own(tensor, `output "${name}"`);
    if (this.outputs.has(name)) throw new GraphError(`output "${name}" is declared twice`);
    this.outputs.set(name, tensor);
    return tensor;
  }

  /**
   * A constant. dtype defaults to int64/int32/bool for BigInt64Array/Int32Array/Uint8Array values and to the
   * graph's float type otherwise; shape defaults to [] for a number and [n] for a list.
   */
  constant(values: ConstantValues, opts: { dtype?: DType; shape?: readonly number[] } = {}): Tensor {
    const dtype = opts.dtype ?? inferDType(values, this.floatType);
    const list = typeof values === 'number' || typeof values === 'boolean' ? [values] : values;
    const shape = opts.shape ?? (typeof values === 'number' || typeof values === 'boolean' ? [] : [list.length]);
    checkShape(shape, 'constant', false);
    const size = shapeSize(shape) as number;
    if (size !== list.length) {
      throw new GraphError(`constant has ${list.length} values, but shape ${formatShape(shape)} holds ${size}`);
    }
    const data = allocData(dtype, size);
    if (data instanceof BigInt64Array) {
      for (let i = 0; i < size; i++) {
        const v = list[i];
        data[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      }
    } else {
      for (let i = 0; i < size; i++) data[i] = Number(list[i]);
    }
    return this.constantFrom(data, dtype, shape);
  }

  /** A scalar constant, shared by every use of the same value and dtype. */
  scalar(value: number, dtype: DType = this.floatType): Tensor {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : String(value)}`;
    let t = this.constCache.get(key);
    if (t === undefined) {
      t = this.constant(value, { dtype });
      this.constCache.set(key, t);
    }
    return t;
  }

  /** A 1-D int64 constant (axes, shapes, pads), shared by every use of the same values. */
  int64(values: readonly number[]): Tensor {
    const key = `i64:${values.join(',')}`;
    let t = this.constCache.get(key);
    if (t === undefined) {
      t = this.constant(values, { dtype: 'int64' });
      this.constCache.set(key, t);
    }
    return t;
  }

  /**
   * A trainable parameter named `<scope>.<localName>`, with initial values from `init` drawn (when first read)
   * from a generator seeded by (graph seed, parameter path), so adding a parameter never changes the others.
   */
  param(localName: string, shape: readonly number[], spec: InitSpec): Tensor {
    if (!NAME_PART.test(localName)) {
      throw new GraphError(`parameter name "${localName}" must be letters, digits, '_' or '-' (use scope() for paths)`);
    }
    const path = this.scopePath === '' ? localName : `${this.scopePath}.${localName}`;
    if (this.names.get(path)?.kind === 'param') throw new GraphError(`parameter "${path}" is defined twice`);
    this.claimName(path, 'parameter');
    checkShape(shape, `parameter "${path}"`, false);
    const it = resolveInit(spec);
    checkInit(it, shape, `parameter "${path}"`);
    const t = new Tensor(this, this.tensorCount++, path, this.floatType, [...shape], 'param', null, 0, null, it);
    this.params.push(t);
    this.names.set(path, t);
    return t;
  }

  /** The parameter at a path, or a GraphError listing what exists. */
  getParam(path: string): Tensor {
    const t = this.names.get(path);
    if (t === undefined || t.kind !== 'param') {
      const known = this.params.map((p) => p.name);
      throw new GraphError(`no parameter "${path}"; parameters are: ${known.join(', ') || '(none)'}`);
    }
    return t;
  }

  /** Replaces a parameter's stored values (e.g. from a checkpoint); the length must match. */
  setParamValue(path: string, values: ArrayLike<number>): void {
    const t = this.getParam(path);
    const data = t.value as Float32Array | Float64Array;
    if (values.length !== data.length) {
      throw new GraphError(`parameter "${path}" has ${data.length} values, got ${values.length}`);
    }
    data.set(values);
  }

  /** Draws the initial values of one of this graph's parameters (what `Tensor.value` calls on first use). */
  initialValues(t: Tensor): Float32Array | Float64Array {
    if (t.graph !== this || t.init === null) throw new GraphError(`${t.toString()} is not a parameter of this graph`);
    if (this.seed === null) {
      throw new GraphError(
        `parameter "${t.name}" has no values: graph '${this.name}' was built without a seed (compiled models are seed-free; initial values come from initialParams(io, seed))`,
      );
    }
    return paramValues(t.init, t.shape as number[], this.floatType, this.seed, t.name);
  }

  /** Current values of every parameter, by path. */
  paramValues(): Map<string, Float32Array | Float64Array> {
    return new Map(this.params.map((p) => [p.name, p.value as Float32Array | Float64Array]));
  }

  /** Records a node of `op`; checks the inputs, runs the shape rule, and names errors after the op and scope. */
  apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor[] {
    for (const t of inputs) this.own(t, op.name);
    let specs;
    try {
      specs = op.shape(inputs, attrs);
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      const where = this.scopePath === '' ? '' : ` in scope '${this.scopePath}'`;
      const ins = inputs.map((t) => t.toString()).join(', ');
      throw new GraphError(`${op.name}${where}: ${err.message} (inputs: ${ins})`);
    }
    const id = this.nodes.length;
    const scope = this.scopePath;
    const name = `${scope === '' ? '' : scope + '/'}${op.type}_${id}`;
    const outputs: Tensor[] = [];
    const node: Node<A> = { id, name, op, inputs, attrs, outputs, scope };
    for (let i = 0; i < specs.length; i++) {
      const tname = i === 0 ? name : `${name}:${i}`;
      outputs.push(new Tensor(this, this.tensorCount++, tname, specs[i].dtype, specs[i].shape, 'node', node as Node, i));
    }
    this.nodes.push(node as Node);
    return outputs;
  }

  private constantFrom(data: TensorData, dtype: DType, shape: readonly Dim[]): Tensor {
    const id = this.tensorCount++;
    return new Tensor(this, id, `const_${id}`, dtype, [...shape], 'constant', null, 0, data);
  }

  private claimName(name: string, what: string): void {
    const prior = this.names.get(name);
    if (prior !== undefined) {
      throw new GraphError(`${what} name "${name}" is already used by ${prior.kind === 'param' ? 'a parameter' : 'an input'}`);
    }
  }

  private own(t: Tensor, where: string): void {
    if (!(t instanceof Tensor)) throw new GraphError(`${where}: expected a Tensor, got ${String(t)}`);
    if (t.graph !== this) throw new GraphError(`${where}: tensor ${t.toString()} belongs to another graph`);
  }
}

function inferDType(values: ConstantValues, floatType: FloatType): DType {
  if (values instanceof BigInt64Array) return 'int64';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof Uint8Array || typeof values === 'boolean') return 'bool';
  return floatType;
}

function checkShape(shape: Shape, what: string, symbolicOk: boolean): void {
  for (const d of shape) {
    if (typeof d === 'string') {
      if (!symbolicOk) throw new GraphError(`${what} needs a static shape, got ${formatShape(shape)}`);
      if (d.trim() === '') throw new GraphError(`${what} has an empty symbolic dim in ${formatShape(shape)}`);
    } else if (!Number.isInteger(d) || d < 0) {
      throw new GraphError(`${what} has an invalid dim ${d} in ${formatShape(shape)}; dims are non-negative integers or names`);
    }
  }
  if (!symbolicOk && !isStatic(shape)) throw new GraphError(`${what} needs a static shape, got ${formatShape(shape)}`);
}
