/** @file `b2m inspect FILE`: summarize a file b2m wrote; one inspector per kind of file, tried in order. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { B2mError } from '../errors.js';
import { progressFor } from '../progress.js';
import { SUMMARY_FILE, describeSummary, readSummary } from '../summary.js';
import type { GlobalOptions } from './global.js';

/** Summarizes one kind of file (a summary, a table, a dataset, a graph). */
export interface Inspector {
  /** What it reads, for help and errors: "a run's summary.json". */
  readonly kind: string;
  /** True when `file` (an existing path) is of this kind. */
  accepts(file: string): boolean;
  /** Text for people and data for `--json`. */
  inspect(file: string): { text: string; data: Record<string, unknown> };
}

/** A run's summary.json, or a run directory holding one. */
export const summaryInspector: Inspector = {
  kind: "a run's summary.json (or its run directory)",
  accepts: (file) => {
    const target = summaryFile(file);
    if (path.basename(target) === SUMMARY_FILE) return true;
    if (!target.endsWith('.json') || !existsSync(target)) return false;
    const text = readFileSync(target, 'utf8');
    return text.includes('"schemaVersion"') && text.includes('"experiments"');
  },
  inspect: (file) => {
    const summary = readSummary(summaryFile(file));
    return { text: describeSummary(summary), data: { kind: 'summary', summary } };
  },
};

/** The inspectors `b2m inspect` tries, in order. */
export const INSPECTORS: readonly Inspector[] = [summaryInspector];

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
    .example('$0 inspect runs/default --json', 'the whole summary as one JSON line') as unknown as Argv<InspectOptions>,
  handler: (args) => {
    const progress = progressFor(args);
    if (!existsSync(args.file)) {
      throw new B2mError(`${args.file} does not exist. Give the path of a file b2m wrote: ${INSPECTORS.map((i) => i.kind).join('; ')}.`);
    }
    const inspector = INSPECTORS.find((i) => i.accepts(args.file));
    if (!inspector) {
      throw new B2mError(`b2m inspect does not recognize ${args.file}. It reads ${INSPECTORS.map((i) => i.kind).join('; ')}.`);
    }
    const { text, data } = inspector.inspect(args.file);
    progress.result(text, data);
  },
};

function summaryFile(file: string): string {
  return existsSync(file) && statSync(file).isDirectory() ? path.join(file, SUMMARY_FILE) : file;
}
