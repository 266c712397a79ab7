/** @file Training artifacts from one build: train-step, eval and inference models, their io description, and a disk cache. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GraphProto } from 'onnx-buf';
import { gradients } from './autodiff.js';
import { GraphError } from './errors.js';
import { Graph } from './graph.js';
import { add } from './ops/elementwise.js';
import { type OptimizerConfig, type ResolvedOptimizer, resolveOptimizer } from './optim/config.js';
import { KNOB_PREFIX, knobDefaults } from './optim/knobs.js';
import { applyOptimizer } from './optim/optimizer.js';
import { STATE_PREFIX } from './optim/state.js';
import { type Init, initToJson, paramValues } from './init.js';
import { decodeModel, encodeModel, extractSubgraph, serializeModel } from './serialize.js';
import { type DType, type Dim, type FloatType, type Tensor, formatShape } from './tensor.js';

export { knob } from './optim/knobs.js';

/** What a spec's build returns: the scalar total loss, its terms, metrics, activations and the student's outputs. */
export interface TrainingOutputs {
  loss: Tensor;
  terms: Record<string, Tensor>;
  metrics?: Record<string, Tensor>;
  /** Tensors the eval model also returns (for CKA/RSA and plots). */
  activations?: Record<string, Tensor>;
  /** The student's outputs: all the inference model computes. */
  inference: Record<string, Tensor>;
  /** Parameters the optimizer updates (default: all); the others are fed to the step but never change. */
  trainable?: readonly Tensor[];
}

/** A student with its losses; knobs are declared with `knob(g, name, default)`. */
export interface TrainingSpec {
  build(g: Graph): TrainingOutputs;
}

export interface CompileOptions {
  optimizer: OptimizerConfig;
  floatType?: FloatType;
  /**
   * Seed of the initial values returned in `params` (default 0). The models do not depend on it, nor does the
   * cache key: one compiled entry serves every seed.
   */
  seed?: number;
  /** Graph name written into the models (default 'b2m'). */
  name?: string;
  /** Default-domain opset (default 17) and IR version (default 8) of every model. */
  opset?: number;
  irVersion?: number;
  /** The spec's configuration as plain data; with the options it makes the artifacts' hash. */
  cacheKey?: unknown;
  /** Filled with the wall-clock and process CPU seconds of each phase of the compilation (for benchmarks). */
  timings?: CompileTimings;
}

/** The phases of `compileTraining`: the spec's build, autodiff, the optimizer, the three models' bytes, the initial values. */
export type CompilePhase = 'build' | 'autodiff' | 'optimizer' | 'serialize' | 'params';
export type CompileTimings = Partial<Record<CompilePhase, { wall: number; cpu: number }>>;

/** Runs fn, adding its wall and CPU seconds to `timings[phase]` when timings are asked for. */
function timed<T>(timings: CompileTimings | undefined, phase: CompilePhase, fn: () => T): T {
  if (timings === undefined) return fn();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  try {
    return fn();
  } finally {
    const used = process.cpuUsage(cpu);
    const prior = timings[phase] ?? { wall: 0, cpu: 0 };
    timings[phase] = { wall: prior.wall + (performance.now() - wall) / 1000, cpu: prior.cpu + (used.user + used.system) / 1e6 };
  }
}

export type FloatArray = Float32Array | Float64Array;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface ParamInfo {
  path: string;
  shape: number[];
  trainable: boolean;
  /** Its initializer: with a seed and the path, all `initialParams` needs to draw its initial values. */
  init: Init;
}

export interface StateInfo {
  /** Input name `opt.<param>.<slot>`. */
  name: string;
  param: string;
  slot: string;
  shape: number[];
}

export interface KnobInfo {
  /** Knob name without the prefix, as passed to `TrainSession.step` ('lr'). */
  name: string;
  /** Graph input name ('knob.lr'). */
  input: string;
  default: number;
}

export interface ModelIo {
  inputs: string[];
  outputs: string[];
}

/** Everything a runner needs to know about the models, as plain JSON. */
export interface TrainingIo {
  format: typeof ARTIFACT_FORMAT;
  hash: string;
  graphName: string;
  floatType: FloatType;
  opset: number;
  irVersion: number;
  optimizer: ResolvedOptimizer;
  params: ParamInfo[];
  state: StateInfo[];
  knobs: KnobInfo[];
  /** Data inputs (the batch) of any of the models. */
  data: TensorInfo[];
  step: TensorInfo;
  terms: string[];
  metrics: string[];
  activations: string[];
  inference: string[];
  /** `binding` maps each updated output to the input it replaces in the next step. */
  trainStep: ModelIo & { binding: Record<string, string> };
  eval: ModelIo;
  inferenceModel: ModelIo;
}

/**
 * The compiled models and their io, which no seed changes, and the initial parameter values for one seed. The
 * inference model's parameter initializers are zeros: `exportInference` writes values into it.
 */
export interface TrainingArtifacts {
  io: TrainingIo;
  trainStep: Uint8Array;
  eval: Uint8Array;
  inference: Uint8Array;
  /** Initial parameter values for the seed the artifacts were compiled or loaded with, by path. */
  params: Map<string, FloatArray>;
}

/** Version of the io description and of the cache layout (2: seed-free, initializers in the io). */
export const ARTIFACT_FORMAT = 2;
/** Names of the fixed outputs and of the step input. */
export const LOSS_OUTPUT = 'loss';
export const GRAD_NORM_OUTPUT = 'grad_norm';
export const STEP_INPUT = 'step';
export const termOutput = (name: string): string => `term.${name}`;
export const metricOutput = (name: string): string => `metric.${name}`;
export const activationOutput = (name: string): string => `act.${name}`;
/** Output carrying the updated value of an input carried between steps (param, state, step). */
export const nextOutput = (input: string): string => `${input}.next`;

const OUTPUT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const RESERVED_ROOTS = new Set(['opt', 'knob', 'step']);

/**
 * Builds the spec once and derives the train-step model (forward, backward and optimizer in one graph), the eval
 * model (no gradients) and the inference model (only what the student's outputs need, parameters inside as
 * zeros until `exportInference` writes values). The build runs on a graph without a seed, so no model depends
 * on one; `params` holds the initial values for `options.seed`, drawn from the initializers in the io.
 */
export function compileTraining(spec: TrainingSpec, options: CompileOptions): TrainingArtifacts {
  const optimizer = resolveOptimizer(options.optimizer);
  const floatType = options.floatType ?? 'float32';
  const opset = options.opset ?? 17;
  const irVersion = options.irVersion ?? 8;
  const g = new Graph({ floatType, seed: null, name: options.name ?? 'b2m' });
  const clock = options.timings;
  const out = timed(clock, 'build', () => spec.build(g));
  const terms = checkNamed(g, 'terms', out.terms, true);
  const metrics = checkNamed(g, 'metrics', out.metrics ?? {}, true);
  const activations = checkNamed(g, 'activations', out.activations ?? {}, false);
  const inference = checkNamed(g, 'inference', out.inference, false);
  checkLoss(g, out.loss);
  if (inference.length === 0) throw new GraphError('compileTraining: the build returned no inference outputs; name the student\'s outputs');

  for (const p of g.params) {
    const root = p.name.split('.')[0];
    if (RESERVED_ROOTS.has(root)) throw new GraphError(`parameter "${p.name}": the scope '${root}' is reserved for b2m's own inputs; rename it`);
  }
  const defaults = knobDefaults(g);
  for (const t of g.inputs) {
    if (t.name.startsWith(KNOB_PREFIX) && !defaults.has(t.name.slice(KNOB_PREFIX.length))) {
      throw new GraphError(`input "${t.name}" looks like a knob but was not declared with knob(g, name, default); declare it so it has a default`);
    }
    if (t.name.startsWith(STATE_PREFIX) || t.name === STEP_INPUT) {
      throw new GraphError(`input "${t.name}": names '${STEP_INPUT}' and '${STATE_PREFIX}...' are reserved for the optimizer; rename it`);
    }
  }
  const dataInputs = new Set(g.inputs.filter((t) => !t.name.startsWith(KNOB_PREFIX)));

  const trainable = [...(out.trainable ?? g.params)];
  const trainableIds = new Set<number>();
  for (const p of trainable) {
    if (p.graph !== g || p.kind !== 'param') throw new GraphError(`trainable: ${String(p)} is not a parameter of this graph`);
    if (trainableIds.has(p.id)) throw new GraphError(`trainable: parameter "${p.name}" is listed twice`);
    trainableIds.add(p.id);
  }
  if (trainable.length === 0) throw new GraphError('compileTraining: no trainable parameters');
  const lossLeaves = new Set(extractSubgraph(g, [out.loss]).leaves.map((t) => t.id));
  for (const p of trainable) {
    if (!lossLeaves.has(p.id)) {
      throw new GraphError(`parameter "${p.name}" is trainable but the loss does not depend on it; leave it out of 'trainable' or use it in a loss term`);
    }
  }

  const grads = timed(clock, 'autodiff', () => gradients(out.loss, trainable));
  const step = g.input(STEP_INPUT, 'int64', []);
  const opt = timed(clock, 'optimizer', () => applyOptimizer(trainable, grads, optimizer, step));
  const stepNext = g.atScope('opt', () => add(step, 1));

  const lossOutputs: Record<string, Tensor> = { [LOSS_OUTPUT]: out.loss };
  for (const [n, t] of terms) lossOutputs[termOutput(n)] = t;
  for (const [n, t] of metrics) lossOutputs[metricOutput(n)] = t;

  const binding: Record<string, string> = {};
  const trainOutputs: Record<string, Tensor> = { ...lossOutputs, [GRAD_NORM_OUTPUT]: opt.gradNorm };
  trainable.forEach((p, i) => {
    trainOutputs[nextOutput(p.name)] = opt.next[i];
    binding[nextOutput(p.name)] = p.name;
  });
  for (const s of opt.state) {
    trainOutputs[nextOutput(s.name)] = s.next;
    binding[nextOutput(s.name)] = s.name;
  }
  trainOutputs[nextOutput(STEP_INPUT)] = stepNext;
  binding[nextOutput(STEP_INPUT)] = STEP_INPUT;

  const evalOutputs: Record<string, Tensor> = { ...lossOutputs };
  for (const [n, t] of activations) evalOutputs[activationOutput(n)] = t;
  const inferenceOutputs = Object.fromEntries(inference);
  checkInferenceNames(inference, trainOutputs);

  const needed = (outs: Record<string, Tensor>): Tensor[] => {
    const leaves = new Set(extractSubgraph(g, Object.values(outs)).leaves.map((t) => t.id));
    const data = g.inputs.filter((t) => leaves.has(t.id) && dataInputs.has(t));
    const knobs = g.inputs.filter((t) => leaves.has(t.id) && t.name.startsWith(KNOB_PREFIX));
    return [...data, ...knobs];
  };
  const trainInputs = [...g.params, ...opt.state.map((s) => s.input), step, ...needed(trainOutputs)];
  const evalInputs = [...g.params, ...needed(evalOutputs)];

  const common = { opset, irVersion };
  const [trainModel, evalModel, inferenceModel] = timed(clock, 'serialize', () => [
    serializeModel(g, { ...common, outputs: trainOutputs, inputs: trainInputs }),
    serializeModel(g, { ...common, outputs: evalOutputs, inputs: evalInputs }),
    serializeModel(g, { ...common, outputs: inferenceOutputs, paramsAs: 'initializers', zeroParams: true }),
  ]);

  const usedData = new Set([...trainInputs, ...evalInputs].map((t) => t.id));
  for (const name of inferenceModel.inputs) {
    const t = g.inputs.find((x) => x.name === name);
    if (t) usedData.add(t.id);
  }
  const hash = optionsHash(options);
  const io: TrainingIo = {
    format: ARTIFACT_FORMAT,
    hash,
    graphName: g.name,
    floatType,
    opset,
    irVersion,
    optimizer,
    params: g.params.map((p) => ({ path: p.name, shape: [...(p.shape as number[])], trainable: trainableIds.has(p.id), init: initToJson(p.init as Init) })),
    state: opt.state.map((s) => ({ name: s.name, param: s.param, slot: s.slot, shape: [...(s.input.shape as number[])] })),
    knobs: [...knobDefaults(g)].map(([name, value]) => ({ name, input: KNOB_PREFIX + name, default: value })),
    data: g.inputs.filter((t) => dataInputs.has(t) && usedData.has(t.id)).map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })),
    step: { name: STEP_INPUT, dtype: 'int64', shape: [] },
    terms: terms.map(([n]) => n),
    metrics: metrics.map(([n]) => n),
    activations: activations.map(([n]) => n),
    inference: inference.map(([n]) => n),
    trainStep: { inputs: trainInputs.map((t) => t.name), outputs: Object.keys(trainOutputs), binding },
    eval: { inputs: evalInputs.map((t) => t.name), outputs: Object.keys(evalOutputs) },
    inferenceModel: { inputs: inferenceModel.inputs, outputs: inferenceModel.outputs },
  };
  const params = timed(clock, 'params', () => initialParams(io, options.seed ?? 0));
  return { io, trainStep: trainModel.bytes, eval: evalModel.bytes, inference: inferenceModel.bytes, params };
}

/**
 * The initial parameter values for a seed, by path: each parameter's initializer run on a generator seeded by
 * (seed, path), the same values a graph built with that seed holds.
 */
export function initialParams(io: TrainingIo, seed: number): Map<string, FloatArray> {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new GraphError(`seed must be a non-negative integer, got ${seed}`);
  return new Map(io.params.map((p) => [p.path, paramValues(p.init, p.shape, io.floatType, seed, p.path)]));
}

function checkNamed(g: Graph, field: string, record: Record<string, Tensor>, scalar: boolean): [string, Tensor][] {
  if (record === null || typeof record !== 'object') throw new GraphError(`the build's '${field}' must be an object of named tensors`);
  const entries = Object.entries(record);
  for (const [name, t] of entries) {
    if (!OUTPUT_NAME.test(name)) throw new GraphError(`${field}.${name}: names are letters, digits, '_', '.' or '-'`);
    if (t === null || typeof t !== 'object' || t.graph !== g) throw new GraphError(`${field}.${name} is not a tensor of the graph being built`);
    if (scalar && !t.shape.every((d) => d === 1)) {
      throw new GraphError(`${field}.${name} is ${t.toString()}; it must be a scalar (reduce it, e.g. with reduceMean)`);
    }
  }
  return entries;
}

function checkLoss(g: Graph, loss: Tensor): void {
  if (loss === null || typeof loss !== 'object' || loss.graph !== g) throw new GraphError('the build\'s loss is not a tensor of the graph being built');
  if (!loss.shape.every((d) => d === 1) || (loss.dtype !== 'float32' && loss.dtype !== 'float64')) {
    throw new GraphError(`the loss is ${loss.toString()}; it must be a float scalar`);
  }
}

/** The bundle joins the inference graph and the step graph, so their names must not collide. */
function checkInferenceNames(inference: [string, Tensor][], trainOutputs: Record<string, Tensor>): void {
  for (const [n] of inference) {
    const root = n.split('.')[0];
    if (n in trainOutputs || RESERVED_ROOTS.has(root) || ['term', 'metric', 'act'].includes(root)) {
      throw new GraphError(`inference output "${n}" collides with a training output name; rename it (e.g. 'logits')`);
    }
  }
}

/** Zeros for every optimizer state tensor, by name: the state before the first step. */
export function initialState(io: TrainingIo): Map<string, FloatArray> {
  const make = (n: number): FloatArray => (io.floatType === 'float32' ? new Float32Array(n) : new Float64Array(n));
  return new Map(io.state.map((s) => [s.name, make(s.shape.reduce((a, b) => a * b, 1))]));
}

/** Values as the io's float type, checking the element count against the shape. */
export function toFloatArray(io: TrainingIo, what: string, shape: readonly number[], values: ArrayLike<number>): FloatArray {
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new GraphError(`${what} has ${values.length} values; its shape ${formatShape(shape)} holds ${n}`);
  if (io.floatType === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values);
  return values instanceof Float64Array ? values : Float64Array.from(values);
}

/** Writes parameter values into the initializers of the same names; every parameter present must be given. */
export function setParamInitializers(io: TrainingIo, graph: GraphProto, params: ReadonlyMap<string, ArrayLike<number>>): void {
  const byPath = new Map(io.params.map((p) => [p.path, p]));
  for (const init of graph.initializer) {
    const info = byPath.get(init.name);
    if (!info) continue;
    const values = params.get(info.path);
    if (values === undefined) throw new GraphError(`no value given for parameter "${info.path}"`);
    const data = toFloatArray(io, `parameter "${info.path}"`, info.shape, values);
    init.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  }
}

/** The inference model with the given parameter values inside (e.g. the trained ones). */
export function exportInference(source: { io: TrainingIo; inference: Uint8Array }, params: ReadonlyMap<string, ArrayLike<number>>): Uint8Array {
  const model = decodeModel(source.inference);
  if (!model.graph) throw new GraphError('exportInference: the inference model has no graph');
  setParamInitializers(source.io, model.graph, params);
  return encodeModel(model);
}

/** A short stable hash of plain data: object keys sorted, typed arrays as lists; functions are refused. */
export function artifactHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config, 'cacheKey')).digest('hex').slice(0, 24);
}

/** The hash of compile options with their defaults filled in, so equal settings share one cache entry. */
function optionsHash(options: CompileOptions): string {
  return artifactHash({
    format: ARTIFACT_FORMAT,
    cacheKey: options.cacheKey ?? null,
    optimizer: resolveOptimizer(options.optimizer),
    floatType: options.floatType ?? 'float32',
    name: options.name ?? 'b2m',
    opset: options.opset ?? 17,
    irVersion: options.irVersion ?? 8,
  });
}

function canonicalJson(v: unknown, where: string): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : JSON.stringify(String(v));
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'bigint') return JSON.stringify(`${v}n`);
  if (typeof v === 'function' || typeof v === 'symbol') {
    throw new GraphError(`${where} holds a ${typeof v}; a cache key must be plain data (numbers, strings, lists, objects)`);
  }
  if (ArrayBuffer.isView(v)) return canonicalJson(Array.from(v as unknown as ArrayLike<number>), where);
  if (Array.isArray(v)) return `[${v.map((x, i) => canonicalJson(x, `${where}[${i}]`)).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], `${where}.${k}`)}`).join(',')}}`;
}

const FILES = { trainStep: 'train-step.onnx', eval: 'eval.onnx', inference: 'inference.onnx', io: 'io.json' } as const;

/** Writes the models and the io into `dir` (created), each file under a temporary name renamed into place; no parameter values. */
export async function saveArtifacts(dir: string, a: TrainingArtifacts): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: [string, Uint8Array | string][] = [
    [FILES.trainStep, a.trainStep],
    [FILES.eval, a.eval],
    [FILES.inference, a.inference],
    [FILES.io, JSON.stringify(a.io, null, 1)],
  ];
  for (const [name, data] of files) {
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, path.join(dir, name));
  }
}

/** Reads artifacts written by `saveArtifacts`, with the initial parameter values for `seed` (default 0). */
export async function loadArtifacts(dir: string, seed = 0): Promise<TrainingArtifacts> {
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await readFile(path.join(dir, name));
    } catch (err) {
      throw new GraphError(`artifacts in ${dir}: cannot read ${name} (${(err as Error).message}); delete the folder to rebuild it`);
    }
  };
  const io = JSON.parse((await read(FILES.io)).toString('utf8')) as TrainingIo;
  if (io.format !== ARTIFACT_FORMAT) {
    throw new GraphError(`artifacts in ${dir} have format ${String(io.format)}, this b2m reads ${ARTIFACT_FORMAT}; delete the folder to rebuild it`);
  }
  const bytes = async (name: string): Promise<Uint8Array> => new Uint8Array(await read(name));
  return { io, trainStep: await bytes(FILES.trainStep), eval: await bytes(FILES.eval), inference: await bytes(FILES.inference), params: initialParams(io, seed) };
}

/** How often a process waiting for another's compilation of the same entry looks again, in ms. */
const LOCK_POLL_MS = 50;

/**
 * Compiled artifacts from `cacheDir/<hash>/`, compiling and storing them on a miss, with the initial values for
 * `options.seed`. `options.cacheKey` must describe everything the spec's build depends on: two specs with one key
 * share one entry, whatever their seeds. Callers that miss the same entry at once (the cells of a grid, in
 * worker threads or processes) compile it once: the first takes a lock folder, the others wait for its result.
 */
export async function cachedTraining(cacheDir: string, spec: TrainingSpec, options: CompileOptions): Promise<{ artifacts: TrainingArtifacts; hit: boolean }> {
  if (options.cacheKey === undefined) throw new GraphError('cachedTraining: options.cacheKey is required (the spec\'s configuration as plain data)');
  const hash = optionsHash(options);
  const dir = path.join(cacheDir, hash);
  const seed = options.seed ?? 0;
  await mkdir(cacheDir, { recursive: true });
  const lock = path.join(cacheDir, `.${hash}.lock`);
  for (;;) {
    if (await exists(path.join(dir, FILES.io))) return { artifacts: await loadArtifacts(dir, seed), hit: true };
    if (await takeLock(lock)) break;
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    if (await exists(path.join(dir, FILES.io))) return { artifacts: await loadArtifacts(dir, seed), hit: true };
    const artifacts = compileTraining(spec, options);
    const tmp = path.join(cacheDir, `.${hash}.${process.pid}.tmp`);
    await rm(tmp, { recursive: true, force: true });
    await saveArtifacts(tmp, artifacts);
    try {
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (!(await exists(path.join(dir, FILES.io)))) throw err;
    }
    return { artifacts, hit: false };
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * A lock older than this is taken over: its holder was killed mid-compilation (a worker thread terminated in a
 * live process), since no b2m model takes nearly as long to compile. Taking over a live one only repeats work:
 * the second result is discarded when the first is already in place.
 */
const LOCK_STALE_MS = 60_000;

/**
 * Takes the lock folder of a cache entry, or says that someone holds it. A lock left by a process that is gone,
 * or older than `LOCK_STALE_MS`, is removed so that the next try takes it.
 */
async function takeLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
    await writeFile(path.join(lock, 'pid'), String(process.pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number((await readFile(path.join(lock, 'pid'), 'utf8').catch(() => '')).trim());
  const age = Date.now() - ((await stat(lock).catch(() => null))?.mtimeMs ?? Date.now());
  if ((Number.isInteger(owner) && owner > 0 && !alive(owner)) || age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
