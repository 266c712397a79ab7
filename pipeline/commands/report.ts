/**
 * @file `b2m report RUN_DIR`: write the run's self-contained report.html. A comparison directory (one with grid.json,
 * as `b2m compare`, `b2m run` and Slurm arrays leave) is merged first: its finished cells become summary.json.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { progressFor } from '../progress.js';
import { REPORT_FILE, writeReport } from '../report/report.js';
import { GRID_FILE, readGrid } from '../experiments/grid.js';
import { summarizeGrid } from '../experiments/summarize.js';
import { SUMMARY_FILE, readSummary, type Summary, writeSummary } from '../summary.js';
import type { GlobalOptions } from './global.js';

interface ReportOptions extends GlobalOptions {
  runDir: string;
  out: string | undefined;
}

/** The `report` stage. */
export const reportCommand: CommandModule<GlobalOptions, ReportOptions> = {
  command: 'report <run-dir>',
  describe: 'Write RUN_DIR/report.html, one HTML file that opens offline; a comparison directory (with grid.json) has its finished cells merged into summary.json first',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('run-dir', { type: 'string', demandOption: true, describe: 'Run directory holding summary.json (written by `b2m compare` or `b2m run`)' })
    .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: `Report file to write (default RUN_DIR/${REPORT_FILE})` })
    .example('$0 report runs/default', 'write runs/default/report.html')
    .example('$0 report runs/cluster', 'merge the cells a Slurm array trained, then write summary.json and report.html')
    .example('$0 report runs/default --out /tmp/b2m.html', 'write the report elsewhere') as unknown as Argv<ReportOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    const summaryFile = path.join(args.runDir, SUMMARY_FILE);
    let summary: Summary;
    if (existsSync(path.join(args.runDir, GRID_FILE))) {
      const grid = readGrid(args.runDir);
      const durations = existsSync(summaryFile) ? readSummary(summaryFile).provenance.durations : {};
      progress.info(`Merging the finished cells of ${grid.cells.length} in ${args.runDir}…`);
      summary = await summarizeGrid(args.runDir, grid, durations);
      writeSummary(summaryFile, summary);
    } else {
      summary = readSummary(summaryFile);
    }
    progress.info(`Rendering the report of ${Object.keys(summary.experiments).join(', ')}…`);
    const file = await writeReport(args.runDir, summary, { file: args.out });
    progress.result(`Report written to ${file}`, { report: file });
  },
};
