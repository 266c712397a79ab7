/** @file `b2m teacher DATASET`: add teacher tables (brain latents for the student, and the null controls' versions) to a dataset. */
import type { Argv, CommandModule } from 'yargs';
import { openDataset } from '../../datasets/index.js';
import { loadConfig } from '../config.js';
import { writeTeacherTables } from '../experiments/teacher-tables.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';
import { requireDataset } from './paths.js';

interface TeacherOptions extends GlobalOptions {
  dataset: string;
}

/** The `teacher` stage. */
export const teacherCommand: CommandModule<GlobalOptions, TeacherOptions> = {
  command: 'teacher <dataset>',
  describe: 'Extract teacher latents from a dataset\'s brain table (z-score, PCA, condition averages, alignment) into teacher tables',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('dataset', { type: 'string', demandOption: true, describe: 'Dataset directory with a brain table' })
    .example('$0 teacher data/md', 'teacher tables with the memory-decision defaults')
    .example('$0 teacher data/drive --config driving --set teacher.latents=4', 'four latents per EEG epoch')
    .example('$0 teacher data/md --set teacher.conditionAverage=true', 'average brain trials per task condition') as unknown as Argv<TeacherOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    requireDataset(args.dataset, 'teacher');
    const dataset = await openDataset(args.dataset);
    const kind = dataset.manifest.kind === 'driving' || (dataset.tables.scenes && !dataset.tables.trials) ? 'driving' : 'memory-decision';
    const config = loadConfig(args.config ?? kind, args.set, { scale: args.scale });
    progress.info(`Extracting ${config.teacher.latents} teacher latents per row from ${args.dataset}…`);
    const result = await writeTeacherTables(args.dataset, config);
    progress.result(
      [`Teacher tables added to ${args.dataset}:`, ...result.tables.map((t) => `  ${t.name}: ${t.rows} rows, latents [${t.shape.join(', ')}]`)].join('\n'),
      { dataset: args.dataset, tables: result.tables },
    );
  },
};
