/** @file Export of a trained student as standard ONNX inference models with documented io and provenance, and its model card. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { type ModelProto, StringStringEntryProtoSchema, TensorProto_DataType, type ValueInfoProto } from 'onnx-buf';
import { type B2mModelOptions, type InferencePart, b2mInferenceModel } from '../graphs/b2m.js';
import { MAX_OPSET, MIN_OPSET, decodeModel, encodeModel } from '../graphs/serialize.js';
import { readManifest } from '../datasets/manifest.js';
import { type ExperimentConfig, configHash } from './config.js';
import { B2mError } from './errors.js';
import { b2mVersion } from './package.js';
import { CHECKPOINTS_DIR, latestCheckpoint } from './train/checkpoint.js';
import { type MetricsRow, readMetrics } from './train/metrics.js';
import { FINAL_FILE, RUN_FILE } from './train/trainer.js';

/** A student cannot be exported: no checkpoint, unreadable run, bad option, or a model that does not run. */
export class ExportError extends B2mError {}

/** File names in an export folder. */
export const EXPORT_FILES = {
  student: 'student.onnx',
  encoder: 'encoder.onnx',
  decoder: 'decoder.onnx',
  cardMarkdown: 'model-card.md',
  cardJson: 'model-card.json',
} as const;

/** Version of the model card's JSON layout. */
export const MODEL_CARD_FORMAT = 1;

/** Where a student came from and how well it did; written into every model's metadata and the card. */
export interface StudentProvenance {
  /** 'memory-decision' or 'driving' for the simulated experiments, or the config's experiment name. */
  experiment: string;
  /** The strategy it was trained with, null controls included ('isolated', 'both', 'shuffled-brain', ...). */
  strategy: string;
  seed: number;
  /** Hash of the resolved experiment config. */
  configHash: string;
  /** What it was trained on: the dataset folder and its provenance, in one line. */
  data: string;
  /** The dataset folder trained on, when it is one (for tools that want its manifest). */
  dataset?: string;
  /** Training steps taken. */
  step: number;
  /** Scores of the final evaluation, by name (e.g. 'val.accuracy'). */
  metrics: Record<string, number>;
  /** Names of the decision RNN's input features, in order, when known. */
  featureNames?: readonly string[];
  /** The run folder exported from. */
  run?: string;
}

export interface ExportOptions {
  /** Default-domain opset of the exported models (default 17). */
  opset?: number;
  /** ONNX IR version (default: the one that introduced `opset`, 8 for opset 17). */
  irVersion?: number;
}

/** One input or output of an exported model, as the card documents it. */
export interface IoDoc {
  name: string;
  dtype: 'float32' | 'float64';
  /** Static sizes, and 'batch' for the dynamic batch dimension. */
  shape: (number | string)[];
  doc: string;
}

export interface ExportedModel {
  part: InferencePart;
  file: string;
  bytes: number;
  sha256: string;
  opset: number;
  irVersion: number;
  inputs: IoDoc[];
  outputs: IoDoc[];
}

export interface ModelCard {
  format: typeof MODEL_CARD_FORMAT;
  name: string;
  b2mVersion: string;
  /** What the student does, in a sentence or two. */
  summary: string;
  student: B2mModelOptions['student'];
  floatType: 'float32' | 'float64';
  parameters: number;
  training: StudentProvenance & { strategyMeaning: string };
  scores: Record<string, number>;
  models: ExportedModel[];
  intendedUse: string;
  limitations: string[];
}

export interface ExportResult {
  dir: string;
  card: ModelCard;
  /** Absolute paths of every file written. */
  files: string[];
}

/** A student: its model options (the same the trainer compiled) and its parameter values by path. */
export interface TrainedStudent {
  options: B2mModelOptions;
  params: ReadonlyMap<string, ArrayLike<number>>;
}

/** The lowest IR version of each opset's ONNX release: old readers accept the pair. */
const IR_FOR_OPSET: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11, 24: 12, 25: 12, 26: 12 };

const STRATEGY_MEANING: Record<string, string> = {
  isolated: 'the student\'s own task loss alone (the baseline)',
  contrastive: 'task loss plus Brain Contrastive Transfer: a symmetric InfoNCE between projected student activations and brain activity of the same trial or scene',
  latent: 'task loss plus Brain Latent Transfer: a learned linear readout of the student\'s states regressed (MSE) on latent dynamics extracted from brain recordings',
  both: 'task loss plus both Brain Contrastive and Brain Latent Transfer',
  'shuffled-brain': 'null control: both B2M terms, with brain trials shuffled against stimuli so the brain data keeps its statistics but loses its meaning',
  'noise-brain': 'null control: both B2M terms, with the brain data replaced by Gaussian noise of the same mean and covariance',
};

/** Parts exported for a student: the whole model, and for the scene VAE also its encoder and decoder. */
export function exportParts(options: B2mModelOptions): InferencePart[] {
  return options.student.kind === 'sceneVae' ? ['full', 'encoder', 'decoder'] : ['full'];
}

const FILE_OF: Record<InferencePart, string> = { full: EXPORT_FILES.student, encoder: EXPORT_FILES.encoder, decoder: EXPORT_FILES.decoder };

/**
 * Writes the student's inference models (weights as initializers, dynamic batch, documented io, provenance in
 * `metadata_props`) and `model-card.md` / `model-card.json` into `outDir`. Every model is built and run once in
 * onnxruntime-node before anything is written, so a failed export leaves no files behind.
 */
export async function exportStudent(student: TrainedStudent, provenance: StudentProvenance, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ExportError(`--opset ${String(opset)} is not supported; b2m writes opsets ${MIN_OPSET} to ${MAX_OPSET} (17 loads in the most runtimes)`);
  }
  const irVersion = options.irVersion ?? IR_FOR_OPSET[opset] ?? 8;
  if (!Number.isInteger(irVersion) || irVersion < 7) throw new ExportError(`--ir-version ${String(irVersion)} is not supported; use 7 or later (8 is the default for opset 17)`);

  const floatType = student.options.floatType ?? 'float32';
  const built: { part: InferencePart; bytes: Uint8Array; inputs: IoDoc[]; outputs: IoDoc[] }[] = [];
  let parameters = 0;
  for (const part of exportParts(student.options)) {
    let raw: Uint8Array;
    try {
      raw = b2mInferenceModel(student.options, student.params, part, { opset, irVersion });
    } catch (err) {
      throw new ExportError(`cannot build the ${part === 'full' ? 'student' : part} model: ${(err as Error).message}`);
    }
    const model = decodeModel(raw);
    const docs = describeModel(model, student.options, part, provenance);
    if (part === 'full') parameters = countParameters(model);
    const bytes = encodeModel(model);
    await checkRuns(bytes, part, docs.inputs);
    built.push({ part, bytes, ...docs });
  }

  const models: ExportedModel[] = built.map((b) => ({
    part: b.part,
    file: FILE_OF[b.part],
    bytes: b.bytes.byteLength,
    sha256: createHash('sha256').update(b.bytes).digest('hex'),
    opset,
    irVersion,
    inputs: b.inputs,
    outputs: b.outputs,
  }));
  const card = modelCard(student.options, floatType, parameters, provenance, models);
  const files: [string, Uint8Array | string][] = [
    ...built.map((b) => [FILE_OF[b.part], b.bytes] as [string, Uint8Array]),
    [EXPORT_FILES.cardJson, `${JSON.stringify(card, null, 2)}\n`],
    [EXPORT_FILES.cardMarkdown, cardMarkdown(card)],
  ];
  try {
    await mkdir(outDir, { recursive: true });
    for (const [name, data] of files) {
      const tmp = path.join(outDir, `.${name}.${process.pid}.tmp`);
      await writeFile(tmp, data);
      await rename(tmp, path.join(outDir, name));
    }
  } catch (err) {
    for (const [name] of files) await rm(path.join(outDir, `.${name}.${process.pid}.tmp`), { force: true });
    throw new ExportError(`cannot write the export into ${outDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose a writable --out folder`);
  }
  return { dir: path.resolve(outDir), card, files: files.map(([name]) => path.resolve(outDir, name)) };
}

/** Loads a model in onnxruntime-node and runs it on a batch of two, so a broken export is an error here, not later. */
async function checkRuns(bytes: Uint8Array, part: InferencePart, inputs: IoDoc[]): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (err) {
    throw new ExportError(`the exported ${part} model does not load in onnxruntime (${(err as Error).message.split('\n')[0]}); this is a b2m bug, please report it`);
  }
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of inputs) {
      const shape = i.shape.map((d) => (typeof d === 'number' ? d : 2));
      const n = shape.reduce((a, b) => a * b, 1);
      const data = i.dtype === 'float32' ? new Float32Array(n).fill(0.5) : new Float64Array(n).fill(0.5);
      feeds[i.name] = new ort.Tensor(i.dtype, data, shape);
    }
    const out = await session.run(feeds);
    for (const [name, t] of Object.entries(out)) {
      const data = t.data as Float32Array | Float64Array;
      if (!data.every(Number.isFinite)) {
        throw new ExportError(`the exported ${part} model gives non-finite values in '${name}': the checkpoint's parameters are not usable; export an earlier checkpoint or retrain`);
      }
    }
  } finally {
    await session.release();
  }
}

function countParameters(model: ModelProto): number {
  let n = 0;
  for (const t of model.graph?.initializer ?? []) {
    if (t.name.startsWith('student.') && (t.dataType === TensorProto_DataType.FLOAT || t.dataType === TensorProto_DataType.DOUBLE)) {
      n += t.dims.reduce((a, d) => a * Number(d), 1);
    }
  }
  return n;
}

function shapeOf(v: ValueInfoProto): (number | string)[] {
  const t = v.type?.value;
  if (t?.case !== 'tensorType') return [];
  return (t.value.shape?.dim ?? []).map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?'));
}

function dtypeOf(v: ValueInfoProto): 'float32' | 'float64' {
  const t = v.type?.value;
  return t?.case === 'tensorType' && t.value.elemType === TensorProto_DataType.DOUBLE ? 'float64' : 'float32';
}

const fmt = (shape: (number | string)[]): string => `[${shape.join(', ')}]`;

/** Doc strings of every input and output, in the units a person needs to feed and read them. */
function ioDoc(options: B2mModelOptions, name: string, shape: (number | string)[], provenance: StudentProvenance, part: InferencePart): string {
  const s = options.student;
  if (s.kind === 'decisionRnn') {
    const features = provenance.featureNames?.length ? `features ${provenance.featureNames.join(', ')}` : `${s.inputSize} features`;
    switch (name) {
      case 'inputs':
        return `Task inputs per time bin, ${fmt(shape)} (batch, ${s.timeBins} time bins, ${features}), in the units of the dataset's trials table column 'inputs' (the simulated task: offer values are level/levels in (0, 1], the other features 0/1 indicators).`;
      case 'decision_mask':
        return `Where each trial's choice is read: ${fmt(shape)}, 1 at the decision bin and 0 elsewhere (one per trial, because delays vary).`;
      case 'choice_logits':
        return `Unnormalised natural-log scores of the ${s.classes ?? 2} choices, read at the decision bin, ${fmt(shape)}; class k is label k of the trials table (simulated task: 0 = first offer larger, 1 = second).`;
      case 'choice_prob_over_time':
        return `Choice probability (0 to 1) if the choice were read at each time bin: softmax of the readout at every bin, ${fmt(shape)}${(s.classes ?? 2) === 2 ? ', probability of class 1' : ''}.`;
      case 'hidden':
        return `Hidden state of the top ${s.cell.toUpperCase()} layer at every time bin, ${fmt(shape)}; dimensionless activations (for trajectories, CKA or RSA).`;
    }
  } else {
    const [h, w] = s.imageSize;
    switch (name) {
      case 'images':
        return `RGB frames, NHWC ${fmt(shape)} (batch, ${h} rows top to bottom, ${w} columns, 3 channels R, G, B), float values in [0, 1] (8-bit value / 255).`;
      case 'latent':
        return `Points of the ${s.latent}-dimensional latent space, ${fmt(shape)}, in units of the standard-normal prior: an encoder's latent_mean gives a frame's point, draws of N(0, I) give new scenes.`;
      case 'latent_mean':
        return `Mean of the approximate posterior q(z | image), ${fmt(shape)}, in units of the standard-normal prior.`;
      case 'latent_logvar':
        return `Natural log of the variance of q(z | image) per latent dimension, ${fmt(shape)}; the standard deviation is exp(latent_logvar / 2), in prior units.`;
      case 'reconstruction':
        return part === 'decoder'
          ? `The decoded scene of each latent point, NHWC ${fmt(shape)}, RGB in [0, 1] (sigmoid of the decoder's output).`
          : `The frame decoded from its latent mean (no sampling), NHWC ${fmt(shape)}, RGB in [0, 1] (sigmoid of the decoder's output).`;
    }
  }
  throw new ExportError(`no documentation for the model's '${name}'; this is a b2m bug, please report it`);
}

function partName(options: B2mModelOptions, part: InferencePart): string {
  if (options.student.kind === 'decisionRnn') return 'decision RNN student';
  return part === 'full' ? 'scene VAE student' : `scene VAE ${part}`;
}

/** Fills doc strings, names and metadata into a built model; returns the io it documents. */
function describeModel(model: ModelProto, options: B2mModelOptions, part: InferencePart, provenance: StudentProvenance): { inputs: IoDoc[]; outputs: IoDoc[] } {
  const graph = model.graph;
  if (!graph) throw new ExportError('the built model has no graph; this is a b2m bug, please report it');
  const document = (vs: ValueInfoProto[]): IoDoc[] =>
    vs.map((v) => {
      const shape = shapeOf(v);
      v.docString = ioDoc(options, v.name, shape, provenance, part);
      return { name: v.name, dtype: dtypeOf(v), shape, doc: v.docString };
    });
  const inputs = document(graph.input);
  const outputs = document(graph.output);
  const what = partName(options, part);
  graph.name = `b2m_${options.student.kind}_${part}`;
  graph.docString = `The ${what} ${summaryOf(options, part)}`;
  model.producerName = 'b2m';
  model.producerVersion = b2mVersion;
  model.docString =
    `${what} trained with b2m (Brain2Model transfer learning), strategy '${provenance.strategy}', seed ${provenance.seed}, ` +
    `${provenance.step} steps on ${provenance.data}. The batch dimension is dynamic. See metadata 'b2m.*' and model-card.md.`;
  const meta: Record<string, string> = {
    'b2m.version': b2mVersion,
    'b2m.part': part,
    'b2m.student': JSON.stringify(options.student),
    'b2m.experiment': provenance.experiment,
    'b2m.strategy': provenance.strategy,
    'b2m.seed': String(provenance.seed),
    'b2m.config_hash': provenance.configHash,
    'b2m.data': provenance.data,
    'b2m.step': String(provenance.step),
    'b2m.metrics': JSON.stringify(provenance.metrics),
  };
  model.metadataProps = Object.entries(meta).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value }));
  return { inputs, outputs };
}

function summaryOf(options: B2mModelOptions, part: InferencePart): string {
  const s = options.student;
  if (s.kind === 'decisionRnn') {
    return (
      `reads a memory-decision trial bin by bin (${s.timeBins} bins of ${s.inputSize} features) with a ${s.layers}-layer ${s.cell.toUpperCase()} of ${s.hidden} units ` +
      `and gives its choice among ${s.classes ?? 2} at the trial's decision bin, the choice probability at every bin, and its hidden states.`
    );
  }
  const [h, w] = s.imageSize;
  if (part === 'encoder') return `maps ${w}×${h} RGB road scenes to the mean and log-variance of a ${s.latent}-dimensional Gaussian latent.`;
  if (part === 'decoder') return `draws a ${w}×${h} RGB road scene from a point of the ${s.latent}-dimensional latent space.`;
  return `is a convolutional variational autoencoder of ${w}×${h} RGB road scenes with a ${s.latent}-dimensional Gaussian latent: gives a frame's latent mean and log-variance and its reconstruction from the mean.`;
}

function modelCard(options: B2mModelOptions, floatType: 'float32' | 'float64', parameters: number, provenance: StudentProvenance, models: ExportedModel[]): ModelCard {
  const s = options.student;
  const rnn = s.kind === 'decisionRnn';
  return {
    format: MODEL_CARD_FORMAT,
    name: rnn ? `b2m decision RNN student (${provenance.strategy}, seed ${provenance.seed})` : `b2m scene VAE student (${provenance.strategy}, seed ${provenance.seed})`,
    b2mVersion,
    summary: `The ${partName(options, 'full')} ${summaryOf(options, 'full')}`,
    student: s,
    floatType,
    parameters,
    training: { ...provenance, strategyMeaning: STRATEGY_MEANING[provenance.strategy] ?? 'a strategy named in the experiment config' },
    scores: provenance.metrics,
    models,
    intendedUse: rnn
      ? 'Research on brain-guided training of recurrent networks: compare students across strategies, read their hidden-state trajectories, run them in other ONNX runtimes or in a web page.'
      : 'Research on brain-guided representation learning of road scenes: encode frames, decode and explore the latent space, compare students across strategies; not a driving system.',
    limitations: [
      'Trained on the data named under training; scores hold for data like it and say nothing about other recordings or tasks.',
      provenance.experiment === 'memory-decision' || provenance.experiment === 'driving'
        ? 'The brain teacher of the shipped experiments is simulated (the paper\'s recordings are not public); effects of brain transfer here are effects of the simulation.'
        : 'Brain transfer helps only as far as the recordings carry task information; compare against the null controls before concluding.',
      rnn ? 'Trials must have the student\'s fixed number of time bins and features; pad or resample them first.' : 'Frames must be RGB of the student\'s size; resize them first (b2m ingest images does).',
    ],
  };
}

/** The card as Markdown for people: what the student does, its inputs and outputs, how it was trained, its scores. */
export function cardMarkdown(card: ModelCard): string {
  const lines: string[] = [`# ${card.name}`, '', card.summary, ''];
  lines.push('## Models', '');
  for (const m of card.models) {
    lines.push(`### \`${m.file}\` (${m.part === 'full' ? 'the whole student' : m.part})`, '');
    lines.push(`ONNX opset ${m.opset}, IR version ${m.irVersion}, ${m.bytes.toLocaleString('en')} bytes, sha256 \`${m.sha256}\`. The first dimension, \`batch\`, is dynamic.`, '');
    lines.push('| | name | type | shape | meaning |', '| --- | --- | --- | --- | --- |');
    for (const [kind, list] of [['input', m.inputs], ['output', m.outputs]] as const) {
      for (const io of list) lines.push(`| ${kind} | \`${io.name}\` | ${io.dtype} | ${fmt(io.shape)} | ${io.doc.replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  const t = card.training;
  lines.push('## Training', '');
  lines.push(`- Experiment: ${t.experiment}`);
  lines.push(`- Strategy: \`${t.strategy}\`, ${t.strategyMeaning}`);
  lines.push(`- Seed: ${t.seed}; steps: ${t.step.toLocaleString('en')}`);
  lines.push(`- Data: ${t.data}`);
  lines.push(`- Config hash: \`${t.configHash}\``);
  if (t.run) lines.push(`- Run folder: \`${t.run}\``);
  lines.push(`- Student: \`${JSON.stringify(card.student)}\`, ${card.parameters.toLocaleString('en')} parameters (${card.floatType})`, '');
  lines.push('## Scores', '');
  const scores = Object.entries(card.scores);
  if (scores.length === 0) lines.push('No evaluation was recorded for this checkpoint.');
  else {
    lines.push('| metric | value |', '| --- | --- |');
    for (const [k, v] of scores) lines.push(`| ${k} | ${Number.isInteger(v) ? v : v.toPrecision(5)} |`);
  }
  lines.push('', '## Intended use', '', card.intendedUse, '', '## Limitations', '');
  for (const l of card.limitations) lines.push(`- ${l}`);
  lines.push('', `Exported by b2m ${card.b2mVersion}. Every model also carries this provenance in its \`metadata_props\` (keys \`b2m.*\`).`, '');
  return lines.join('\n');
}

/** What the trainer writes into `run.json`. */
interface RunInfo {
  experiment: string;
  strategy: string;
  seed: number;
  dataset: string;
  artifactHash: string;
  model: B2mModelOptions;
  config: ExperimentConfig;
}

/**
 * Exports the newest good checkpoint of a run folder written by `b2m train` (or a cell of `b2m compare`). A run
 * without a checkpoint is an ExportError and nothing is written.
 */
export async function exportRun(runDir: string, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const run = await readRunInfo(runDir);
  const skipped: string[] = [];
  const checkpoint = await latestCheckpoint(runDir, (dir, reason) => skipped.push(`${dir}: ${reason}`));
  if (!checkpoint) {
    const why = skipped.length > 0 ? `its checkpoints cannot be read (${skipped.join('; ')})` : `${path.join(runDir, CHECKPOINTS_DIR)} holds no checkpoint yet`;
    throw new ExportError(`${runDir} has no checkpoint to export: ${why}. Train the run until it saves one (every train.evalEvery steps), then export again.`);
  }
  if (checkpoint.state.artifactHash !== run.artifactHash) {
    throw new ExportError(
      `${runDir}: the checkpoint ${checkpoint.dir} belongs to other training artifacts (${checkpoint.state.artifactHash}) than ${RUN_FILE} names (${run.artifactHash}); ` +
        'the run folder mixes two runs: train into a fresh folder',
    );
  }
  const step = checkpoint.state.step;
  const data = await describeData(run.dataset);
  const provenance: StudentProvenance = {
    experiment: run.experiment,
    strategy: run.strategy,
    seed: run.seed,
    configHash: configHash(run.config),
    data: data.line,
    dataset: path.resolve(run.dataset),
    step,
    metrics: await scoresAt(runDir, step),
    ...(data.featureNames ? { featureNames: data.featureNames } : {}),
    run: path.resolve(runDir),
  };
  return exportStudent({ options: run.model, params: checkpoint.bundle.params }, provenance, outDir, options);
}

async function readRunInfo(runDir: string): Promise<RunInfo> {
  const file = path.join(runDir, RUN_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ExportError(
      code === 'ENOENT'
        ? `${runDir} is not a b2m run folder (no ${RUN_FILE}); give a folder written by \`b2m train --out RUN\` or a cell folder of \`b2m compare\``
        : `cannot read ${file} (${code ?? (err as Error).message})`,
    );
  }
  let run: RunInfo;
  try {
    run = JSON.parse(text) as RunInfo;
  } catch (err) {
    throw new ExportError(`${file} is not valid JSON (${(err as Error).message}); the run folder is damaged: train it again`);
  }
  for (const key of ['experiment', 'strategy', 'seed', 'dataset', 'artifactHash', 'model', 'config'] as const) {
    if (run[key] === undefined || run[key] === null) throw new ExportError(`${file} has no '${key}'; it was not written by this b2m's trainer: train the run again`);
  }
  return run;
}

/** The dataset in one line (its folder, and what its manifest says produced it), and the task's input feature names when it lists them. */
async function describeData(dir: string): Promise<{ line: string; featureNames?: string[] }> {
  try {
    const m = await readManifest(dir);
    const rows = Object.entries(m.tables).map(([name, t]) => `${name} ${t.rows}`).join(', ');
    const by = m.provenance.generator ? ` by ${m.provenance.generator}` : '';
    const seed = m.seed === undefined || m.seed === null ? '' : `, seed ${m.seed}`;
    const features = m.extra?.inputFeatures;
    const featureNames = Array.isArray(features) && features.every((f) => typeof f === 'string') ? (features as string[]) : undefined;
    return { line: `${path.resolve(dir)} (${m.kind} dataset${by}${seed}; rows: ${rows})`, featureNames };
  } catch {
    return { line: `${path.resolve(dir)} (its manifest could not be read at export time)` };
  }
}

/** Columns of the metrics table that describe the step's settings rather than the student's scores. */
const NOT_SCORES = new Set(['grad_norm', 'wall_s', 'lr', 'lambda_contrastive', 'lambda_latent', 'beta']);

/**
 * Held-out scores of the exported step: the final evaluation when the checkpoint is the run's last step, else
 * the validation row of the metrics table at that step (empty when there is none).
 */
async function scoresAt(runDir: string, step: number): Promise<Record<string, number>> {
  try {
    const final = JSON.parse(await readFile(path.join(runDir, FINAL_FILE), 'utf8')) as { steps: number; val?: Record<string, number>; test?: Record<string, number> };
    if (final.steps === step) {
      const out: Record<string, number> = {};
      for (const split of ['val', 'test'] as const) for (const [k, v] of Object.entries(final[split] ?? {})) if (Number.isFinite(v)) out[`${split}.${k}`] = v;
      return out;
    }
  } catch {
    // No final evaluation: the run stopped before its last step; the metrics table has the scores.
  }
  let rows: MetricsRow[];
  try {
    rows = (await readMetrics(runDir)).rows;
  } catch {
    return {};
  }
  const row = rows.findLast((r) => r.split === 'val' && r.step === step);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(row?.values ?? {})) if (!NOT_SCORES.has(k) && Number.isFinite(v)) out[`val.${k}`] = v;
  return out;
}
