/** @file The simulated driving experiment: procedurally rendered road scenes with their factors, and a simulated EEG epoch per viewed scene. */

import { DatasetError } from '../errors.js';
import { Rng } from '../random.js';
import { checkInt, checkNumber, type DeepPartial, resolveOptions, splitCodes } from './common.js';
import { fillGaussian } from './ziggurat.js';
import { renderScene, type SceneDescription, type SceneVehicle } from './scene-render.js';

/** The scenes the student reconstructs. */
export interface DrivingSceneImagesConfig {
  /** Scenes per split. */
  scenes: { train: number; val: number; test: number };
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Standard deviation of Gaussian pixel noise added after rendering (values are then clipped to [0, 1]). */
  imageNoise: number;
  /** Most vehicles ahead in one scene; each scene has 0..maxVehicles, uniformly. */
  maxVehicles: number;
  /** Nearest and farthest depth of a vehicle ahead (camera heights; the bottom image row is at depth 1). */
  vehicleDepth: [number, number];
}

/**
 * EEG recorded while subjects viewed scenes. Each scene factor drives a source with its own scalp pattern and
 * evoked time course (P1 for brightness, N1 for contrast lost to fog, N170 for a lead vehicle, a parieto-occipital
 * response to dashed markings, lateralized components for curvature and lane offset, a P300 for a near lead
 * vehicle); background activity is spatially correlated 1/f noise plus an alpha rhythm, and every channel adds
 * white sensor noise. Subjects differ in patterns, latencies, gains and noise.
 */
export interface DrivingEegConfig {
  /** Simulated viewers. */
  subjects: number;
  /** Scenes each subject viewed (brain data is scarce); the first ones of the train and validation splits. */
  scenesPerSubject: number;
  /** Share of each subject's viewed scenes taken from the validation split; the rest are training scenes. */
  valFraction: number;
  /** EEG channels: 32 gives the standard 10-20 montage names; any other count gives E001… on an even cap. */
  channels: number;
  /** Samples per epoch. */
  samples: number;
  /** Sampling rate in Hz. */
  sampleRate: number;
  /** Time of the first sample relative to scene onset, in seconds. */
  epochStart: number;
  /**
   * Overall noise multiplier (1 = default) on the background 1/f activity, the alpha rhythm and the sensor noise;
   * raise it to make the EEG less informative.
   */
  noiseScale: number;
  /** Root-mean-square amplitude (µV) of the 1/f background per channel. */
  backgroundUv: number;
  /** Exponent of the background spectrum 1/f^exponent. */
  backgroundExponent: number;
  /** Independent background sources mixed onto the scalp (their number sets the spatial correlation). */
  backgroundSources: number;
  /** Root-mean-square amplitude (µV) of the occipital alpha rhythm, whose amplitude and phase vary per epoch. */
  alphaUv: number;
  /** Standard deviation (µV) of the white sensor noise per channel and sample. */
  sensorNoiseUv: number;
  /** Multiplier on every evoked component's amplitude. */
  evokedGain: number;
  /** Standard deviation (ms) of each subject's shift of every component's latency. */
  subjectLatencyJitterMs: number;
  /** Standard deviation (ms) of the per-epoch latency jitter. */
  trialLatencyJitterMs: number;
  /** Relative standard deviation of the per-epoch amplitude of each component. */
  trialAmplitudeJitter: number;
  /** Spread of per-subject differences: log-normal standard deviation of gains and noise, and scale of pattern shifts. */
  subjectVariability: number;
}

/** Settings of the whole simulated driving experiment. */
export interface DrivingSceneConfig {
  images: DrivingSceneImagesConfig;
  eeg: DrivingEegConfig;
}

/** Scene factors, in column order. */
export const SCENE_FACTORS = [
  'curvature',
  'offset',
  'lead_present',
  'lead_count',
  'lead_distance',
  'brightness',
  'fog',
  'marking_dashed',
] as const;
export type SceneFactor = (typeof SCENE_FACTORS)[number];

/** Rendered scenes: images `[count, height, width, 3]` in [0, 1] and one float column per factor. */
export interface DrivingScenes {
  count: number;
  height: number;
  width: number;
  images: Float32Array;
  sceneId: Int32Array;
  split: Uint8Array;
  /**
   * Factors per scene. `lead_distance` is the nearest vehicle's depth mapped to [0, 1] over `vehicleDepth`, and
   * 1 (as far as it gets) when no vehicle is ahead.
   */
  factors: Record<SceneFactor, Float32Array>;
}

/** One EEG channel's metadata. */
export interface EegChannel {
  subject: string;
  name: string;
  location: string;
  /** Head coordinates in millimetres (x right, y front, z up; origin at the head centre). */
  x: number;
  y: number;
  z: number;
}

/** EEG epochs of all subjects: `features` is `[count, samples, channels]` in µV. */
export interface DrivingEeg {
  count: number;
  channels: number;
  samples: number;
  sampleRate: number;
  epochStart: number;
  subjectNames: readonly string[];
  subject: Int32Array;
  /** The scene each epoch showed (the brain table's trial id). */
  sceneId: Int32Array;
  split: Uint8Array;
  features: Float32Array;
  channelInfo: EegChannel[];
}

/** A simulated driving experiment: its resolved settings, seed, scenes and EEG. */
export interface DrivingSceneData {
  config: DrivingSceneConfig;
  seed: number;
  scenes: DrivingScenes;
  eeg: DrivingEeg;
}

/** The defaults of the simulated driving experiment. */
export function defaultDrivingSceneConfig(): DrivingSceneConfig {
  return {
    images: {
      scenes: { train: 4000, val: 500, test: 500 },
      height: 64,
      width: 64,
      imageNoise: 0.01,
      maxVehicles: 2,
      vehicleDepth: [2.5, 20],
    },
    eeg: {
      subjects: 2,
      scenesPerSubject: 400,
      valFraction: 0.2,
      channels: 32,
      samples: 64,
      sampleRate: 128,
      epochStart: 0,
      noiseScale: 1,
      backgroundUv: 8,
      backgroundExponent: 1,
      backgroundSources: 16,
      alphaUv: 4,
      sensorNoiseUv: 2,
      evokedGain: 1,
      subjectLatencyJitterMs: 12,
      trialLatencyJitterMs: 8,
      trialAmplitudeJitter: 0.2,
      subjectVariability: 0.25,
    },
  };
}

function eegSplitCounts(eeg: DrivingEegConfig): { train: number; val: number } {
  const val = Math.round(eeg.scenesPerSubject * eeg.valFraction);
  return { train: eeg.scenesPerSubject - val, val };
}

/** Lays `options` over the defaults and checks every knob; errors name the knob (`drivingScenes.eeg.channels`). */
export function resolveDrivingSceneConfig(options?: DeepPartial<DrivingSceneConfig>): DrivingSceneConfig {
  const cfg = resolveOptions('drivingScenes', defaultDrivingSceneConfig(), options);
  const { images, eeg } = cfg;
  checkInt('drivingScenes.images.scenes.train', images.scenes.train, 1);
  checkInt('drivingScenes.images.scenes.val', images.scenes.val, 0);
  checkInt('drivingScenes.images.scenes.test', images.scenes.test, 0);
  checkInt('drivingScenes.images.height', images.height, 8, 4096);
  checkInt('drivingScenes.images.width', images.width, 8, 4096);
  checkNumber('drivingScenes.images.imageNoise', images.imageNoise, 0, 1);
  checkInt('drivingScenes.images.maxVehicles', images.maxVehicles, 0, 2);
  checkNumber('drivingScenes.images.vehicleDepth[0]', images.vehicleDepth[0], 1.5);
  checkNumber('drivingScenes.images.vehicleDepth[1]', images.vehicleDepth[1], images.vehicleDepth[0] + 1e-3, 150);
  checkInt('drivingScenes.eeg.subjects', eeg.subjects, 1, 999);
  checkInt('drivingScenes.eeg.scenesPerSubject', eeg.scenesPerSubject, 1);
  checkNumber('drivingScenes.eeg.valFraction', eeg.valFraction, 0, 1);
  checkInt('drivingScenes.eeg.channels', eeg.channels, 2, 512);
  checkInt('drivingScenes.eeg.samples', eeg.samples, 4, 100000);
  checkNumber('drivingScenes.eeg.sampleRate', eeg.sampleRate, 1);
  checkNumber('drivingScenes.eeg.epochStart', eeg.epochStart, -10, 10);
  checkNumber('drivingScenes.eeg.noiseScale', eeg.noiseScale, 0);
  checkNumber('drivingScenes.eeg.backgroundUv', eeg.backgroundUv, 0);
  checkNumber('drivingScenes.eeg.backgroundExponent', eeg.backgroundExponent, 0, 3);
  checkInt('drivingScenes.eeg.backgroundSources', eeg.backgroundSources, 1, 1024);
  checkNumber('drivingScenes.eeg.alphaUv', eeg.alphaUv, 0);
  checkNumber('drivingScenes.eeg.sensorNoiseUv', eeg.sensorNoiseUv, 0);
  checkNumber('drivingScenes.eeg.evokedGain', eeg.evokedGain, 0);
  checkNumber('drivingScenes.eeg.subjectLatencyJitterMs', eeg.subjectLatencyJitterMs, 0, 200);
  checkNumber('drivingScenes.eeg.trialLatencyJitterMs', eeg.trialLatencyJitterMs, 0, 200);
  checkNumber('drivingScenes.eeg.trialAmplitudeJitter', eeg.trialAmplitudeJitter, 0, 5);
  checkNumber('drivingScenes.eeg.subjectVariability', eeg.subjectVariability, 0, 5);
  const { train, val } = eegSplitCounts(eeg);
  if (train > images.scenes.train || val > images.scenes.val) {
    throw new DatasetError(
      `drivingScenes.eeg: each subject views ${train} training and ${val} validation scenes, but images.scenes has ` +
        `train ${images.scenes.train} and val ${images.scenes.val}; raise images.scenes or lower eeg.scenesPerSubject or eeg.valFraction`,
    );
  }
  return cfg;
}

const VEHICLE_COLORS: readonly (readonly [number, number, number])[] = [
  [0.7, 0.08, 0.08],
  [0.1, 0.2, 0.65],
  [0.85, 0.85, 0.85],
  [0.45, 0.45, 0.47],
  [0.1, 0.1, 0.1],
  [0.75, 0.6, 0.1],
  [0.15, 0.4, 0.2],
];

/** Draws a scene: factors uniformly over their ranges, nuisance (colours, lanes, dash phase) at random. */
function drawScene(rng: Rng, images: DrivingSceneImagesConfig): SceneDescription {
  const curvature = rng.uniformIn(-1, 1);
  const offset = rng.uniformIn(-1, 1);
  const brightness = rng.uniform();
  const fog = rng.uniform();
  const dashed = rng.uniform() < 0.5;
  const dashPhase = rng.uniform();
  const n = rng.int(images.maxVehicles + 1);
  const [near, far] = images.vehicleDepth;
  const vehicles: SceneVehicle[] = [];
  if (n > 0) {
    const depth = rng.uniformIn(near, far);
    vehicles.push({ depth, lane: 1, color: VEHICLE_COLORS[rng.int(VEHICLE_COLORS.length)]! });
    for (let k = 1; k < n; k++) {
      const lane = rng.uniform() < 0.5 ? -1 : 1;
      const behind = lane === 1 ? depth + 2 + rng.uniform() * 6 : rng.uniformIn(near, far);
      vehicles.push({ depth: Math.max(behind, near), lane, color: VEHICLE_COLORS[rng.int(VEHICLE_COLORS.length)]! });
    }
  }
  return { curvature, offset, brightness, fog, dashed, dashPhase, vehicles };
}

/**
 * Renders the scenes of every split (ids run train, then val, then test) from the `scenes` sub-stream of
 * `seed`, so EEG settings never change the images.
 */
export function simulateDrivingScenes(config: DrivingSceneConfig, seed: number): DrivingScenes {
  const { images } = config;
  const rng = Rng.derive(seed, 'driving', 'scenes');
  const noiseRng = Rng.derive(seed, 'driving', 'pixel-noise');
  const count = images.scenes.train + images.scenes.val + images.scenes.test;
  const { height, width } = images;
  const size = height * width * 3;
  const imagesOut = new Float32Array(count * size);
  const sceneId = new Int32Array(count);
  const factors = Object.fromEntries(SCENE_FACTORS.map((f) => [f, new Float32Array(count)])) as Record<
    SceneFactor,
    Float32Array
  >;
  const noise = new Float32Array(images.imageNoise > 0 ? size : 0);
  const [near, far] = images.vehicleDepth;
  for (let i = 0; i < count; i++) {
    sceneId[i] = i;
    const scene = drawScene(rng, images);
    renderScene(scene, height, width, imagesOut, i * size);
    if (images.imageNoise > 0) {
      fillGaussian(noiseRng, noise, 0, images.imageNoise);
      const base = i * size;
      for (let k = 0; k < size; k++) {
        const v = imagesOut[base + k]! + noise[k]!;
        imagesOut[base + k] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
    const nearest = scene.vehicles.length > 0 ? Math.min(...scene.vehicles.map((v) => v.depth)) : far;
    factors.curvature[i] = scene.curvature;
    factors.offset[i] = scene.offset;
    factors.lead_present[i] = scene.vehicles.length > 0 ? 1 : 0;
    factors.lead_count[i] = scene.vehicles.length;
    factors.lead_distance[i] = (nearest - near) / (far - near);
    factors.brightness[i] = scene.brightness;
    factors.fog[i] = scene.fog;
    factors.marking_dashed[i] = scene.dashed ? 1 : 0;
  }
  return { count, height, width, images: imagesOut, sceneId, split: splitCodes(images.scenes), factors };
}

/** Standard 32-channel 10-20 montage: name and BESA spherical angles (signed polar θ, azimuth φ, degrees). */
const MONTAGE_32: readonly (readonly [string, number, number])[] = [
  ['Fp1', -90, -72], ['Fp2', 90, 72], ['F7', -90, -36], ['F3', -60, -51], ['Fz', 45, 90], ['F4', 60, 51],
  ['F8', 90, 36], ['FC5', -69, -21], ['FC1', -31, -46], ['FC2', 31, 46], ['FC6', 69, 21], ['T7', -90, 0],
  ['C3', -45, 0], ['Cz', 0, 0], ['C4', 45, 0], ['T8', 90, 0], ['TP9', -113, 18], ['CP5', -69, 21],
  ['CP1', -31, 46], ['CP2', 31, -46], ['CP6', 69, -21], ['TP10', 113, -18], ['P7', -90, 36], ['P3', -60, 51],
  ['Pz', 45, -90], ['P4', 60, -51], ['P8', 90, -36], ['PO9', -113, 54], ['O1', -90, 72], ['Oz', 90, -90],
  ['O2', 90, -72], ['PO10', 113, -54],
];

/** Unit vectors on the head (x right, y front, z up) with names, for `count` channels. */
function montage(count: number): { names: string[]; pos: Float64Array } {
  const pos = new Float64Array(count * 3);
  const names: string[] = [];
  if (count === MONTAGE_32.length) {
    MONTAGE_32.forEach(([name, theta, phi], c) => {
      const t = (theta * Math.PI) / 180;
      const p = (phi * Math.PI) / 180;
      names.push(name);
      pos[c * 3] = Math.sin(t) * Math.cos(p);
      pos[c * 3 + 1] = Math.sin(t) * Math.sin(p);
      pos[c * 3 + 2] = Math.cos(t);
    });
    return { names, pos };
  }
  // A Fibonacci spiral over the cap down to 20° below the equator spreads any count evenly.
  const zMin = -Math.sin((20 * Math.PI) / 180);
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let c = 0; c < count; c++) {
    const z = 1 - ((c + 0.5) / count) * (1 - zMin);
    const r = Math.sqrt(1 - z * z);
    names.push(`E${String(c + 1).padStart(3, '0')}`);
    pos[c * 3] = r * Math.sin(golden * c);
    pos[c * 3 + 1] = r * Math.cos(golden * c);
    pos[c * 3 + 2] = z;
  }
  return { names, pos };
}

/** A coarse lobe label from a scalp position. */
function lobe(x: number, y: number, z: number): string {
  if (y > 0.55) return 'frontal pole';
  if (y > 0.2) return 'frontal';
  if (Math.abs(x) > 0.8 && z < 0.35) return 'temporal';
  if (y > -0.3) return 'central';
  if (y > -0.8) return 'parietal';
  return 'occipital';
}

/** A source's projection: a signed Gaussian blob on the scalp around `at` (a unit vector). */
interface Pole {
  at: readonly [number, number, number];
  weight: number;
}

/**
 * An evoked component: where on the head its sources project (signed poles: same signs for bilateral sources,
 * opposite signs for lateralized ones), its latency and width, and how its amplitude follows the scene factors.
 */
interface Component {
  name: string;
  poles: readonly Pole[];
  /** Spatial spread of each pole (chord distance on the unit sphere). */
  spread: number;
  latencyMs: number;
  widthMs: number;
  /** Peak amplitude (µV, signed) per unit of drive. */
  amplitudeUv: number;
  /** The drive from one scene's factors. */
  drive: (f: Record<SceneFactor, number>) => number;
}

function unit(x: number, y: number, z: number): [number, number, number] {
  const n = Math.hypot(x, y, z);
  return [x / n, y / n, z / n];
}

function pole(x: number, y: number, z: number, weight = 1): Pole {
  return { at: unit(x, y, z), weight };
}

/**
 * The evoked components, each driven by one factor (or one combination a viewer's brain would compute), at
 * latencies and scalp sites where the field would expect them; components close in time sit apart on the scalp.
 */
const COMPONENTS: readonly Component[] = [
  {
    name: 'P1 (luminance)',
    poles: [pole(0, -0.9, -0.1)],
    spread: 0.55,
    latencyMs: 100,
    widthMs: 20,
    amplitudeUv: 12,
    drive: (f) => 0.2 + f.brightness,
  },
  {
    name: 'N1 (contrast)',
    poles: [pole(-0.75, -0.6, 0), pole(0.75, -0.6, 0)],
    spread: 0.4,
    latencyMs: 150,
    widthMs: 20,
    amplitudeUv: -6,
    drive: (f) => 1 - f.fog,
  },
  {
    name: 'N170 (vehicle)',
    poles: [pole(0.85, -0.5, 0.05), pole(-0.85, -0.5, 0.05, 0.4)],
    spread: 0.4,
    latencyMs: 170,
    widthMs: 18,
    amplitudeUv: -6,
    drive: (f) => f.lead_present * (1.2 - 0.6 * f.lead_distance),
  },
  {
    name: 'parieto-occipital texture (dashed markings)',
    poles: [pole(0, -0.7, 0.7)],
    spread: 0.35,
    latencyMs: 200,
    widthMs: 25,
    amplitudeUv: 5,
    drive: (f) => f.marking_dashed - 0.5,
  },
  {
    name: 'lateralized posterior (curvature)',
    poles: [pole(-0.75, -0.55, 0.35), pole(0.75, -0.55, 0.35, -1)],
    spread: 0.45,
    latencyMs: 240,
    widthMs: 30,
    amplitudeUv: 3,
    drive: (f) => f.curvature,
  },
  {
    name: 'lateralized central (lane offset)',
    poles: [pole(-0.7, 0, 0.7), pole(0.7, 0, 0.7, -1)],
    spread: 0.45,
    latencyMs: 290,
    widthMs: 35,
    amplitudeUv: 3,
    drive: (f) => f.offset,
  },
  {
    name: 'P300 (near vehicle)',
    poles: [pole(0, -0.6, 0.8)],
    spread: 0.6,
    latencyMs: 340,
    widthMs: 55,
    amplitudeUv: 8,
    drive: (f) => f.lead_present * (1 - f.lead_distance),
  },
];

/** The occipital pole of the alpha rhythm. */
const ALPHA_POLE = unit(0, -0.9, 0.45);

/** A pattern over channels: signed Gaussian blobs of `spread` at the poles, average referenced. */
function scalpPattern(pos: Float64Array, poles: readonly Pole[], spread: number): Float64Array {
  const C = pos.length / 3;
  const out = new Float64Array(C);
  const blob = (c: number, p: readonly number[]) => {
    const d2 = (pos[c * 3]! - p[0]!) ** 2 + (pos[c * 3 + 1]! - p[1]!) ** 2 + (pos[c * 3 + 2]! - p[2]!) ** 2;
    return Math.exp(-d2 / (2 * spread * spread));
  };
  let mean = 0;
  for (let c = 0; c < C; c++) {
    let v = 0;
    for (const p of poles) v += p.weight * blob(c, p.at);
    out[c] = v;
    mean += out[c]!;
  }
  mean /= C;
  for (let c = 0; c < C; c++) out[c]! -= mean;
  return out;
}

/** Moves a unit vector by a random step of size about `scale`, back onto the sphere. */
function jitterPole(rng: Rng, p: readonly number[], scale: number): [number, number, number] {
  return unit(p[0]! + scale * rng.normal(), p[1]! + scale * rng.normal(), p[2]! + scale * rng.normal());
}

/**
 * The lower Cholesky factor of the covariance of a unit-variance 1/f^exponent process sampled `samples` times
 * at `rate` Hz, from its spectrum between 0.5 Hz and Nyquist.
 */
function pinkCholesky(samples: number, rate: number, exponent: number): Float64Array {
  const bins = 4096;
  const fLo = 0.5;
  const fHi = rate / 2;
  const acov = new Float64Array(samples);
  for (let b = 0; b < bins; b++) {
    const f = fLo + ((b + 0.5) / bins) * (fHi - fLo);
    const power = f ** -exponent;
    for (let k = 0; k < samples; k++) acov[k]! += power * Math.cos((2 * Math.PI * f * k) / rate);
  }
  const a0 = acov[0]!;
  for (let k = 0; k < samples; k++) acov[k]! /= a0;
  const L = new Float64Array(samples * samples);
  for (let i = 0; i < samples; i++) {
    for (let j = 0; j <= i; j++) {
      let s = acov[i - j]! + (i === j ? 1e-6 : 0);
      for (let k = 0; k < j; k++) s -= L[i * samples + k]! * L[j * samples + k]!;
      L[i * samples + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j * samples + j]!;
    }
  }
  return L;
}

/** A subject's fixed parameters. */
interface EegSubject {
  /** `[components, channels]` scalp patterns with the subject's amplitude gains folded in. */
  patterns: Float64Array;
  latencyShiftMs: Float64Array;
  /** `[channels, backgroundSources]` mixing of background sources, scaled to backgroundUv RMS per channel. */
  backgroundMixing: Float64Array;
  alphaPattern: Float64Array;
  alphaHz: number;
  noiseGain: number;
}

function buildEegSubject(eeg: DrivingEegConfig, pos: Float64Array, seed: number, s: number): EegSubject {
  const rng = Rng.derive(seed, 'driving', 'eeg-subject', s);
  const C = eeg.channels;
  const K = COMPONENTS.length;
  const B = eeg.backgroundSources;
  const sv = eeg.subjectVariability;
  const patterns = new Float64Array(K * C);
  const latencyShiftMs = new Float64Array(K);
  COMPONENTS.forEach((comp, k) => {
    const poles = comp.poles.map((p) => ({ at: jitterPole(rng, p.at, 0.4 * sv), weight: p.weight }));
    const spread = comp.spread * Math.exp(sv * 0.5 * rng.normal());
    const pattern = scalpPattern(pos, poles, spread);
    let peak = 0;
    for (let c = 0; c < C; c++) peak = Math.max(peak, Math.abs(pattern[c]!));
    const gain = (eeg.evokedGain * comp.amplitudeUv * Math.exp(sv * rng.normal())) / (peak || 1);
    for (let c = 0; c < C; c++) patterns[k * C + c] = gain * pattern[c]!;
    latencyShiftMs[k] = eeg.subjectLatencyJitterMs * rng.normal();
  });
  const backgroundMixing = new Float64Array(C * B);
  for (let b = 0; b < B; b++) {
    const z = rng.uniformIn(-0.3, 1);
    const phi = rng.uniformIn(0, 2 * Math.PI);
    const r = Math.sqrt(1 - z * z);
    const pattern = scalpPattern(pos, [{ at: [r * Math.cos(phi), r * Math.sin(phi), z], weight: 1 }], 0.6);
    for (let c = 0; c < C; c++) backgroundMixing[c * B + b] = pattern[c]!;
  }
  let power = 0;
  for (let i = 0; i < C * B; i++) power += backgroundMixing[i]! ** 2;
  const scale = eeg.backgroundUv / Math.sqrt(power / C || 1);
  for (let i = 0; i < C * B; i++) backgroundMixing[i]! *= scale;
  const alphaPattern = scalpPattern(pos, [{ at: jitterPole(rng, ALPHA_POLE, 0.4 * sv), weight: 1 }], 0.5);
  let alphaPeak = 0;
  for (let c = 0; c < C; c++) alphaPeak = Math.max(alphaPeak, Math.abs(alphaPattern[c]!));
  for (let c = 0; c < C; c++) alphaPattern[c]! /= alphaPeak || 1;
  return {
    patterns,
    latencyShiftMs,
    backgroundMixing,
    alphaPattern,
    alphaHz: 10 + rng.normal(),
    noiseGain: Math.exp(sv * rng.normal()),
  };
}

function subjectName(s: number): string {
  return `sub-${String(s + 1).padStart(2, '0')}`;
}

/**
 * One EEG epoch per viewed scene per subject: `[samples, channels]` in µV. Subject `s` views the first training
 * and validation scenes; its parameters come from its `eeg-subject` sub-stream and its noise from `eeg-epochs`.
 */
export function simulateDrivingEeg(config: DrivingSceneConfig, scenes: DrivingScenes, seed: number): DrivingEeg {
  const { eeg } = config;
  const S = eeg.subjects;
  const P = eeg.scenesPerSubject;
  const C = eeg.channels;
  const T = eeg.samples;
  const K = COMPONENTS.length;
  const B = eeg.backgroundSources;
  const count = S * P;
  const { names, pos } = montage(C);
  const L = pinkCholesky(T, eeg.sampleRate, eeg.backgroundExponent);
  const features = new Float32Array(count * T * C);
  const subject = new Int32Array(count);
  const sceneId = new Int32Array(count);
  const split = new Uint8Array(count);
  const channelInfo: EegChannel[] = [];
  const counts = eegSplitCounts(eeg);
  const firstVal = config.images.scenes.train;
  const white = new Float64Array(B * T);
  const sources = new Float64Array(B * T);
  const sensor = new Float64Array(T * C);
  const wave = new Float64Array(K * T);
  const drive: Record<SceneFactor, number> = Object.fromEntries(SCENE_FACTORS.map((f) => [f, 0])) as Record<SceneFactor, number>;
  const headRadiusMm = 90;
  for (let s = 0; s < S; s++) {
    const subj = buildEegSubject(eeg, pos, seed, s);
    const name = subjectName(s);
    for (let c = 0; c < C; c++) {
      const [x, y, z] = [pos[c * 3]!, pos[c * 3 + 1]!, pos[c * 3 + 2]!];
      channelInfo.push({ subject: name, name: names[c]!, location: lobe(x, y, z), x: x * headRadiusMm, y: y * headRadiusMm, z: z * headRadiusMm });
    }
    const rng = Rng.derive(seed, 'driving', 'eeg-epochs', s);
    const noise = eeg.noiseScale * subj.noiseGain;
    for (let p = 0; p < P; p++) {
      const i = s * P + p;
      const isVal = p >= counts.train;
      const id = isVal ? firstVal + (p - counts.train) : p;
      subject[i] = s;
      sceneId[i] = id;
      split[i] = isVal ? 1 : 0;
      for (const f of SCENE_FACTORS) drive[f] = scenes.factors[f][id]!;
      const out = features.subarray(i * T * C, (i + 1) * T * C);
      for (let k = 0; k < K; k++) {
        const comp = COMPONENTS[k]!;
        const amp = comp.drive(drive) * (1 + eeg.trialAmplitudeJitter * rng.normal());
        const latency = (comp.latencyMs + subj.latencyShiftMs[k]! + eeg.trialLatencyJitterMs * rng.normal()) / 1000;
        const width = comp.widthMs / 1000;
        for (let t = 0; t < T; t++) {
          const time = eeg.epochStart + t / eeg.sampleRate;
          const u = (time - latency) / width;
          wave[k * T + t] = amp * Math.exp(-0.5 * u * u);
        }
      }
      for (let t = 0; t < T; t++) {
        const row = t * C;
        for (let c = 0; c < C; c++) out[row + c] = 0;
        for (let k = 0; k < K; k++) {
          const w = wave[k * T + t]!;
          const pk = k * C;
          for (let c = 0; c < C; c++) out[row + c]! += w * subj.patterns[pk + c]!;
        }
      }
      if (noise > 0) {
        addBackground(out, subj, L, rng, white, sources, sensor, eeg, noise);
      }
    }
  }
  return {
    count,
    channels: C,
    samples: T,
    sampleRate: eeg.sampleRate,
    epochStart: eeg.epochStart,
    subjectNames: Array.from({ length: S }, (_, s) => subjectName(s)),
    subject,
    sceneId,
    split,
    features,
    channelInfo,
  };
}

/**
 * Adds one epoch's noise to `out` (`[samples, channels]`): background sources, each 1/f in time (white noise
 * through the Cholesky factor `L`), mixed onto the scalp; an alpha rhythm with random amplitude and phase; and
 * white sensor noise.
 */
function addBackground(
  out: Float32Array,
  subj: EegSubject,
  L: Float64Array,
  rng: Rng,
  white: Float64Array,
  sources: Float64Array,
  sensor: Float64Array,
  eeg: DrivingEegConfig,
  noise: number,
): void {
  const C = eeg.channels;
  const T = eeg.samples;
  const B = eeg.backgroundSources;
  fillGaussian(rng, white);
  for (let b = 0; b < B; b++) {
    const wb = b * T;
    for (let t = 0; t < T; t++) {
      const lr = t * T;
      let acc = 0;
      for (let k = 0; k <= t; k++) acc += L[lr + k]! * white[wb + k]!;
      sources[wb + t] = acc * noise;
    }
  }
  const M = subj.backgroundMixing;
  for (let c = 0; c < C; c++) {
    const mr = c * B;
    for (let b = 0; b < B; b++) {
      const m = M[mr + b]!;
      const wb = b * T;
      for (let t = 0; t < T; t++) out[t * C + c]! += m * sources[wb + t]!;
    }
  }
  // A Gaussian pair gives a Rayleigh amplitude and a uniform phase at once; the rhythm's RMS over epochs is alphaUv.
  const a1 = rng.normal();
  const a2 = rng.normal();
  const alphaAmp = eeg.alphaUv * noise;
  const omega = (2 * Math.PI * subj.alphaHz) / eeg.sampleRate;
  fillGaussian(rng, sensor, 0, eeg.sensorNoiseUv * noise);
  for (let t = 0; t < T; t++) {
    const alpha = alphaAmp * (a1 * Math.cos(omega * t) + a2 * Math.sin(omega * t));
    const row = t * C;
    for (let c = 0; c < C; c++) out[row + c]! += alpha * subj.alphaPattern[c]! + sensor[row + c]!;
  }
}

/**
 * Simulates the driving experiment: plentiful rendered scenes with their factors, and scarce EEG epochs of
 * simulated viewers. Same options and seed, same numbers.
 *
 * ```ts
 * const data = drivingSceneSimulator({ eeg: { subjects: 3, noiseScale: 2 } }, 7);
 * ```
 */
export function drivingSceneSimulator(options: DeepPartial<DrivingSceneConfig> | undefined, seed: number): DrivingSceneData {
  const config = resolveDrivingSceneConfig(options);
  const scenes = simulateDrivingScenes(config, seed);
  const eeg = simulateDrivingEeg(config, scenes, seed);
  return { config, seed, scenes, eeg };
}
