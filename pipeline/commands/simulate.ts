/** @file `b2m simulate memory-decision|driving --out DIR`: a simulated experiment's dataset directory from its config. */
import type { Argv, CommandModule } from 'yargs';
import { EXPERIMENTS, type ExperimentKind, loadConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { simulateDataset } from '../experiments/datasets.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';
import { requireWritableDir } from './paths.js';

interface SimulateOptions extends GlobalOptions {
  experiment: ExperimentKind;
  out: string;
  overwrite: boolean;
}

/** The `simulate` stage. */
export const simulateCommand: CommandModule<GlobalOptions, SimulateOptions> = {
  command: 'simulate <experiment>',
  describe: 'Simulate an experiment (task trials, brain recordings) into a dataset directory of Arrow tables',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('experiment', { type: 'string', choices: EXPERIMENTS, demandOption: true, describe: 'Which simulated experiment' })
    .option('out', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'Dataset directory to write (must not exist unless --overwrite)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing dataset directory once the new one is complete' })
    .example('$0 simulate memory-decision --out data/md', 'the default memory-decision dataset')
    .example('$0 simulate driving --out data/drive --scale tiny', 'a small driving dataset (seconds)')
    .example('$0 simulate memory-decision --out data/noisy --set data.simulator.noise=3', 'noisier simulated neurons') as unknown as Argv<SimulateOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    requireWritableDir(args.out, '--out');
    const config = loadConfig(args.config ?? args.experiment, args.set, { scale: args.scale });
    if (config.experiment !== args.experiment) {
      throw new UsageError(`--config describes the ${config.experiment} experiment, not ${args.experiment}; give a ${args.experiment} config or simulate ${config.experiment}.`);
    }
    progress.info(`Simulating ${config.experiment} (seed ${config.seed}, scale ${config.scale})…`);
    const started = performance.now();
    const dataset = await simulateDataset(config, args.out, { overwrite: args.overwrite });
    const tables = Object.values(dataset.tables).map((t) => ({ name: t.name, kind: t.kind, rows: t.rows, shapes: t.layout.tensors }));
    const seconds = (performance.now() - started) / 1000;
    progress.result(
      [`Dataset written to ${dataset.dir} in ${seconds.toFixed(1)} s:`, ...tables.map((t) => `  ${t.name} (${t.kind}): ${t.rows} rows${Object.entries(t.shapes).map(([c, s]) => `, ${c} [${s.join(', ')}]`).join('')}`)].join('\n'),
      { dataset: dataset.dir, experiment: config.experiment, tables, seconds },
    );
  },
};
