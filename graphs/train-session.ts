/** @file A minimal training runner: one train-step session whose parameters and optimizer state stay onnxruntime tensors between steps. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { type FloatArray, GRAD_NORM_OUTPUT, LOSS_OUTPUT, type TrainingIo, initialState, metricOutput, termOutput, toFloatArray } from './artifacts.js';
import { GraphError } from './errors.js';
import { KNOB_PREFIX } from './optim/knobs.js';
import { modelNodeCount } from './serialize.js';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

/** onnxruntime's graph optimization levels, and 'auto': `autoOptimizationLevel` of the model. */
export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all' | 'auto';

export interface SessionOptions {
  /** Where the model runs (default 'cpu'); never falls back silently to another provider. */
  executionProvider?: ExecutionProvider;
  /** Default 'auto'. */
  graphOptimizationLevel?: OptimizationLevel;
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
}

/** An execution provider that was asked for cannot run here; the message says why and what to do. */
export class ExecutionProviderError extends GraphError {}

/** What a session starts from: the step model, its io, and the values carried into the first step. */
export interface StepSource {
  io: TrainingIo;
  trainStep: Uint8Array;
  params: ReadonlyMap<string, ArrayLike<number>>;
  /** Optimizer state by name (default: zeros, the state before the first step). */
  state?: ReadonlyMap<string, ArrayLike<number>>;
  /** Steps already taken (default 0). */
  step?: number;
}

/** The scalars one step reports. */
export interface StepResult {
  loss: number;
  terms: Record<string, number>;
  metrics: Record<string, number>;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Steps taken after this one. */
  step: number;
}

const require = createRequire(import.meta.url);

/** Why onnxruntime-node's CUDA provider cannot load here, or null when its libraries are installed. */
export function cudaUnavailableReason(): string | null {
  const platform = process.platform;
  if ((platform !== 'linux' && platform !== 'win32') || process.arch !== 'x64') {
    return `onnxruntime-node ships its CUDA provider only for Linux x64 and Windows x64, and this machine is ${platform} ${process.arch}`;
  }
  const dir = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', platform, process.arch);
  const files =
    platform === 'linux'
      ? ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']
      : ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'];
  const missing = files.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length === 0) return null;
  return `onnxruntime-node's CUDA provider libraries are not installed (${missing.join(', ')} missing in ${dir})`;
}

const CUDA_HELP =
  'Install them on a machine with internet access and CUDA 12 with cuDNN 9: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` ' +
  '(the default install skips the download), or run on the CPU (device cpu).';

/** Above this many nodes, 'auto' loads a model at level 'basic'. */
export const AUTO_BASIC_ABOVE_NODES = 1000;

/**
 * The optimization level 'auto' picks: 'all' for a model of up to `AUTO_BASIC_ABOVE_NODES` nodes, 'basic' above.
 * onnxruntime's 'extended' and 'all' passes cost load time that grows faster than the node count, and on the long
 * unrolled graphs of recurrent students they do not make the step faster (GRU student, 100 steps: train-step
 * session 0.53 s at 'basic' vs 0.79 s at 'all', step 63 vs 64 CPU ms, same run); small convolutional graphs keep
 * the layout and fusion passes of 'all'.
 */
export function autoOptimizationLevel(model: Uint8Array): 'basic' | 'all' {
  return modelNodeCount(model) > AUTO_BASIC_ABOVE_NODES ? 'basic' : 'all';
}

/** An onnxruntime session on the chosen provider; a provider that cannot run is an ExecutionProviderError. */
export async function createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.executionProvider ?? 'cpu';
  const level = opts.graphOptimizationLevel ?? 'auto';
  if (provider !== 'cpu' && provider !== 'cuda' && provider !== 'webgpu') {
    throw new GraphError(`execution provider '${String(provider)}' is not one of cpu, cuda, webgpu`);
  }
  if (provider === 'cuda') {
    const reason = cudaUnavailableReason();
    if (reason !== null) throw new ExecutionProviderError(`execution provider 'cuda' was asked for, but ${reason}. ${CUDA_HELP}`);
  }
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: level === 'auto' ? autoOptimizationLevel(model) : level,
  };
  if (opts.intraOpNumThreads !== undefined) options.intraOpNumThreads = opts.intraOpNumThreads;
  if (opts.interOpNumThreads !== undefined) options.interOpNumThreads = opts.interOpNumThreads;
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (err) {
    const message = (err as Error).message;
    if (provider === 'cuda') {
      throw new ExecutionProviderError(`execution provider 'cuda' could not start: ${message}. Check the GPU driver, CUDA 12 and cuDNN 9. ${CUDA_HELP}`);
    }
    if (provider === 'webgpu') {
      throw new ExecutionProviderError(`execution provider 'webgpu' could not start: ${message}. It needs a GPU adapter (Vulkan, Metal or D3D12); run on the CPU (device cpu) otherwise.`);
    }
    throw new GraphError(`onnxruntime could not load the model: ${message}`);
  }
}

/**
 * Runs train steps. Parameters, optimizer state and the step counter are held as onnxruntime tensors: each step's
 * updated outputs are fed straight back as the next step's inputs, with no copies on the JS side.
 */
export class TrainSession {
  private readonly carried: Record<string, ort.Tensor> = {};
  private readonly knobTensors = new Map<string, { value: number; tensor: ort.Tensor }>();
  private readonly binding: [string, string][];
  private readonly dataInputs: string[];
  private readonly knobDefaults = new Map<string, number>();
  private steps: number;

  private constructor(
    readonly io: TrainingIo,
    private readonly session: ort.InferenceSession,
    source: StepSource,
  ) {
    const inputs = new Set(io.trainStep.inputs);
    const type = io.floatType;
    for (const p of io.params) {
      const v = source.params.get(p.path);
      if (v === undefined) throw new GraphError(`TrainSession: no value for parameter "${p.path}"`);
      this.carried[p.path] = new ort.Tensor(type, toFloatArray(io, `parameter "${p.path}"`, p.shape, v).slice(), p.shape);
    }
    const state = source.state ?? initialState(io);
    for (const s of io.state) {
      const v = state.get(s.name);
      if (v === undefined) throw new GraphError(`TrainSession: no value for optimizer state "${s.name}"`);
      this.carried[s.name] = new ort.Tensor(type, toFloatArray(io, `optimizer state "${s.name}"`, s.shape, v).slice(), s.shape);
    }
    const step = source.step ?? 0;
    if (!Number.isSafeInteger(step) || step < 0) throw new GraphError(`TrainSession: step must be a non-negative integer, got ${step}`);
    this.steps = step;
    this.carried[io.step.name] = new ort.Tensor('int64', BigInt64Array.of(BigInt(step)), []);
    this.binding = Object.entries(io.trainStep.binding);
    this.dataInputs = io.data.filter((d) => inputs.has(d.name)).map((d) => d.name);
    for (const k of io.knobs) if (inputs.has(k.input)) this.knobDefaults.set(k.name, k.default);
  }

  /** Opens a session on the step model of compiled artifacts or of a read bundle. */
  static async create(source: StepSource, opts: SessionOptions = {}): Promise<TrainSession> {
    const session = await createSession(source.trainStep, opts);
    return new TrainSession(source.io, session, source);
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * One training step on a batch (tensors by data input name). `knobs` overrides knob defaults for this step,
   * by name without the prefix ({ lr: 1e-3, lambda_contrastive: 0.5 }). Only scalar outputs are read back.
   */
  async step(batch: Readonly<Record<string, ort.Tensor>>, knobs: Readonly<Record<string, number>> = {}): Promise<StepResult> {
    const feeds: Record<string, ort.Tensor> = { ...this.carried };
    for (const name of this.dataInputs) {
      const t = batch[name];
      if (t === undefined) throw new GraphError(`train step: the batch has no "${name}"; the step takes ${this.dataInputs.join(', ')}`);
      feeds[name] = t;
    }
    for (const name of Object.keys(batch)) {
      if (!this.dataInputs.includes(name)) throw new GraphError(`train step: batch input "${name}" is not an input of the step; it takes ${this.dataInputs.join(', ') || 'none'}`);
    }
    for (const name of Object.keys(knobs)) {
      if (!this.io.knobs.some((k) => k.name === name)) {
        throw new GraphError(`train step: unknown knob "${name}"; knobs are ${this.io.knobs.map((k) => k.name).join(', ')}`);
      }
    }
    for (const [name, def] of this.knobDefaults) feeds[KNOB_PREFIX + name] = this.knobTensor(name, knobs[name] ?? def);

    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds);
    } catch (err) {
      throw new GraphError(`train step ${this.steps + 1}: onnxruntime failed: ${(err as Error).message}`);
    }
    for (const [o, i] of this.binding) this.carried[i] = out[o];
    this.steps += 1;
    const scalar = (name: string): number => Number((out[name].data as FloatArray)[0]);
    const terms: Record<string, number> = {};
    for (const n of this.io.terms) terms[n] = scalar(termOutput(n));
    const metrics: Record<string, number> = {};
    for (const n of this.io.metrics) metrics[n] = scalar(metricOutput(n));
    return { loss: scalar(LOSS_OUTPUT), terms, metrics, gradNorm: scalar(GRAD_NORM_OUTPUT), step: this.steps };
  }

  /** Copies of the current parameter values, by path (for checkpoints and export). */
  params(): Map<string, FloatArray> {
    return new Map(this.io.params.map((p) => [p.path, (this.carried[p.path].data as FloatArray).slice()]));
  }

  /** Copies of the current optimizer state, by name. */
  state(): Map<string, FloatArray> {
    return new Map(this.io.state.map((s) => [s.name, (this.carried[s.name].data as FloatArray).slice()]));
  }

  /** The live parameter tensors, by path, to feed an eval model without copying; do not modify them. */
  paramTensors(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.io.params.map((p) => [p.path, this.carried[p.path]]));
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private knobTensor(name: string, value: number): ort.Tensor {
    if (!Number.isFinite(value)) throw new GraphError(`train step: knob "${name}" is ${value}; it must be a finite number`);
    const cached = this.knobTensors.get(name);
    if (cached !== undefined && cached.value === value) return cached.tensor;
    const data = this.io.floatType === 'float32' ? Float32Array.of(value) : Float64Array.of(value);
    const tensor = new ort.Tensor(this.io.floatType, data, []);
    this.knobTensors.set(name, { value, tensor });
    return tensor;
  }
}
