/**
 * @file The issue-4 evidence run: both simulated experiments over strategies × seeds (paired), the claims tested
 * (steps to target, small-budget accuracy, latent decodability, reconstruction), and a sweep over the brain data's
 * noise level and number of brain trials; writes `evidence.json` and `evidence.md` to an output folder.
 *
 *   npx tsx tools/experiments/evidence.ts --out runs/evidence --seeds 3 [--experiment memory-decision]
 *     [--set memory-decision.train.steps=400] [--strategies isolated,latent] [--sweep noise=0.5,2,4 --sweep trials=50,100]
 *     [--no-budget] [--task-trials 1000 (train every cell on this task budget only)]
 *     [--collect (train nothing: summarize the finished cells already in --out, e.g. of a run stopped early)]
 *     [--keep (train only the cells not already finished in --out under the same config, e.g. to add sweep seeds)]
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Data, Table, Utf8 } from 'apache-arrow';
import * as ort from 'onnxruntime-node';
import { openDataset, tensorRows } from '../../datasets/index.js';
import { SCENE_FACTORS } from '../../datasets/simulators/index.js';
import { configHash, type ExperimentConfig, type ExperimentKind, loadConfig, type Strategy } from '../../pipeline/config.js';
import { isUserError } from '../../pipeline/errors.js';
import { simulateDataset } from '../../pipeline/experiments/datasets.js';
import { ridgeR2 } from '../../pipeline/experiments/probe.js';
import { writeTeacherTables } from '../../pipeline/experiments/teacher-tables.js';
import { meanCi, median, pairedTTest, stepsToTarget, wilcoxonSignedRank, learningCurveArea } from '../../pipeline/stats.js';
import { FINAL_FILE, RUN_FILE, STUDENT_FILE, train } from '../../pipeline/train/index.js';

const B2M: Strategy[] = ['contrastive', 'latent', 'both'];
const NULLS: Strategy[] = ['shuffled-brain', 'noise-brain'];

/** One cell's numbers. */
interface Cell {
  strategy: Strategy;
  seed: number;
  /** Validation curve: evaluation steps and score (accuracy, or negative recon MSE is not used: recon_mse). */
  steps: number[];
  curve: number[];
  /** Held-out test scores at the end of the full run. */
  test: Record<string, number>;
  /** Memory decision: held-out test accuracy after training on the small task budget. */
  budgetAccuracy?: number;
  /** Driving: mean R² over scene factors of a ridge decoder from the latent mean (fit on train scenes, scored on test scenes). */
  decodability?: number;
  decodabilityByFactor?: Record<string, number>;
  seconds: number;
}

interface Comparison {
  metric: string;
  a: Strategy;
  b: Strategy;
  meanDiff: number;
  tP: number;
  wilcoxonP: number;
  n: number;
}

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'runs/evidence' },
    experiment: { type: 'string', multiple: true },
    seeds: { type: 'string' },
    scale: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    strategies: { type: 'string' },
    sweep: { type: 'string', multiple: true, default: [] },
    'sweep-strategy': { type: 'string' },
    'sweep-seeds': { type: 'string' },
    'no-budget': { type: 'boolean', default: false },
    'task-trials': { type: 'string' },
    collect: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

const out = path.resolve(args.out!);
const experiments = (args.experiment ?? ['memory-decision', 'driving']) as ExperimentKind[];

function configFor(kind: ExperimentKind, extra: readonly string[] = []): ExperimentConfig {
  return loadConfig(kind, [...args.set!, ...extra], args.scale ? { scale: args.scale } : {});
}

async function readCurve(runDir: string, column: string): Promise<{ steps: number[]; values: number[] }> {
  const lines = (await readFile(path.join(runDir, 'metrics.csv'), 'utf8')).trim().split('\n');
  const header = lines[0]!.split(',');
  const c = header.indexOf(column);
  const steps: number[] = [];
  const values: number[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    if (cells[1] !== 'val') continue;
    steps.push(Number(cells[0]));
    values.push(Number(cells[c]));
  }
  return { steps, values };
}

const decoder = new TextDecoder();
function textColumn(table: Table, name: string): string[] {
  const out: string[] = [];
  for (const chunk of table.getChild(name)!.data as Data<Utf8>[]) {
    const offsets = chunk.valueOffsets as Int32Array;
    for (let i = 0; i < chunk.length; i++) out.push(decoder.decode(chunk.values.subarray(offsets[i]!, offsets[i + 1]!)));
  }
  return out;
}

/** Scenes for the decodability probe: images and factors of up to `n` rows of a split. */
interface SceneRows {
  images: Float32Array;
  rows: number;
  factors: Float64Array;
}

/** Scenes to fit the decoders on and to score them on, and the image shape. */
interface SceneData {
  fit: SceneRows;
  score: SceneRows;
  shape: number[];
}

async function sceneRows(datasetDir: string): Promise<SceneData> {
  const table = await (await openDataset(datasetDir)).read('scenes');
  const images = tensorRows(table.getChild('image') as never);
  const split = textColumn(table, 'split');
  const rowSize = images.length / table.numRows;
  const factorCols = SCENE_FACTORS.map((f) => table.getChild(f)!.toArray() as Float32Array);
  const pick = (name: string, n: number): SceneRows => {
    const idx = split.flatMap((s, i) => (s === name ? [i] : [])).slice(0, n);
    const img = new Float32Array(idx.length * rowSize);
    const fac = new Float64Array(idx.length * SCENE_FACTORS.length);
    idx.forEach((r, i) => {
      img.set(images.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize);
      factorCols.forEach((col, f) => (fac[i * SCENE_FACTORS.length + f] = col[r]!));
    });
    return { images: img, rows: idx.length, factors: fac };
  };
  const side = Math.round(Math.sqrt(rowSize / 3));
  return { fit: pick('train', 1500), score: pick('test', 1000), shape: [side, side, 3] };
}

async function latentMeans(studentFile: string, scenes: SceneRows, shape: number[]): Promise<{ z: Float64Array; dim: number }> {
  const session = await ort.InferenceSession.create(studentFile);
  const batch = 250;
  const rowSize = shape[0]! * shape[1]! * shape[2]!;
  const parts: Float32Array[] = [];
  for (let r = 0; r < scenes.rows; r += batch) {
    const n = Math.min(batch, scenes.rows - r);
    const images = new ort.Tensor('float32', scenes.images.subarray(r * rowSize, (r + n) * rowSize), [n, ...shape]);
    const res = await session.run({ images }, ['latent_mean']);
    parts.push(res.latent_mean!.data as Float32Array);
  }
  await session.release();
  const dim = parts[0]!.length / Math.min(batch, scenes.rows);
  const z = new Float64Array(scenes.rows * dim);
  let o = 0;
  for (const p of parts) for (const v of p) z[o++] = v;
  return { z, dim };
}

async function prepareDataset(config: ExperimentConfig, dir: string, strategies: readonly Strategy[]): Promise<void> {
  await simulateDataset(config, dir, { overwrite: true });
  await writeTeacherTables(dir, config, strategies);
}

async function finalTest(runDir: string): Promise<Record<string, number> | null> {
  try {
    return (JSON.parse(await readFile(path.join(runDir, FINAL_FILE), 'utf8')) as { test: Record<string, number> }).test;
  } catch {
    return null;
  }
}

/** True when `runDir` holds a finished run of exactly this config (what --keep reuses). */
async function finishedUnder(runDir: string, config: ExperimentConfig): Promise<boolean> {
  if (!(await finalTest(runDir))) return false;
  try {
    const run = JSON.parse(await readFile(path.join(runDir, RUN_FILE), 'utf8')) as { config: ExperimentConfig };
    return configHash(run.config) === configHash(config);
  } catch {
    return false;
  }
}

/** Trains one cell (or, with --collect, reads a finished one; null when it is not there). */
async function runCell(config: ExperimentConfig, dataset: string, strategy: Strategy, seed: number, runRoot: string, scenes: SceneData | null): Promise<Cell | null> {
  const t0 = performance.now();
  const cfg = { ...config, seed: config.seed + seed } as ExperimentConfig;
  const runDir = path.join(runRoot, `${strategy}-s${seed}`);
  const cacheDir = path.join(out, 'cache');
  const taskTrials = args['task-trials'] ? Number(args['task-trials']) : undefined;
  const memory = config.experiment === 'memory-decision';
  const withBudget = memory && !args['no-budget'] && !taskTrials;
  const budgetDir = `${runDir}-budget`;
  if (!args.collect && !(args.keep && (await finishedUnder(runDir, cfg)))) {
    await rm(runDir, { recursive: true, force: true });
    await train({ config: cfg, dataset, strategy, runDir, cacheDir, resume: false, checkpointEvery: 1e9, ...(taskTrials ? { taskTrials } : {}) });
  }
  if (withBudget && !args.collect && !(args.keep && (await finishedUnder(budgetDir, cfg)))) {
    await rm(budgetDir, { recursive: true, force: true });
    await train({ config: cfg, dataset, strategy, runDir: budgetDir, cacheDir, resume: false, taskTrials: config.compare.budgetTaskTrials, checkpointEvery: 1e9 });
  }
  const test = await finalTest(runDir);
  if (!test) return null;
  const { steps, values } = await readCurve(runDir, memory ? 'accuracy' : 'recon_mse');
  const cell: Cell = { strategy, seed, steps, curve: values, test, seconds: 0 };
  const budgetTest = withBudget ? await finalTest(budgetDir) : null;
  if (budgetTest) cell.budgetAccuracy = budgetTest.accuracy;
  if (scenes) {
    const fit = await latentMeans(path.join(runDir, STUDENT_FILE), scenes.fit, scenes.shape);
    const score = await latentMeans(path.join(runDir, STUDENT_FILE), scenes.score, scenes.shape);
    // Ridge λ = 1e-3 × fit rows on the z-scored latent means.
    const r2 = ridgeR2(fit.z, scenes.fit.factors, score.z, scenes.score.factors, scenes.fit.rows, scenes.score.rows, fit.dim, SCENE_FACTORS.length, 1e-3 * scenes.fit.rows);
    cell.decodability = r2.reduce((a, b) => a + b, 0) / r2.length;
    cell.decodabilityByFactor = Object.fromEntries(SCENE_FACTORS.map((f, i) => [f, r2[i]!]));
  }
  cell.seconds = (performance.now() - t0) / 1000;
  return cell;
}

/** The per-cell numbers the claims compare, higher is better except recon. */
function metricsOf(kind: ExperimentKind, config: ExperimentConfig, cell: Cell): Record<string, number> {
  if (kind === 'memory-decision') {
    const reach = stepsToTarget(cell.steps, cell.curve, config.compare.target);
    return {
      steps_to_target: reach.step,
      reached: reach.reached ? 1 : 0,
      val_auc: learningCurveArea(cell.steps, cell.curve),
      test_accuracy: cell.test.accuracy!,
      ...(cell.budgetAccuracy !== undefined ? { budget_test_accuracy: cell.budgetAccuracy } : {}),
    };
  }
  return { decodability: cell.decodability!, test_recon_mse: cell.test.recon_mse! };
}

function compare(cells: Cell[], metrics: Map<Cell, Record<string, number>>, metric: string, a: Strategy, b: Strategy): Comparison | null {
  const seeds = [...new Set(cells.map((c) => c.seed))];
  const va: number[] = [];
  const vb: number[] = [];
  for (const s of seeds) {
    const ca = cells.find((c) => c.seed === s && c.strategy === a);
    const cb = cells.find((c) => c.seed === s && c.strategy === b);
    if (!ca || !cb || metrics.get(ca)![metric] === undefined) continue;
    va.push(metrics.get(ca)![metric]!);
    vb.push(metrics.get(cb)![metric]!);
  }
  if (va.length === 0) return null;
  const diff = va.map((v, i) => v - vb[i]!);
  const allZero = diff.every((d) => d === 0);
  const single = va.length < 2;
  return {
    metric,
    a,
    b,
    meanDiff: diff.reduce((x, y) => x + y, 0) / diff.length,
    tP: single ? Number.NaN : allZero ? 1 : pairedTTest(va, vb).p,
    wilcoxonP: single ? Number.NaN : allZero ? 1 : wilcoxonSignedRank(va, vb).p,
    n: va.length,
  };
}

interface ExperimentResult {
  experiment: ExperimentKind;
  config: ExperimentConfig;
  cells: (Cell & { metrics: Record<string, number> })[];
  summary: Record<string, Record<string, { mean: number; low: number; high: number; median: number }>>;
  comparisons: Comparison[];
  sweep: { knob: string; value: number; strategy: Strategy; metric: string; meanDiff: number; tP: number; n: number }[];
}

async function runExperiment(kind: ExperimentKind): Promise<ExperimentResult> {
  const config = configFor(kind);
  const strategies = (args.strategies ? args.strategies.split(',') : config.compare.strategies) as Strategy[];
  const seeds = args.seeds ? Number(args.seeds) : config.compare.seeds;
  const dataDir = path.join(out, 'data', kind);
  await mkdir(dataDir, { recursive: true });
  if (!args.collect) await prepareDataset(config, dataDir, strategies);
  const scenes = kind === 'driving' ? await sceneRows(dataDir) : null;
  const cells: Cell[] = [];
  for (let s = 0; s < seeds; s++) {
    for (const strategy of strategies) {
      const cell = await runCell(config, dataDir, strategy, s, path.join(out, 'runs', kind), scenes);
      if (!cell) continue;
      cells.push(cell);
      process.stderr.write(`${kind} ${strategy} seed ${s}: ${JSON.stringify(metricsOf(kind, config, cell))} (${cell.seconds.toFixed(0)} s)\n`);
    }
  }
  const metrics = new Map(cells.map((c) => [c, metricsOf(kind, config, c)] as const));
  const names = cells.length > 0 ? Object.keys(metrics.get(cells[0]!)!) : [];
  const summary: ExperimentResult['summary'] = {};
  for (const strategy of strategies) {
    summary[strategy] = {};
    for (const m of names) {
      const v = cells.filter((c) => c.strategy === strategy).map((c) => metrics.get(c)![m]).filter((x): x is number => x !== undefined);
      if (v.length === 0) continue;
      const ci = meanCi(v);
      summary[strategy]![m] = { mean: ci.mean, low: ci.lower, high: ci.upper, median: median(v) };
    }
  }
  const comparisons: Comparison[] = [];
  for (const m of names.filter((n) => n !== 'reached')) {
    for (const b2m of B2M.filter((x) => strategies.includes(x))) {
      for (const other of (['isolated', ...NULLS] as Strategy[]).filter((x) => strategies.includes(x))) {
        const c = compare(cells, metrics, m, b2m, other);
        if (c) comparisons.push(c);
      }
    }
    for (const ctl of NULLS.filter((x) => strategies.includes(x))) {
      const c = compare(cells, metrics, m, ctl, 'isolated');
      if (c) comparisons.push(c);
    }
  }
  const sweep = await runSweep(kind, config, seeds, cells, metrics);
  return { experiment: kind, config, cells: cells.map((c) => ({ ...c, metrics: metrics.get(c)! })), summary, comparisons, sweep };
}

/** The benefit (strategy − isolated, paired by seed) at each swept brain noise level and brain-trial count. */
async function runSweep(kind: ExperimentKind, config: ExperimentConfig, seeds: number, base: Cell[], baseMetrics: Map<Cell, Record<string, number>>): Promise<ExperimentResult['sweep']> {
  const rows: ExperimentResult['sweep'] = [];
  const strategy = (args['sweep-strategy'] ?? (kind === 'memory-decision' ? 'latent' : 'latent')) as Strategy;
  const sweepSeeds = args['sweep-seeds'] ? Number(args['sweep-seeds']) : seeds;
  const metric = kind === 'memory-decision' ? 'val_auc' : 'decodability';
  const trialsKey = kind === 'memory-decision' ? 'brainTrials' : 'brainScenes';
  for (const spec of args.sweep!) {
    const [knob, list] = spec.split('=') as [string, string];
    const key = knob === 'noise' ? 'noise' : trialsKey;
    for (const value of list.split(',').map(Number)) {
      const cfg = configFor(kind, [`data.simulator.${key}=${value}`]);
      const dataDir = path.join(out, 'data', `${kind}-${knob}-${value}`);
      if (!args.collect) await prepareDataset(cfg, dataDir, ['isolated', strategy]);
      const scenes = kind === 'driving' ? await sceneRows(dataDir) : null;
      const cells: Cell[] = [];
      for (let s = 0; s < sweepSeeds; s++) {
        for (const st of ['isolated', strategy] as Strategy[]) {
          const cell = await runCell(cfg, dataDir, st, s, path.join(out, 'runs', `${kind}-${knob}-${value}`), scenes);
          if (cell) cells.push(cell);
        }
      }
      const m = new Map(cells.map((c) => [c, metricsOf(kind, cfg, c)] as const));
      const c = compare(cells, m, metric, strategy, 'isolated');
      if (c) rows.push({ knob: key, value, strategy, metric, meanDiff: c.meanDiff, tP: c.tP, n: c.n });
      process.stderr.write(`sweep ${kind} ${key}=${value}: ${JSON.stringify(c)}\n`);
    }
  }
  const baseline = compare(base, baseMetrics, metric, strategy, 'isolated');
  if (baseline && args.sweep!.length > 0) rows.push({ knob: 'default', value: Number.NaN, strategy, metric, meanDiff: baseline.meanDiff, tP: baseline.tP, n: baseline.n });
  return rows;
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));
const fmtP = (p: number) => (Number.isNaN(p) ? '–' : p < 0.001 ? p.toExponential(1) : p.toFixed(3));

function markdown(results: ExperimentResult[], command: string): string {
  const lines = ['# Evidence: B2M strategies against isolated training and null controls', '', `Command: \`${command}\``, ''];
  for (const r of results) {
    const c = r.config;
    lines.push(`## ${r.experiment}`, '', `Seeds ${new Set(r.cells.map((x) => x.seed)).size}, steps ${c.train.steps}, batch ${c.train.batchSize}, lr ${c.train.optimizer.lr}, ` +
      `λ_c ${c.losses.contrastive.weight} (${c.losses.contrastive.schedule.kind}), λ_l ${c.losses.latent.weight} (${c.losses.latent.schedule.kind}), pairing ${c.losses.contrastive.pairing}.`, '');
    const metricNames = Object.keys(Object.values(r.summary)[0] ?? {});
    lines.push(`| strategy | ${metricNames.join(' | ')} |`, `| --- | ${metricNames.map(() => '---').join(' | ')} |`);
    for (const [s, m] of Object.entries(r.summary)) {
      lines.push(`| ${s} | ${metricNames.map((n) => (m[n] ? `${fmt(m[n].mean)} [${fmt(m[n].low)}, ${fmt(m[n].high)}] (median ${fmt(m[n].median)})` : '')).join(' | ')} |`);
    }
    lines.push('', 'Paired comparisons (a − b over seeds; p of a two-sided paired t-test and of the Wilcoxon signed-rank test):', '', '| metric | a | b | mean a − b | t-test p | Wilcoxon p | n |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const x of r.comparisons) lines.push(`| ${x.metric} | ${x.a} | ${x.b} | ${fmt(x.meanDiff)} | ${fmtP(x.tP)} | ${fmtP(x.wilcoxonP)} | ${x.n} |`);
    if (r.sweep.length > 0) {
      lines.push('', 'Sweep (benefit = strategy − isolated, paired by seed):', '', '| knob | value | strategy | metric | mean benefit | t-test p | n |', '| --- | --- | --- | --- | --- | --- | --- |');
      for (const x of r.sweep) lines.push(`| ${x.knob} | ${Number.isNaN(x.value) ? 'config' : x.value} | ${x.strategy} | ${x.metric} | ${fmt(x.meanDiff)} | ${fmtP(x.tP)} | ${x.n} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

await mkdir(out, { recursive: true });
const results: ExperimentResult[] = [];
try {
  for (const kind of experiments) results.push(await runExperiment(kind));
} catch (err) {
  // A user mistake (a config or data the pipeline refuses) is one line and exit 1, as in the CLI.
  if (!isUserError(err)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const command = `npx tsx tools/experiments/evidence.ts ${process.argv.slice(2).join(' ')}`;
await writeFile(path.join(out, 'evidence.json'), `${JSON.stringify({ command, results }, null, 1)}\n`);
await writeFile(path.join(out, 'evidence.md'), markdown(results, command));
process.stdout.write(markdown(results, command));
