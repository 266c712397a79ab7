/** @file Serialization to ONNX ModelProto: extracts the nodes some outputs need and writes them for a chosen opset. */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProtoSchema,
  type TypeProto,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { GraphError } from './errors.js';
import type { Graph } from './graph.js';
import type { Node, OnnxAttribute } from './op.js';
import { type ModelPlan, type PlannedNode, type PlannedValue, writeModel } from './onnx-writer.js';
import { type DType, ONNX_DTYPE, type Shape, type Tensor, type TensorData, allocData } from './tensor.js';

export interface ToModelOptions {
  /** Outputs by name; default: the graph's declared outputs. */
  outputs?: Record<string, Tensor>;
  /**
   * Model inputs in order; default: the graph inputs the outputs need, in declaration order. Parameters listed
   * here become inputs whatever paramsAs says.
   */
  inputs?: readonly Tensor[];
  /** Parameters as model inputs (train and eval graphs) or as initializers holding their values (inference). */
  paramsAs?: 'inputs' | 'initializers';
  /**
   * Parameters written as initializers hold zeros instead of their values: a template whose values are written
   * later (`exportInference`), built from a graph without a seed.
   */
  zeroParams?: boolean;
  /** Default-domain opset (default 17). */
  opset?: number;
  /** ONNX IR version (default 8). */
  irVersion?: number;
  metadata?: Record<string, string>;
  producer?: string;
  docString?: string;
  /**
   * Which intermediate tensors get a value_info with their shape: 'symbolic' (default) those with a symbolic
   * dim; 'runtime' only those whose shape onnxruntime cannot infer (shapes read at run time by Expand or
   * Reshape, products like '100*batch'); 'all'; or 'none'. onnxruntime loads graphs over a symbolic batch
   * several times faster with these hints, and without them a long graph downstream of one unknowable shape
   * takes seconds to load.
   */
  valueInfo?: 'symbolic' | 'runtime' | 'all' | 'none';
}

/** Lowest and highest default-domain opsets the op encodings are written for. */
export const MIN_OPSET = 17;
export const MAX_OPSET = 26;

/** The nodes (in order) and leaf tensors that the given outputs depend on. */
export function extractSubgraph(graph: Graph, outputs: readonly Tensor[]): { nodes: Node[]; leaves: Tensor[] } {
  const needed = new Uint8Array(graph.nodes.length);
  const leafIds = new Map<number, Tensor>();
  const stack: Tensor[] = [...outputs];
  while (stack.length > 0) {
    const t = stack.pop() as Tensor;
    const p = t.producer;
    if (p === null) {
      leafIds.set(t.id, t);
      continue;
    }
    if (needed[p.id]) continue;
    needed[p.id] = 1;
    for (const x of p.inputs) stack.push(x);
  }
  const nodes: Node[] = [];
  for (let i = 0; i < needed.length; i++) if (needed[i]) nodes.push(graph.nodes[i]);
  const leaves = [...leafIds.values()].sort((a, b) => a.id - b.id);
  return { nodes, leaves };
}

/**
 * Builds a ModelProto computing `outputs`. Only the nodes those outputs need are written, so one built graph
 * yields the train-step, eval and inference models. Symbolic dims become dim_param.
 */
export function toModel(graph: Graph, opts: ToModelOptions = {}): ModelProto {
  const plan = planModel(graph, opts);
  const types = new Map<string, TypeProto>();
  const attributes = new Map<string, AttributeProto>();
  const attribute = (a: OnnxAttribute): AttributeProto => {
    if (a.type === 'tensor' || a.type === 'graph') return attributeProto(a);
    const key = `${a.name}:${a.type}:${String(a.value)}`;
    let proto = attributes.get(key);
    if (proto === undefined) {
      proto = attributeProto(a);
      attributes.set(key, proto);
    }
    return proto;
  };
  const nodeProtos: NodeProto[] = plan.nodes.map((n) =>
    n.domain === undefined
      ? create(NodeProtoSchema, { name: n.name, opType: n.opType, input: n.inputs, output: n.outputs })
      : create(NodeProtoSchema, { name: n.name, opType: n.opType, domain: n.domain, input: n.inputs, output: n.outputs, attribute: n.attributes.map(attribute) }),
  );
  const info = (v: PlannedValue): ValueInfoProto => valueInfo(v.name, v.dtype, v.shape, types);
  const graphProto: GraphProto = create(GraphProtoSchema, {
    name: plan.graphName,
    node: nodeProtos,
    input: plan.inputs.map(info),
    output: plan.outputs.map(info),
    valueInfo: plan.hints.map(info),
    initializer: plan.initializers.map((t) => tensorProto(t.name, t.dtype, t.dims, t.data)),
  });
  return create(ModelProtoSchema, {
    irVersion: BigInt(plan.irVersion),
    producerName: plan.producer,
    docString: plan.docString,
    opsetImport: plan.opsets.map(([domain, version]) => ({ domain, version: BigInt(version) })),
    graph: graphProto,
    metadataProps: plan.metadata.map(([key, value]) => ({ key, value })),
  });
}

/**
 * The bytes of `encodeModel(toModel(graph, opts))`, identical, written straight from the graph without building
 * protobuf message objects first (several times faster on graphs of thousands of nodes), with the names of the
 * model's inputs and outputs.
 */
export function serializeModel(graph: Graph, opts: ToModelOptions = {}): { bytes: Uint8Array; inputs: string[]; outputs: string[] } {
  const plan = planModel(graph, opts);
  return { bytes: writeModel(plan), inputs: plan.inputs.map((v) => v.name), outputs: plan.outputs.map((v) => v.name) };
}

function planModel(graph: Graph, opts: ToModelOptions): ModelPlan {
  const opset = opts.opset ?? 17;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new GraphError(`opset ${opset} is not supported; choose ${MIN_OPSET} to ${MAX_OPSET}`);
  }
  const outputs = Object.entries(opts.outputs ?? Object.fromEntries(graph.outputs));
  if (outputs.length === 0) throw new GraphError('toModel: no outputs; pass { outputs } or declare them with graph.output()');
  for (const [name, t] of outputs) {
    if (t.graph !== graph) throw new GraphError(`toModel: output "${name}" (${t.toString()}) belongs to another graph`);
  }
  const { nodes, leaves } = extractSubgraph(graph, outputs.map(([, t]) => t));
  const paramsAs = opts.paramsAs ?? 'initializers';

  const modelInputs: Tensor[] = [];
  const listed = new Set<number>();
  if (opts.inputs) {
    for (const t of opts.inputs) {
      if (t.kind !== 'input' && t.kind !== 'param') throw new GraphError(`toModel: ${t.toString()} is not a graph input or parameter`);
      if (listed.has(t.id)) throw new GraphError(`toModel: input ${t.name} is listed twice`);
      listed.add(t.id);
      modelInputs.push(t);
    }
  }
  const initializers: Tensor[] = [];
  for (const t of leaves) {
    if (listed.has(t.id)) continue;
    if (t.kind === 'input') {
      if (opts.inputs) {
        const users = outputs.filter(([, o]) => extractSubgraph(graph, [o]).leaves.includes(t)).map(([n]) => n);
        throw new GraphError(`toModel: output(s) ${users.join(', ')} need input "${t.name}", which is not in the inputs list`);
      }
      modelInputs.push(t);
    } else if (t.kind === 'param' && paramsAs === 'inputs') modelInputs.push(t);
    else initializers.push(t);
  }
  if (!opts.inputs) {
    modelInputs.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
  }

  const used = new Set<string>();
  const claim = (name: string, what: string): void => {
    if (used.has(name)) throw new GraphError(`toModel: the name "${name}" of ${what} is already taken in this model`);
    used.add(name);
  };
  for (const t of modelInputs) claim(t.name, `input ${t.toString()}`);
  for (const t of initializers) claim(t.name, `initializer ${t.toString()}`);

  const rename = new Map<number, string>();
  const identities: { from: Tensor; to: string }[] = [];
  for (const [name, t] of outputs) {
    if (t.kind === 'node' && !rename.has(t.id)) {
      rename.set(t.id, name);
      claim(name, `output "${name}"`);
    } else {
      identities.push({ from: t, to: name });
      claim(name, `output "${name}"`);
    }
  }
  const nameOf = (t: Tensor): string => rename.get(t.id) ?? t.name;

  const extra = new Map<string, { name: string; values: readonly number[] }>();
  const planned: PlannedNode[] = [];
  const domains = new Map<string, number>();
  for (const n of nodes) {
    if (n.op.domain === '' && n.op.sinceOpset > opset) {
      throw new GraphError(`toModel: ${n.op.name} (node ${n.name}) needs opset ${n.op.sinceOpset} or later; asked for ${opset}`);
    }
    if (n.op.domain !== '') domains.set(n.op.domain, 1);
    const enc = n.op.encode ? n.op.encode(n.attrs, opset) : {};
    const inputNames = n.inputs.map(nameOf);
    for (const values of enc.extraInputs ?? []) {
      const key = values.join(',');
      let e = extra.get(key);
      if (!e) {
        e = { name: `int64_${extra.size}`, values };
        claim(e.name, 'an int64 constant');
        extra.set(key, e);
      }
      inputNames.push(e.name);
    }
    for (const t of n.outputs) if (!rename.has(t.id)) claim(t.name, `an output of node ${n.name}`);
    planned.push({ name: n.name, opType: n.op.type, domain: n.op.domain, inputs: inputNames, outputs: n.outputs.map(nameOf), attributes: enc.attributes ?? [] });
  }
  for (const { from, to } of identities) {
    planned.push({ name: `output_${to}`, opType: 'Identity', inputs: [nameOf(from)], outputs: [to], attributes: [] });
  }

  const hints: PlannedValue[] = [];
  const which = opts.valueInfo ?? 'symbolic';
  if (which !== 'none') {
    for (const n of nodes) {
      const runtimeShape = n.inputs.some((t) => t.kind === 'node' && t.dtype === 'int64');
      for (const t of n.outputs) {
        if (rename.has(t.id)) continue;
        const symbolic = t.shape.some((d) => typeof d === 'string');
        if (which === 'symbolic' && !symbolic) continue;
        if (which === 'runtime' && !(symbolic && (runtimeShape || t.shape.some((d) => typeof d === 'string' && d.includes('*'))))) continue;
        hints.push({ name: t.name, dtype: t.dtype, shape: t.shape });
      }
    }
  }
  const zeroParams = opts.zeroParams === true;
  return {
    graphName: graph.name,
    nodes: planned,
    inputs: modelInputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    outputs: outputs.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    hints,
    initializers: [
      ...initializers.map((t) => ({ name: t.name, dtype: t.dtype, dims: t.shape as number[], data: initializerData(t, zeroParams) })),
      ...[...extra.values()].map((e) => ({ name: e.name, dtype: 'int64' as const, dims: [e.values.length], data: BigInt64Array.from(e.values, (v) => BigInt(v)) })),
    ],
    irVersion: opts.irVersion ?? 8,
    producer: opts.producer ?? 'b2m',
    docString: opts.docString ?? '',
    opsets: [['', opset], ...[...domains]],
    metadata: Object.entries(opts.metadata ?? {}),
  };
}

function initializerData(t: Tensor, zeros: boolean): TensorData {
  if (zeros && t.kind === 'param') return allocData(t.dtype, t.shape.reduce<number>((a, d) => a * (d as number), 1));
  return t.value as TensorData;
}

/** Data inputs first, then parameters. */
function rank(t: Tensor): number {
  return t.kind === 'input' ? 0 : 1;
}

/**
 * The number of nodes in a serialized model's main graph, read from the protobuf wire format without decoding
 * the nodes (their bytes are skipped by length).
 */
export function modelNodeCount(bytes: Uint8Array): number {
  const graph = lengthDelimited(bytes, 0, bytes.length, MODEL_GRAPH_FIELD);
  if (graph === null) return 0;
  let count = 0;
  forEachField(bytes, graph.start, graph.end, (field) => {
    if (field === GRAPH_NODE_FIELD) count++;
  });
  return count;
}

/** ModelProto.graph and GraphProto.node field numbers. */
const MODEL_GRAPH_FIELD = 7;
const GRAPH_NODE_FIELD = 1;

/** The byte range of the first length-delimited field `field` in bytes[start, end), or null. */
function lengthDelimited(bytes: Uint8Array, start: number, end: number, field: number): { start: number; end: number } | null {
  let found: { start: number; end: number } | null = null;
  forEachField(bytes, start, end, (f, from, to) => {
    if (found === null && f === field) found = { start: from, end: to };
  });
  return found;
}

/** Calls `visit` with each field number and, for length-delimited fields, the range of its payload. */
function forEachField(bytes: Uint8Array, start: number, end: number, visit: (field: number, from: number, to: number) => void): void {
  let pos = start;
  const skip = (n: number): void => {
    pos += n;
    if (pos > end) throw new GraphError('modelNodeCount: the model bytes end inside a field');
  };
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (pos >= end) throw new GraphError('modelNodeCount: the model bytes end inside a field');
      const b = bytes[pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        varint();
        visit(field, pos, pos);
        break;
      case 1:
        skip(8);
        visit(field, pos, pos);
        break;
      case 2: {
        const n = varint();
        const from = pos;
        skip(n);
        visit(field, from, pos);
        break;
      }
      case 5:
        skip(4);
        visit(field, pos, pos);
        break;
      default:
        throw new GraphError(`modelNodeCount: unsupported wire type ${key & 7} in the model bytes`);
    }
  }
}

/** Serialized bytes of a model. */
export function encodeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model);
}

/** Parses serialized model bytes. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return fromBinary(ModelProtoSchema, bytes);
}

/** A ValueInfoProto for a tensor type; symbolic dims become dim_param. */
export function valueInfo(name: string, dtype: DType, shape: Shape, types?: Map<string, TypeProto>): ValueInfoProto {
  const key = `${dtype}:${shape.join(',')}`;
  let type = types?.get(key);
  if (type === undefined) {
    type = create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: {
          elemType: ONNX_DTYPE[dtype],
          shape: {
            dim: shape.map((d) =>
              typeof d === 'number' ? { value: { case: 'dimValue' as const, value: BigInt(d) } } : { value: { case: 'dimParam' as const, value: d } },
            ),
          },
        },
      },
    });
    types?.set(key, type);
  }
  return create(ValueInfoProtoSchema, { name, type });
}

/** A TensorProto holding values as little-endian raw data. */
export function tensorProto(name: string, dtype: DType, dims: readonly number[], data: TensorData): TensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return create(TensorProtoSchema, { name, dataType: ONNX_DTYPE[dtype], dims: dims.map((d) => BigInt(d)), rawData: bytes });
}

function attributeProto(a: OnnxAttribute): AttributeProto {
  const T = AttributeProto_AttributeType;
  switch (a.type) {
    case 'int':
      return create(AttributeProtoSchema, { name: a.name, type: T.INT, i: BigInt(a.value) });
    case 'float':
      return create(AttributeProtoSchema, { name: a.name, type: T.FLOAT, f: a.value });
    case 'string':
      return create(AttributeProtoSchema, { name: a.name, type: T.STRING, s: new TextEncoder().encode(a.value) });
    case 'ints':
      return create(AttributeProtoSchema, { name: a.name, type: T.INTS, ints: a.value.map((v) => BigInt(v)) });
    case 'floats':
      return create(AttributeProtoSchema, { name: a.name, type: T.FLOATS, floats: [...a.value] });
    case 'tensor':
      return create(AttributeProtoSchema, { name: a.name, type: T.TENSOR, t: a.value });
    case 'graph':
      return create(AttributeProtoSchema, { name: a.name, type: T.GRAPH, g: a.value });
  }
}
