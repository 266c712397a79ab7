/**
 * @file Builds the browser demo into a static folder: the page bundled with esbuild, onnxruntime-web's wasm runtime,
 * exported students, dashcam frames and simulated scenes and trials, and the scene VAE's train-step graph.
 */
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { readManifest } from '../datasets/manifest.js';
import {
  type DeepPartial,
  type MemoryDecisionConfig,
  TASK_FEATURES,
  type TrialTiming,
  defaultMemoryDecisionConfig,
  memoryDecisionSimulator,
  resolveDrivingSceneConfig,
  simulateDrivingScenes,
} from '../datasets/simulators/index.js';
import { listImages, readImages } from '../datasets/ingest/images.js';
import { fitPca, projectPca } from '../datasets/teacher/pca.js';
import { compileTraining } from '../graphs/artifacts.js';
import { b2mTrainingSpec } from '../graphs/b2m.js';
import { EXPORT_FILES, type ModelCard, exportStudent } from '../pipeline/export.js';
import { b2mVersion } from '../pipeline/package.js';
import { ORT_DIR, type RnnSite, SITE_FILE, SITE_FORMAT, type SiteManifest, type TensorFile, type TrainSite, type TrialInfo, type VaeSite } from './web/site.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const WEB = path.join(HERE, 'web');
/** The real dashcam frames shipped with the repository's shared data. */
export const DASHCAM_FRAMES = path.resolve(ROOT, '../shared/data/real/driving/frames');

export interface BuildWebOptions {
  /** Folder to write (created; its previous site files are replaced). */
  out: string;
  /** Export folder of a scene VAE (`b2m export`), for the VAE demo and the training page. */
  vae?: string;
  /** Export folder of a decision RNN. */
  rnn?: string;
  /** Dashcam frames and simulated scenes shown beside their reconstructions (default 8 each). */
  frames?: number;
  scenes?: number;
  /** Simulated trials bundled for the decision RNN (default 12). */
  trials?: number;
  /** Images the training page trains on: simulated scenes plus this many dashcam frames (defaults 96 and 32). */
  trainScenes?: number;
  trainFrames?: number;
  /** Steps the training page offers by default (300) and its batch size (8). */
  trainSteps?: number;
  batchSize?: number;
  /** Learning rate of the training page's Adam (default 0.002). */
  lr?: number;
  /** Seed of the simulated scenes and trials, and of the page's training (default 2026). */
  seed?: number;
  /** Minify the bundle (default true). */
  minify?: boolean;
  /** Folder of dashcam frames (default the shared real frames). */
  framesDir?: string;
}

/** Raised for a build that cannot be done as asked; the message says what to change. */
export class BuildWebError extends Error {
  readonly userError = true;
}

/** Builds the site and returns its manifest. */
export async function buildWeb(options: BuildWebOptions): Promise<SiteManifest> {
  if (!options.vae && !options.rnn) throw new BuildWebError('build-web: give at least one exported student: --vae EXPORT_DIR and/or --rnn EXPORT_DIR');
  const out = path.resolve(options.out);
  const seed = options.seed ?? 2026;
  await rm(path.join(out, 'models'), { recursive: true, force: true });
  await rm(path.join(out, 'data'), { recursive: true, force: true });
  await rm(path.join(out, 'train'), { recursive: true, force: true });
  await mkdir(path.join(out, 'data'), { recursive: true });
  const ortFiles = await copyOrt(out);
  const manifest: SiteManifest = { format: SITE_FORMAT, b2mVersion, ortDir: ORT_DIR, ortFiles };
  if (options.vae) {
    const card = await readCard(options.vae, 'sceneVae');
    manifest.vae = await buildVae(out, options.vae, card, options, seed);
    manifest.train = await buildTraining(out, card, manifest.vae, options, seed);
  }
  if (options.rnn) manifest.rnn = await buildRnn(out, options.rnn, await readCard(options.rnn, 'decisionRnn'), options.trials ?? 12, seed);
  await bundlePage(out, options.minify ?? true);
  await writeFile(path.join(out, SITE_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

async function readCard(dir: string, kind: 'sceneVae' | 'decisionRnn'): Promise<ModelCard> {
  let card: ModelCard;
  try {
    card = JSON.parse(await readFile(path.join(dir, EXPORT_FILES.cardJson), 'utf8')) as ModelCard;
  } catch (err) {
    throw new BuildWebError(`${dir}: no readable ${EXPORT_FILES.cardJson} (${(err as Error).message}); give a folder written by \`b2m export RUN --out DIR\``);
  }
  if (card.student?.kind !== kind) {
    throw new BuildWebError(`${dir} holds a ${String(card.student?.kind)} student; the ${kind === 'sceneVae' ? '--vae' : '--rnn'} option takes a ${kind} export`);
  }
  if (card.floatType !== 'float32') throw new BuildWebError(`${dir}: the student is ${card.floatType}; the page runs float32 students (export a float32 run)`);
  return card;
}

async function writeTensor(out: string, file: string, data: Float32Array, shape: number[]): Promise<TensorFile> {
  await writeFile(path.join(out, file), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { file, shape };
}

async function copyExport(out: string, from: string, to: string, files: string[]): Promise<void> {
  await mkdir(path.join(out, to), { recursive: true });
  for (const f of files) {
    try {
      await copyFile(path.join(from, f), path.join(out, to, f));
    } catch (err) {
      throw new BuildWebError(`${from}: cannot copy ${f} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); re-run \`b2m export\` into that folder`);
    }
  }
}

/** `count` indices spread evenly over `n`. */
function spread(n: number, count: number): number[] {
  const k = Math.min(n, count);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

async function dashcamFrames(dir: string, h: number, w: number, count: number): Promise<{ pixels: Float32Array; labels: string[] }> {
  const all = await listImages(dir);
  const files = spread(all.length, count).map((i) => all[i]);
  const set = await readImages(files, { height: h, width: w });
  return { pixels: set.pixels, labels: files.map((f) => path.basename(f)) };
}

function simulatedScenes(h: number, w: number, count: number, seed: number): { pixels: Float32Array; labels: string[] } {
  const config = resolveDrivingSceneConfig({
    images: { scenes: { train: count, val: 0, test: 0 }, height: h, width: w },
    eeg: { subjects: 1, scenesPerSubject: 1, valFraction: 0 },
  });
  const scenes = simulateDrivingScenes(config, seed);
  return { pixels: scenes.images, labels: Array.from(scenes.sceneId, (id) => `simulated scene ${id}`) };
}

async function buildVae(out: string, dir: string, card: ModelCard, options: BuildWebOptions, seed: number): Promise<VaeSite> {
  const s = card.student;
  if (s.kind !== 'sceneVae') throw new BuildWebError(`${dir} is not a scene VAE export`);
  const [h, w] = s.imageSize;
  await copyExport(out, dir, 'models/vae', [EXPORT_FILES.student, EXPORT_FILES.encoder, EXPORT_FILES.decoder, EXPORT_FILES.cardJson, EXPORT_FILES.cardMarkdown]);
  const frames = await dashcamFrames(options.framesDir ?? DASHCAM_FRAMES, h, w, options.frames ?? 8);
  const scenes = simulatedScenes(h, w, options.scenes ?? 8, seed);
  return {
    card: `models/vae/${EXPORT_FILES.cardJson}`,
    student: `models/vae/${EXPORT_FILES.student}`,
    encoder: `models/vae/${EXPORT_FILES.encoder}`,
    decoder: `models/vae/${EXPORT_FILES.decoder}`,
    imageSize: [h, w],
    latent: s.latent,
    frames: { pixels: await writeTensor(out, 'data/frames.bin', frames.pixels, [frames.labels.length, h, w, 3]), labels: frames.labels },
    scenes: { pixels: await writeTensor(out, 'data/scenes.bin', scenes.pixels, [scenes.labels.length, h, w, 3]), labels: scenes.labels },
  };
}

/**
 * The training page's graph: the same B2M training spec the trainer compiles, for the exported student's
 * architecture with the isolated strategy (the page has no brain data), initialised fresh from the seed.
 */
async function buildTraining(out: string, card: ModelCard, vae: VaeSite, options: BuildWebOptions, seed: number): Promise<TrainSite> {
  const s = card.student;
  if (s.kind !== 'sceneVae') throw new BuildWebError('the training page needs a scene VAE');
  const [h, w] = vae.imageSize;
  const spec = b2mTrainingSpec({ student: s, seed, floatType: 'float32' });
  const artifacts = compileTraining(spec, { ...spec.compile, optimizer: { kind: 'adam', lr: options.lr ?? 0.002 } });
  const dir = path.join(out, 'train');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'train-step.onnx'), artifacts.trainStep);
  await writeFile(path.join(dir, 'io.json'), `${JSON.stringify(artifacts.io, null, 1)}\n`);
  const parts = artifacts.io.params.map((p) => {
    const v = artifacts.params.get(p.path) as Float32Array;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  });
  await writeFile(path.join(dir, 'params.bin'), Buffer.concat(parts));
  await exportStudent(
    { options: spec.options, params: artifacts.params },
    { experiment: 'driving', strategy: 'isolated', seed, configHash: artifacts.io.hash, data: 'the scenes and dashcam frames bundled with the b2m web page', step: 0, metrics: {} },
    path.join(dir, 'initial'),
  );
  const scenes = simulatedScenes(h, w, options.trainScenes ?? 96, seed + 1);
  const frames = await dashcamFrames(options.framesDir ?? DASHCAM_FRAMES, h, w, options.trainFrames ?? 32);
  const images = new Float32Array(scenes.pixels.length + frames.pixels.length);
  images.set(scenes.pixels);
  images.set(frames.pixels, scenes.pixels.length);
  const count = scenes.labels.length + frames.labels.length;
  return {
    trainStep: 'train/train-step.onnx',
    inference: `train/initial/${EXPORT_FILES.student}`,
    io: 'train/io.json',
    params: 'train/params.bin',
    batchSize: options.batchSize ?? 8,
    steps: options.trainSteps ?? 300,
    seed,
    images: await writeTensor(out, 'data/train-images.bin', images, [count, h, w, 3]),
  };
}

async function buildRnn(out: string, dir: string, card: ModelCard, count: number, seed: number): Promise<RnnSite> {
  const s = card.student;
  if (s.kind !== 'decisionRnn') throw new BuildWebError(`${dir} is not a decision RNN export`);
  if (s.inputSize !== TASK_FEATURES.length) {
    throw new BuildWebError(
      `${dir}: the decision RNN reads ${s.inputSize} features per bin; the page's simulated trials have ${TASK_FEATURES.length} (${TASK_FEATURES.join(', ')})`,
    );
  }
  await copyExport(out, dir, 'models/rnn', [EXPORT_FILES.student, EXPORT_FILES.cardJson, EXPORT_FILES.cardMarkdown]);
  const sim = memoryDecisionSimulator(await demoTrialsConfig(card, s.timeBins, count), seed);
  const { task, brain } = sim;
  const T = s.timeBins;
  const F = s.inputSize;
  const Tb = brain.timeBins;
  const K = brain.latentNames.length;
  const inputs = new Float32Array(count * T * F);
  const mask = new Float32Array(count * T);
  const latents = new Float32Array(count * Tb * K);
  const trials: TrialInfo[] = [];
  for (let b = 0; b < count; b++) {
    const i = task.trialId.indexOf(brain.trialId[b]);
    if (i < 0) throw new BuildWebError(`the simulated brain trial ${b} names task trial ${brain.trialId[b]}, which the simulation does not have`);
    inputs.set(task.inputs.subarray(i * T * F, (i + 1) * T * F), b * T * F);
    mask[b * T + task.events.decision[i]] = 1;
    latents.set(brain.latents.subarray(b * Tb * K, (b + 1) * Tb * K), b * Tb * K);
    const ev = (e: typeof task.events, k: number) => ({ offer1On: e.offer1On[k], offer2On: e.offer2On[k], go: e.go[k], decision: e.decision[k] });
    trials.push({ trialId: task.trialId[i], offer1: task.offer1[i], offer2: task.offer2[i], label: task.label[i], events: ev(task.events, i), brainEvents: ev(brain.events, b) });
  }
  const brainStates = { data: latents, trials: count, times: Tb, features: K };
  const pca = fitPca(brainStates, Array.from({ length: count }, (_, i) => i), 2);
  const path2d = Float32Array.from(projectPca(pca, brainStates).data);
  return {
    card: `models/rnn/${EXPORT_FILES.cardJson}`,
    student: `models/rnn/${EXPORT_FILES.student}`,
    timeBins: T,
    inputSize: F,
    hidden: s.hidden,
    featureNames: [...task.featureNames],
    inputs: await writeTensor(out, 'data/trials.bin', inputs, [count, T, F]),
    decisionMask: await writeTensor(out, 'data/decision-mask.bin', mask, [count, T]),
    trials,
    brainTrajectories: await writeTensor(out, 'data/brain-trajectories.bin', path2d, [count, Tb, 2]),
    brainExplained: [pca.explainedVarianceRatio[0] ?? 0, pca.explainedVarianceRatio[1] ?? 0],
  };
}

/**
 * Settings of the page's simulated trials: those of the simulation the student was trained on (from its dataset's
 * manifest) when the card names one, else the default experiment with its epochs scaled to the student's bins.
 * Either way one subject records every trial, so each shown trial has the brain's view of the same offers.
 */
async function demoTrialsConfig(card: ModelCard, timeBins: number, count: number): Promise<DeepPartial<MemoryDecisionConfig>> {
  const trials = { task: { trials: { train: count, val: 0, test: 0 } }, brain: { subjects: 1, trialsPerSubject: count, valFraction: 0, pairing: 'trial' as const } };
  const dataset = card.training.dataset;
  if (dataset) {
    const manifest = await readManifest(dataset).catch(() => null);
    const config = manifest?.provenance.generator === 'memoryDecisionSimulator' ? (manifest.provenance.config as MemoryDecisionConfig | undefined) : undefined;
    if (config?.task?.timing?.timeBins === timeBins) {
      return { task: { ...config.task, ...trials.task }, brain: { ...config.brain, ...trials.brain } };
    }
  }
  return { task: { ...trials.task, timing: scaledTiming(defaultMemoryDecisionConfig().task.timing, timeBins) }, brain: trials.brain };
}

/** The default trial epochs stretched or squeezed onto `timeBins`, the longest delay trimmed so the decision fits. */
function scaledTiming(t: TrialTiming, timeBins: number): TrialTiming {
  const f = timeBins / t.timeBins;
  const scaled = (v: number, min: number): number => Math.max(min, Math.round(v * f));
  const timing: TrialTiming = {
    timeBins,
    fixationBins: scaled(t.fixationBins, 1),
    offerBins: scaled(t.offerBins, 1),
    delayBins: [scaled(t.delayBins[0], 1), scaled(t.delayBins[1], 1)],
    goGapBins: scaled(t.goGapBins, 0),
    responseBins: scaled(t.responseBins, 1),
  };
  const fixed = timing.fixationBins + 2 * timing.offerBins + timing.goGapBins + timing.responseBins;
  timing.delayBins[1] = Math.min(timing.delayBins[1], timeBins - 1 - fixed);
  timing.delayBins[0] = Math.min(timing.delayBins[0], timing.delayBins[1]);
  if (timing.delayBins[0] < 0) throw new BuildWebError(`the decision RNN reads ${timeBins} time bins, too few for a simulated memory trial; the page needs at least ${fixed + 2}`);
  return timing;
}

/** Copies onnxruntime-web's wasm runtime files that its bundled entry loads (found by name in the entry). */
async function copyOrt(out: string): Promise<string[]> {
  const dist = path.join(ROOT, 'node_modules/onnxruntime-web/dist');
  const entry = await readFile(path.join(dist, 'ort.min.mjs'), 'utf8');
  const loaders = [...new Set(entry.match(/ort-wasm-simd-threaded[a-z.]*\.mjs/g) ?? [])];
  if (loaders.length === 0) throw new BuildWebError(`${dist}/ort.min.mjs names no wasm loader; is onnxruntime-web installed (npm ci)?`);
  const present = new Set(await readdir(dist));
  const files = loaders.flatMap((m) => [m, m.replace(/\.mjs$/, '.wasm')]).filter((f) => present.has(f));
  await rm(path.join(out, ORT_DIR), { recursive: true, force: true });
  await mkdir(path.join(out, ORT_DIR), { recursive: true });
  for (const f of files) await copyFile(path.join(dist, f), path.join(out, ORT_DIR, f));
  return files;
}

/** Bundles the two pages' scripts (onnxruntime-web's entry that loads its wasm from `ort/`) and copies the static files. */
async function bundlePage(out: string, minify: boolean): Promise<void> {
  await esbuild.build({
    entryPoints: [path.join(WEB, 'demo.ts'), path.join(WEB, 'train.ts')],
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['onnxruntime-web-use-extern-wasm'],
    minify,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
  });
  for (const f of ['index.html', 'train.html', 'style.css']) await copyFile(path.join(WEB, f), path.join(out, f));
}

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', short: 'o' },
      vae: { type: 'string' },
      rnn: { type: 'string' },
      frames: { type: 'string' },
      scenes: { type: 'string' },
      trials: { type: 'string' },
      'train-steps': { type: 'string' },
      'batch-size': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.out) {
    process.stdout.write(
      'Usage: tsx tools/build-web.ts --out DIR [--vae EXPORT_DIR] [--rnn EXPORT_DIR] [--frames 8] [--scenes 8] [--trials 12] [--train-steps 300] [--batch-size 8] [--seed 2026]\n' +
        'Then serve it: b2m serve DIR\n',
    );
    process.exitCode = values.out ? 0 : 2;
    return;
  }
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new BuildWebError(`--${name} must be a whole number, got ${v}`);
    return n;
  };
  const manifest = await buildWeb({
    out: values.out,
    vae: values.vae,
    rnn: values.rnn,
    frames: int(values.frames, 'frames'),
    scenes: int(values.scenes, 'scenes'),
    trials: int(values.trials, 'trials'),
    trainSteps: int(values['train-steps'], 'train-steps'),
    batchSize: int(values['batch-size'], 'batch-size'),
    seed: int(values.seed, 'seed'),
  });
  process.stdout.write(`Built ${path.resolve(values.out)} (${[manifest.vae && 'scene VAE', manifest.rnn && 'decision RNN'].filter(Boolean).join(', ')}). Serve it: b2m serve ${values.out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  cli().catch((err: unknown) => {
    process.stderr.write(`build-web: ${(err as { userError?: boolean }).userError ? (err as Error).message : (err as Error).stack}\n`);
    process.exitCode = 1;
  });
}
