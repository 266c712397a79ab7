/**
 * @file A comparison directory from start to finish: each experiment's dataset (simulated or given) with its
 * teacher tables, the planned grid, the cells run locally, and the merge into summary.json and report.html.
 * Every step skips what is already there, so running again continues where a run stopped.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openDataset } from '../../datasets/index.js';
import type { ExperimentConfig } from '../config.js';
import type { Progress } from '../progress.js';
import { REPORT_FILE, writeReport } from '../report/report.js';
import { SUMMARY_FILE, type Summary, writeSummary } from '../summary.js';
import { simulateDataset } from './datasets.js';
import { type Grid, planGrid, readGrid, writeGrid } from './grid.js';
import { runCells, type RunCellsResult } from './run-cells.js';
import { summarizeGrid } from './summarize.js';
import { teacherRecord, teacherTablesNeeded, writeTeacherTables } from './teacher-tables.js';

/** The dataset folder of an experiment inside a comparison directory (simulated data), or the config's own dataset. */
export function datasetDirOf(dir: string, config: ExperimentConfig): string {
  return config.data.source === 'dataset' ? config.data.dataset! : path.join(dir, config.name, 'data');
}

/** Simulates the dataset if it is not there yet, and builds the teacher tables the strategies need if they are missing or stale. */
export async function prepareData(dir: string, config: ExperimentConfig, progress: Progress): Promise<string> {
  const data = datasetDirOf(dir, config);
  if (!existsSync(path.join(data, 'manifest.json'))) {
    progress.info(`${config.name}: simulating the dataset (seed ${config.seed})…`);
    await simulateDataset(config, data);
  }
  const dataset = await openDataset(data);
  const wanted = teacherRecord(config);
  const recorded = dataset.manifest.extra?.teacher as Record<string, unknown> | undefined;
  const stale = !recorded || Object.entries(wanted).some(([k, v]) => recorded[k] !== v);
  if (teacherTablesNeeded(config.compare.strategies).some((t) => !dataset.tables[t]) || stale) {
    progress.info(`${config.name}: extracting teacher tables (${config.teacher.latents} latents)…`);
    await writeTeacherTables(data, config);
  }
  return data;
}

/** Prepares every experiment's data and plans (or re-reads) the grid of a comparison directory. */
export async function prepareComparison(dir: string, configs: readonly ExperimentConfig[], progress: Progress): Promise<Grid> {
  const datasets: string[] = [];
  for (const config of configs) {
    const data = await prepareData(dir, config, progress);
    datasets.push(path.isAbsolute(config.data.dataset ?? '') ? data : path.relative(dir, data));
  }
  writeGrid(dir, planGrid(configs, datasets));
  return readGrid(dir);
}

/** Summarizes the grid's cells into DIR/summary.json and renders DIR/report.html. */
export async function mergeComparison(dir: string, grid: Grid, durations: Record<string, number> = {}): Promise<{ summary: Summary; summaryFile: string; report: string }> {
  const summary = await summarizeGrid(dir, grid, durations);
  const summaryFile = path.join(dir, SUMMARY_FILE);
  writeSummary(summaryFile, summary);
  const report = await writeReport(dir, summary, { file: path.join(dir, REPORT_FILE) });
  return { summary, summaryFile, report };
}

/** Runs a whole comparison locally: data, grid, cells (`jobs` at a time), then summary and report unless interrupted. */
export async function runComparison(dir: string, configs: readonly ExperimentConfig[], options: { jobs?: number; progress: Progress }): Promise<{ grid: Grid; cells: RunCellsResult; merged?: Awaited<ReturnType<typeof mergeComparison>> }> {
  const grid = await prepareComparison(dir, configs, options.progress);
  const cells = await runCells(dir, grid, { jobs: options.jobs, progress: options.progress });
  if (cells.stopped) return { grid, cells };
  const merged = await mergeComparison(dir, grid, cells.durations);
  return { grid, cells, merged };
}
