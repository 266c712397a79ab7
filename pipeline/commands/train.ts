/** @file `b2m train --data DIR --strategy S --out RUN`: train one student on a dataset in a worker thread (Ctrl-C checkpoints). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { type Dataset, openDataset } from '../../datasets/index.js';
import { type ExperimentConfig, loadConfig, STRATEGIES, type Strategy } from '../config.js';
import { UsageError } from '../errors.js';
import { progressFor, type StageProgress } from '../progress.js';
import { TrainDataError, trainInWorker } from '../train/index.js';
import type { GlobalOptions } from './global.js';
import { requireDataset, requireWritableDir } from './paths.js';

interface TrainOptions extends GlobalOptions {
  data: string;
  strategy: Strategy;
  out: string;
  resume: boolean;
  taskTrials: number | undefined;
}

/** Checks before any output is written that the dataset's task tensors fit the configured student. */
function checkFits(dir: string, dataset: Dataset, config: ExperimentConfig): void {
  if (config.student.kind !== 'sceneVae') return;
  const shape = dataset.tables.scenes?.layout.tensors.image;
  if (!shape) throw new UsageError(`${dir} has no scenes table, which the scene VAE trains on; give a dataset from \`b2m simulate driving\` or \`b2m ingest images\`.`);
  const factor = 2 ** config.student.channels.length;
  const [height, width] = shape as [number, number];
  if (height % factor !== 0 || width % factor !== 0) {
    throw new TrainDataError(`${dir}: its scenes are ${height}×${width} pixels, but the scene VAE halves the image once per entry of student.channels (${config.student.channels.length} times: [${config.student.channels.join(', ')}]), so both sides must be multiples of ${factor}. Ingest the images again with \`--size\` a multiple of ${factor}, or change student.channels.`);
  }
}

/** The `train` stage. */
export const trainCommand: CommandModule<GlobalOptions, TrainOptions> = {
  command: 'train',
  describe: 'Train one student with one strategy on a dataset; writes metrics.csv, checkpoints, final.json and student.onnx',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .option('data', { alias: 'd', type: 'string', demandOption: true, requiresArg: true, describe: 'Dataset directory (with teacher tables for brain strategies: `b2m teacher`)' })
    .option('strategy', { alias: 's', type: 'string', choices: STRATEGIES, default: 'both' as Strategy, describe: 'Training strategy' })
    .option('out', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'Run directory' })
    .option('resume', { type: 'boolean', default: true, describe: 'Continue from the newest checkpoint in the run directory (--no-resume starts over)' })
    .option('task-trials', { type: 'number', requiresArg: true, describe: 'Train on only the first N training trials (a task budget)' })
    .example('$0 train --data data/md --strategy latent --out runs/md-latent', 'Brain Latent Transfer on a simulated dataset')
    .example('$0 train -c driving --data data/drive -s isolated -o runs/vae --set train.steps=200', 'the VAE alone, 200 steps') as unknown as Argv<TrainOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    requireDataset(args.data, 'train');
    requireWritableDir(args.out, '--out');
    if (args.taskTrials !== undefined && (!Number.isInteger(args.taskTrials) || args.taskTrials < 1)) throw new UsageError(`--task-trials is ${args.taskTrials}; give a whole number of trials, at least 1.`);
    const dataset = await openDataset(args.data);
    const kind = dataset.tables.trials ? 'memory-decision' : 'driving';
    const config = loadConfig(args.config ?? kind, args.set, { scale: args.scale });
    if ((config.experiment === 'memory-decision') !== Boolean(dataset.tables.trials)) {
      throw new UsageError(`${args.data} is a ${kind} dataset but the config is for ${config.experiment}; give --config ${kind} (or a config of that experiment).`);
    }
    checkFits(args.data, dataset, config);
    let bar: StageProgress | undefined;
    const result = await trainInWorker(
      { config, dataset: path.resolve(args.data), strategy: args.strategy, runDir: path.resolve(args.out), resume: args.resume, ...(args.taskTrials ? { taskTrials: args.taskTrials } : {}) },
      (event) => {
        bar ??= progress.stage(`train ${args.strategy}`, event.total);
        const score = event.values.accuracy ?? event.values.recon_mse;
        bar.update(event.step, event.split === 'train' ? { loss: event.values.loss ?? Number.NaN } : score !== undefined ? { [event.values.accuracy !== undefined ? 'val acc' : 'val mse']: score } : {});
      },
    );
    bar?.done();
    progress.close();
    if (result.stopped) {
      progress.result(`Stopped at step ${result.steps}; checkpoint saved in ${args.out}. Run the same command again to continue.`, { runDir: args.out, stopped: true, steps: result.steps });
      return;
    }
    const fmt = (scores: Record<string, number>) => Object.entries(scores).filter(([k]) => !k.startsWith('metric.')).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(', ');
    progress.result(
      [`Trained ${args.strategy} for ${result.steps} steps (${result.stepsPerSecond.toFixed(1)} steps/s${result.resumedFrom > 0 ? `, resumed from step ${result.resumedFrom}` : ''}) into ${args.out}.`,
        `  val:  ${fmt(result.final!.val)}`, `  test: ${fmt(result.final!.test)}`,
        existsSync(path.join(args.out, 'student.onnx')) ? `  student: ${path.join(args.out, 'student.onnx')}` : ''].filter(Boolean).join('\n'),
      { runDir: args.out, steps: result.steps, stepsPerSecond: result.stepsPerSecond, final: result.final },
    );
  },
};
