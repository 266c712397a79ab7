/** @file Op definitions as data: ONNX node type, shape rule, gradient rule and opset encoding side by side, plus the registry. */
import type { GraphProto, TensorProto } from 'onnx-buf';
import { GraphError } from './errors.js';
import type { Graph } from './graph.js';
import type { DType, Dim, Tensor } from './tensor.js';

/** dtype and shape of one output, as a shape rule returns it. */
export interface OutputSpec {
  dtype: DType;
  shape: Dim[];
}

/** One serialized ONNX attribute. */
export type OnnxAttribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'ints'; value: readonly number[] }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'tensor'; value: TensorProto }
  | { name: string; type: 'graph'; value: GraphProto };

/** How a node is written for a given opset: its attributes and any int64 constant inputs appended after its tensors. */
export interface Encoding {
  attributes?: OnnxAttribute[];
  extraInputs?: (readonly number[])[];
}

/** What a gradient rule sees: the forward node and the gradients arriving at its outputs. */
export interface GradContext<A> {
  graph: Graph;
  node: Node<A>;
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  attrs: A;
  /** Gradient of the loss with respect to each output; null where none flows. */
  grads: readonly (Tensor | null)[];
  /** Whether the gradient of each input is needed (the input depends on a tensor being differentiated). */
  wants: readonly boolean[];
}

/** Returns the gradient for each input (same shape and dtype as that input), or null for none (zero, or not wanted). */
export type GradRule<A> = (ctx: GradContext<A>) => (Tensor | null)[];

/** An op: one ONNX node type with its rules. */
export interface OpDef<A = Record<string, never>> {
  /** Registry name, unique; defaults to `type`. */
  readonly name: string;
  /** ONNX operator type. */
  readonly type: string;
  /** ONNX domain; '' is the default domain. */
  readonly domain: string;
  /** Lowest default-domain opset whose semantics the encoding relies on. */
  readonly sinceOpset: number;
  /** Output dtypes and shapes; throws GraphError (message without op context, which the builder adds). */
  shape(inputs: readonly Tensor[], attrs: A): OutputSpec[];
  /** Gradient rule; absent means the op is not differentiable. */
  grad?(ctx: GradContext<A>): (Tensor | null)[];
  /** Serialized form per opset; absent means no attributes. */
  encode?(attrs: A, opset: number): Encoding;
}

/** A recorded application of an op. */
export interface Node<A = unknown> {
  readonly id: number;
  readonly name: string;
  readonly op: OpDef<A>;
  readonly inputs: readonly Tensor[];
  readonly attrs: A;
  readonly outputs: readonly Tensor[];
  readonly scope: string;
}

const registry = new Map<string, OpDef<never>>();

/** Defines and registers an op; `name` defaults to `type`, `domain` to '', `sinceOpset` to 17. */
export function defineOp<A = Record<string, never>>(def: {
  name?: string;
  type: string;
  domain?: string;
  sinceOpset?: number;
  shape: (inputs: readonly Tensor[], attrs: A) => OutputSpec[];
  grad?: GradRule<A>;
  encode?: (attrs: A, opset: number) => Encoding;
}): OpDef<A> {
  const op: OpDef<A> = {
    name: def.name ?? def.type,
    type: def.type,
    domain: def.domain ?? '',
    sinceOpset: def.sinceOpset ?? 17,
    shape: def.shape,
    grad: def.grad,
    encode: def.encode,
  };
  if (registry.has(op.name)) throw new GraphError(`op "${op.name}" is defined twice; give one of them another name`);
  registry.set(op.name, op as OpDef<never>);
  return op;
}

/** The registered op of a name, or undefined. */
export function lookupOp(name: string): OpDef<unknown> | undefined {
  return registry.get(name) as OpDef<unknown> | undefined;
}

/** All registered ops, in definition order. */
export function registeredOps(): OpDef<unknown>[] {
  return [...registry.values()] as OpDef<unknown>[];
}

export function isDifferentiable(op: OpDef<unknown>): boolean {
  return op.grad !== undefined;
}
