/**
 * @file Bundles in ONNX's own training representation: the inference model carrying a TrainingInfoProto whose
 * algorithm is the train step, with parameters, optimizer state and step count stored so training resumes exactly.
 */
import { clone, create } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  StringStringEntryProtoSchema,
  type TensorProto,
  TrainingInfoProtoSchema,
  type ValueInfoProto,
} from 'onnx-buf';
import { ARTIFACT_FORMAT, type FloatArray, type TrainingIo, setParamInitializers, toFloatArray } from './artifacts.js';
import { GraphError } from './errors.js';
import { decodeModel, encodeModel, tensorProto, valueInfo } from './serialize.js';

/**
 * Layout of a bundle (a valid ONNX model that any runtime runs for inference):
 * - `graph`: the inference model, every parameter it uses an initializer holding its current value.
 * - `training_info[0].algorithm`: the train-step graph. It reads the inference graph's parameter initializers
 *   and data inputs by name; its own internal names carry the prefix `train/` so that the two graphs joined, as
 *   the ONNX spec defines, stay in single-assignment form. Its initializers hold its constants, the parameters
 *   the inference graph does not use (loss heads), every optimizer state tensor (`opt.<param>.<slot>`) and the
 *   step counter (`step`, int64): the state lives in the algorithm, not in an `initialization` graph, because it
 *   holds values reached by training, not a recipe to reset them.
 * - `training_info[0].update_binding`: each parameter, state tensor and `step` mapped to its updated output.
 * - metadata `b2m.training`: the io description (JSON) needed to rebuild the standalone train-step model.
 */
export const BUNDLE_METADATA_KEY = 'b2m.training';
const PREFIX = 'train/';

/** What a bundle holds, ready for `TrainSession.create` (it is a `StepSource`). */
export interface Bundle {
  io: TrainingIo;
  /** The standalone train-step model, as `compileTraining` made it. */
  trainStep: Uint8Array;
  /** The inference model with the bundle's parameter values, without the training information. */
  inference: Uint8Array;
  params: Map<string, FloatArray>;
  state: Map<string, FloatArray>;
  step: number;
}

/** Writes a bundle from compiled artifacts (or a read bundle) and the values reached by training. */
export function writeBundle(
  source: { io: TrainingIo; trainStep: Uint8Array; inference: Uint8Array },
  params: ReadonlyMap<string, ArrayLike<number>>,
  state: ReadonlyMap<string, ArrayLike<number>>,
  step: number,
): Uint8Array {
  const io = source.io;
  if (!Number.isSafeInteger(step) || step < 0) throw new GraphError(`writeBundle: step must be a non-negative integer, got ${step}`);
  if (io.irVersion < 7) throw new GraphError(`writeBundle: training information needs ONNX IR version 7 or later; the models use ${io.irVersion}`);
  const model = decodeModel(source.inference);
  const main = model.graph;
  const train = decodeModel(source.trainStep).graph;
  if (!main || !train) throw new GraphError('writeBundle: a model has no graph');
  setParamInitializers(io, main, params);

  const mainNames = new Set([...main.initializer.map((t) => t.name), ...main.input.map((v) => v.name)]);
  const iface = new Set([...train.input.map((v) => v.name), ...train.output.map((v) => v.name)]);
  for (const n of iface) {
    if (n.startsWith(PREFIX)) throw new GraphError(`writeBundle: the name "${n}" starts with '${PREFIX}', which bundles reserve; rename it`);
  }
  const algorithm = clone(GraphProtoSchema, train);
  renameGraph(algorithm, (n) => (n === '' || iface.has(n) ? n : PREFIX + n));

  const carried: TensorProto[] = [];
  for (const p of io.params) {
    if (mainNames.has(p.path)) continue;
    const v = params.get(p.path);
    if (v === undefined) throw new GraphError(`writeBundle: no value given for parameter "${p.path}"`);
    carried.push(tensorProto(p.path, io.floatType, p.shape, toFloatArray(io, `parameter "${p.path}"`, p.shape, v)));
  }
  for (const s of io.state) {
    const v = state.get(s.name);
    if (v === undefined) throw new GraphError(`writeBundle: no value given for optimizer state "${s.name}"`);
    carried.push(tensorProto(s.name, io.floatType, s.shape, toFloatArray(io, `optimizer state "${s.name}"`, s.shape, v)));
  }
  carried.push(tensorProto(io.step.name, 'int64', [], BigInt64Array.of(BigInt(step))));
  const carriedNames = new Set(carried.map((t) => t.name));
  algorithm.input = algorithm.input.filter((v) => !carriedNames.has(v.name) && !mainNames.has(v.name));
  algorithm.initializer.push(...carried);

  model.trainingInfo = [
    create(TrainingInfoProtoSchema, {
      algorithm,
      updateBinding: Object.entries(io.trainStep.binding).map(([output, input]) => ({ key: input, value: output })),
    }),
  ];
  model.metadataProps.push(create(StringStringEntryProtoSchema, { key: BUNDLE_METADATA_KEY, value: JSON.stringify(io) }));
  return encodeModel(model);
}

/** Reads a bundle back into the standalone train-step and inference models and the values to resume from. */
export function readBundle(bytes: Uint8Array): Bundle {
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new GraphError(`readBundle: not an ONNX model (${(err as Error).message})`);
  }
  const meta = model.metadataProps.find((e) => e.key === BUNDLE_METADATA_KEY);
  const algorithm = model.trainingInfo[0]?.algorithm;
  const main = model.graph;
  if (!meta || !algorithm || !main) {
    throw new GraphError(`readBundle: this ONNX model is not a b2m bundle (no training_info with '${BUNDLE_METADATA_KEY}' metadata); export bundles with writeBundle`);
  }
  const io = JSON.parse(meta.value) as TrainingIo;
  // Format 1 bundles differ only in lacking each parameter's initializer, which a bundle, holding values, does not need.
  if (io.format !== ARTIFACT_FORMAT && (io.format as number) !== 1) {
    throw new GraphError(`readBundle: bundle format ${String(io.format)}; this b2m reads 1 and ${ARTIFACT_FORMAT}`);
  }

  const tensors = new Map<string, TensorProto>();
  for (const t of [...main.initializer, ...algorithm.initializer]) tensors.set(t.name, t);
  const value = (name: string, what: string): TensorProto => {
    const t = tensors.get(name);
    if (!t) throw new GraphError(`readBundle: the bundle has no value for ${what} "${name}"`);
    return t;
  };
  const params = new Map(io.params.map((p) => [p.path, floatValues(io, value(p.path, 'parameter'))]));
  const state = new Map(io.state.map((s) => [s.name, floatValues(io, value(s.name, 'optimizer state'))]));
  const step = Number(int64Values(value(io.step.name, 'step counter'))[0]);

  const carried = new Set<string>([...io.params.map((p) => p.path), ...io.state.map((s) => s.name), io.step.name]);
  const declared = new Map<string, ValueInfoProto>();
  for (const v of [...main.input, ...algorithm.input]) declared.set(v.name, v);
  const shapes = new Map<string, number[]>([...io.params.map((p) => [p.path, p.shape] as const), ...io.state.map((s) => [s.name, s.shape] as const)]);
  const inputs = io.trainStep.inputs.map((name) => {
    if (name === io.step.name) return valueInfo(name, 'int64', []);
    const shape = shapes.get(name);
    if (shape) return valueInfo(name, io.floatType, shape);
    const v = declared.get(name);
    if (!v) throw new GraphError(`readBundle: the train step's input "${name}" is declared nowhere in the bundle`);
    return v;
  });
  const graph = clone(GraphProtoSchema, algorithm);
  graph.initializer = graph.initializer.filter((t) => !carried.has(t.name));
  graph.input = inputs;
  renameGraph(graph, (n) => (n.startsWith(PREFIX) ? n.slice(PREFIX.length) : n));
  const trainModel = create(ModelProtoSchema, {
    irVersion: model.irVersion,
    producerName: model.producerName,
    docString: model.docString,
    opsetImport: model.opsetImport,
    graph,
  });

  const inference = clone(ModelProtoSchema, model);
  inference.trainingInfo = [];
  inference.metadataProps = inference.metadataProps.filter((e) => e.key !== BUNDLE_METADATA_KEY);
  return { io, trainStep: encodeModel(trainModel), inference: encodeModel(inference), params, state, step };
}

/** Renames every tensor and node of a graph and its subgraphs (Scan, Loop, If bodies) in place. */
function renameGraph(graph: GraphProto, rename: (name: string) => string): void {
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) v.name = rename(v.name);
  for (const t of graph.initializer) t.name = rename(t.name);
  for (const n of graph.node) renameNode(n, rename);
}

function renameNode(n: NodeProto, rename: (name: string) => string): void {
  n.name = rename(n.name);
  n.input = n.input.map(rename);
  n.output = n.output.map(rename);
  for (const a of n.attribute) renameAttribute(a, rename);
}

function renameAttribute(a: AttributeProto, rename: (name: string) => string): void {
  if (a.g) renameGraph(a.g, rename);
  for (const sub of a.graphs) renameGraph(sub, rename);
}

function bytesOf(t: TensorProto): Uint8Array {
  return t.rawData.slice();
}

function floatValues(io: TrainingIo, t: TensorProto): FloatArray {
  if (t.rawData.length > 0) {
    const buf = bytesOf(t).buffer;
    return io.floatType === 'float32' ? new Float32Array(buf) : new Float64Array(buf);
  }
  const list = io.floatType === 'float32' ? t.floatData : t.doubleData;
  return io.floatType === 'float32' ? Float32Array.from(list) : Float64Array.from(list);
}

function int64Values(t: TensorProto): BigInt64Array {
  if (t.rawData.length > 0) return new BigInt64Array(bytesOf(t).buffer);
  return BigInt64Array.from(t.int64Data);
}
