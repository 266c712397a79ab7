/** @file Benchmark of graphs/: the GRU and scene VAE students' train steps against their forward passes, against TensorFlow.js, compile time and achieved GFLOP/s. */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { type CompileTimings, type TrainingArtifacts, compileTraining } from '../../graphs/artifacts.js';
import { type B2mModelOptions, b2mTrainingSpec } from '../../graphs/b2m.js';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { matmul } from '../../graphs/ops/matmul.js';
import { decodeModel, encodeModel, toModel } from '../../graphs/serialize.js';
import { TrainSession, autoOptimizationLevel } from '../../graphs/train-session.js';

/**
 * One measured figure, as `npm run bench` takes them: `value` is null when the figure cannot be measured here
 * (the note says why); `direction` says which side of `target` passes ('max': at most, 'min': at least).
 */
export interface BenchResult {
  bench: string;
  value: number | null;
  unit: string;
  target?: number;
  direction?: 'max' | 'min';
  note?: string;
}

export interface GraphsBenchOptions {
  /** onnxruntime intra-op threads (default 2). */
  threads?: number;
  /** Timed runs per onnxruntime measurement after warm-up; the median is reported (default 15). */
  runs?: number;
  /** Timed TensorFlow.js steps per backend after one warm-up (default 2); a first step over a minute is the only one. */
  tfjsRuns?: number;
  /** Leave out TensorFlow.js (for a quick look at the onnxruntime figures). */
  skipTfjs?: boolean;
  /** TensorFlow.js backends to time (default both; the plain CPU backend's VAE step takes many minutes). */
  tfjsBackends?: readonly ('wasm' | 'cpu')[];
  /** Smaller students for a quick check of the benchmark itself (defaults: the sizes). */
  gru?: GruSize;
  vae?: VaeSize;
  /** Told what is being measured next (the TensorFlow.js CPU steps take minutes). */
  progress?: (message: string) => void;
}

/** The GRU student's sizes: batch, time steps, hidden units, input features, classes. */
export interface GruSize {
  batch: number;
  steps: number;
  hidden: number;
  features: number;
  classes: number;
}

/** The scene VAE's sizes: batch, image side, encoder channels, latent. */
export interface VaeSize {
  batch: number;
  size: number;
  channels: readonly number[];
  latent: number;
}

/** The sizes the issue fixes (the memory-decision task has 4 input features). */
export const GRU_SIZE: GruSize = { batch: 64, steps: 100, hidden: 128, features: 4, classes: 2 };
export const VAE_SIZE: VaeSize = { batch: 32, size: 64, channels: [32, 64, 128], latent: 16 };
const WARMUP = 3;
const LR = 1e-3;

function gruOptions(z: GruSize): B2mModelOptions {
  return {
    seed: 1,
    student: { kind: 'decisionRnn', cell: 'gru', inputSize: z.features, timeBins: z.steps, hidden: z.hidden, layers: 1, classes: z.classes, readout: 'decision' },
  };
}

/** The scene VAE student at the given sizes. */
export function vaeOptions(z: VaeSize): B2mModelOptions {
  return { seed: 1, student: { kind: 'sceneVae', imageSize: [z.size, z.size], channels: z.channels, latent: z.latent, reconstruction: 'mse' } };
}

/** Median and fastest wall-clock milliseconds, and median process CPU milliseconds, of repeated runs. */
interface Timing {
  wall: number;
  min: number;
  cpu: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times several runs in turns (one of each, then again), after warm-up, so that a change in the machine's load
 * falls on all of them alike. Returns one timing per run function.
 */
async function timeInTurns(fns: readonly (() => Promise<unknown>)[], runs: number, warmup = WARMUP): Promise<Timing[]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const wall = fns.map((): number[] => []);
  const cpu = fns.map((): number[] => []);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < fns.length; k++) {
      const c = process.cpuUsage();
      const t = performance.now();
      await fns[k]();
      wall[k].push(performance.now() - t);
      const u = process.cpuUsage(c);
      cpu[k].push((u.user + u.system) / 1000);
    }
  }
  return fns.map((_, k) => ({ wall: median(wall[k]), min: Math.min(...wall[k]), cpu: median(cpu[k]) }));
}

function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** A GRU batch: inputs, labels and a decision bin late in each trial. */
function gruBatch(z: GruSize): { inputs: Float32Array; labels: Int32Array; decision: Float32Array } {
  const { batch: B, steps: T, features: F } = z;
  const decision = new Float32Array(B * T);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    decision[b * T + T - 1 - (b % 10)] = 1;
    labels[b] = b % 2;
  }
  return { inputs: normals(B * T * F, 1), labels, decision };
}

function vaeBatch(z: VaeSize): { images: Float32Array; noise: Float32Array } {
  const { batch: N, size: S, latent: L } = z;
  const images = normals(N * S * S * 3, 2).map((v) => 1 / (1 + Math.exp(-v)));
  return { images, noise: normals(N * L, 3) };
}

/** Floating-point operations of one VAE training step: convolutions and dense layers, forward and backward. */
export function vaeStepFlops(z: VaeSize = VAE_SIZE): number {
  const { batch: N, size: S, channels: C, latent: L } = z;
  let forward = 0;
  let backward = 0;
  let size = S;
  let cin = 3;
  C.forEach((c, k) => {
    size /= 2;
    const f = 2 * N * c * size * size * cin * 16;
    forward += f;
    backward += k === 0 ? f : 2 * f;
    cin = c;
  });
  const flat = cin * size * size;
  const dense = 2 * N * flat * L * 3;
  forward += dense;
  backward += 2 * dense;
  const outs = [...C.slice(0, -1).reverse(), 3];
  for (const c of outs) {
    const f = 2 * N * cin * size * size * c * 16;
    forward += f;
    backward += 2 * f;
    size *= 2;
    cin = c;
  }
  return forward + backward;
}

function stepFeedsGru(z: GruSize): Record<string, ort.Tensor> {
  const b = gruBatch(z);
  const { batch: B, steps: T, features: F } = z;
  return {
    inputs: new ort.Tensor('float32', b.inputs, [B, T, F]),
    decision_mask: new ort.Tensor('float32', b.decision, [B, T]),
    label: new ort.Tensor('int64', BigInt64Array.from(b.labels, (v) => BigInt(v)), [B]),
  };
}

/** A random batch for the VAE's train step: images in (0, 1) and the reparameterization noise. */
export function stepFeedsVae(z: VaeSize): Record<string, ort.Tensor> {
  const b = vaeBatch(z);
  const { batch: N, size: S, latent: L } = z;
  return { images: new ort.Tensor('float32', b.images, [N, S, S, 3]), noise: new ort.Tensor('float32', b.noise, [N, L]) };
}

/** Process CPU seconds since `since` (compiling is single-threaded, so this is what it takes on an idle machine). */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** Wall-clock and process CPU seconds. */
interface Seconds {
  wall: number;
  cpu: number;
}

interface OrtFigures {
  /**
   * What a user's first step waits for: `compileTraining` and `TrainSession.create` at the default level ('auto'),
   * in total and by phase, plus the level 'auto' chose and the same session created at level 'all'.
   */
  compile: Seconds & { phases: CompileTimings; session: Seconds; level: string; sessionAll: Seconds };
  /** Train step and inference forward with the benchmark's threads. */
  step: Timing;
  forward: Timing;
  /** The same on one thread each: their CPU times do not depend on the machine's load the way wall times do. */
  step1: Timing;
  forward1: Timing;
  /**
   * The eval model's forward on one thread: the same student with its parameters as inputs, as in the train step.
   * The inference model holds them as initializers, which lets onnxruntime pre-pack the kernels (NCHWc
   * convolutions) and fuse Conv with Relu; a graph whose weights change every step cannot have either.
   */
  eval1: Timing;
  nodes: { step: number; forward: number };
}

/** Feeds of the eval model: the batch, the initial parameters and each knob at its default. */
function evalModelFeeds(artifacts: TrainingArtifacts, names: readonly string[], data: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const shapes = new Map(artifacts.io.params.map((p) => [p.path, p.shape]));
  const knobs = new Map(artifacts.io.knobs.map((k) => [k.input, k.default]));
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of names) {
    const param = artifacts.params.get(name);
    const knob = knobs.get(name);
    if (param) feeds[name] = new ort.Tensor('float32', Float32Array.from(param), shapes.get(name));
    else if (knob !== undefined) feeds[name] = new ort.Tensor('float32', Float32Array.of(knob), []);
    else feeds[name] = data[name];
  }
  return feeds;
}

/** Compiles a student (timed through session creation), then times its train step and its inference forward. */
async function ortFigures(options: B2mModelOptions, feeds: Record<string, ort.Tensor>, threads: number, runs: number): Promise<OrtFigures> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const phases: CompileTimings = {};
  const spec = b2mTrainingSpec(options);
  const artifacts: TrainingArtifacts = compileTraining(spec, { ...spec.compile, optimizer: { kind: 'adam', lr: LR }, timings: phases });
  const sessionStarted = { wall: performance.now(), cpu: process.cpuUsage() };
  const session = await TrainSession.create(artifacts, { intraOpNumThreads: threads });
  const ended = performance.now();
  const sessionTime = { wall: (ended - sessionStarted.wall) / 1000, cpu: cpuSeconds(sessionStarted.cpu) };
  const total = { wall: (ended - started) / 1000, cpu: cpuSeconds(cpu) };
  const allStarted = { wall: performance.now(), cpu: process.cpuUsage() };
  const atAll = await ort.InferenceSession.create(artifacts.trainStep, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const sessionAll = { wall: (performance.now() - allStarted.wall) / 1000, cpu: cpuSeconds(allStarted.cpu) };
  await atAll.release();
  const compile = { ...total, phases, session: sessionTime, level: autoOptimizationLevel(artifacts.trainStep), sessionAll };
  const inference = await ort.InferenceSession.create(artifacts.inference, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const inferenceFeeds = Object.fromEntries(inference.inputNames.map((n) => [n, feeds[n]]));
  const [step, forward] = await timeInTurns([() => session.step(feeds), () => inference.run(inferenceFeeds)], runs);
  await session.release();
  await inference.release();
  // Separate single-threaded sessions, created after the threaded ones are gone so that no idle pool thread adds to their CPU time.
  const session1 = await TrainSession.create(artifacts, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const inference1 = await ort.InferenceSession.create(artifacts.inference, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const evaluation1 = await ort.InferenceSession.create(artifacts.eval, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const evalFeeds = evalModelFeeds(artifacts, evaluation1.inputNames, feeds);
  const [step1, forward1, eval1] = await timeInTurns(
    [() => session1.step(feeds), () => inference1.run(inferenceFeeds), () => evaluation1.run(evalFeeds)],
    runs,
  );
  await evaluation1.release();
  await session1.release();
  await inference1.release();
  const nodes = { step: decodeModel(artifacts.trainStep).graph?.node.length ?? 0, forward: decodeModel(artifacts.inference).graph?.node.length ?? 0 };
  return { compile, step, forward, step1, forward1, eval1, nodes };
}

/**
 * compile_seconds as wall-clock and as process CPU seconds (compiling and loading are single-threaded, so CPU time
 * is what they take on an idle machine, and a loaded machine inflates it far less than wall time), then one row
 * per phase.
 */
function compileResults(f: OrtFigures, z: GruSize): BenchResult[] {
  const c = f.compile;
  const path = `GRU student (T=${z.steps}, batch ${z.batch}, hidden ${z.hidden}): compileTraining (build, autodiff, Adam, serialize) + TrainSession.create at level 'auto' (${c.level}), as a user runs them`;
  const load = `load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`;
  const rows: BenchResult[] = [
    { bench: 'compile_seconds', value: c.wall, unit: 's', target: 1.5, direction: 'max', note: `${path}; wall-clock, ${load}` },
    { bench: 'compile_seconds_cpu', value: c.cpu, unit: 's', target: 1.5, direction: 'max', note: `the same, process CPU seconds` },
  ];
  const phases: [string, { wall: number; cpu: number } | undefined, string][] = [
    ['build', c.phases.build, 'the spec builds the forward graph'],
    ['autodiff', c.phases.autodiff, 'gradients of the loss'],
    ['optimizer', c.phases.optimizer, 'Adam update and gradient norm'],
    ['serialize', c.phases.serialize, 'train-step, eval and inference models as ONNX bytes'],
    ['params', c.phases.params, 'initial values from the seed'],
    ['session', c.session, `train-step session at level '${c.level}' (at 'all': ${c.sessionAll.cpu.toFixed(2)} s CPU, ${c.sessionAll.wall.toFixed(2)} s wall)`],
  ];
  for (const [name, t, what] of phases) {
    if (t !== undefined) rows.push({ bench: `compile.${name}`, value: t.cpu, unit: 's', note: `${what}; CPU seconds (wall ${t.wall.toFixed(3)} s)` });
  }
  return rows;
}

/**
 * MatMul 1024x1024x1024 through onnxruntime: the machine's practical peak GFLOP/s, by wall-clock time, or with
 * `perCpuSecond` by process CPU time (one thread: what an idle core gives, whatever the machine's load).
 */
async function matmulGflops(threads: number, runs: number, perCpuSecond = false): Promise<number> {
  const n = 1024;
  const g = new Graph();
  const a = g.input('a', 'float32', [n, n]);
  const b = g.input('b', 'float32', [n, n]);
  const session = await ort.InferenceSession.create(encodeModel(toModel(g, { outputs: { c: matmul(a, b) } })), { intraOpNumThreads: threads });
  const feeds = { a: new ort.Tensor('float32', normals(n * n, 4), [n, n]), b: new ort.Tensor('float32', normals(n * n, 5), [n, n]) };
  const [t] = await timeInTurns([() => session.run(feeds)], runs);
  await session.release();
  return (2 * n ** 3) / ((perCpuSecond ? t.cpu : t.wall) / 1000) / 1e9;
}

/** The GRU student's training step in TensorFlow.js: the same cell (PyTorch's form), decision readout, Adam. */
function tfjsGruStep(z: GruSize): () => void {
  const { batch: B, steps: T, hidden: H, features: F, classes: C } = z;
  const b = gruBatch(z);
  const x = tf.tensor3d(b.inputs, [B, T, F]);
  const mask = tf.tensor3d(b.decision, [B, T, 1]);
  const labels = tf.oneHot(tf.tensor1d(b.labels, 'int32'), C);
  const glorot = (shape: number[]) => tf.variable(tf.randomUniform(shape, -Math.sqrt(6 / (shape[0] + shape[1])), Math.sqrt(6 / (shape[0] + shape[1]))));
  const wIh = glorot([F, 3 * H]);
  const wHh = glorot([H, 3 * H]);
  const bIh = tf.variable(tf.zeros([3 * H]));
  const bHh = tf.variable(tf.zeros([3 * H]));
  const wOut = glorot([H, C]);
  const bOut = tf.variable(tf.zeros([C]));
  const optimizer = tf.train.adam(LR);
  const loss = (): tf.Scalar => {
    const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [B * T, F]), wIh), bIh), [B, T, 3 * H]);
    const perStep = tf.unstack(projected, 1);
    let h = tf.zeros([B, H]) as tf.Tensor2D;
    const states: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const [xr, xz, xn] = tf.split(perStep[t], 3, 1);
      const [hr, hz, hn] = tf.split(tf.add(tf.matMul(h, wHh), bHh), 3, 1);
      const r = tf.sigmoid(tf.add(xr, hr));
      const z = tf.sigmoid(tf.add(xz, hz));
      const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
      h = tf.add(n, tf.mul(z, tf.sub(h, n)));
      states.push(h);
    }
    const decision = tf.sum(tf.mul(tf.stack(states, 1), mask), 1) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(labels, tf.add(tf.matMul(decision, wOut), bOut)) as tf.Scalar;
  };
  return () => {
    const value = optimizer.minimize(loss, true);
    value?.dataSync();
    value?.dispose();
  };
}

/** Conv2D's filter gradient for kernel 4, stride 2, 'same' padding on even sizes: x [N,H,W,Ci], dy [N,H/2,W/2,Co] -> [4,4,Ci,Co]. */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const correlation = tf.conv2d(tf.transpose(x, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, [[0, 0], [1, 1], [1, 1], [0, 0]], 'NHWC', 2);
  return tf.transpose(correlation, [1, 2, 0, 3]);
}

type ConvOp = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

/** `forward` with the gradients `grads` gives for (dy, x, w) in place of the backend's own. */
function withGradients(forward: ConvOp, grads: (dy: tf.Tensor4D, x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor[]): ConvOp {
  const f = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x, w]);
    return { value: forward(x, w), gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => grads(dy, saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D) };
  });
  return (x, w) => f(x, w);
}

/** The VAE's convolutions: stride 2, kernel 4, 'same'; the transposed ones are keyed by output shape. */
interface VaeConvs {
  conv: ConvOp;
  deconv: (out: [number, number, number, number]) => ConvOp;
}

const backendConvs: VaeConvs = {
  conv: (x, w) => tf.conv2d(x, w, 2, 'same'),
  deconv: (out) => (x, w) => tf.conv2dTranspose(x, w, out, 2, 'same'),
};

/**
 * The same convolutions with their gradients written out: tfjs-backend-wasm has no Conv2DBackpropFilter kernel,
 * so the filter gradient is a conv2d over swapped axes (gy as the filter, dilation 2), which it has.
 */
const explicitConvs: VaeConvs = {
  conv: withGradients(backendConvs.conv, (dy, x, w) => [tf.conv2dTranspose(dy, w, x.shape, 2, 'same'), filterGradient(x, dy)]),
  deconv: (out) => withGradients(backendConvs.deconv(out), (dy, x, w) => [tf.conv2d(dy, w, 2, 'same'), filterGradient(dy, x)]),
};

/**
 * The scene VAE's training step in TensorFlow.js (NHWC): same layers and sizes, MSE + KL, Adam. With
 * `explicitGradients` the convolutions' gradients are written out (for the wasm backend, which lacks one kernel).
 */
function tfjsVaeStep(z: VaeSize, explicitGradients = false): () => void {
  const ops = explicitGradients ? explicitConvs : backendConvs;
  const { batch: N, size: S, channels: Cs, latent: L } = z;
  const b = vaeBatch(z);
  const images = tf.tensor4d(b.images, [N, S, S, 3]);
  const noise = tf.tensor2d(b.noise, [N, L]);
  const uniform = (shape: number[], fanIn: number) => tf.variable(tf.randomUniform(shape, -Math.sqrt(6 / fanIn), Math.sqrt(6 / fanIn)));
  let cin = 3;
  const convs = Cs.map((c) => {
    const p = { w: uniform([4, 4, cin, c], cin * 16), b: tf.variable(tf.zeros([c])) };
    cin = c;
    return p;
  });
  const fs = S / 2 ** Cs.length;
  const flat = cin * fs * fs;
  const mean = { w: uniform([flat, L], flat), b: tf.variable(tf.zeros([L])) };
  const logvar = { w: uniform([flat, L], flat), b: tf.variable(tf.zeros([L])) };
  const fc = { w: uniform([L, flat], L), b: tf.variable(tf.zeros([flat])) };
  const outs = [...Cs.slice(0, -1).reverse(), 3];
  let side = fs;
  const deconvs = outs.map((c) => {
    side *= 2;
    const p = { w: uniform([4, 4, c, cin], cin * 4), b: tf.variable(tf.zeros([c])), op: ops.deconv([N, side, side, c]) };
    cin = c;
    return p;
  });
  const optimizer = tf.train.adam(LR);
  const loss = (): tf.Scalar => {
    let h: tf.Tensor4D = images;
    for (const c of convs) h = tf.relu(tf.add(ops.conv(h, c.w as tf.Tensor4D), c.b)) as tf.Tensor4D;
    const features = tf.reshape(h, [N, flat]) as tf.Tensor2D;
    const mu = tf.add(tf.matMul(features, mean.w), mean.b);
    const lv = tf.add(tf.matMul(features, logvar.w), logvar.b);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), noise)) as tf.Tensor2D;
    let d = tf.reshape(tf.add(tf.matMul(z, fc.w), fc.b), [N, fs, fs, Cs[Cs.length - 1]]) as tf.Tensor4D;
    for (const dc of deconvs) d = tf.add(dc.op(tf.relu(d), dc.w as tf.Tensor4D), dc.b);
    const recon = tf.div(tf.sum(tf.square(tf.sub(tf.sigmoid(d), images))), N);
    const kl = tf.mul(tf.div(tf.sum(tf.sub(tf.add(tf.exp(lv), tf.square(mu)), tf.add(lv, 1))), N), 0.5);
    return tf.add(recon, kl) as tf.Scalar;
  };
  return () => {
    const value = optimizer.minimize(loss, true);
    value?.dataSync();
    value?.dispose();
  };
}

/** A TensorFlow.js step slower than this is timed once, its first run: repeating it would take many minutes. */
const SLOW_STEP_MS = 60_000;

/**
 * Median wall and process CPU milliseconds of a TensorFlow.js step on a backend after one warm-up step (or that
 * first step alone when it is slower than a minute), or the error that stops it there.
 */
async function tfjsStep(
  backend: 'wasm' | 'cpu',
  make: () => () => void,
  runs: number,
): Promise<{ ms: number; cpu: number; how: string } | { error: string }> {
  await tf.setBackend(backend);
  await tf.ready();
  try {
    const step = make();
    const started = performance.now();
    const c = process.cpuUsage();
    step();
    const u = process.cpuUsage(c);
    const first = performance.now() - started;
    if (first > SLOW_STEP_MS) return { ms: first, cpu: (u.user + u.system) / 1000, how: 'its first step alone' };
    const [t] = await timeInTurns([async () => step()], runs, 0);
    return { ms: t.wall, cpu: t.cpu, how: `median of ${runs} after a warm-up step` };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    tf.disposeVariables();
  }
}

/** Runs every measurement; the GRU and the VAE in the same process, one after the other. */
export async function benchGraphs(options: GraphsBenchOptions = {}): Promise<BenchResult[]> {
  const threads = options.threads ?? 2;
  const runs = options.runs ?? 15;
  const tfjsRuns = options.tfjsRuns ?? 2;
  const gruSize = options.gru ?? GRU_SIZE;
  const vaeSize = options.vae ?? VAE_SIZE;
  const load = os.loadavg()[0].toFixed(1);
  const context = `onnxruntime ${threads} threads, medians of ${runs} in turns after ${WARMUP} warm-up, load average ${load} on ${os.cpus().length} CPUs`;
  const results: BenchResult[] = [];
  const progress = options.progress ?? (() => {});

  progress('GRU student: compile, train step, forward');
  const gru = await ortFigures(gruOptions(gruSize), stepFeedsGru(gruSize), threads, runs);
  results.push(...compileResults(gru, gruSize));
  progress('scene VAE: compile, train step, forward');
  const vae = await ortFigures(vaeOptions(vaeSize), stepFeedsVae(vaeSize), threads, runs);
  for (const [name, f] of [
    ['gru', gru],
    ['vae', vae],
  ] as const) {
    results.push({
      bench: `${name}.step_over_forward`,
      value: f.step.wall / f.forward.wall,
      unit: 'ratio',
      target: 3,
      direction: 'max',
      note: `step ${f.step.wall.toFixed(1)} ms (${f.nodes.step} nodes), forward ${f.forward.wall.toFixed(1)} ms (${f.nodes.forward} nodes), wall-clock; ${context}`,
    });
    results.push({
      bench: `${name}.step_over_forward_cpu`,
      value: f.step1.cpu / f.forward1.cpu,
      unit: 'ratio',
      target: 3,
      direction: 'max',
      note: `one thread, process CPU time: step ${f.step1.cpu.toFixed(1)} ms, forward ${f.forward1.cpu.toFixed(1)} ms (what the ratio is on an idle machine)`,
    });
    results.push({
      bench: `${name}.step_over_eval_forward_cpu`,
      value: f.step1.cpu / f.eval1.cpu,
      unit: 'ratio',
      note: `one thread, process CPU time: step over the eval model's forward (${f.eval1.cpu.toFixed(1)} ms), whose parameters are inputs as in the step, so no kernel pre-packing or Conv+Relu fusion`,
    });
    results.push({ bench: `${name}.train_step_ms`, value: f.step.wall, unit: 'ms', note: `fastest ${f.step.min.toFixed(1)} ms; ${threads} threads` });
  }
  const flops = vaeStepFlops(vaeSize);
  progress('MatMul 1024^3');
  const peak = await matmulGflops(threads, runs);
  const achieved = flops / (vae.step.wall / 1000) / 1e9;
  results.push({ bench: 'vae.gflops', value: achieved, unit: 'GFLOP/s', note: `${(flops / 1e9).toPrecision(3)} GFLOP per step (convolutions and dense layers, forward + backward); ${((100 * achieved) / peak).toFixed(0)}% of the MatMul figure` });
  results.push({ bench: 'matmul_gflops', value: peak, unit: 'GFLOP/s', note: `MatMul 1024^3 through onnxruntime, ${threads} threads` });
  const peak1 = await matmulGflops(1, runs, true);
  const achieved1 = flops / (vae.step1.cpu / 1000) / 1e9;
  results.push({
    bench: 'vae.gflops_per_cpu_s',
    value: achieved1,
    unit: 'GFLOP/s',
    note: `one thread, per process CPU-second (free of machine load); ${((100 * achieved1) / peak1).toFixed(0)}% of the MatMul figure measured the same way`,
  });
  results.push({ bench: 'matmul_gflops_per_cpu_s', value: peak1, unit: 'GFLOP/s', note: 'MatMul 1024^3 through onnxruntime, one thread, per process CPU-second' });

  if (!options.skipTfjs) {
    setWasmPaths(`${path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/@tensorflow/tfjs-backend-wasm/dist')}/`);
    // tfjs-backend-wasm has no Conv2DBackpropFilter: there the VAE's convolution gradients are written out.
    const explicit = (backend: 'wasm' | 'cpu') => (backend === 'wasm' ? ' (its convolution gradients written out: the wasm backend has no Conv2DBackpropFilter)' : '');
    for (const [name, make, ours, how] of [
      ['gru', () => () => tfjsGruStep(gruSize), gru, () => ''],
      ['vae', (backend: 'wasm' | 'cpu') => () => tfjsVaeStep(vaeSize, backend === 'wasm'), vae, explicit],
    ] as const) {
      for (const backend of options.tfjsBackends ?? (['wasm', 'cpu'] as const)) {
        progress(`TensorFlow.js ${backend}: ${name} train step`);
        const r = await tfjsStep(backend, make(backend), tfjsRuns);
        const bench = `${name}.speedup_vs_tfjs_${backend}`;
        const target = backend === 'wasm' ? ({ target: 10, direction: 'min' } as const) : {};
        if ('error' in r) {
          results.push({ bench, value: null, unit: 'x', ...target, note: `TensorFlow.js 4.22 ${backend} cannot run this training step: ${r.error}` });
          continue;
        }
        results.push({
          bench,
          value: r.ms / ours.step.wall,
          unit: 'x',
          ...target,
          note: `TensorFlow.js ${backend} step ${r.ms.toFixed(0)} ms (${r.how})${how(backend)} vs ${ours.step.wall.toFixed(1)} ms, wall-clock`,
        });
        results.push({
          bench: `${bench}_cpu`,
          value: r.cpu / ours.step1.cpu,
          unit: 'x',
          ...target,
          note: `per process CPU-second: TensorFlow.js ${backend} step ${r.cpu.toFixed(0)} CPU ms vs ${ours.step1.cpu.toFixed(1)} CPU ms on one onnxruntime thread (what an idle machine gives; load hurts the two-thread wall figure more)`,
        });
      }
    }
  }
  return results;
}

function table(results: readonly BenchResult[]): string {
  const rows = results.map((r) => [
    r.bench,
    r.value === null ? 'n/a' : r.value.toPrecision(4),
    r.unit,
    r.target === undefined ? '' : `${r.direction === 'max' ? '<=' : '>='} ${r.target}`,
    r.note ?? '',
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length), 6));
  return rows.map((row) => row.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join('  ')).join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const results = await benchGraphs({ progress: (m) => process.stderr.write(`graphs bench: ${m}\n`) });
  console.log(table(results));
  for (const r of results) console.log(JSON.stringify(r));
}
