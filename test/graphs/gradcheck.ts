/** @file Finite-difference gradient checks: analytic gradients from onnxruntime against central differences. */
import * as ort from 'onnxruntime-node';
import { gradients } from '../../graphs/autodiff.js';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { encodeModel, extractSubgraph, toModel } from '../../graphs/serialize.js';
import { Runner } from '../../graphs/runner.js';
import type { DType, Tensor } from '../../graphs/tensor.js';

/** What a check builds: a scalar loss and the graph inputs or parameters to differentiate it by. */
export type GradCheckBuild = (g: Graph) => { loss: Tensor; wrt: Tensor[] };

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-6 in float64, 1e-3 for reference checks). */
  eps?: number;
  /** Floor of the error's denominator, so that all-zero gradients compare absolutely (default 1e-3). */
  floor?: number;
  /** Largest error that counts as a pass in `ok` (default 1e-6 in float64, 1e-3 for reference checks). */
  rtol?: number;
  /** Graph seed for parameter initial values and generated feeds (default 1). */
  seed?: number;
  opset?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface GradCheckResult {
  /** maxError is below rtol. */
  ok: boolean;
  /** Largest error over all wrt tensors: max|analytic - numeric| / max(floor, max|numeric|). */
  maxError: number;
  /** Error of each wrt tensor, by name. */
  errors: Record<string, number>;
  analytic: Record<string, Float64Array>;
  numeric: Record<string, Float64Array>;
  /** Node count of the forward + gradient model. */
  nodes: number;
}

/** A float64 tensor for feeds. */
export function f64(data: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float64', Float64Array.from(data), [...dims]);
}

/** A float32 tensor for feeds. */
export function f32(data: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), [...dims]);
}

/** An int64 tensor for feeds. */
export function i64(data: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), [...dims]);
}

const ORT_TYPE: Partial<Record<DType, 'float32' | 'float64'>> = { float32: 'float32', float64: 'float64' };

/** Feeds every model input: given feeds first, parameters from their initial values, else seeded normals. */
function completeFeeds(inputs: readonly Tensor[], given: Record<string, ort.Tensor>, seed: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const rng = new Rng(seed ^ 0x5eed);
  for (const t of inputs) {
    const f = given[t.name];
    if (f) feeds[t.name] = f;
    else if (t.kind === 'param') feeds[t.name] = new ort.Tensor(t.dtype as 'float32', (t.value as Float64Array).slice(), t.shape as number[]);
    else {
      const type = ORT_TYPE[t.dtype];
      if (!type || !t.shape.every((d) => typeof d === 'number')) {
        throw new Error(`gradcheck: feed input "${t.name}" (${t.toString()}); only static float inputs are generated`);
      }
      const n = (t.shape as number[]).reduce((a, b) => a * b, 1);
      const data = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = rng.normal();
      feeds[t.name] = new ort.Tensor(type, data, t.shape as number[]);
    }
  }
  return feeds;
}

function modelInputs(g: Graph, loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  for (const t of wrt) {
    if (t.kind !== 'input' && t.kind !== 'param') throw new Error(`gradcheck: wrt ${t.toString()} must be a graph input or parameter`);
  }
  const leaves = extractSubgraph(g, [loss]).leaves.filter((t) => t.kind === 'input' || t.kind === 'param');
  return [...leaves.filter((t) => t.kind === 'input'), ...leaves.filter((t) => t.kind === 'param')];
}

async function analyticAndLoss(g: Graph, build: GradCheckBuild, given: Record<string, ort.Tensor>, opts: GradCheckOptions) {
  const { loss, wrt } = build(g);
  const grads = gradients(loss, wrt);
  const inputs = modelInputs(g, loss, wrt);
  const outputs: Record<string, Tensor> = { loss };
  grads.forEach((t, i) => (outputs[`grad_${i}`] = t));
  const opset = opts.opset ?? 17;
  const level = opts.graphOptimizationLevel ?? 'all';
  const full = toModel(g, { outputs, inputs, opset });
  const fullRunner = await Runner.create(encodeModel(full), { graphOptimizationLevel: level, intraOpNumThreads: 1 });
  const lossRunner = await Runner.create(encodeModel(toModel(g, { outputs: { loss }, inputs, opset })), {
    graphOptimizationLevel: level,
    intraOpNumThreads: 1,
  });
  const feeds = completeFeeds(inputs, given, opts.seed ?? 1);
  const out = await fullRunner.run(feeds);
  await fullRunner.dispose();
  const analytic: Record<string, Float64Array> = {};
  wrt.forEach((t, i) => (analytic[t.name] = Float64Array.from(out[`grad_${i}`].data as Float64Array)));
  return { wrt, feeds, analytic, lossRunner, nodes: full.graph?.node.length ?? 0 };
}

function result(
  analytic: Record<string, Float64Array>,
  numeric: Record<string, Float64Array>,
  nodes: number,
  opts: GradCheckOptions,
  rtol: number,
): GradCheckResult {
  const { errors, maxError } = compare(analytic, numeric, opts.floor ?? 1e-3);
  return { ok: maxError < (opts.rtol ?? rtol), maxError, errors, analytic, numeric, nodes };
}

function compare(analytic: Record<string, Float64Array>, numeric: Record<string, Float64Array>, floor: number) {
  const errors: Record<string, number> = {};
  let maxError = 0;
  for (const name of Object.keys(analytic)) {
    const a = analytic[name];
    const n = numeric[name];
    let diff = 0;
    let scale = floor;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - n[i]));
      scale = Math.max(scale, Math.abs(n[i]));
    }
    const err = Number.isFinite(diff) ? diff / scale : Infinity;
    errors[name] = err;
    maxError = Math.max(maxError, err);
  }
  return { errors, maxError };
}

/**
 * Builds `build` in float64, runs its loss and gradients in onnxruntime, and compares each gradient with central
 * differences of the same float64 loss (every element of every wrt tensor perturbed by +-eps).
 */
export async function checkGradients(
  build: GradCheckBuild,
  feeds: Record<string, ort.Tensor> = {},
  opts: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const g = new Graph({ floatType: 'float64', seed: opts.seed ?? 1 });
  const eps = opts.eps ?? 1e-6;
  const run = await analyticAndLoss(g, build, feeds, opts);
  const numeric: Record<string, Float64Array> = {};
  for (const t of run.wrt) {
    const base = run.feeds[t.name];
    const data = Float64Array.from(base.data as Float64Array);
    const grad = new Float64Array(data.length);
    const probe = async (v: Float64Array): Promise<number> => {
      const out = await run.lossRunner.run({ ...run.feeds, [t.name]: new ort.Tensor('float64', v, base.dims) });
      return Number((out.loss.data as Float64Array)[0]);
    };
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      data[i] = x + eps;
      const up = await probe(data.slice());
      data[i] = x - eps;
      const down = await probe(data.slice());
      data[i] = x;
      grad[i] = (up - down) / (2 * eps);
    }
    numeric[t.name] = grad;
  }
  await run.lossRunner.dispose();
  return result(run.analytic, numeric, run.nodes, opts, 1e-6);
}

/**
 * For ops onnxruntime runs in float32 only: builds `build` in float32, takes its analytic gradients from
 * onnxruntime, and compares them with float64 central differences of `reference`, an independent forward
 * written for the test that receives every model input's values (float32 feeds widened exactly) by name.
 */
export async function checkAgainstReference(
  build: GradCheckBuild,
  reference: (values: Record<string, Float64Array>) => number,
  feeds: Record<string, ort.Tensor> = {},
  opts: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const g = new Graph({ floatType: 'float32', seed: opts.seed ?? 1 });
  const eps = opts.eps ?? 1e-3;
  const run = await analyticAndLoss(g, build, feeds, opts);
  await run.lossRunner.dispose();
  const values: Record<string, Float64Array> = {};
  for (const [name, t] of Object.entries(run.feeds)) {
    if (t.type === 'float32' || t.type === 'float64') values[name] = Float64Array.from(t.data as Float32Array);
  }
  const numeric: Record<string, Float64Array> = {};
  for (const t of run.wrt) {
    const data = values[t.name];
    const grad = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      data[i] = x + eps;
      const up = reference(values);
      data[i] = x - eps;
      const down = reference(values);
      data[i] = x;
      grad[i] = (up - down) / (2 * eps);
    }
    numeric[t.name] = grad;
  }
  return result(run.analytic, numeric, run.nodes, opts, 1e-3);
}
