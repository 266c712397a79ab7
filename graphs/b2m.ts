/** @file The composed B2M model: a student, its task loss and the Brain Contrastive and Brain Latent terms, as one training spec. */
import { type CompileOptions, type TrainingOutputs, type TrainingSpec, knob } from './artifacts.js';
import { GraphError } from './errors.js';
import { Graph } from './graph.js';
import { type ProjectionHead, type TemperatureOptions, brainContrastiveLoss } from './losses/brain-contrastive.js';
import { brainLatentLoss } from './losses/brain-latent.js';
import { type ReconstructionKind, correctCount, crossEntropy, gaussianKl, maskedSequenceCrossEntropy, reconstructionLoss, sumSquaredError } from './losses/task.js';
import { add, cast, mul, sigmoid } from './ops/elementwise.js';
import { gather, reshape, shapeOf } from './ops/shape.js';
import type { RecurrentKind } from './layers/recurrent.js';
import { encodeModel, toModel } from './serialize.js';
import { choiceProbability, decisionRnn } from './students/decision-rnn.js';
import { reparameterize, sceneVae } from './students/scene-vae.js';
import type { FloatType, Tensor } from './tensor.js';

/** Which student steps a brain term reads: the decision bin, every bin, or listed bins (0-based). */
export type TapTimes = 'decision' | 'all' | readonly number[];

/**
 * Where a brain term reads the student. Layers: the decision RNN's `rnn.hidden` (top layer's states, read at
 * `times`); the scene VAE's `encoder.mean` (latent mean) or `encoder.features` (flattened last feature map), which
 * take no `times`. A leading `student.` is allowed.
 */
export interface TapOptions {
  layer?: string;
  times?: TapTimes;
}

export interface DecisionRnnStudentOptions {
  kind: 'decisionRnn';
  cell: RecurrentKind;
  inputSize: number;
  timeBins: number;
  hidden: number;
  layers: number;
  /** Choices (default 2). */
  classes?: number;
  /** Cross-entropy at each trial's decision bin, or at every bin where `label_mask` is 1. */
  readout: 'decision' | 'every-step';
}

export interface SceneVaeStudentOptions {
  kind: 'sceneVae';
  imageSize: readonly [number, number];
  channels: readonly number[];
  latent: number;
  reconstruction: ReconstructionKind;
  /** Default of the KL weight knob `knob.beta` (default 1). */
  beta?: number;
}

export interface ContrastiveTermOptions {
  /** Flattened brain feature size per row. */
  brainDim: number;
  projectionDim: number;
  brainHead: ProjectionHead;
  /** Head on the student side (default 'linear'). */
  studentHead?: ProjectionHead;
  temperature: TemperatureOptions;
  tap: TapOptions;
  /** Default of `knob.lambda_contrastive` (default 1). */
  weight?: number;
}

export interface LatentTermOptions {
  /** K, the number of brain latents. */
  latentDim: number;
  tap: TapOptions;
  /** Default of `knob.lambda_latent` (default 1). */
  weight?: number;
}

export interface B2mModelOptions {
  student: DecisionRnnStudentOptions | SceneVaeStudentOptions;
  contrastive?: ContrastiveTermOptions;
  latent?: LatentTermOptions;
  floatType?: FloatType;
  seed: number;
}

/** The model-level strategies; the null controls use `both` and differ only in the brain data fed. */
export type B2mStrategy = 'isolated' | 'contrastive' | 'latent' | 'both';

/** A training spec for `compileTraining(spec, { ...spec.compile, optimizer })`. */
export interface B2mTrainingSpec extends TrainingSpec {
  readonly options: B2mModelOptions;
  readonly strategy: B2mStrategy;
  /** Compile options: the seed of the initial values, the float type, a name, and a cache key of the options but the seed. */
  readonly compile: Required<Pick<CompileOptions, 'seed' | 'floatType' | 'name' | 'cacheKey'>>;
}

/** The inference extractions: the whole student, and for the VAE its encoder or decoder alone. */
export type InferencePart = 'full' | 'encoder' | 'decoder';

const CONTRASTIVE_DEFAULT_TIMES: TapTimes = 'decision';
const LATENT_DEFAULT_TIMES: TapTimes = 'all';

/** The strategy a set of options describes. */
export function strategyOf(options: Pick<B2mModelOptions, 'contrastive' | 'latent'>): B2mStrategy {
  if (options.contrastive && options.latent) return 'both';
  if (options.contrastive) return 'contrastive';
  if (options.latent) return 'latent';
  return 'isolated';
}

/**
 * The B2M training spec. Graph inputs (batch symbolic): decision RNN `inputs` [batch, T, F], `label` int64
 * [batch], `decision_mask` [batch, T], and `label_mask` [batch, T] with the every-step readout; scene VAE `images`
 * [batch, H, W, 3] and `noise` [batch, latent]. Latent term: `brain_latents` and `brain_latent_mask` shaped by the
 * tap ([batch, T', K] and [batch, T'] for T' tapped RNN bins, [batch, K] and [batch] for the decision bin or the
 * VAE). Contrastive term: `brain_features` [batch, brainDim], `positives` [batch, batch], `contrastive_mask`
 * [batch]. Knobs `lambda_contrastive`, `lambda_latent`, `beta` (VAE). Student parameters live under `student.`
 * and depend only on (seed, path), so every strategy starts the student from the same values.
 */
export function b2mTrainingSpec(options: B2mModelOptions): B2mTrainingSpec {
  checkOptions(options);
  const floatType = options.floatType ?? 'float32';
  const strategy = strategyOf(options);
  return {
    options,
    strategy,
    compile: { seed: options.seed, floatType, name: `b2m-${options.student.kind}`, cacheKey: { b2mModel: 1, options: { ...options, seed: undefined } } },
    build(g: Graph): TrainingOutputs {
      if (g.floatType !== floatType) {
        throw new GraphError(
          `b2mTrainingSpec: the graph is ${g.floatType}, the options ${floatType}; compile with compileTraining(spec, { ...spec.compile, optimizer })`,
        );
      }
      return options.student.kind === 'decisionRnn' ? buildDecision(g, options, options.student) : buildScene(g, options, options.student);
    },
  };
}

/**
 * The inference model of one part with the given parameter values (e.g. trained ones) inside: 'full' is what the
 * training artifacts' inference model computes; for the scene VAE, 'encoder' maps `images` to `latent_mean` and
 * `latent_logvar`, and 'decoder' maps `latent` [batch, latent] to `reconstruction`.
 */
export function b2mInferenceModel(
  options: B2mModelOptions,
  params: ReadonlyMap<string, ArrayLike<number>>,
  part: InferencePart = 'full',
  opts: { opset?: number; irVersion?: number } = {},
): Uint8Array {
  checkOptions(options);
  const g = new Graph({ floatType: options.floatType ?? 'float32', seed: options.seed, name: `b2m-${options.student.kind}` });
  let outputs: Record<string, Tensor>;
  if (options.student.kind === 'decisionRnn') {
    if (part !== 'full') throw new GraphError(`b2mInferenceModel: the decision RNN has only the 'full' part, got '${part}'`);
    outputs = decisionInference(g, options.student).inference;
  } else {
    const vae = g.scope('student', () => sceneVae(g, options.student as SceneVaeStudentOptions));
    if (part === 'decoder') {
      const latent = g.input('latent', g.floatType, ['batch', options.student.latent]);
      outputs = { reconstruction: g.scope('student', () => vae.decode(latent).reconstruction) };
    } else {
      const images = g.input('images', g.floatType, ['batch', ...options.student.imageSize, 3]);
      const e = g.scope('student', () => vae.encode(vae.toNchw(images)));
      outputs = { latent_mean: e.mean, latent_logvar: e.logvar };
      if (part === 'full') outputs = { reconstruction: g.scope('student', () => vae.decode(e.mean).reconstruction), ...outputs };
      else if (part !== 'encoder') throw new GraphError(`b2mInferenceModel: part must be 'full', 'encoder' or 'decoder', got '${String(part)}'`);
    }
  }
  for (const p of g.params) {
    const v = params.get(p.name);
    if (v !== undefined) g.setParamValue(p.name, v);
  }
  const model = toModel(g, { outputs, paramsAs: 'initializers', opset: opts.opset, irVersion: opts.irVersion });
  const missing = (model.graph?.initializer ?? []).map((i) => i.name).filter((n) => n.startsWith('student.') && !params.has(n));
  if (missing.length > 0) throw new GraphError(`b2mInferenceModel: no value given for parameter(s) ${missing.join(', ')}`);
  return encodeModel(model);
}

function positiveInt(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new GraphError(`B2M model option ${what} must be a positive integer, got ${String(v)}`);
}

function checkOptions(o: B2mModelOptions): void {
  if (o === null || typeof o !== 'object' || o.student === null || typeof o.student !== 'object') {
    throw new GraphError('B2M model options need a student: { kind: "decisionRnn" | "sceneVae", ... }');
  }
  if (o.student.kind !== 'decisionRnn' && o.student.kind !== 'sceneVae') {
    throw new GraphError(`B2M model option student.kind must be 'decisionRnn' or 'sceneVae', got '${String((o.student as { kind: unknown }).kind)}'`);
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new GraphError(`B2M model option seed must be a non-negative integer, got ${String(o.seed)}`);
  if (o.student.kind === 'decisionRnn' && o.student.readout !== 'decision' && o.student.readout !== 'every-step') {
    throw new GraphError(`B2M model option student.readout must be 'decision' or 'every-step', got '${String(o.student.readout)}'`);
  }
  if (o.student.kind === 'sceneVae' && o.student.reconstruction !== 'mse' && o.student.reconstruction !== 'bernoulli') {
    throw new GraphError(`B2M model option student.reconstruction must be 'mse' or 'bernoulli', got '${String(o.student.reconstruction)}'`);
  }
  if (o.contrastive) {
    positiveInt(o.contrastive.brainDim, 'contrastive.brainDim');
    positiveInt(o.contrastive.projectionDim, 'contrastive.projectionDim');
  }
  if (o.latent) positiveInt(o.latent.latentDim, 'latent.latentDim');
}

/** What a tap reads from the decision RNN. */
interface RnnView {
  hidden: Tensor;
  decisionHidden: Tensor;
  timeBins: number;
}

function tapLayer(tap: TapOptions, term: string, allowed: readonly string[]): string {
  const raw = tap.layer ?? allowed[0];
  const layer = raw.startsWith('student.') ? raw.slice('student.'.length) : raw;
  if (!allowed.includes(layer)) throw new GraphError(`${term}.tap.layer is '${raw}'; this student offers ${allowed.join(', ')}`);
  return layer;
}

/** The tapped hidden states: [batch, H] at the decision bin, or [batch, T', H] at T' bins. */
function rnnTap(view: RnnView, tap: TapOptions, term: string, fallback: TapTimes): Tensor {
  tapLayer(tap, term, ['rnn.hidden']);
  const times = tap.times ?? fallback;
  if (times === 'decision') return view.decisionHidden;
  if (times === 'all') return view.hidden;
  if (!Array.isArray(times) || times.length === 0) throw new GraphError(`${term}.tap.times must be 'decision', 'all' or a list of bins, got ${JSON.stringify(times)}`);
  const seen = new Set<number>();
  for (const t of times) {
    if (!Number.isInteger(t) || t < 0 || t >= view.timeBins || seen.has(t)) {
      throw new GraphError(`${term}.tap.times lists bin ${String(t)}; bins are distinct integers from 0 to ${view.timeBins - 1}`);
    }
    seen.add(t);
  }
  return gather(view.hidden, times, 1);
}

/** [batch, a, b] -> [batch, a*b]; a matrix stays as it is. */
function flattenRows(x: Tensor): Tensor {
  return x.rank === 2 ? x : reshape(x, [x.shape[0], -1]);
}

function rowCount(x: Tensor, floatType: FloatType): Tensor {
  return cast(gather(shapeOf(x), 0), floatType);
}

interface BrainTerms {
  terms: Record<string, Tensor>;
  weighted: Tensor[];
}

/** Adds the brain terms present in the options, reading the student through `tap`. */
function brainTerms(g: Graph, options: B2mModelOptions, tap: (t: TapOptions, term: string, fallback: TapTimes) => Tensor): BrainTerms {
  const terms: Record<string, Tensor> = {};
  const weighted: Tensor[] = [];
  const ft = g.floatType;
  if (options.contrastive) {
    const c = options.contrastive;
    const student = flattenRows(tap(c.tap, 'contrastive', CONTRASTIVE_DEFAULT_TIMES));
    const brain = g.input('brain_features', ft, ['batch', c.brainDim]);
    const positives = g.input('positives', ft, ['batch', 'batch']);
    const mask = g.input('contrastive_mask', ft, ['batch']);
    const r = g.scope('contrastive', () =>
      brainContrastiveLoss(student, brain, positives, mask, {
        projectionDim: c.projectionDim,
        studentHead: c.studentHead,
        brainHead: c.brainHead,
        temperature: c.temperature,
      }),
    );
    terms.contrastive = r.loss;
    weighted.push(mul(r.loss, knob(g, 'lambda_contrastive', c.weight ?? 1)));
  }
  if (options.latent) {
    const l = options.latent;
    const features = tap(l.tap, 'latent', LATENT_DEFAULT_TIMES);
    const lead = features.rank === 3 ? ['batch', features.shape[1]] : ['batch'];
    const target = g.input('brain_latents', ft, [...lead, l.latentDim]);
    const mask = g.input('brain_latent_mask', ft, lead);
    const r = g.scope('latent', () => brainLatentLoss(features, target, mask));
    terms.latent = r.loss;
    weighted.push(mul(r.loss, knob(g, 'lambda_latent', l.weight ?? 1)));
  }
  return { terms, weighted };
}

function decisionStudent(g: Graph, s: DecisionRnnStudentOptions) {
  const inputs = g.input('inputs', g.floatType, ['batch', s.timeBins, s.inputSize]);
  const decisionMask = g.input('decision_mask', g.floatType, ['batch', s.timeBins]);
  const rnn = g.scope('student', () =>
    decisionRnn(inputs, decisionMask, { cell: s.cell, inputSize: s.inputSize, timeBins: s.timeBins, hidden: s.hidden, layers: s.layers, classes: s.classes ?? 2 }),
  );
  return { rnn, decisionMask };
}

function decisionInference(g: Graph, s: DecisionRnnStudentOptions) {
  const { rnn } = decisionStudent(g, s);
  const logitsOverTime = g.scope('student', () => rnn.readout(rnn.hidden));
  const inference = { choice_logits: rnn.choiceLogits, choice_prob_over_time: choiceProbability(logitsOverTime), hidden: rnn.hidden };
  return { rnn, logitsOverTime, inference };
}

function buildDecision(g: Graph, options: B2mModelOptions, s: DecisionRnnStudentOptions): TrainingOutputs {
  const { rnn, logitsOverTime, inference } = decisionInference(g, s);
  const label = g.input('label', 'int64', ['batch']);
  let task: Tensor;
  let choiceProb: Tensor;
  if (s.readout === 'every-step') {
    const labelMask = g.input('label_mask', g.floatType, ['batch', s.timeBins]);
    task = maskedSequenceCrossEntropy(logitsOverTime, label, labelMask);
    choiceProb = inference.choice_prob_over_time;
  } else {
    task = crossEntropy(rnn.choiceLogits, label);
    choiceProb = choiceProbability(rnn.choiceLogits);
  }
  const view: RnnView = { hidden: rnn.hidden, decisionHidden: rnn.decisionHidden, timeBins: s.timeBins };
  const brain = brainTerms(g, options, (tap, term, fallback) => rnnTap(view, tap, term, fallback));
  return {
    loss: brain.weighted.reduce((a, b) => add(a, b), task),
    terms: { task, ...brain.terms },
    metrics: { correct: correctCount(rnn.choiceLogits, label), count: rowCount(label, g.floatType) },
    activations: { hidden: rnn.hidden, choice_prob: choiceProb },
    inference,
  };
}

function buildScene(g: Graph, options: B2mModelOptions, s: SceneVaeStudentOptions): TrainingOutputs {
  const ft = g.floatType;
  const images = g.input('images', ft, ['batch', ...s.imageSize, 3]);
  const noise = g.input('noise', ft, ['batch', s.latent]);
  const vae = g.scope('student', () => sceneVae(g, s));
  const target = vae.toNchw(images);
  const e = g.scope('student', () => vae.encode(target));
  const z = reparameterize(e.mean, e.logvar, noise);
  const decoded = g.scope('student', () => vae.decode(z));
  const reconstruction = reconstructionLoss(decoded.logits, target, s.reconstruction);
  const kl = gaussianKl(e.mean, e.logvar);
  const task = add(reconstruction, mul(kl, knob(g, 'beta', s.beta ?? 1)));
  const brain = brainTerms(g, options, (tap, term) => {
    if (tap.times !== undefined) throw new GraphError(`${term}.tap.times applies to the decision RNN only; the scene VAE has no time axis`);
    return tapLayer(tap, term, ['encoder.mean', 'encoder.features']) === 'encoder.mean' ? e.mean : e.features;
  });
  const meanImage = g.scope('student', () => vae.decode(e.mean).reconstruction);
  return {
    loss: brain.weighted.reduce((a, b) => add(a, b), task),
    terms: { task, reconstruction, kl, ...brain.terms },
    metrics: { recon_sse: sumSquaredError(sigmoid(decoded.logits), target), count: rowCount(noise, ft) },
    activations: { latent_mean: e.mean, reconstruction: decoded.reconstruction },
    inference: { reconstruction: meanImage, latent_mean: e.mean, latent_logvar: e.logvar },
  };
}
