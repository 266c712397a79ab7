/** @file `b2m compare`: the strategy × seed grid of one or both experiments, run locally, emitted as a Slurm array, or merged into a summary. */
import type { Argv, CommandModule } from 'yargs';
import { EXPERIMENTS, type ExperimentConfig, loadConfig } from '../config.js';
import { mergeComparison, prepareComparison, runComparison } from '../experiments/compare.js';
import { readGrid } from '../experiments/grid.js';
import { writeSlurmScript } from '../experiments/slurm.js';
import { UsageError } from '../errors.js';
import { type Progress, progressFor } from '../progress.js';
import { describeSummary } from '../summary.js';
import type { GlobalOptions } from './global.js';
import { requireWritableDir } from './paths.js';

interface CompareOptions extends GlobalOptions {
  dir: string | undefined;
  out: string | undefined;
  emit: 'slurm' | undefined;
  merge: boolean;
  jobs: number;
}

/** The configs a comparison runs: the `--config` one, or both built-in experiments. */
export function comparisonConfigs(args: GlobalOptions): ExperimentConfig[] {
  const names = args.config === undefined ? [...EXPERIMENTS] : [args.config];
  return names.map((name) => loadConfig(name, args.set, { scale: args.scale }));
}

/** Checks `--jobs`. */
export function jobsOption(jobs: number): number {
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs is ${jobs}; give how many cells train at once, a whole number of at least 1.`);
  return jobs;
}

/** Prints the outcome of a local comparison run. */
export function reportComparison(progress: Progress, dir: string, outcome: Awaited<ReturnType<typeof runComparison>>): void {
  const { cells, merged } = outcome;
  if (!merged) {
    progress.result(`Stopped: ${cells.trained.length} cells finished in this run, the running ones checkpointed. Run the same command again to continue.`, { dir, stopped: true, trained: cells.trained, skipped: cells.skipped });
    return;
  }
  progress.result(
    `${describeSummary(merged.summary)}\n\nTrained ${cells.trained.length} cells (${cells.skipped.length} were already done). Summary: ${merged.summaryFile}\nReport: ${merged.report}`,
    { dir, summary: merged.summaryFile, report: merged.report, trained: cells.trained, skipped: cells.skipped, stepsPerSecond: cells.stepsPerSecond },
  );
}

/** The `compare` stage. */
export const compareCommand: CommandModule<GlobalOptions, CompareOptions> = {
  command: 'compare [dir]',
  describe: 'Compare strategies (isolated, contrastive, latent, both, null controls) over paired seeds; summary.json and report.html',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('dir', { type: 'string', describe: 'Comparison directory (or give --out)' })
    .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'Comparison directory: DIR/<experiment>/<strategy>/seed-<n>/ per cell' })
    .option('emit', { type: 'string', choices: ['slurm'] as const, describe: 'Plan the grid and write DIR/slurm/b2m-array.sh (one array task per cell) instead of running it' })
    .option('merge', { type: 'boolean', default: false, describe: 'Summarize the finished cells of DIR into summary.json and report.html' })
    .option('jobs', { alias: 'j', type: 'number', default: 2, describe: 'Cells trained at once (each with one intra-op thread)' })
    .example('$0 compare --config memory-decision --out runs/md', 'the memory-decision grid on this machine')
    .example('$0 compare --out runs/both --scale tiny', 'both experiments at the tiny scale')
    .example('$0 compare --emit slurm runs/cluster --scale full', 'a Slurm array script for the paper-scale grid')
    .example('$0 compare --merge runs/cluster', 'merge the cells after the array finished') as unknown as Argv<CompareOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    const dir = args.dir ?? args.out;
    if (!dir) throw new UsageError('b2m compare needs a comparison directory: give --out DIR (or DIR after the options).');
    if (args.merge) {
      const grid = readGrid(dir);
      const merged = await mergeComparison(dir, grid);
      progress.result(`${describeSummary(merged.summary)}\n\nSummary: ${merged.summaryFile}\nReport: ${merged.report}`, { dir, summary: merged.summaryFile, report: merged.report });
      return;
    }
    const configs = comparisonConfigs(args);
    const jobs = jobsOption(args.jobs);
    requireWritableDir(dir, 'the comparison directory');
    if (args.emit === 'slurm') {
      const grid = await prepareComparison(dir, configs, progress);
      const script = writeSlurmScript(dir, grid);
      progress.result(`Slurm array of ${grid.cells.length} cells written to ${script}. Submit it with \`sbatch ${script}\`; when it finishes, run \`b2m compare --merge ${dir}\`. Cells also run here one by one with \`b2m cell --index I ${dir}\`.`, { dir, script, cells: grid.cells.length });
      return;
    }
    reportComparison(progress, dir, await runComparison(dir, configs, { jobs, progress }));
    progress.close();
  },
};
