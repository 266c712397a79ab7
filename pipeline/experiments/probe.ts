/**
 * @file Held-out probes of a trained student (its exported student.onnx): student-vs-brain representational
 * similarity (linear CKA, RSA) on held-out brain-paired items, linear decodability of the scene factors from the
 * VAE's latent mean (ridge regression fit on validation scenes, R² on test scenes), and reconstructions.
 */
import type { Data, Table, Utf8 } from 'apache-arrow';
import * as ort from 'onnxruntime-node';
import { type Dataset, openDataset, tensorRows, tensorShape } from '../../datasets/index.js';
import { linearCka, rsa } from '../stats.js';

/** Held-out data of an experiment's dataset, read once and shared by all its cells. */
export interface ProbeData {
  kind: 'decisionRnn' | 'sceneVae';
  /** Row shape of the task tensor. */
  xShape: number[];
  /** Brain-paired held-out items: task tensors, decision bins, and the teacher latents `[n, times * k]`. */
  paired: { n: number; x: Float32Array; decisionBin: Int32Array; brain: Float32Array; times: number; k: number };
  /** Driving: scene factors and images of the validation and test splits. */
  scenes?: { val: SceneRows; test: SceneRows; factors: string[] };
}

interface SceneRows {
  n: number;
  images: Float32Array;
  /** `[n, factors]`. */
  factors: Float64Array;
}

const decoder = new TextDecoder();
function strings(table: Table, name: string): string[] {
  const out: string[] = [];
  for (const chunk of table.getChild(name)!.data as Data<Utf8>[]) {
    const o = chunk.valueOffsets as Int32Array;
    for (let i = 0; i < chunk.length; i++) out.push(decoder.decode(chunk.values.subarray(o[i]!, o[i + 1]!)));
  }
  return out;
}

function ints(table: Table, name: string): (number | null)[] {
  const c = table.getChild(name)!;
  return Array.from({ length: table.numRows }, (_, i) => c.get(i) as number | null);
}

/** Most held-out paired items used for CKA and RSA (their cost grows with the square of the count). */
const MAX_PAIRED = 400;

/** Reads what the probes need from a dataset: held-out brain-paired items (the teacher table's validation rows) and, for scenes, factors. */
export async function loadProbeData(datasetDir: string): Promise<ProbeData> {
  const dataset = await openDataset(datasetDir);
  const rnn = Boolean(dataset.tables.trials);
  const taskName = rnn ? 'trials' : 'scenes';
  const task = await dataset.read(taskName);
  const column = rnn ? 'inputs' : 'image';
  const xShape = tensorShape(task.schema.fields.find((f) => f.name === column)!, taskName);
  const size = xShape.reduce((a, b) => a * b, 1);
  const x = tensorRows(task.getChild(column) as never);
  const ids = ints(task, rnn ? 'trial_id' : 'scene_id');
  const rowOf = new Map(ids.map((id, r) => [id!, r] as const));
  const decision = rnn ? ints(task, 'decision_bin') : null;
  const paired = await pairedRows(dataset, rowOf, x, size, decision);
  const out: ProbeData = { kind: rnn ? 'decisionRnn' : 'sceneVae', xShape, paired };
  if (!rnn) {
    const factors = task.schema.fields.filter((f) => f.name !== 'scene_id' && f.name !== 'split' && f.name !== 'image').map((f) => f.name);
    const splits = strings(task, 'split');
    const rowsOf = (split: string): SceneRows => {
      const rows = splits.flatMap((s, r) => (s === split ? [r] : []));
      const images = new Float32Array(rows.length * size);
      const values = new Float64Array(rows.length * factors.length);
      const columns = factors.map((f) => task.getChild(f)!);
      rows.forEach((r, i) => {
        images.set(x.subarray(r * size, (r + 1) * size), i * size);
        columns.forEach((c, j) => (values[i * factors.length + j] = Number(c.get(r))));
      });
      return { n: rows.length, images, factors: values };
    };
    out.scenes = { val: rowsOf('val'), test: rowsOf('test'), factors };
  }
  return out;
}

async function pairedRows(dataset: Dataset, rowOf: Map<number, number>, x: Float32Array, size: number, decision: (number | null)[] | null): Promise<ProbeData['paired']> {
  const empty = { n: 0, x: new Float32Array(0), decisionBin: new Int32Array(0), brain: new Float32Array(0), times: 0, k: 0 };
  if (!dataset.tables.teacher) return empty;
  const teacher = await dataset.read('teacher');
  const [times, k] = tensorShape(teacher.schema.fields.find((f) => f.name === 'latents')!, 'teacher') as [number, number];
  const latents = tensorRows(teacher.getChild('latents') as never);
  const splits = strings(teacher, 'split');
  const ids = ints(teacher, 'trial_id');
  const rows: [number, number][] = [];
  for (let r = 0; r < teacher.numRows && rows.length < MAX_PAIRED; r++) {
    const task = ids[r] === null ? undefined : rowOf.get(ids[r]!);
    if (splits[r] !== 'train' && task !== undefined) rows.push([r, task]);
  }
  if (rows.length < 3) return empty;
  const n = rows.length;
  const out = { n, x: new Float32Array(n * size), decisionBin: new Int32Array(n), brain: new Float32Array(n * times * k), times, k };
  rows.forEach(([t, r], i) => {
    out.x.set(x.subarray(r * size, (r + 1) * size), i * size);
    out.decisionBin[i] = decision ? decision[r]! : 0;
    out.brain.set(latents.subarray(t * times * k, (t + 1) * times * k), i * times * k);
  });
  return out;
}

/** Runs a student over rows in batches and returns the named outputs concatenated. */
async function runStudent(session: ort.InferenceSession, data: ProbeData, x: Float32Array, n: number, decisionBin: Int32Array | null, outputs: string[]): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const size = data.xShape.reduce((a, b) => a * b, 1);
  const parts: Record<string, Float32Array[]> = {};
  const shapes: Record<string, number[]> = {};
  const batch = 128;
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const feeds: Record<string, ort.Tensor> = {};
    const xs = new ort.Tensor('float32', x.subarray(start * size, (start + m) * size), [m, ...data.xShape]);
    if (data.kind === 'decisionRnn') {
      const T = data.xShape[0]!;
      const mask = new Float32Array(m * T);
      for (let i = 0; i < m; i++) mask[i * T + Math.min(T - 1, Math.max(0, decisionBin ? decisionBin[start + i]! : T - 1))] = 1;
      feeds.inputs = xs;
      if (session.inputNames.includes('decision_mask')) feeds.decision_mask = new ort.Tensor('float32', mask, [m, T]);
    } else {
      feeds.images = xs;
    }
    const result = await session.run(feeds, outputs);
    for (const name of outputs) {
      (parts[name] ??= []).push(result[name]!.data as Float32Array);
      shapes[name] = result[name]!.dims.slice(1) as number[];
    }
  }
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const name of outputs) {
    const total = parts[name]!.reduce((a, p) => a + p.length, 0);
    const data = new Float32Array(total);
    let o = 0;
    for (const p of parts[name]!) {
      data.set(p, o);
      o += p.length;
    }
    out[name] = { data, shape: shapes[name]! };
  }
  return out;
}

/** Held-out probe results of one trained student. */
export interface ProbeResult {
  cka?: number;
  rsa?: number;
  /** Driving: mean R² over scene factors of a ridge regression from the latent mean. */
  decodability?: number;
  decodabilityByFactor?: Record<string, number>;
  /** Driving: a few test scenes and their reconstructions, `[count, H, W, 3]`. */
  reconstructions?: { originals: Float32Array; reconstructions: Float32Array; count: number; height: number; width: number };
}

/** Time bins sampled for the RNN's representation (every step would make the features needlessly wide). */
function sampledBins(T: number): number[] {
  const stride = Math.max(1, Math.floor(T / 12));
  const bins: number[] = [];
  for (let t = stride - 1; t < T; t += stride) bins.push(t);
  return bins;
}

/** Probes a student: CKA/RSA against the brain on held-out paired items, and for scenes decodability and reconstructions. */
export async function probeStudent(studentFile: string, data: ProbeData, options: { images?: number } = {}): Promise<ProbeResult> {
  const session = await ort.InferenceSession.create(studentFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: ProbeResult = {};
    const p = data.paired;
    if (p.n >= 3) {
      if (data.kind === 'decisionRnn') {
        const { hidden } = await runStudent(session, data, p.x, p.n, p.decisionBin, ['hidden']);
        const [T, H] = hidden!.shape as [number, number];
        const bins = sampledBins(Math.min(T, p.times));
        const student = new Float64Array(p.n * bins.length * H);
        const brain = new Float64Array(p.n * bins.length * p.k);
        for (let i = 0; i < p.n; i++) {
          bins.forEach((t, b) => {
            for (let h = 0; h < H; h++) student[(i * bins.length + b) * H + h] = hidden!.data[(i * T + t) * H + h]!;
            for (let j = 0; j < p.k; j++) brain[(i * bins.length + b) * p.k + j] = p.brain[(i * p.times + t) * p.k + j]!;
          });
        }
        similarity(out, { data: student, samples: p.n, features: bins.length * H }, { data: brain, samples: p.n, features: bins.length * p.k });
      } else {
        const { latent_mean: mean } = await runStudent(session, data, p.x, p.n, null, ['latent_mean']);
        similarity(out, { data: mean!.data, samples: p.n, features: mean!.shape[0]! }, { data: p.brain, samples: p.n, features: p.times * p.k });
      }
    }
    if (data.scenes && data.scenes.val.n > 2 && data.scenes.test.n > 2) {
      const { val, test, factors } = data.scenes;
      const fit = await runStudent(session, data, val.images, val.n, null, ['latent_mean']);
      const count = Math.min(options.images ?? 0, test.n);
      const evaluated = await runStudent(session, data, test.images, test.n, null, count > 0 ? ['latent_mean', 'reconstruction'] : ['latent_mean']);
      const L = fit.latent_mean!.shape[0]!;
      const r2 = ridgeR2(fit.latent_mean!.data, val.factors, evaluated.latent_mean!.data, test.factors, val.n, test.n, L, factors.length);
      out.decodabilityByFactor = Object.fromEntries(factors.map((f, j) => [f, r2[j]!]));
      const finite = r2.filter((v) => Number.isFinite(v));
      out.decodability = finite.reduce((a, b) => a + b, 0) / Math.max(finite.length, 1);
      if (count > 0) {
        const [height, width] = data.xShape as [number, number];
        const size = height * width * 3;
        out.reconstructions = { originals: test.images.slice(0, count * size), reconstructions: evaluated.reconstruction!.data.slice(0, count * size), count, height, width };
      }
    }
    return out;
  } finally {
    await session.release();
  }
}

function similarity(out: ProbeResult, x: { data: ArrayLike<number>; samples: number; features: number }, y: { data: ArrayLike<number>; samples: number; features: number }): void {
  try {
    out.cka = linearCka(x, y);
    out.rsa = rsa(x, y);
  } catch {
    // A representation without variance (a dead student) has no similarity; the cell simply contributes none.
  }
}

/**
 * Ridge regression (λ = 1 on standardized features, intercept unpenalized) from `x` to each target column,
 * fit on one split and scored on another: R² = 1 − SSE / SST per target (targets constant on the test split give NaN).
 */
export function ridgeR2(xFit: ArrayLike<number>, yFit: ArrayLike<number>, xTest: ArrayLike<number>, yTest: ArrayLike<number>, nFit: number, nTest: number, p: number, q: number, lambda = 1): number[] {
  const mean = new Float64Array(p);
  const sd = new Float64Array(p);
  for (let i = 0; i < nFit; i++) for (let j = 0; j < p; j++) mean[j] = mean[j]! + xFit[i * p + j]! / nFit;
  for (let i = 0; i < nFit; i++) for (let j = 0; j < p; j++) sd[j] = sd[j]! + (xFit[i * p + j]! - mean[j]!) ** 2 / nFit;
  for (let j = 0; j < p; j++) sd[j] = Math.sqrt(sd[j]!) || 1;
  const z = (x: ArrayLike<number>, i: number, j: number) => (x[i * p + j]! - mean[j]!) / sd[j]!;
  const gram = new Float64Array(p * p);
  for (let i = 0; i < nFit; i++) for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) gram[a * p + b] = gram[a * p + b]! + z(xFit, i, a) * z(xFit, i, b);
  for (let a = 0; a < p; a++) gram[a * p + a] = gram[a * p + a]! + lambda;
  const r2: number[] = [];
  for (let t = 0; t < q; t++) {
    let yMean = 0;
    for (let i = 0; i < nFit; i++) yMean += yFit[i * q + t]! / nFit;
    const rhs = new Float64Array(p);
    for (let i = 0; i < nFit; i++) for (let a = 0; a < p; a++) rhs[a] = rhs[a]! + z(xFit, i, a) * (yFit[i * q + t]! - yMean);
    const w = solve(gram, rhs, p);
    let testMean = 0;
    for (let i = 0; i < nTest; i++) testMean += yTest[i * q + t]! / nTest;
    let sse = 0;
    let sst = 0;
    for (let i = 0; i < nTest; i++) {
      let pred = yMean;
      for (let a = 0; a < p; a++) pred += w[a]! * z(xTest, i, a);
      sse += (yTest[i * q + t]! - pred) ** 2;
      sst += (yTest[i * q + t]! - testMean) ** 2;
    }
    r2.push(sst > 0 ? 1 - sse / sst : Number.NaN);
  }
  return r2;
}

/** Solves the symmetric positive-definite system A w = b by Cholesky factorization. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!;
    y[i] = s / l[i * n + i]!;
  }
  const w = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * w[k]!;
    w[i] = s / l[i * n + i]!;
  }
  return w;
}
