/** @file Experiment configs: the zod schema of both simulated experiments, and the loader that applies scale presets and `--set` overrides. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError, describeFsError } from './errors.js';
import { packageRoot } from './package.js';
import { describeIssues, keyPath, valueAt } from './validation.js';

/** The experiments b2m knows; each has a shipped default config `configs/<name>.yaml`. */
export const EXPERIMENTS = ['memory-decision', 'driving'] as const;
export type ExperimentKind = (typeof EXPERIMENTS)[number];

/** Training strategies: the isolated baseline, the B2M terms alone and together, and the two null controls. */
export const STRATEGIES = ['isolated', 'contrastive', 'latent', 'both', 'shuffled-brain', 'noise-brain'] as const;
export type Strategy = (typeof STRATEGIES)[number];

const count = z.number().int().positive();
const steps = z.number().int().nonnegative();
const fraction = z.number().min(0).lt(1);

const splitSchema = z.strictObject({
  by: z.enum(['trial', 'subject']).default('trial'),
  val: fraction.default(0.1),
  test: fraction.default(0.1),
}).superRefine((split, ctx) => {
  if (split.val + split.test >= 1) {
    ctx.addIssue({ code: 'custom', path: ['val'], message: `plus \`test\` is ${split.val + split.test}; together they must leave some rows for training (sum below 1).` });
  }
});

/** Bins of a simulated task trial outside its delay, up to and including the decision bin: fixation 2, two offers of 4, go gap 1, response 1. */
const TRIAL_BINS_BESIDE_DELAY = 12;

const memoryDecisionSimulatorSchema = z.strictObject({
  taskTrials: count.default(20_000),
  brainTrials: count.default(300),
  subjects: count.default(3),
  timeBins: z.number().int().min(8).default(100),
  neurons: count.default(64),
  latentDim: count.default(6),
  delayBins: z.tuple([count, count]).default([30, 85]),
  offerLevels: z.number().int().min(2).default(6),
  inputNoise: z.number().nonnegative().default(0.1),
  noiseModel: z.enum(['poisson', 'gaussian']).default('poisson'),
  noise: z.number().nonnegative().default(1),
  drift: z.number().nonnegative().default(0.3),
}).superRefine((sim, ctx) => {
  const [shortest, longest] = sim.delayBins;
  if (shortest > longest) ctx.addIssue({ code: 'custom', path: ['delayBins'], message: `must be [shortest, longest] with shortest ≤ longest, found [${shortest}, ${longest}].` });
  if (longest + TRIAL_BINS_BESIDE_DELAY >= sim.timeBins) ctx.addIssue({ code: 'custom', path: ['delayBins'], message: `allows delays of ${longest} bins, which leaves no room for fixation, both offers and the choice (${TRIAL_BINS_BESIDE_DELAY} bins) in ${sim.timeBins} time bins; keep the longest delay ≤ timeBins − ${TRIAL_BINS_BESIDE_DELAY + 1}.` });
});

const drivingSimulatorSchema = z.strictObject({
  scenes: count.default(4_000),
  brainScenes: count.default(400),
  subjects: count.default(2),
  imageSize: z.number().int().min(16).default(32),
  eegChannels: count.default(32),
  eegSamples: z.number().int().min(8).default(128),
  eegBaseline: z.number().nonnegative().max(10).default(0.5),
  sampleRate: z.number().positive().default(256),
  noise: z.number().nonnegative().default(1),
});

function dataSchema<S extends z.ZodType>(simulator: S) {
  return z.strictObject({
    source: z.enum(['simulate', 'dataset']).default('simulate'),
    dataset: z.string().min(1).optional(),
    simulator: simulator.prefault({} as z.input<S>),
    split: splitSchema.prefault({}),
  }).superRefine((data, ctx) => {
    if (data.source === 'dataset' && data.dataset === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dataset'], message: 'is required when `data.source` is dataset: give the folder written by `b2m ingest` or `b2m simulate`.' });
    }
  });
}

const decisionRnnSchema = z.strictObject({
  kind: z.literal('decisionRnn').default('decisionRnn'),
  cell: z.enum(['gru', 'lstm', 'rnn']).default('gru'),
  hidden: count.default(64),
  layers: count.default(1),
  readout: z.enum(['decision', 'every-step']).default('decision'),
});

const sceneVaeSchema = z.strictObject({
  kind: z.literal('sceneVae').default('sceneVae'),
  latent: count.default(16),
  channels: z.array(count).min(1).default([16, 32, 64]),
  beta: z.number().nonnegative().default(1),
  reconstruction: z.enum(['mse', 'bernoulli']).default('mse'),
});

/**
 * The teacher section. `reduction` picks how brain features become latents: `pca` (z-score, then the axes of
 * largest variance) or `evoked` (the axes of largest post-stimulus over pre-stimulus variance; EEG epochs with a
 * baseline). `band` (EEG epochs) replaces each window's mean voltage by its log band power.
 */
function teacherSchema(experiment: 'memory-decision' | 'driving') {
  return z.strictObject({
    latents: count.default(8),
    reduction: z.enum(['pca', 'evoked']).default(experiment === 'driving' ? 'evoked' : 'pca'),
    conditionAverage: z.boolean().default(false),
    band: z.tuple([z.number().positive(), z.number().positive()]).optional(),
  }).superRefine((teacher, ctx) => {
    if (teacher.band && teacher.band[0] >= teacher.band[1]) {
      ctx.addIssue({ code: 'custom', path: ['band'], message: `must be [low, high] in Hz with low < high, found [${teacher.band.join(', ')}].` });
    }
    if (experiment === 'memory-decision' && teacher.band) {
      ctx.addIssue({ code: 'custom', path: ['band'], message: 'applies to EEG epochs (the driving experiment); the memory-decision teacher reduces rates binned on the task\'s time bins, so bin band power into the brain table before ingesting it.' });
    }
    if (experiment === 'memory-decision' && teacher.reduction === 'evoked') {
      ctx.addIssue({ code: 'custom', path: ['reduction'], message: 'evoked needs EEG epochs with a pre-stimulus baseline (the driving experiment); the memory-decision teacher uses pca.' });
    }
  });
}

const scheduleSchema = z.strictObject({
  kind: z.enum(['constant', 'warmup', 'decay']).default('constant'),
  warmupSteps: steps.optional(),
  decaySteps: count.optional(),
  endStep: count.optional(),
  endFraction: z.number().gt(0).max(1).optional(),
}).superRefine((schedule, ctx) => {
  if (schedule.kind === 'warmup' && schedule.warmupSteps === undefined) {
    ctx.addIssue({ code: 'custom', path: ['warmupSteps'], message: 'is required when the schedule kind is warmup: the steps over which the weight ramps from 0 to its value.' });
  }
});

const timesSchema = z.union([z.enum(['decision', 'all']), z.array(steps).min(1)]);

function tapSchema(layer: string, times: 'decision' | 'all' | undefined) {
  return z.strictObject({
    layer: z.string().min(1).default(layer),
    times: times === undefined ? timesSchema.optional() : timesSchema.default(times),
  });
}

const temperatureSchema = z.strictObject({
  init: z.number().positive().default(0.1),
  min: z.number().positive().default(0.01),
  max: z.number().positive().default(1),
  learnable: z.boolean().default(true),
}).superRefine((t, ctx) => {
  if (!(t.min <= t.init && t.init <= t.max)) {
    ctx.addIssue({ code: 'custom', path: ['init'], message: `must lie within [min, max], found init ${t.init} with min ${t.min} and max ${t.max}.` });
  }
});

/** The latent term's default weight and schedule, per experiment. */
interface LatentDefaults {
  weight: number;
  schedule: z.input<typeof scheduleSchema>;
}

function lossesSchema(layer: string, contrastiveTimes: 'decision' | undefined, latentTimes: 'all' | undefined, latent: LatentDefaults) {
  return z.strictObject({
    contrastive: z.strictObject({
      weight: z.number().nonnegative().default(0.5),
      schedule: scheduleSchema.prefault({}),
      projectionDim: count.default(32),
      brainHead: z.enum(['linear', 'mlp']).default('linear'),
      temperature: temperatureSchema.prefault({}),
      pairing: z.enum(['trial', 'condition']).default('trial'),
      tap: tapSchema(layer, contrastiveTimes).prefault({}),
    }).prefault({}),
    latent: z.strictObject({
      weight: z.number().nonnegative().default(latent.weight),
      schedule: scheduleSchema.prefault(latent.schedule),
      tap: tapSchema(layer, latentTimes).prefault({}),
    }).prefault({}),
  });
}

const optimizerSchema = z.strictObject({
  kind: z.enum(['sgd', 'momentum', 'nesterov', 'adam', 'adamw']).default('adam'),
  lr: z.number().positive().default(0.003),
  momentum: z.number().min(0).lt(1).default(0.9),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().nonnegative().optional(),
  clipNorm: z.number().positive().optional(),
}).transform((optimizer) => ({ ...optimizer, weightDecay: optimizer.weightDecay ?? (optimizer.kind === 'adamw' ? 0.01 : 0) }));

const lrScheduleSchema = z.strictObject({
  kind: z.enum(['constant', 'cosine', 'step']).default('constant'),
  warmupSteps: steps.default(0),
  stepEvery: count.optional(),
  gamma: z.number().positive().max(1).default(0.1),
}).superRefine((schedule, ctx) => {
  if (schedule.kind === 'step' && schedule.stepEvery === undefined) {
    ctx.addIssue({ code: 'custom', path: ['stepEvery'], message: 'is required when the lr schedule kind is step: the steps between multiplications of the rate by `gamma`.' });
  }
});

function trainSchema(defaults: { steps: number; batchSize: number; evalEvery: number; lr: number }) {
  return z.strictObject({
    steps: count.default(defaults.steps),
    batchSize: count.default(defaults.batchSize),
    evalEvery: count.default(defaults.evalEvery),
    optimizer: optimizerSchema.prefault({ lr: defaults.lr }),
    lrSchedule: lrScheduleSchema.prefault({}),
    device: z.enum(['cpu', 'cuda', 'webgpu']).default('cpu'),
    threads: count.optional(),
    graphOptimization: z.enum(['auto', 'disabled', 'basic', 'extended', 'all']).default('auto'),
  });
}

function compareSchema(target: number, budgetTaskTrials: number | undefined) {
  return z.strictObject({
    strategies: z.array(z.enum(STRATEGIES)).min(1).default([...STRATEGIES]),
    seeds: count.default(3),
    target: z.number().default(target),
    budgetTaskTrials: budgetTaskTrials === undefined ? count.optional() : count.default(budgetTaskTrials),
  }).superRefine((compare, ctx) => {
    const seen = new Set<string>();
    compare.strategies.forEach((strategy, i) => {
      if (seen.has(strategy)) ctx.addIssue({ code: 'custom', path: ['strategies', i], message: `repeats the strategy ${strategy}; list each strategy once.` });
      seen.add(strategy);
    });
  });
}

const scalesSchema = z.record(z.string().min(1), z.record(z.string(), z.unknown()));

/** Named override sets (`--scale NAME`), merged over the config before validation; `default` changes nothing. */
export const BUILTIN_SCALES: Readonly<Record<ExperimentKind, Record<string, Record<string, unknown>>>> = {
  'memory-decision': {
    tiny: {
      data: { simulator: { taskTrials: 512, brainTrials: 64, subjects: 2, timeBins: 24, neurons: 16, delayBins: [4, 10] } },
      student: { hidden: 16 },
      teacher: { latents: 4 },
      losses: { contrastive: { projectionDim: 8 } },
      train: { steps: 20, batchSize: 16, evalEvery: 10 },
      compare: { seeds: 2, budgetTaskTrials: 256 },
    },
    default: {},
    full: {
      data: { simulator: { taskTrials: 50_000, brainTrials: 600 } },
      student: { hidden: 128 },
      train: { steps: 4_000, evalEvery: 100 },
      compare: { seeds: 10 },
    },
  },
  driving: {
    tiny: {
      data: { simulator: { scenes: 128, brainScenes: 48, imageSize: 32, eegChannels: 8, eegSamples: 32, eegBaseline: 0.125 } },
      student: { latent: 4, channels: [8, 16] },
      teacher: { latents: 4 },
      losses: { contrastive: { projectionDim: 8 } },
      train: { steps: 10, batchSize: 16, evalEvery: 5 },
      compare: { seeds: 2 },
    },
    default: {},
    full: {
      data: { simulator: { scenes: 20_000, brainScenes: 2_000, imageSize: 64 } },
      student: { channels: [32, 64, 128] },
      train: { steps: 3_000, evalEvery: 100 },
      compare: { seeds: 10 },
    },
  },
};

const common = {
  name: z.string().min(1).optional(),
  seed: z.number().int().nonnegative().default(1),
  scale: z.string().min(1).default('default'),
};

const memoryDecisionSchema = z.strictObject({
  experiment: z.literal('memory-decision'),
  ...common,
  scales: scalesSchema.default(BUILTIN_SCALES['memory-decision']),
  data: dataSchema(memoryDecisionSimulatorSchema).prefault({}),
  student: decisionRnnSchema.prefault({}),
  teacher: teacherSchema('memory-decision').prefault({}),
  losses: lossesSchema('rnn.hidden', 'decision', 'all', { weight: 1, schedule: {} }).prefault({}),
  train: trainSchema({ steps: 400, batchSize: 64, evalEvery: 50, lr: 0.003 }).prefault({}),
  compare: compareSchema(0.9, 1_000).prefault({}),
});

const drivingSchema = z.strictObject({
  experiment: z.literal('driving'),
  ...common,
  scales: scalesSchema.default(BUILTIN_SCALES.driving),
  data: dataSchema(drivingSimulatorSchema).prefault({}),
  student: sceneVaeSchema.prefault({}),
  teacher: teacherSchema('driving').prefault({}),
  // Weight and schedule chosen on probes of the latent strategy (docs/results/README.md, "λ and schedules"):
  // λ_l = 1 left the scene VAE unchanged; 15 falling linearly to 0 at three quarters of the run, with the last
  // quarter for reconstruction alone, keeps the gain at no reconstruction cost.
  losses: lossesSchema('encoder.mean', undefined, undefined, { weight: 15, schedule: { kind: 'decay', endFraction: 0.75 } }).prefault({}),
  train: trainSchema({ steps: 400, batchSize: 32, evalEvery: 50, lr: 0.001 }).prefault({}),
  compare: compareSchema(0.5, undefined).prefault({}),
}).superRefine((config, ctx) => {
  const halvings = config.student.channels.length;
  const size = config.data.simulator.imageSize;
  if (config.data.source === 'simulate' && size % 2 ** halvings !== 0) {
    ctx.addIssue({ code: 'custom', path: ['data', 'simulator', 'imageSize'], message: `is ${size}, but the encoder halves it once per entry of \`student.channels\` (${halvings} times); use a multiple of ${2 ** halvings}.` });
  }
});

/** The schema of an experiment config file; parse output has every default filled and `name` set. */
export const experimentConfigSchema = z.discriminatedUnion('experiment', [memoryDecisionSchema, drivingSchema])
  // The leading pair keeps `experiment, name` first in the key order that `b2m config show` prints.
  .transform((config) => Object.assign({ experiment: config.experiment }, { name: config.name ?? config.experiment }, config, { name: config.name ?? config.experiment }));

/** A fully resolved experiment config. Narrow on `experiment` (or `student.kind`) for the experiment's own sections. */
export type ExperimentConfig = z.output<typeof experimentConfigSchema>;
/** A config as written in a file: every key but `experiment` may be left out. */
export type ExperimentConfigInput = z.input<typeof experimentConfigSchema>;
export type MemoryDecisionConfig = Extract<ExperimentConfig, { experiment: 'memory-decision' }>;
export type DrivingConfig = Extract<ExperimentConfig, { experiment: 'driving' }>;
export type DecisionRnnConfig = z.output<typeof decisionRnnSchema>;
export type SceneVaeConfig = z.output<typeof sceneVaeSchema>;
export type StudentConfig = DecisionRnnConfig | SceneVaeConfig;
export type MemoryDecisionSimulatorConfig = z.output<typeof memoryDecisionSimulatorSchema>;
export type DrivingSimulatorConfig = z.output<typeof drivingSimulatorSchema>;
export type DataConfig = ExperimentConfig['data'];
export type SplitConfig = z.output<typeof splitSchema>;
export type TeacherConfig = z.output<ReturnType<typeof teacherSchema>>;
export type LossesConfig = ExperimentConfig['losses'];
export type ContrastiveLossConfig = LossesConfig['contrastive'];
export type LatentLossConfig = LossesConfig['latent'];
export type LossScheduleConfig = z.output<typeof scheduleSchema>;
export type TapConfig = ContrastiveLossConfig['tap'];
export type TemperatureConfig = z.output<typeof temperatureSchema>;
export type TrainConfig = ExperimentConfig['train'];
export type OptimizerConfig = z.output<typeof optimizerSchema>;
export type LrScheduleConfig = z.output<typeof lrScheduleSchema>;
export type CompareConfig = ExperimentConfig['compare'];

/** Options of {@link loadConfig} beyond the file and overrides. */
export interface LoadConfigOptions {
  /** Scale preset to apply (`--scale`); otherwise the file's `scale` key, otherwise `default`. */
  readonly scale?: string;
  /** Folder that relative `--set data.dataset=...` paths are resolved against (default: the working directory). */
  readonly cwd?: string;
}

/** The path of a shipped default config (`memory-decision`, `driving`). */
export function builtinConfigPath(name: ExperimentKind): string {
  return path.join(packageRoot, 'configs', `${name}.yaml`);
}

/**
 * Reads a config file (YAML or JSON) or a built-in experiment name, merges the chosen scale preset and the
 * `--set` overrides ("train.steps=200"; a leading experiment name, "driving.train.steps=200", limits one to
 * that experiment), and validates the result. Relative `data.dataset` paths are resolved against the file's folder.
 */
export function loadConfig(fileOrDefaultName: string, overrides: readonly string[] = [], options: LoadConfigOptions = {}): ExperimentConfig {
  const file = resolveConfigFile(fileOrDefaultName);
  const source = readConfigSource(file);
  const parsedOverrides = overrides.map(parseOverride);
  const experiment = valueAt(source.data, ['experiment']);
  const applicable = parsedOverrides.filter((o) => o.experiment === undefined || o.experiment === experiment);
  const overriddenScale = [...applicable].reverse().find((o) => o.path.length === 1 && o.path[0] === 'scale');
  const scaleName = options.scale ?? (overriddenScale ? String(overriddenScale.value) : undefined) ?? stringAt(source.data, 'scale') ?? 'default';

  let merged: unknown = source.data;
  const scaleLeaves = new Map<string, string>();
  const presets = scalePresets(source.data, file);
  if (presets !== undefined) {
    const preset = presets[scaleName];
    if (preset === undefined && scaleName !== 'default') {
      throw new ConfigError(`Config ${file}: there is no scale named "${scaleName}". The scales defined for this experiment are: ${['default', ...Object.keys(presets).filter((n) => n !== 'default')].join(', ')}. Pick one of them with --scale, or add \`scales.${scaleName}\` to the file.`);
    }
    if (preset !== undefined) {
      merged = mergeDeep(merged, preset);
      for (const leaf of leafPaths(preset)) scaleLeaves.set(keyPath(leaf), `set by scale "${scaleName}" in ${path.basename(file)}`);
    }
    merged = mergeDeep(merged, { scale: scaleName });
  }
  const setLeaves = new Map<string, string>();
  for (const override of applicable) {
    merged = setAtPath(merged, override.path, override.value);
    setLeaves.set(keyPath(override.path), `from --set ${override.text}`);
  }

  const result = experimentConfigSchema.safeParse(merged);
  if (!result.success) {
    const origin = (issuePath: readonly PropertyKey[]): string | undefined =>
      attribution(setLeaves, issuePath) ?? attribution(scaleLeaves, issuePath) ?? source.line(issuePath);
    const sentences = describeIssues(result.error.issues, { input: merged, schema: experimentConfigSchema, origin });
    throw new ConfigError(`Config ${file} is not valid: ${sentences.join(' ')} Fix the file or the --set flag and run again; \`b2m config show --config ${fileOrDefaultName}\` prints a complete valid config.`);
  }
  const config = result.data;
  if (config.data.dataset !== undefined && !path.isAbsolute(config.data.dataset)) {
    const base = setLeaves.has('data.dataset') ? (options.cwd ?? process.cwd()) : path.dirname(file);
    config.data.dataset = path.resolve(base, config.data.dataset);
  }
  return config;
}

/** A short stable hash of a resolved config (sha256 of its canonical JSON, 16 hex digits), for caches and summaries. */
export function configHash(config: ExperimentConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/** A config (or any plain data) as YAML in key order, short lists of scalars on one line (`delayBins: [15, 35]`). */
export function toYaml(value: unknown): string {
  const doc = new YAML.Document(value);
  YAML.visit(doc, {
    Seq(_, node) {
      if (node.items.length <= 8 && node.items.every((item) => YAML.isScalar(item))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

interface ConfigSource {
  readonly data: unknown;
  /** "line N of FILE" for a key path present in the file, or the line of its nearest enclosing section. */
  readonly line: (keys: readonly PropertyKey[]) => string | undefined;
}

interface Override {
  readonly text: string;
  readonly experiment: string | undefined;
  readonly path: PropertyKey[];
  readonly value: unknown;
}

function resolveConfigFile(fileOrDefaultName: string): string {
  if ((EXPERIMENTS as readonly string[]).includes(fileOrDefaultName) && !existsSync(fileOrDefaultName)) {
    return builtinConfigPath(fileOrDefaultName as ExperimentKind);
  }
  const file = path.resolve(fileOrDefaultName);
  if (!existsSync(file)) {
    throw new ConfigError(`Config file ${fileOrDefaultName} does not exist. Give the path of a .yaml, .yml or .json file, or one of the built-in experiments: ${EXPERIMENTS.join(', ')}.`);
  }
  if (statSync(file).isDirectory()) {
    throw new ConfigError(`Config ${fileOrDefaultName} is a folder, not a file. Give the path of a .yaml, .yml or .json config file.`);
  }
  return file;
}

function readConfigSource(file: string): ConfigSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Config file ${file} cannot be read (${describeFsError(err)}). Check that it exists and is readable.`);
  }
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const at = syntax.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    throw new ConfigError(`Config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${where}: ${(syntax.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')}. Fix the syntax and run again.`);
  }
  const data: unknown = doc.toJS() ?? {};
  const line = (keys: readonly PropertyKey[]): string | undefined => {
    for (let n = keys.length; n >= 1; n--) {
      const node = doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        const at = `line ${lineCounter.linePos(node.range[0]).line} of ${path.basename(file)}`;
        return n === keys.length ? at : `in \`${keyPath(keys.slice(0, n))}\` at ${at}`;
      }
    }
    return undefined;
  };
  return { data, line };
}

function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  const segments = key.split('.');
  if (eq < 0 || key === '' || segments.some((s) => s === '')) {
    throw new ConfigError(`--set ${JSON.stringify(text)} is not of the form KEY=VALUE with a dotted key path, for example --set train.steps=200 or --set losses.latent.weight=0.5.`);
  }
  let value: unknown;
  try {
    value = YAML.parse(text.slice(eq + 1));
  } catch (err) {
    throw new ConfigError(`--set ${text}: the value is not a valid YAML scalar or list (${(err as Error).message.split('\n')[0]}). Quote text, write lists as [1, 2].`);
  }
  const experiment = (EXPERIMENTS as readonly string[]).includes(segments[0] as string) && segments.length > 1 ? segments.shift() : undefined;
  const pathSegments = segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  return { text, experiment, path: pathSegments, value };
}

function scalePresets(data: unknown, file: string): Record<string, Record<string, unknown>> | undefined {
  const declared = valueAt(data, ['scales']);
  if (declared === undefined) {
    const experiment = valueAt(data, ['experiment']);
    return (EXPERIMENTS as readonly unknown[]).includes(experiment) ? BUILTIN_SCALES[experiment as ExperimentKind] : undefined;
  }
  const parsed = scalesSchema.safeParse(declared);
  if (!parsed.success) {
    const sentences = describeIssues(parsed.error.issues.map((i) => ({ ...i, path: ['scales', ...i.path] })), { input: data, schema: z.strictObject({ scales: scalesSchema }) });
    throw new ConfigError(`Config ${file} is not valid: ${sentences.join(' ')} Each scale is a mapping of config keys to the values it sets, for example \`scales: { tiny: { train: { steps: 20 } } }\`.`);
  }
  return parsed.data;
}

function attribution(leaves: ReadonlyMap<string, string>, issuePath: readonly PropertyKey[]): string | undefined {
  for (let n = issuePath.length; n >= 1; n--) {
    const found = leaves.get(keyPath(issuePath.slice(0, n)));
    if (found) return found;
  }
  const prefix = keyPath(issuePath);
  for (const [leaf, origin] of leaves) if (issuePath.length > 0 && leaf.startsWith(`${prefix}.`)) return origin;
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function mergeDeep(base: unknown, overlay: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(overlay)) return overlay;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overlay)) out[key] = mergeDeep(base[key], value);
  return out;
}

function leafPaths(value: unknown, prefix: PropertyKey[] = []): PropertyKey[][] {
  if (!isPlainObject(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

function stringAt(data: unknown, key: string): string | undefined {
  const value = valueAt(data, [key]);
  return typeof value === 'string' ? value : undefined;
}

function setAtPath(data: unknown, keys: readonly PropertyKey[], value: unknown): unknown {
  if (keys.length === 0) return value;
  const [head, ...rest] = keys as [PropertyKey, ...PropertyKey[]];
  if (Array.isArray(data) && typeof head === 'number') {
    const copy = [...data];
    copy[head] = setAtPath(copy[head], rest, value);
    return copy;
  }
  const base = isPlainObject(data) ? data : {};
  return { ...base, [head]: setAtPath(base[head as string], rest, value) };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value).sort().filter((k) => value[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
