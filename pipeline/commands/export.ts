/** @file `b2m export RUN --out DIR`: a trained student as standard ONNX inference models with its model card. */
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { EXPORT_FILES, exportRun } from '../export.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';

interface ExportCommandOptions extends GlobalOptions {
  run: string;
  out: string | undefined;
  opset: number;
  irVersion: number | undefined;
}

/** The `export` stage. */
export const exportCommand: CommandModule<GlobalOptions, ExportCommandOptions> = {
  command: 'export <run>',
  describe: `Export a run's trained student as ONNX inference models (${EXPORT_FILES.student}; for the scene VAE also ${EXPORT_FILES.encoder} and ${EXPORT_FILES.decoder}) with ${EXPORT_FILES.cardMarkdown}`,
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('run', { type: 'string', demandOption: true, describe: 'Run folder written by `b2m train` (or a cell folder of `b2m compare`)' })
    .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'Folder to write the models and the model card into (default RUN/export)' })
    .option('opset', { type: 'number', default: 17, requiresArg: true, describe: 'ONNX default-domain opset, 17 to 26 (17 loads in the most runtimes)' })
    .option('ir-version', { type: 'number', requiresArg: true, describe: 'ONNX IR version (default: the one of the opset\'s release, 8 for opset 17)' })
    .example('$0 export runs/driving/both/seed-0 --out students/vae', 'student.onnx, encoder.onnx, decoder.onnx and the model card')
    .example('$0 export runs/md --opset 21', 'the decision RNN at a newer opset') as unknown as Argv<ExportCommandOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    const out = args.out ?? path.join(args.run, 'export');
    progress.info(`Exporting the newest checkpoint of ${args.run}…`);
    const result = await exportRun(args.run, out, { opset: args.opset, irVersion: args.irVersion });
    const models = result.card.models.map((m) => `${m.file} (${m.inputs.map((i) => i.name).join(', ')} → ${m.outputs.map((o) => o.name).join(', ')})`);
    progress.result(
      `Exported step ${result.card.training.step} of ${result.card.name} to ${result.dir}: ${models.join('; ')}; model card ${EXPORT_FILES.cardMarkdown}.`,
      { dir: result.dir, files: result.files, card: result.card },
    );
  },
};
