/** @file `b2m inspect FILE`: summarize a file b2m wrote; one inspector per kind of file, tried in order. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { B2mError } from '../errors.js';
import { progressFor } from '../progress.js';
import { SUMMARY_FILE, describeSummary, readSummary } from '../summary.js';
import { type Inspection, inspectDataset, inspectGraph, inspectRun, inspectTable, isDatasetDir, isRunDir } from '../experiments/inspectors.js';
import type { GlobalOptions } from './global.js';

/** Summarizes one kind of file (a summary, a table, a dataset, a graph). */
export interface Inspector {
  /** What it reads, for help and errors: "a run's summary.json". */
  readonly kind: string;
  /** True when `file` (an existing path) is of this kind. */
  accepts(file: string): boolean;
  /** Text for people and data for `--json`. */
  inspect(file: string): Inspection | Promise<Inspection>;
}

/** A run's summary.json, or a run directory holding one. */
export const summaryInspector: Inspector = {
  kind: "a run's summary.json (or its run directory)",
  accepts: (file) => {
    const target = summaryFile(file);
    if (path.basename(target) === SUMMARY_FILE) return existsSync(target) || !statSync(file).isDirectory();
    if (!target.endsWith('.json') || !existsSync(target)) return false;
    const text = readFileSync(target, 'utf8');
    return text.includes('"schemaVersion"') && text.includes('"experiments"');
  },
  inspect: (file) => {
    const summary = readSummary(summaryFile(file));
    return { text: describeSummary(summary), data: { kind: 'summary', summary } };
  },
};

/** An Arrow IPC table file. */
export const tableInspector: Inspector = {
  kind: 'an Arrow table (.arrow)',
  accepts: (file) => file.endsWith('.arrow') && statSync(file).isFile(),
  inspect: inspectTable,
};

/** A dataset directory (manifest.json and its tables). */
export const datasetInspector: Inspector = {
  kind: 'a dataset directory',
  accepts: (file) => isDatasetDir(file) || (path.basename(file) === 'manifest.json' && isDatasetDir(path.dirname(file))),
  inspect: (file) => inspectDataset(statSync(file).isDirectory() ? file : path.dirname(file)),
};

/** An ONNX model (training artifact or exported student). */
export const graphInspector: Inspector = {
  kind: 'an ONNX graph (.onnx)',
  accepts: (file) => file.endsWith('.onnx') && statSync(file).isFile(),
  inspect: inspectGraph,
};

/** A training run directory (run.json, metrics.csv, checkpoints). */
export const runInspector: Inspector = {
  kind: 'a training run directory',
  accepts: (file) => isRunDir(file) && !existsSync(path.join(file, SUMMARY_FILE)),
  inspect: inspectRun,
};

/** The inspectors `b2m inspect` tries, in order. */
export const INSPECTORS: readonly Inspector[] = [summaryInspector, tableInspector, datasetInspector, graphInspector, runInspector];

interface InspectOptions extends GlobalOptions {
  file: string;
}

/** The `inspect` stage. */
export const inspectCommand: CommandModule<GlobalOptions, InspectOptions> = {
  command: 'inspect <file>',
  describe: 'Summarize a file b2m wrote: ' + INSPECTORS.map((i) => i.kind).join('; '),
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('file', { type: 'string', demandOption: true, describe: 'The file or folder to summarize' })
    .example('$0 inspect runs/default/summary.json', 'each strategy\'s primary metric with its CI and p-value')
    .example('$0 inspect runs/default --json', 'the whole summary as one JSON line')
    .example('$0 inspect data/md', 'a dataset: its tables, rows, shapes and splits')
    .example('$0 inspect data/md/brain.arrow', 'a table: each column\'s type, shape and range')
    .example('$0 inspect runs/default/memory-decision/both/seed-1/student.onnx', 'a graph: inputs, outputs, node counts by op, parameters') as unknown as Argv<InspectOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    if (!existsSync(args.file)) {
      throw new B2mError(`${args.file} does not exist. Give the path of a file b2m wrote: ${INSPECTORS.map((i) => i.kind).join('; ')}.`);
    }
    const inspector = INSPECTORS.find((i) => i.accepts(args.file));
    if (!inspector) {
      throw new B2mError(`b2m inspect does not recognize ${args.file}. It reads ${INSPECTORS.map((i) => i.kind).join('; ')}.`);
    }
    const { text, data } = await inspector.inspect(args.file);
    progress.result(text, data);
  },
};

function summaryFile(file: string): string {
  return existsSync(file) && statSync(file).isDirectory() ? path.join(file, SUMMARY_FILE) : file;
}
