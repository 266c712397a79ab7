/** @file `b2m cell --index I DIR`: train one cell of a planned grid into its run directory (what each Slurm array task runs). */
import type { Argv, CommandModule } from 'yargs';
import { cellAt, cellFinished, readGrid } from '../experiments/grid.js';
import { runCells } from '../experiments/run-cells.js';
import { UsageError } from '../errors.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';

interface CellOptions extends GlobalOptions {
  dir: string;
  index: number;
  threads: number;
}

/** The `cell` stage. */
export const cellCommand: CommandModule<GlobalOptions, CellOptions> = {
  command: 'cell <dir>',
  describe: 'Train one cell of a grid planned by `b2m compare` (or `--emit slurm`); finished cells are skipped, stopped ones resume',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('dir', { type: 'string', demandOption: true, describe: 'Comparison directory holding grid.json' })
    .option('index', { alias: 'i', type: 'number', demandOption: true, requiresArg: true, describe: 'Cell index, 0 to cells − 1 (Slurm: $SLURM_ARRAY_TASK_ID)' })
    .option('threads', { type: 'number', default: 1, describe: 'Intra-op threads of the trainer' })
    .example('$0 cell --index 0 runs/cluster', 'train the first cell here')
    .example('$0 cell --index "$SLURM_ARRAY_TASK_ID" --threads 4 runs/cluster', 'inside a Slurm array task') as unknown as Argv<CellOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    if (!Number.isInteger(args.threads) || args.threads < 1) throw new UsageError(`--threads is ${args.threads}; give a whole number of at least 1.`);
    const grid = readGrid(args.dir);
    const { cell } = cellAt(grid, args.index, args.dir);
    const done = cellFinished(args.dir, cell);
    const result = await runCells(args.dir, grid, { jobs: 1, threads: args.threads, progress }, [cell.index]);
    progress.close();
    const state = done ? 'already finished' : result.stopped ? 'stopped (checkpointed; run again to continue)' : 'finished';
    progress.result(`Cell ${cell.index} (${cell.dir}): ${state}.`, { index: cell.index, dir: cell.dir, finished: done || result.trained.includes(cell.index), stopped: result.stopped });
  },
};
