/** @file summary.json: the numbers of a run for machines and for the report (zod schema, types, read, write, describe). */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SummaryError, describeFsError } from './errors.js';
import { describeIssues } from './validation.js';

/** The summary's file name inside a run directory. */
export const SUMMARY_FILE = 'summary.json';

/** The summary.json format version this code reads and writes. */
export const SUMMARY_SCHEMA_VERSION = 1;

const interval = z.tuple([z.number(), z.number()]);
const pValue = z.number().min(0).max(1).nullable();

const pairedTestSchema = z.strictObject({
  /** Mean over seeds of (strategy − isolated), paired by seed. */
  meanDiff: z.number(),
  /** Two-sided paired t-test; null where undefined (all differences equal). */
  pTTest: pValue,
  /** Two-sided Wilcoxon signed-rank test; null where undefined. */
  pWilcoxon: pValue,
  /** Number of seed pairs with a value on both sides. */
  n: z.number().int().nonnegative(),
});

const metricSchema = z.strictObject({
  /** One value per seed, in the order of the strategy's `seeds`; null where a seed has none (target never reached). */
  values: z.array(z.number().nullable()),
  mean: z.number().nullable(),
  ci95: interval.nullable(),
  vsIsolated: pairedTestSchema.optional(),
  /** B2M strategies only: the same paired tests against each null control in the grid (a − null control). */
  vsNullControls: z.record(z.string(), pairedTestSchema).optional(),
});

const strategySchema = z.strictObject({
  seeds: z.array(z.number().int()).min(1),
  metrics: z.record(z.string().min(1), metricSchema),
}).superRefine((strategy, ctx) => {
  for (const [name, metric] of Object.entries(strategy.metrics)) {
    if (metric.values.length !== strategy.seeds.length) {
      ctx.addIssue({ code: 'custom', path: ['metrics', name, 'values'], message: `has ${metric.values.length} values but the strategy lists ${strategy.seeds.length} seeds; give one value per seed, null where a seed has none.` });
    }
  }
});

const curveSchema = z.strictObject({
  metric: z.string().min(1),
  steps: z.array(z.number()).min(1),
  mean: z.array(z.number()),
  lo: z.array(z.number()),
  hi: z.array(z.number()),
}).superRefine((curve, ctx) => {
  for (const key of ['mean', 'lo', 'hi'] as const) {
    if (curve[key].length !== curve.steps.length) {
      ctx.addIssue({ code: 'custom', path: [key], message: `has ${curve[key].length} points but \`steps\` has ${curve.steps.length}; give one point per step.` });
    }
  }
});

const estimateSchema = z.strictObject({ mean: z.number(), ci95: interval });

const imagePairSchema = z.strictObject({
  /** PNG or JPEG path relative to the run directory, or a `data:image/...` URI. */
  original: z.string().min(1),
  reconstruction: z.string().min(1),
});

const metricInfoSchema = z.strictObject({
  label: z.string().min(1).optional(),
  higherIsBetter: z.boolean().optional(),
  description: z.string().optional(),
});

const experimentSchema = z.strictObject({
  task: z.enum(['memory-decision', 'driving']),
  primaryMetric: z.strictObject({ name: z.string().min(1), higherIsBetter: z.boolean(), target: z.number().optional() }),
  strategies: z.record(z.string().min(1), strategySchema),
  curves: z.record(z.string().min(1), curveSchema),
  similarity: z.record(z.string().min(1), z.strictObject({ cka: estimateSchema, rsa: estimateSchema })).optional(),
  images: z.array(z.strictObject({ title: z.string(), pairs: z.array(imagePairSchema).min(1) })).optional(),
  /** Labels and directions of metrics, for the report's axes and table. */
  metricInfo: z.record(z.string().min(1), metricInfoSchema).optional(),
  notes: z.array(z.string()).optional(),
}).superRefine((experiment, ctx) => {
  if (Object.keys(experiment.strategies).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['strategies'], message: 'is empty; an experiment needs at least one strategy.' });
  }
});

/** The schema of summary.json. */
export const summarySchema = z.strictObject({
  schemaVersion: z.literal(SUMMARY_SCHEMA_VERSION),
  createdAt: z.iso.datetime({ offset: true }),
  b2mVersion: z.string().min(1),
  configHash: z.string().min(1),
  /** The resolved config(s) of the run; a run of several experiments keys them by experiment name. */
  config: z.record(z.string(), z.unknown()),
  experiments: z.record(z.string().min(1), experimentSchema),
  provenance: z.looseObject({
    data: z.record(z.string(), z.unknown()),
    host: z.record(z.string(), z.unknown()),
    /** Wall-clock seconds per stage or cell. */
    durations: z.record(z.string(), z.number()),
  }),
});

export type Summary = z.output<typeof summarySchema>;
export type ExperimentSummary = Summary['experiments'][string];
export type StrategySummary = ExperimentSummary['strategies'][string];
export type MetricSummary = StrategySummary['metrics'][string];
export type PairedTest = z.output<typeof pairedTestSchema>;
export type CurveSummary = ExperimentSummary['curves'][string];
export type SimilaritySummary = NonNullable<ExperimentSummary['similarity']>[string];
export type ImageSet = NonNullable<ExperimentSummary['images']>[number];
export type MetricInfo = z.output<typeof metricInfoSchema>;

/** Validates parsed JSON as a summary; `file` names the source in errors. */
export function parseSummary(data: unknown, file: string): Summary {
  const result = summarySchema.safeParse(data);
  if (!result.success) {
    const sentences = describeIssues(result.error.issues, { input: data, schema: summarySchema });
    throw new SummaryError(`${file} is not a valid b2m summary: ${sentences.slice(0, 6).join(' ')}${sentences.length > 6 ? ` (${sentences.length - 6} more problems)` : ''} It is written by \`b2m compare\` or \`b2m run\`; rerun that stage to regenerate it.`);
  }
  return result.data;
}

/** Reads and validates a summary.json file. */
export function readSummary(file: string): Summary {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${describeFsError(err)})`;
    throw new SummaryError(`${file} ${why}. Give the summary.json of a run directory (written by \`b2m compare\` or \`b2m run\`).`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new SummaryError(`${file} is not valid JSON (${(err as Error).message}). It is written by \`b2m compare\` or \`b2m run\`; rerun that stage to regenerate it.`);
  }
  return parseSummary(data, file);
}

/** Validates and writes a summary atomically (temporary file, then rename). */
export function writeSummary(file: string, summary: Summary): void {
  const checked = parseSummary(summary, file);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, `${JSON.stringify(checked, null, 2)}\n`);
    renameSync(temporary, file);
  } catch (err) {
    if (existsSync(temporary)) rmSync(temporary);
    throw new SummaryError(`${file} cannot be written (${describeFsError(err)}). Check that the run directory exists and is writable.`);
  }
}

/** A few lines a person reads in a terminal: per experiment, each strategy's primary metric with its CI and p-value. */
export function describeSummary(summary: Summary): string {
  const lines = [`b2m summary (schema ${summary.schemaVersion}), created ${summary.createdAt} by b2m ${summary.b2mVersion}, config ${summary.configHash}`];
  for (const [name, experiment] of Object.entries(summary.experiments)) {
    const primary = experiment.primaryMetric;
    const direction = primary.higherIsBetter ? 'higher is better' : 'lower is better';
    lines.push('', `${name} (${experiment.task}): ${primary.name}, ${direction}${primary.target !== undefined ? `, target ${primary.target}` : ''}`);
    const width = Math.max(...Object.keys(experiment.strategies).map((s) => s.length));
    for (const [strategy, result] of Object.entries(experiment.strategies)) {
      const metric = result.metrics[primary.name];
      const value = metric ? `${formatNumber(metric.mean)} [${metric.ci95 ? metric.ci95.map(formatNumber).join(', ') : '—'}]` : 'no value';
      const test = metric?.vsIsolated;
      const nulls = Object.entries(metric?.vsNullControls ?? {}).map(([control, t]) => `; Δ ${formatSigned(t.meanDiff)} vs ${control}, ${pPhrase(t.pTTest)} (t)`).join('');
      const versus = test ? `  Δ ${formatSigned(test.meanDiff)} vs isolated, ${pPhrase(test.pTTest)} (t), ${pPhrase(test.pWilcoxon)} (Wilcoxon)${nulls}` : '';
      lines.push(`  ${strategy.padEnd(width)}  ${value}  (${result.seeds.length} seeds)${versus}`);
    }
  }
  return lines.join('\n');
}

/** Three significant digits, whole numbers above 1000, an em dash for missing values. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 1000) return Math.round(value).toString();
  if (value === 0) return '0';
  return Number(value.toPrecision(3)).toString();
}

/** A difference with its sign (+0.04, −1.2). */
export function formatSigned(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value > 0 ? `+${formatNumber(value)}` : value < 0 ? `−${formatNumber(-value)}` : '0';
}

/** "p = 0.012", "p < 0.001", or "p undefined". */
export function pPhrase(p: number | null | undefined): string {
  if (p === null || p === undefined) return 'p undefined';
  return p < 0.001 ? 'p < 0.001' : `p = ${formatP(p)}`;
}

/** A p-value to two significant digits, "< 0.001" below that, an em dash when undefined. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return '—';
  if (p < 0.001) return '< 0.001';
  return Number(p.toPrecision(2)).toString();
}
