/** @file `b2m run --out DIR`: both simulated experiments end to end (data, teacher, grid, best students exported, summary, report); rerun continues. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { runComparison } from '../experiments/compare.js';
import { exportRun } from '../export.js';
import { progressFor } from '../progress.js';
import type { Summary } from '../summary.js';
import { comparisonConfigs, jobsOption, reportComparison } from './compare.js';
import type { GlobalOptions } from './global.js';
import { requireWritableDir } from './paths.js';

interface RunOptions extends GlobalOptions {
  out: string;
  jobs: number;
}

/** The best brain-taught strategy of an experiment by its primary metric's mean (null controls excluded), and isolated. */
export function studentsToExport(summary: Summary, name: string): string[] {
  const experiment = summary.experiments[name]!;
  const primary = experiment.primaryMetric;
  const sign = primary.higherIsBetter ? 1 : -1;
  let best: string | undefined;
  let bestValue = -Infinity;
  for (const [strategy, result] of Object.entries(experiment.strategies)) {
    if (strategy === 'isolated' || strategy.endsWith('-brain')) continue;
    const mean = result.metrics[primary.name]?.mean;
    if (mean !== null && mean !== undefined && sign * mean > bestValue) {
      best = strategy;
      bestValue = sign * mean;
    }
  }
  return [...(best ? [best] : []), ...(experiment.strategies.isolated ? ['isolated'] : [])];
}

/** The `run` stage. */
export const runCommand: CommandModule<GlobalOptions, RunOptions> = {
  command: 'run',
  describe: 'Run everything end to end for both simulated experiments: simulate, teacher, compare all strategies, export students, report',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .option('out', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'Output directory; run again with the same one to continue' })
    .option('jobs', { alias: 'j', type: 'number', default: 2, describe: 'Cells trained at once (each with one intra-op thread)' })
    .example('$0 run --out runs/default', 'both experiments at the default scale (about 10 minutes on 2 cores)')
    .example('$0 run --out /tmp/smoke --scale tiny', 'a smoke run in about a minute')
    .example('$0 run --out runs/paper --scale full --jobs 8', 'the paper-scale grid on a bigger machine') as unknown as Argv<RunOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    requireWritableDir(args.out, '--out');
    const configs = comparisonConfigs(args);
    const started = performance.now();
    const outcome = await runComparison(args.out, configs, { jobs: jobsOption(args.jobs), progress });
    if (outcome.merged) {
      for (const experiment of outcome.grid.experiments) {
        const seed = experiment.config.seed;
        for (const strategy of studentsToExport(outcome.merged.summary, experiment.name)) {
          const target = path.join(args.out, 'students', `${experiment.name}-${strategy}`);
          if (existsSync(target)) continue;
          progress.info(`Exporting the ${strategy} student of ${experiment.name} (seed ${seed})…`);
          await exportRun(path.join(args.out, experiment.name, strategy, `seed-${seed}`), target);
        }
      }
    }
    progress.close();
    reportComparison(progress, args.out, outcome);
    progress.info(`b2m run took ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  },
};
