/** @file The simulated memory-decision experiment: sequential-offer task trials and a neural population recorded during a similar task. */

import { DatasetError } from '../errors.js';
import { Rng } from '../random.js';
import {
  checkChoice,
  checkInt,
  checkNumber,
  checkRange,
  type DeepPartial,
  resolveOptions,
  splitCodes,
} from './common.js';
import { PoissonCounter } from './poisson-counts.js';
import { fillGaussian } from './ziggurat.js';

/**
 * The epochs of one trial on a grid of time bins: fixation, offer 1, a variable delay, offer 2, a gap, the go
 * cue, and the decision bin where the choice is read.
 */
export interface TrialTiming {
  /** Time bins per trial; the longest trial's decision bin must fall inside. */
  timeBins: number;
  /** Bins of fixation before offer 1 appears. */
  fixationBins: number;
  /** Bins each offer stays on. */
  offerBins: number;
  /** Shortest and longest delay (bins) from offer 1 off to offer 2 on; drawn uniformly per trial, ends included. */
  delayBins: [number, number];
  /** Bins from offer 2 off to the go cue. */
  goGapBins: number;
  /** Bins from the go cue to the decision bin. */
  responseBins: number;
}

/** The student's task: many trials of a sequential-offer working-memory task. */
export interface MemoryTaskConfig {
  /** Task trials per split. */
  trials: { train: number; val: number; test: number };
  /** Offer values are levels 1..offerLevels, shown as level / offerLevels. */
  offerLevels: number;
  /** Trial epochs on the student's time grid. */
  timing: TrialTiming;
  /** Standard deviation of the Gaussian noise added to every input feature at every bin. */
  inputNoise: number;
}

/**
 * A population of neurons recorded while subjects did a similar task, with its own timing and delay statistics.
 * A low-dimensional latent state (remembered offer, current offer, comparison, choice, elapsed time, and
 * task-irrelevant drift) drives each neuron's log rate through a random loading, so selectivity is mixed and
 * heterogeneous; spike counts are Poisson (or Gaussian) around those rates.
 */
export interface MemoryBrainConfig {
  /** Simulated subjects; each has its own neurons, loadings, baseline rates, gains and noise. */
  subjects: number;
  /** Recorded trials per subject (brain data is scarce: hundreds). */
  trialsPerSubject: number;
  /** Share of each subject's trials assigned to the validation split; the rest are training trials. */
  valFraction: number;
  /**
   * How brain trials relate to task trials. Task trials are dealt to the subjects in turn within each split, as
   * if each subject did its share. `trial`: a subject's brain trials show the offers of its first task trials of
   * the matching split, and `trial_id` names that task trial (positives by trial; the delay follows the
   * recording's own timing). `condition`: offers are drawn independently and brain trials match task trials only
   * through their condition key (`trial_id` null).
   */
  pairing: 'trial' | 'condition';
  /** Neurons recorded per subject. */
  neurons: number;
  /** Latent dimensions: five task latents plus `latentDims - 5` task-irrelevant drift dimensions (at least one). */
  latentDims: number;
  /** Trial epochs on the recording's own time grid. */
  timing: TrialTiming;
  /** Seconds per recording bin: rates in Hz become expected counts per bin. */
  binSeconds: number;
  /** Observation noise: Poisson spike counts, or Gaussian counts with variance noiseScale² times the rate. */
  observation: 'poisson' | 'gaussian';
  /**
   * Overall noise multiplier (1 = default). It scales the private latent noise, the memory diffusion, the drift
   * amplitude and, for Gaussian observations, the observation noise; raise it to make the brain data less informative.
   */
  noiseScale: number;
  /** Standard deviation per bin of the private noise on every latent. */
  latentNoise: number;
  /** Standard deviation per bin of the random walk of the remembered offer during the delay (memory diffusion). */
  memoryNoise: number;
  /** Time constant (bins) of the remembered offer's decay during the delay. */
  memoryTimescaleBins: number;
  /** Stationary standard deviation of each drift latent. */
  driftScale: number;
  /** Time constant (bins) of the drift latents' AR(1) random walk. */
  driftTimescaleBins: number;
  /**
   * Evidence gain of the choice latent per bin: a leaky accumulator of the comparison latent from offer 2 to the
   * decision, bounded to [-1, 1], so hard trials carry a weak choice signal and easy ones a strong one.
   */
  choiceGain: number;
  /** Lowest and highest baseline firing rate (Hz); each neuron's is drawn log-uniformly. */
  baselineHz: [number, number];
  /** Lowest and highest gain of a neuron's latent loading (log-rate per unit latent); drawn log-uniformly. */
  gainRange: [number, number];
  /** Highest firing rate (Hz); log rates are clipped below log(maxRateHz). */
  maxRateHz: number;
  /** Spread of per-subject differences: log-normal standard deviation of each subject's noise gain and memory time constant. */
  subjectVariability: number;
}

/** Settings of the whole simulated memory-decision experiment. */
export interface MemoryDecisionConfig {
  task: MemoryTaskConfig;
  brain: MemoryBrainConfig;
}

/** Per-trial event bins (the `Off` events are the first bin after the offer). */
export interface TrialEvents {
  fixationOn: Int32Array;
  offer1On: Int32Array;
  offer1Off: Int32Array;
  offer2On: Int32Array;
  offer2Off: Int32Array;
  go: Int32Array;
  decision: Int32Array;
}

/** Names of the event columns, in epoch order. */
export const EVENT_NAMES = ['fixationOn', 'offer1On', 'offer1Off', 'offer2On', 'offer2Off', 'go', 'decision'] as const;

/** Input features of the task, per time bin. */
export const TASK_FEATURES = ['fixation', 'offer_value', 'offer_on', 'go'] as const;

/** The five task-driven latents; drift latents follow as `drift1`, `drift2`, … */
export const TASK_LATENTS = ['remembered_offer', 'current_offer', 'comparison', 'choice', 'elapsed_time'] as const;

/** Task trials, row-major typed arrays. Label 0 means offer 1 was larger, 1 means offer 2 was. */
export interface MemoryTaskTrials {
  count: number;
  timeBins: number;
  featureNames: readonly string[];
  /** `[count, timeBins, featureNames.length]`. */
  inputs: Float32Array;
  trialId: Int32Array;
  /** Split codes indexing the data layer's `SPLITS` (train, val, test). */
  split: Uint8Array;
  subjectNames: readonly string[];
  /** Index into `subjectNames`: trials are dealt to subjects in turn within each split. */
  subject: Int32Array;
  offer1: Int32Array;
  offer2: Int32Array;
  delayBins: Int32Array;
  label: Int32Array;
  events: TrialEvents;
}

/** One recorded unit's metadata. */
export interface UnitChannel {
  subject: string;
  name: string;
  location: string;
  /** MNI-like coordinates in millimetres. */
  x: number;
  y: number;
  z: number;
}

/** Brain trials of all subjects, row-major typed arrays. */
export interface MemoryBrainTrials {
  count: number;
  timeBins: number;
  neurons: number;
  binSeconds: number;
  subjectNames: readonly string[];
  /** Index into `subjectNames`. */
  subject: Int32Array;
  /** The task trial whose offers this trial showed, or -1 when paired by condition only. */
  trialId: Int32Array;
  split: Uint8Array;
  offer1: Int32Array;
  offer2: Int32Array;
  delayBins: Int32Array;
  /** The subject's own choice (0 = offer 1, 1 = offer 2), read from the choice latent; it can be wrong. */
  choice: Int32Array;
  events: TrialEvents;
  /** Spike counts (or Gaussian counts) per bin, `[count, timeBins, neurons]`. */
  features: Float32Array;
  latentNames: readonly string[];
  /** The ground-truth latent state, `[count, timeBins, latentDims]`, for diagnostics and tests. */
  latents: Float32Array;
  /** `subjects × neurons` units, subject-major. */
  channels: UnitChannel[];
}

/** A simulated experiment: its resolved settings, seed, task trials and brain trials. */
export interface MemoryDecisionData {
  config: MemoryDecisionConfig;
  seed: number;
  task: MemoryTaskTrials;
  brain: MemoryBrainTrials;
}

/** The defaults of the simulated memory-decision experiment. */
export function defaultMemoryDecisionConfig(): MemoryDecisionConfig {
  return {
    task: {
      trials: { train: 20000, val: 2000, test: 2000 },
      offerLevels: 6,
      timing: { timeBins: 60, fixationBins: 2, offerBins: 4, delayBins: [10, 40], goGapBins: 1, responseBins: 1 },
      inputNoise: 0.1,
    },
    brain: {
      subjects: 3,
      trialsPerSubject: 300,
      valFraction: 0.2,
      pairing: 'trial',
      neurons: 64,
      latentDims: 8,
      timing: { timeBins: 80, fixationBins: 4, offerBins: 6, delayBins: [14, 46], goGapBins: 3, responseBins: 4 },
      binSeconds: 0.05,
      observation: 'poisson',
      noiseScale: 1,
      latentNoise: 0.05,
      memoryNoise: 0.03,
      memoryTimescaleBins: 200,
      driftScale: 0.5,
      driftTimescaleBins: 20,
      choiceGain: 0.08,
      baselineHz: [2, 30],
      gainRange: [0.6, 1.8],
      maxRateHz: 200,
      subjectVariability: 0.25,
    },
  };
}

function checkTiming(name: string, t: TrialTiming): void {
  checkInt(`${name}.timeBins`, t.timeBins, 2);
  checkInt(`${name}.fixationBins`, t.fixationBins, 0);
  checkInt(`${name}.offerBins`, t.offerBins, 1);
  checkRange(`${name}.delayBins`, t.delayBins, 0, t.timeBins, true);
  checkInt(`${name}.goGapBins`, t.goGapBins, 0);
  checkInt(`${name}.responseBins`, t.responseBins, 0);
  const lastDecision = t.fixationBins + 2 * t.offerBins + t.delayBins[1] + t.goGapBins + t.responseBins;
  if (lastDecision >= t.timeBins) {
    throw new DatasetError(
      `${name}: the longest trial's decision bin is ${lastDecision} but timeBins is ${t.timeBins}; ` +
        `raise timeBins above ${lastDecision} or shorten delayBins[1] or the other epochs`,
    );
  }
}

/** Lays `options` over the defaults and checks every knob; errors name the knob (`memoryDecision.brain.neurons`). */
export function resolveMemoryDecisionConfig(options?: DeepPartial<MemoryDecisionConfig>): MemoryDecisionConfig {
  const cfg = resolveOptions('memoryDecision', defaultMemoryDecisionConfig(), options);
  const { task, brain } = cfg;
  checkInt('memoryDecision.task.trials.train', task.trials.train, 1);
  checkInt('memoryDecision.task.trials.val', task.trials.val, 0);
  checkInt('memoryDecision.task.trials.test', task.trials.test, 0);
  checkInt('memoryDecision.task.offerLevels', task.offerLevels, 2, 1000);
  checkTiming('memoryDecision.task.timing', task.timing);
  checkNumber('memoryDecision.task.inputNoise', task.inputNoise, 0);
  checkInt('memoryDecision.brain.subjects', brain.subjects, 1, 999);
  checkInt('memoryDecision.brain.trialsPerSubject', brain.trialsPerSubject, 1);
  checkNumber('memoryDecision.brain.valFraction', brain.valFraction, 0, 1);
  checkChoice('memoryDecision.brain.pairing', brain.pairing, ['trial', 'condition'] as const);
  checkInt('memoryDecision.brain.neurons', brain.neurons, 1, 99999);
  checkInt('memoryDecision.brain.latentDims', brain.latentDims, TASK_LATENTS.length + 1);
  checkTiming('memoryDecision.brain.timing', brain.timing);
  checkNumber('memoryDecision.brain.binSeconds', brain.binSeconds, 1e-6);
  checkChoice('memoryDecision.brain.observation', brain.observation, ['poisson', 'gaussian'] as const);
  checkNumber('memoryDecision.brain.noiseScale', brain.noiseScale, 0);
  checkNumber('memoryDecision.brain.latentNoise', brain.latentNoise, 0);
  checkNumber('memoryDecision.brain.memoryNoise', brain.memoryNoise, 0);
  checkNumber('memoryDecision.brain.memoryTimescaleBins', brain.memoryTimescaleBins, 1e-3);
  checkNumber('memoryDecision.brain.driftScale', brain.driftScale, 0);
  checkNumber('memoryDecision.brain.driftTimescaleBins', brain.driftTimescaleBins, 1e-3);
  checkNumber('memoryDecision.brain.choiceGain', brain.choiceGain, 0);
  checkRange('memoryDecision.brain.baselineHz', brain.baselineHz, 1e-6, 1e6, false);
  checkRange('memoryDecision.brain.gainRange', brain.gainRange, 1e-6, 100, false);
  checkNumber('memoryDecision.brain.maxRateHz', brain.maxRateHz, brain.baselineHz[1]);
  checkNumber('memoryDecision.brain.subjectVariability', brain.subjectVariability, 0, 5);
  if (brain.pairing === 'trial') {
    const { train, val } = brainSplitCounts(brain);
    const S = brain.subjects;
    if (train * S > task.trials.train || val * S > task.trials.val) {
      throw new DatasetError(
        `memoryDecision.brain.pairing is 'trial', so ${S} subjects with ${train} training and ${val} validation brain ` +
          `trials each need ${train * S} and ${val * S} task trials, but task.trials has train ${task.trials.train} and val ${task.trials.val}; ` +
          `raise task.trials, lower brain.trialsPerSubject or brain.valFraction, or use pairing 'condition'`,
      );
    }
  }
  return cfg;
}

function brainSplitCounts(brain: MemoryBrainConfig): { train: number; val: number } {
  const val = Math.round(brain.trialsPerSubject * brain.valFraction);
  return { train: brain.trialsPerSubject - val, val };
}

/** The condition key of an offer pair, e.g. `o1=3|o2=5`. */
export function memoryConditionKey(offer1: number, offer2: number): string {
  return `o1=${offer1}|o2=${offer2}`;
}

function allocEvents(n: number): TrialEvents {
  return {
    fixationOn: new Int32Array(n),
    offer1On: new Int32Array(n),
    offer1Off: new Int32Array(n),
    offer2On: new Int32Array(n),
    offer2Off: new Int32Array(n),
    go: new Int32Array(n),
    decision: new Int32Array(n),
  };
}

function setEvents(events: TrialEvents, i: number, t: TrialTiming, delay: number): void {
  const offer1On = t.fixationBins;
  const offer2On = offer1On + t.offerBins + delay;
  const go = offer2On + t.offerBins + t.goGapBins;
  events.fixationOn[i] = 0;
  events.offer1On[i] = offer1On;
  events.offer1Off[i] = offer1On + t.offerBins;
  events.offer2On[i] = offer2On;
  events.offer2Off[i] = offer2On + t.offerBins;
  events.go[i] = go;
  events.decision[i] = go + t.responseBins;
}

/** An ordered offer pair with unequal levels, uniform over all such pairs (ties are never drawn). */
function drawOffers(rng: Rng, levels: number, out: Int32Array, i: number, out2: Int32Array): void {
  const a = 1 + rng.int(levels);
  let b = 1 + rng.int(levels - 1);
  if (b >= a) b++;
  out[i] = a;
  out2[i] = b;
}

/**
 * Task trials for the student. Inputs per bin: fixation (1 until the go cue), the offer value (level / levels
 * while an offer is on), an offer-on flag, and the go cue (1 from the go cue through the decision bin), each
 * with Gaussian noise. Trial ids run train, then val, then test. Uses the `task` sub-stream of `seed`, so brain
 * settings never change the task trials.
 */
export function simulateMemoryTask(config: MemoryDecisionConfig, seed: number): MemoryTaskTrials {
  const { trials, offerLevels, timing, inputNoise } = config.task;
  const rng = Rng.derive(seed, 'memory-decision', 'task');
  const count = trials.train + trials.val + trials.test;
  const T = timing.timeBins;
  const F = TASK_FEATURES.length;
  const inputs = new Float32Array(count * T * F);
  const offer1 = new Int32Array(count);
  const offer2 = new Int32Array(count);
  const delayBins = new Int32Array(count);
  const label = new Int32Array(count);
  const trialId = new Int32Array(count);
  const events = allocEvents(count);
  const [dMin, dMax] = timing.delayBins;
  for (let i = 0; i < count; i++) {
    trialId[i] = i;
    drawOffers(rng, offerLevels, offer1, i, offer2);
    label[i] = offer2[i]! > offer1[i]! ? 1 : 0;
    const delay = rng.intIn(dMin, dMax);
    delayBins[i] = delay;
    setEvents(events, i, timing, delay);
    const base = i * T * F;
    if (inputNoise > 0) fillGaussian(rng, inputs.subarray(base, base + T * F), 0, inputNoise);
    const go = events.go[i]!;
    const decision = events.decision[i]!;
    for (let t = 0; t < go; t++) inputs[base + t * F] += 1;
    for (let t = go; t <= decision; t++) inputs[base + t * F + 3] += 1;
    const v1 = offer1[i]! / offerLevels;
    const v2 = offer2[i]! / offerLevels;
    for (let t = events.offer1On[i]!; t < events.offer1Off[i]!; t++) {
      inputs[base + t * F + 1] += v1;
      inputs[base + t * F + 2] += 1;
    }
    for (let t = events.offer2On[i]!; t < events.offer2Off[i]!; t++) {
      inputs[base + t * F + 1] += v2;
      inputs[base + t * F + 2] += 1;
    }
  }
  return {
    count,
    timeBins: T,
    featureNames: TASK_FEATURES,
    inputs,
    trialId,
    split: splitCodes(trials),
    subjectNames: subjectNames(config.brain.subjects),
    subject: dealSubjects(trials, config.brain.subjects),
    offer1,
    offer2,
    delayBins,
    label,
    events,
  };
}

/** Recording sites of human single units (MNI-like centres, mm); each subject gets a few bilateral probes. */
const UNIT_SITES: readonly { location: string; x: number; y: number; z: number }[] = [
  { location: 'left hippocampus', x: -26, y: -22, z: -14 },
  { location: 'right hippocampus', x: 26, y: -22, z: -14 },
  { location: 'left amygdala', x: -22, y: -4, z: -20 },
  { location: 'right amygdala', x: 22, y: -4, z: -20 },
  { location: 'left dorsal anterior cingulate', x: -5, y: 20, z: 35 },
  { location: 'right dorsal anterior cingulate', x: 5, y: 20, z: 35 },
  { location: 'left pre-supplementary motor area', x: -6, y: 18, z: 55 },
  { location: 'right pre-supplementary motor area', x: 6, y: 18, z: 55 },
  { location: 'left orbitofrontal cortex', x: -25, y: 35, z: -15 },
  { location: 'right orbitofrontal cortex', x: 25, y: 35, z: -15 },
];
const PROBES_PER_SUBJECT = 4;

/** A subject's fixed parameters: loadings, baselines, noise gain, memory time constant, units. */
interface SubjectModel {
  /** Gain-scaled loadings, latent-major `[latentDims, neurons]`. */
  loadings: Float64Array;
  /** log of each neuron's expected count per bin at zero latent state. */
  logCountBaseline: Float64Array;
  noiseGain: number;
  memoryTimescale: number;
  channels: UnitChannel[];
}

function subjectNames(count: number): string[] {
  return Array.from({ length: count }, (_, s) => `sub-${String(s + 1).padStart(2, '0')}`);
}

/** Subject of each trial when each split's trials are dealt to `subjects` subjects in turn. */
function dealSubjects(counts: { train: number; val: number; test: number }, subjects: number): Int32Array {
  const out = new Int32Array(counts.train + counts.val + counts.test);
  let i = 0;
  for (const n of [counts.train, counts.val, counts.test]) {
    for (let k = 0; k < n; k++, i++) out[i] = k % subjects;
  }
  return out;
}

function buildSubject(brain: MemoryBrainConfig, seed: number, s: number): SubjectModel {
  const rng = Rng.derive(seed, 'memory-decision', 'brain-subject', s);
  const N = brain.neurons;
  const D = brain.latentDims;
  const loadings = new Float64Array(D * N);
  fillGaussian(rng, loadings);
  const logCountBaseline = new Float64Array(N);
  const [bLo, bHi] = brain.baselineHz;
  const [gLo, gHi] = brain.gainRange;
  for (let n = 0; n < N; n++) {
    const logHz = Math.log(bLo) + rng.uniform() * (Math.log(bHi) - Math.log(bLo));
    logCountBaseline[n] = logHz + Math.log(brain.binSeconds);
    const gain = Math.exp(Math.log(gLo) + rng.uniform() * (Math.log(gHi) - Math.log(gLo)));
    let norm = 0;
    for (let k = 0; k < D; k++) norm += loadings[k * N + n]! ** 2;
    const scale = gain / Math.sqrt(norm);
    for (let k = 0; k < D; k++) loadings[k * N + n]! *= scale;
  }
  const noiseGain = Math.exp(brain.subjectVariability * rng.normal());
  const memoryTimescale = brain.memoryTimescaleBins * Math.exp(brain.subjectVariability * rng.normal());
  const sites = rng.permutation(UNIT_SITES.length).subarray(0, PROBES_PER_SUBJECT);
  const channels: UnitChannel[] = [];
  const name = subjectNames(s + 1)[s]!;
  for (let n = 0; n < N; n++) {
    const site = UNIT_SITES[sites[rng.int(PROBES_PER_SUBJECT)]!]!;
    channels.push({
      subject: name,
      name: `unit-${String(n + 1).padStart(3, '0')}`,
      location: site.location,
      x: site.x + 2 * rng.normal(),
      y: site.y + 2 * rng.normal(),
      z: site.z + 2 * rng.normal(),
    });
  }
  return { loadings, logCountBaseline, noiseGain, memoryTimescale, channels };
}

/** Centred offer value in [-1, 1]. */
function centredValue(level: number, levels: number): number {
  return (2 * (level - 1)) / (levels - 1) - 1;
}

/** Per-bin rates at which latents approach their targets, the choice leak, and the decay per bin after the decision. */
const CURRENT_RATE = 0.4;
const MEMORY_LOAD_RATE = 0.3;
const COMPARISON_RATE = 0.4;
const CHOICE_LEAK = 0.05;
const RESET_FACTOR = 0.8;

/** Noise slots per bin beyond the latents: memory diffusion and accumulator noise. */
const EXTRA_NOISE = 2;

/**
 * Runs one brain trial's latent dynamics into `z` (`[timeBins, latentDims]`), reading standard normals from
 * `noise` (`[timeBins, latentDims + 2]`). The task latents evolve from the events; private noise is added to
 * what is written, so it never accumulates, except where accumulation is the model (memory diffusion during the
 * delay, evidence accumulation of the choice). Returns the subject's choice, read from the choice latent's sign
 * at the decision bin (0 = offer 1, 1 = offer 2).
 */
function runLatents(
  z: Float32Array,
  noise: Float64Array,
  brain: MemoryBrainConfig,
  subject: SubjectModel,
  events: TrialEvents,
  i: number,
  v1: number,
  v2: number,
): number {
  const D = brain.latentDims;
  const stride = D + EXTRA_NOISE;
  const T = brain.timing.timeBins;
  const noiseSd = brain.noiseScale * subject.noiseGain;
  const latentSd = brain.latentNoise * noiseSd;
  const memorySd = brain.memoryNoise * noiseSd;
  const driftSd = brain.driftScale * noiseSd;
  const driftRho = Math.exp(-1 / brain.driftTimescaleBins);
  const driftInnov = driftSd * Math.sqrt(1 - driftRho * driftRho);
  const memoryDecay = Math.exp(-1 / subject.memoryTimescale);
  const offer1On = events.offer1On[i]!;
  const offer1Off = events.offer1Off[i]!;
  const offer2On = events.offer2On[i]!;
  const offer2Off = events.offer2Off[i]!;
  const go = events.go[i]!;
  const decision = events.decision[i]!;
  let memory = 0;
  let current = 0;
  let comparison = 0;
  let choice = 0;
  let chosen = 0;
  for (let t = 0; t < T; t++) {
    const row = t * D;
    const nz = t * stride;
    const target = t >= offer1On && t < offer1Off ? v1 : t >= offer2On && t < offer2Off ? v2 : 0;
    current += CURRENT_RATE * (target - current);
    if (t >= offer1On && t < offer1Off) memory += MEMORY_LOAD_RATE * (v1 - memory);
    else if (t <= decision) memory = memory * memoryDecay + memorySd * noise[nz + D]!;
    else memory *= RESET_FACTOR;
    if (t >= offer2On && t < offer2Off) comparison += COMPARISON_RATE * (current - memory - comparison);
    else if (t > decision) comparison *= RESET_FACTOR;
    if (t >= offer2On && t <= decision) {
      choice += brain.choiceGain * comparison - CHOICE_LEAK * choice + latentSd * noise[nz + D + 1]!;
    } else if (t > decision) choice *= RESET_FACTOR;
    choice = choice > 1 ? 1 : choice < -1 ? -1 : choice;
    if (t === decision) chosen = choice > 0 ? 1 : 0;
    z[row] = memory + latentSd * noise[nz]!;
    z[row + 1] = current + latentSd * noise[nz + 1]!;
    z[row + 2] = comparison + latentSd * noise[nz + 2]!;
    z[row + 3] = choice + latentSd * noise[nz + 3]!;
    z[row + 4] = (t >= go ? 1 : (2 * t) / go - 1) + latentSd * noise[nz + 4]!;
    for (let k = TASK_LATENTS.length; k < D; k++) {
      z[row + k] = t === 0 ? driftSd * noise[nz + k]! : driftRho * z[row - D + k]! + driftInnov * noise[nz + k]!;
    }
  }
  return chosen;
}

/**
 * Maps one trial's latents `z` (`[timeBins, latentDims]`) to counts `out[offset..]` (`[timeBins, neurons]`):
 * log rate = baseline + loadings · z, clipped at the maximum rate, then a Poisson draw, or the rate plus
 * Gaussian noise with variance obsSd² times the rate. `means` is scratch of `timeBins × neurons`.
 */
function emitCounts(
  out: Float32Array,
  offset: number,
  z: Float32Array,
  model: SubjectModel,
  brain: MemoryBrainConfig,
  rng: Rng,
  means: Float64Array,
  counter: PoissonCounter,
  obsSd: number,
): void {
  const N = brain.neurons;
  const D = brain.latentDims;
  const T = brain.timing.timeBins;
  const W = model.loadings;
  const base = model.logCountBaseline;
  // Eight latents per pass where there are eight, four where there are four: each log rate is then loaded and
  // stored once per pass instead of once per latent, which is most of the product's cost.
  const first = D >= 8 ? 8 : 0;
  for (let t = 0; t < T; t++) {
    const zr = t * D;
    const row = t * N;
    if (first === 8) {
      const z0 = z[zr]!;
      const z1 = z[zr + 1]!;
      const z2 = z[zr + 2]!;
      const z3 = z[zr + 3]!;
      const z4 = z[zr + 4]!;
      const z5 = z[zr + 5]!;
      const z6 = z[zr + 6]!;
      const z7 = z[zr + 7]!;
      for (let n = 0; n < N; n++) {
        means[row + n] =
          base[n]! +
          W[n]! * z0 +
          W[N + n]! * z1 +
          W[2 * N + n]! * z2 +
          W[3 * N + n]! * z3 +
          W[4 * N + n]! * z4 +
          W[5 * N + n]! * z5 +
          W[6 * N + n]! * z6 +
          W[7 * N + n]! * z7;
      }
    } else {
      for (let n = 0; n < N; n++) means[row + n] = base[n]!;
    }
    let k = first;
    for (; k + 4 <= D; k += 4) {
      const z0 = z[zr + k]!;
      const z1 = z[zr + k + 1]!;
      const z2 = z[zr + k + 2]!;
      const z3 = z[zr + k + 3]!;
      const w0 = k * N;
      for (let n = 0; n < N; n++) {
        means[row + n] += W[w0 + n]! * z0 + W[w0 + N + n]! * z1 + W[w0 + 2 * N + n]! * z2 + W[w0 + 3 * N + n]! * z3;
      }
    }
    for (; k < D; k++) {
      const zk = z[zr + k]!;
      const wk = k * N;
      for (let n = 0; n < N; n++) means[row + n] += W[wk + n]! * zk;
    }
    for (let n = 0; n < N; n++) means[row + n] = counter.mean(means[row + n]!);
  }
  if (brain.observation === 'poisson') {
    counter.fill(rng, means, out, offset);
    return;
  }
  const size = T * N;
  fillGaussian(rng, out.subarray(offset, offset + size));
  for (let j = 0; j < size; j++) {
    const lambda = means[j]!;
    out[offset + j] = lambda + obsSd * Math.sqrt(lambda) * out[offset + j]!;
  }
}

/** Where simulated brain trials go: one row per trial, `[count, timeBins, …]` tensors. */
export type MemoryBrainArrays = Pick<
  MemoryBrainTrials,
  'subject' | 'trialId' | 'split' | 'offer1' | 'offer2' | 'delayBins' | 'choice' | 'events' | 'features' | 'latents'
>;

/** Output arrays for every brain trial of `config`; with `shared`, on SharedArrayBuffers that workers can fill. */
export function allocMemoryBrainArrays(config: MemoryDecisionConfig, shared = false): MemoryBrainArrays {
  const { brain } = config;
  const count = brain.subjects * brain.trialsPerSubject;
  const T = brain.timing.timeBins;
  const make = <A extends Int32Array | Uint8Array | Float32Array>(
    Type: { new (n: number): A; new (b: SharedArrayBuffer): A; BYTES_PER_ELEMENT: number },
    n: number,
  ): A => (shared ? new Type(new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT)) : new Type(n));
  const events = Object.fromEntries(EVENT_NAMES.map((e) => [e, make(Int32Array, count)])) as unknown as TrialEvents;
  return {
    subject: make(Int32Array, count),
    trialId: make(Int32Array, count),
    split: make(Uint8Array, count),
    offer1: make(Int32Array, count),
    offer2: make(Int32Array, count),
    delayBins: make(Int32Array, count),
    choice: make(Int32Array, count),
    events,
    features: make(Float32Array, count * T * brain.neurons),
    latents: make(Float32Array, count * T * brain.latentDims),
  };
}

/**
 * Simulates brain trials `from` to `to` (exclusive; trial `i` is trial `i % trialsPerSubject` of subject
 * `floor(i / trialsPerSubject)`) into `out`. Each subject's parameters come from its `brain-subject` sub-stream
 * and each trial from its own `brain-trial` sub-stream, so any split of the trials into ranges, in any order or
 * on any thread, gives the same numbers, and adding a subject or a trial never changes the others.
 * `taskOffers` are the task trials' offers (used when pairing by trial).
 */
export function simulateMemoryBrainRange(
  config: MemoryDecisionConfig,
  taskOffers: { offer1: Int32Array; offer2: Int32Array },
  seed: number,
  out: MemoryBrainArrays,
  from: number,
  to: number,
): void {
  const { brain } = config;
  const levels = config.task.offerLevels;
  const S = brain.subjects;
  const P = brain.trialsPerSubject;
  const N = brain.neurons;
  const D = brain.latentDims;
  const T = brain.timing.timeBins;
  const counts = brainSplitCounts(brain);
  const firstVal = config.task.trials.train;
  const noise = new Float64Array(T * (D + EXTRA_NOISE));
  const means = new Float64Array(T * N);
  const counter = new PoissonCounter(Math.log(brain.maxRateHz * brain.binSeconds));
  const [dMin, dMax] = brain.timing.delayBins;
  const { events } = out;
  let model: SubjectModel | null = null;
  let modelOf = -1;
  for (let i = from; i < to; i++) {
    const s = Math.floor(i / P);
    const p = i - s * P;
    if (s !== modelOf) {
      model = buildSubject(brain, seed, s);
      modelOf = s;
    }
    const rng = Rng.derive(seed, 'memory-decision', 'brain-trial', s, p);
    out.subject[i] = s;
    const isVal = p >= counts.train;
    out.split[i] = isVal ? 1 : 0;
    if (brain.pairing === 'trial') {
      const id = isVal ? firstVal + (p - counts.train) * S + s : p * S + s;
      out.trialId[i] = id;
      out.offer1[i] = taskOffers.offer1[id]!;
      out.offer2[i] = taskOffers.offer2[id]!;
    } else {
      out.trialId[i] = -1;
      drawOffers(rng, levels, out.offer1, i, out.offer2);
    }
    const delay = rng.intIn(dMin, dMax);
    out.delayBins[i] = delay;
    setEvents(events, i, brain.timing, delay);
    fillGaussian(rng, noise);
    const z = out.latents.subarray(i * T * D, (i + 1) * T * D);
    out.choice[i] = runLatents(
      z,
      noise,
      brain,
      model!,
      events,
      i,
      centredValue(out.offer1[i]!, levels),
      centredValue(out.offer2[i]!, levels),
    );
    emitCounts(out.features, i * T * N, z, model!, brain, rng, means, counter, brain.noiseScale * model!.noiseGain);
  }
}

/** The brain trials of `config` around filled output arrays. */
export function memoryBrainTrials(config: MemoryDecisionConfig, seed: number, arrays: MemoryBrainArrays): MemoryBrainTrials {
  const { brain } = config;
  const D = brain.latentDims;
  const channels: UnitChannel[] = [];
  for (let s = 0; s < brain.subjects; s++) channels.push(...buildSubject(brain, seed, s).channels);
  return {
    count: brain.subjects * brain.trialsPerSubject,
    timeBins: brain.timing.timeBins,
    neurons: brain.neurons,
    binSeconds: brain.binSeconds,
    subjectNames: subjectNames(brain.subjects),
    ...arrays,
    latentNames: [...TASK_LATENTS, ...Array.from({ length: D - TASK_LATENTS.length }, (_, k) => `drift${k + 1}`)],
    channels,
  };
}

/**
 * Brain trials of every subject, simulated during the recording's own task timing, on this thread. See
 * `simulateMemoryBrainRange` for the random streams, and `simulateMemoryBrainParallel` for the same numbers
 * from worker threads.
 */
export function simulateMemoryBrain(config: MemoryDecisionConfig, task: MemoryTaskTrials, seed: number): MemoryBrainTrials {
  const arrays = allocMemoryBrainArrays(config);
  simulateMemoryBrainRange(config, task, seed, arrays, 0, config.brain.subjects * config.brain.trialsPerSubject);
  return memoryBrainTrials(config, seed, arrays);
}

/**
 * Simulates the memory-decision experiment: plentiful task trials for the student and scarce brain trials from
 * a similar task. Same options and seed, same numbers.
 *
 * ```ts
 * const data = memoryDecisionSimulator({ brain: { subjects: 2, noiseScale: 2 } }, 7);
 * ```
 */
export function memoryDecisionSimulator(options: DeepPartial<MemoryDecisionConfig> | undefined, seed: number): MemoryDecisionData {
  const config = resolveMemoryDecisionConfig(options);
  const task = simulateMemoryTask(config, seed);
  const brain = simulateMemoryBrain(config, task, seed);
  return { config, seed, task, brain };
}
