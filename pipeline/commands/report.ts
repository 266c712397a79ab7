/** @file `b2m report RUN_DIR`: read the run's summary.json and write its self-contained report.html. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { progressFor } from '../progress.js';
import { REPORT_FILE, writeReport } from '../report/report.js';
import { SUMMARY_FILE, readSummary } from '../summary.js';
import type { GlobalOptions } from './global.js';

interface ReportOptions extends GlobalOptions {
  runDir: string;
  out: string | undefined;
}

/** The `report` stage. */
export const reportCommand: CommandModule<GlobalOptions, ReportOptions> = {
  command: 'report <run-dir>',
  describe: 'Write RUN_DIR/report.html from RUN_DIR/summary.json: one HTML file that opens offline',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('run-dir', { type: 'string', demandOption: true, describe: 'Run directory holding summary.json (written by `b2m compare` or `b2m run`)' })
    .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: `Report file to write (default RUN_DIR/${REPORT_FILE})` })
    .example('$0 report runs/default', 'write runs/default/report.html')
    .example('$0 report runs/default --out /tmp/b2m.html', 'write the report elsewhere') as unknown as Argv<ReportOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    const summary = readSummary(path.join(args.runDir, SUMMARY_FILE));
    progress.info(`Rendering the report of ${Object.keys(summary.experiments).join(', ')}…`);
    const file = await writeReport(args.runDir, summary, { file: args.out });
    progress.result(`Report written to ${file}`, { report: file });
  },
};
