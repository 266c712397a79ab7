/**
 * @file The summary of a grid: each cell's learning curve, held-out scores and probes, aggregated per experiment
 * and strategy over seeds (mean, 95% CI, paired t-test and Wilcoxon test against `isolated`), learning curves
 * with bands, student–brain similarity, and for driving original/reconstructed scene PNGs.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { configHash } from '../config.js';
import { b2mVersion } from '../package.js';
import { learningCurveArea, meanCi, pairedTTest, stepsToTarget, wilcoxonSignedRank } from '../stats.js';
import { type ExperimentSummary, type MetricInfo, type MetricSummary, SUMMARY_SCHEMA_VERSION, type Summary } from '../summary.js';
import { FINAL_FILE, METRICS_FILE, STUDENT_FILE } from '../train/index.js';
import { isNullControl } from '../train/null-controls.js';
import type { Cell, Grid, GridExperiment } from './grid.js';
import { loadProbeData, type ProbeResult, probeStudent } from './probe.js';

/** A cell's numbers: its validation curve and one value per metric (null when it has none). */
interface CellNumbers {
  curve: { steps: number[]; values: number[] } | null;
  metrics: Record<string, number | null>;
  probe: ProbeResult | null;
}

/** Reads the validation rows of a run's metrics.csv: the score column by step. */
export function readValCurve(runDir: string, column: string): { steps: number[]; values: number[] } | null {
  const file = path.join(runDir, METRICS_FILE);
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const header = lines[0]!.split(',');
  const at = header.indexOf(column);
  if (at < 0) return null;
  const steps: number[] = [];
  const values: number[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    if (cells[1] !== 'val' || cells[at] === '') continue;
    const step = Number(cells[0]);
    if (steps.length > 0 && step <= steps[steps.length - 1]!) continue;
    steps.push(step);
    values.push(Number(cells[at]));
  }
  return steps.length > 0 ? { steps, values } : null;
}

const RNN_INFO: Record<string, MetricInfo> = {
  test_accuracy: { label: 'held-out test accuracy', higherIsBetter: true, description: 'choice accuracy on the test split at the end of training' },
  steps_to_target: { label: 'steps to target accuracy', higherIsBetter: false, description: 'first evaluation step whose validation accuracy reaches the target; seeds that never reach it count as the step budget (censored)' },
  val_accuracy_auc: { label: 'area under the validation accuracy curve', higherIsBetter: true, description: 'mean validation accuracy over training (trapezoid rule)' },
  final_val_accuracy: { label: 'final validation accuracy', higherIsBetter: true },
  cka: { label: 'linear CKA with the brain', higherIsBetter: true },
  rsa: { label: 'RSA with the brain', higherIsBetter: true },
};

const VAE_INFO: Record<string, MetricInfo> = {
  decodability_r2: { label: 'scene-factor decodability (R²)', higherIsBetter: true, description: 'mean R² over scene factors of a ridge regression from the latent mean, fit on validation scenes and scored on test scenes' },
  test_recon_mse: { label: 'held-out reconstruction MSE', higherIsBetter: false, description: 'mean squared error per pixel value on the test split' },
  val_recon_mse_auc: { label: 'area under the validation MSE curve', higherIsBetter: false },
  cka: { label: 'linear CKA with the brain', higherIsBetter: true },
  rsa: { label: 'RSA with the brain', higherIsBetter: true },
};

function finalScores(runDir: string): { val: Record<string, number>; test: Record<string, number> } | null {
  const file = path.join(runDir, FINAL_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { val: Record<string, number>; test: Record<string, number> }) : null;
}

async function cellNumbers(dir: string, experiment: GridExperiment, cell: Cell, probe: Awaited<ReturnType<typeof loadProbeData>> | null, images: number): Promise<CellNumbers> {
  const runDir = path.join(dir, cell.dir);
  const rnn = experiment.config.experiment === 'memory-decision';
  const curve = readValCurve(runDir, rnn ? 'accuracy' : 'recon_mse');
  const final = finalScores(runDir);
  const studentFile = path.join(runDir, STUDENT_FILE);
  const probed = probe && final && existsSync(studentFile) ? await probeStudent(studentFile, probe, { images }) : null;
  const metrics: Record<string, number | null> = {};
  if (rnn) {
    metrics.test_accuracy = final?.test.accuracy ?? null;
    metrics.final_val_accuracy = final?.val.accuracy ?? null;
    metrics.steps_to_target = curve ? stepsToTarget(curve.steps, curve.values, experiment.config.compare.target).step : null;
    metrics.val_accuracy_auc = curve ? learningCurveArea(curve.steps, curve.values) : null;
  } else {
    metrics.decodability_r2 = probed?.decodability ?? null;
    metrics.test_recon_mse = final?.test.recon_mse ?? null;
    metrics.val_recon_mse_auc = curve ? learningCurveArea(curve.steps, curve.values) : null;
  }
  metrics.cka = probed?.cka ?? null;
  metrics.rsa = probed?.rsa ?? null;
  return { curve, metrics, probe: probed };
}

function ci(values: readonly number[]): { mean: number; ci95: [number, number] | null } {
  const m = meanCi(values);
  return { mean: m.mean, ci95: values.length > 1 ? [m.lower, m.upper] : null };
}

type PairedTest = NonNullable<MetricSummary['vsIsolated']>;

/** Paired t and Wilcoxon tests of `values` − `baseline` over the seeds where both have a value; null under two pairs. */
function pairedTests(values: readonly (number | null)[], baseline: readonly (number | null)[]): PairedTest | null {
  const a: number[] = [];
  const b: number[] = [];
  values.forEach((v, i) => {
    const w = baseline[i];
    if (v !== null && w !== null && w !== undefined && Number.isFinite(v) && Number.isFinite(w)) {
      a.push(v);
      b.push(w);
    }
  });
  if (a.length < 2) return null;
  const t = pairedTTest(a, b);
  const w = wilcoxonSignedRank(a, b);
  return { meanDiff: t.meanDifference, pTTest: Number.isFinite(t.p) ? t.p : null, pWilcoxon: Number.isFinite(w.p) ? w.p : null, n: a.length };
}

function metricSummary(values: (number | null)[], baseline: (number | null)[] | undefined, nullControls: Record<string, (number | null)[]> = {}): MetricSummary {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const out: MetricSummary = present.length > 0 ? { values, ...ci(present) } : { values, mean: null, ci95: null };
  const vsIsolated = baseline ? pairedTests(values, baseline) : null;
  if (vsIsolated) out.vsIsolated = vsIsolated;
  const vsNull = Object.entries(nullControls).flatMap(([control, other]) => {
    const test = pairedTests(values, other);
    return test ? [[control, test] as const] : [];
  });
  if (vsNull.length > 0) out.vsNullControls = Object.fromEntries(vsNull);
  return out;
}

function curveSummary(curves: ({ steps: number[]; values: number[] } | null)[], metric: string) {
  const present = curves.filter((c): c is { steps: number[]; values: number[] } => c !== null);
  if (present.length === 0) return null;
  const steps = present.reduce((a, c) => (c.steps.length < a.length ? c.steps : a), present[0]!.steps);
  const mean: number[] = [];
  const lo: number[] = [];
  const hi: number[] = [];
  steps.forEach((step, i) => {
    const values = present.map((c) => c.values[c.steps.indexOf(step)]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const { mean: m, ci95 } = values.length > 0 ? ci(values) : { mean: Number.NaN, ci95: null };
    mean.push(m);
    lo.push(ci95 ? ci95[0] : m);
    hi.push(ci95 ? ci95[1] : m);
  });
  const keep = mean.map((m) => Number.isFinite(m));
  return { metric, steps: steps.filter((_, i) => keep[i]), mean: mean.filter((_, i) => keep[i]), lo: lo.filter((_, i) => keep[i]), hi: hi.filter((_, i) => keep[i]) };
}

async function writePng(file: string, rgb: Float32Array, offset: number, height: number, width: number): Promise<void> {
  const bytes = Buffer.alloc(height * width * 3);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, rgb[offset + i]!)) * 255);
  await sharp(bytes, { raw: { width, height, channels: 3 } }).resize(Math.max(width, 128), Math.max(height, 128), { kernel: 'nearest' }).png().toFile(file);
}

/** Scene pairs shown per strategy in the report. */
const IMAGE_PAIRS = 4;

/** Summarizes one experiment of a grid; finished cells only contribute held-out scores and probes. */
export async function summarizeExperiment(dir: string, grid: Grid, experiment: GridExperiment): Promise<ExperimentSummary> {
  const config = experiment.config;
  const rnn = config.experiment === 'memory-decision';
  const cells = grid.cells.filter((c) => c.experiment === experiment.name);
  const seeds = [...new Set(cells.map((c) => c.seed))].sort((a, b) => a - b);
  const strategies = config.compare.strategies;
  const probe = await loadProbeData(path.resolve(dir, experiment.dataset));
  const numbers = new Map<string, CellNumbers>();
  const firstSeed = seeds[0];
  for (const cell of cells) numbers.set(`${cell.strategy}/${cell.seed}`, await cellNumbers(dir, experiment, cell, probe, rnn || cell.seed !== firstSeed ? 0 : IMAGE_PAIRS));
  const info = rnn ? RNN_INFO : VAE_INFO;
  const metricNames = Object.keys(info);
  const valuesOf = (strategy: string, metric: string) => seeds.map((s) => numbers.get(`${strategy}/${s}`)?.metrics[metric] ?? null);
  const summary: ExperimentSummary = {
    task: config.experiment,
    primaryMetric: rnn ? { name: 'test_accuracy', higherIsBetter: true, target: config.compare.target } : { name: 'decodability_r2', higherIsBetter: true },
    strategies: {},
    curves: {},
    metricInfo: info,
    notes: [],
  };
  const similarity: NonNullable<ExperimentSummary['similarity']> = {};
  for (const strategy of strategies) {
    const metrics: Record<string, MetricSummary> = {};
    for (const metric of metricNames) {
      const controls = isNullControl(strategy) || strategy === 'isolated' ? [] : strategies.filter(isNullControl);
      metrics[metric] = metricSummary(
        valuesOf(strategy, metric),
        strategy === 'isolated' || !strategies.includes('isolated') ? undefined : valuesOf('isolated', metric),
        Object.fromEntries(controls.map((c) => [c, valuesOf(c, metric)])),
      );
    }
    summary.strategies[strategy] = { seeds, metrics };
    const curve = curveSummary(seeds.map((s) => numbers.get(`${strategy}/${s}`)?.curve ?? null), rnn ? 'validation accuracy' : 'validation reconstruction MSE');
    if (curve) summary.curves[strategy] = curve;
    const cka = valuesOf(strategy, 'cka').filter((v): v is number => v !== null);
    const r = valuesOf(strategy, 'rsa').filter((v): v is number => v !== null);
    if (cka.length > 0 && r.length > 0) {
      const a = ci(cka);
      const b = ci(r);
      similarity[strategy] = { cka: { mean: a.mean, ci95: a.ci95 ?? [a.mean, a.mean] }, rsa: { mean: b.mean, ci95: b.ci95 ?? [b.mean, b.mean] } };
    }
  }
  if (Object.keys(similarity).length > 0) summary.similarity = similarity;
  if (rnn) {
    const censored = strategies.flatMap((s) => seeds.filter((seed) => {
      const c = numbers.get(`${s}/${seed}`)?.curve;
      return c && !stepsToTarget(c.steps, c.values, config.compare.target).reached;
    }).map((seed) => `${s}/seed-${seed}`));
    if (censored.length > 0) summary.notes!.push(`Steps to target (validation accuracy ${config.compare.target}) are censored at the last evaluation for runs that never reached it: ${censored.join(', ')}.`);
  }
  const unfinished = cells.filter((c) => !existsSync(path.join(dir, c.dir, FINAL_FILE))).map((c) => c.dir);
  if (unfinished.length > 0) summary.notes!.push(`${unfinished.length} of ${cells.length} cells have not finished; their held-out numbers are missing: ${unfinished.join(', ')}.`);
  if (!rnn && firstSeed !== undefined) {
    const sets: NonNullable<ExperimentSummary['images']> = [];
    const imageDir = path.join(dir, experiment.name, 'images');
    for (const strategy of strategies) {
      const rec = numbers.get(`${strategy}/${firstSeed}`)?.probe?.reconstructions;
      if (!rec) continue;
      mkdirSync(imageDir, { recursive: true });
      const pairs = [];
      const size = rec.height * rec.width * 3;
      for (let i = 0; i < rec.count; i++) {
        const original = path.join(experiment.name, 'images', `scene-${i}.png`);
        const reconstruction = path.join(experiment.name, 'images', `${strategy}-seed-${firstSeed}-scene-${i}.png`);
        if (sets.length === 0) await writePng(path.join(dir, original), rec.originals, i * size, rec.height, rec.width);
        await writePng(path.join(dir, reconstruction), rec.reconstructions, i * size, rec.height, rec.width);
        pairs.push({ original, reconstruction });
      }
      sets.push({ title: `${strategy}, seed ${firstSeed}: held-out test scenes`, pairs });
    }
    if (sets.length > 0) summary.images = sets;
  }
  if (summary.notes!.length === 0) delete summary.notes;
  return summary;
}

/** The summary of a whole grid (every experiment), ready for `writeSummary` and the report. */
export async function summarizeGrid(dir: string, grid: Grid, durations: Record<string, number> = {}): Promise<Summary> {
  const experiments: Summary['experiments'] = {};
  for (const experiment of grid.experiments) experiments[experiment.name] = await summarizeExperiment(dir, grid, experiment);
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    b2mVersion,
    configHash: grid.experiments.map((e) => configHash(e.config)).join('+'),
    config: Object.fromEntries(grid.experiments.map((e) => [e.name, e.config])),
    experiments,
    provenance: {
      data: Object.fromEntries(grid.experiments.map((e) => [e.name, { dataset: e.dataset, simulated: e.config.data.source === 'simulate' }])),
      host: { platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length, node: process.version },
      durations,
      cells: grid.cells.length,
    },
  };
}
