/** @file `b2m compile`: the ONNX training artifacts (train step, eval, inference) of a config's student and losses, per strategy, into the artifact cache. */
import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { openDataset } from '../../datasets/index.js';
import { cachedTraining } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import { type ExperimentConfig, loadConfig, STRATEGIES, type Strategy } from '../config.js';
import { progressFor } from '../progress.js';
import { b2mModelOptions, loadTeacher, optimizerOf, type TeacherData, teacherTableFor } from '../train/index.js';
import type { GlobalOptions } from './global.js';
import { requireDataset, requireWritableDir } from './paths.js';

interface CompileOptions extends GlobalOptions {
  strategy: Strategy | undefined;
  out: string | undefined;
  data: string | undefined;
}

/** The shared artifact cache: `$B2M_CACHE`, else ~/.cache/b2m/artifacts. */
export function defaultArtifactCache(): string {
  return process.env.B2M_CACHE ?? path.join(os.homedir(), '.cache', 'b2m', 'artifacts');
}

/** The task tensor's row shape and the teacher's size a config implies when no dataset is given (the simulators' layouts). */
function shapesFromConfig(config: ExperimentConfig): { xShape: number[]; teacher: Pick<TeacherData, 'times' | 'k'> } {
  if (config.experiment === 'memory-decision') {
    return { xShape: [config.data.simulator.timeBins, 4], teacher: { times: config.data.simulator.timeBins, k: config.teacher.latents } };
  }
  const size = config.data.simulator.imageSize;
  return { xShape: [size, size, 3], teacher: { times: 1, k: config.teacher.latents } };
}

/** The `compile` stage. */
export const compileCommand: CommandModule<GlobalOptions, CompileOptions> = {
  command: 'compile',
  describe: 'Compile the training artifacts (train-step, eval and inference ONNX graphs) of a student and its B2M losses',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .option('strategy', { alias: 's', type: 'string', choices: STRATEGIES, describe: 'One strategy (default: every strategy of the config\'s grid)' })
    .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'Artifact folder (default: the shared cache, $B2M_CACHE or ~/.cache/b2m/artifacts)' })
    .option('data', { alias: 'd', type: 'string', requiresArg: true, describe: 'Dataset whose task and teacher tables size the inputs (default: the config\'s simulator)' })
    .example('$0 compile --config memory-decision --strategy both', 'the GRU with both B2M terms')
    .example('$0 compile -c driving --out artifacts/', 'every strategy of the driving grid into a folder')
    .example('$0 compile -c memory-decision --data data/md', 'sized from a dataset\'s tables') as unknown as Argv<CompileOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    const config = loadConfig(args.config ?? 'memory-decision', args.set, { scale: args.scale });
    const out = args.out ?? defaultArtifactCache();
    requireWritableDir(out, args.out ? '--out' : 'the artifact cache');
    if (args.data) requireDataset(args.data, 'compile');
    const dataset = args.data ? await openDataset(args.data) : null;
    const strategies = args.strategy ? [args.strategy] : config.compare.strategies;
    const compiled = [];
    for (const strategy of strategies) {
      let xShape: number[];
      let teacher: Pick<TeacherData, 'times' | 'k'> | null;
      if (dataset) {
        const table = dataset.tables.trials ?? dataset.tables.scenes;
        xShape = table ? (table.layout.tensors.inputs ?? table.layout.tensors.image)! : shapesFromConfig(config).xShape;
        const name = teacherTableFor(strategy);
        teacher = name ? await loadTeacher(dataset, name) : null;
      } else {
        ({ xShape, teacher } = shapesFromConfig(config));
      }
      const model = b2mModelOptions(config, strategy, xShape, teacher as TeacherData | null);
      const spec = b2mTrainingSpec(model);
      const optimizer = optimizerOf(config);
      const started = performance.now();
      const { artifacts, hit } = await cachedTraining(out, spec, { ...spec.compile, optimizer, cacheKey: { ...(spec.compile.cacheKey as object), optimizer } });
      const parameters = [...artifacts.params.values()].reduce((a, p) => a + p.length, 0);
      compiled.push({ strategy, hash: artifacts.io.hash, dir: path.join(out, artifacts.io.hash), cached: hit, parameters, seconds: (performance.now() - started) / 1000 });
      progress.info(`${strategy}: ${hit ? 'already in the cache' : 'compiled'} (${parameters} parameters)`);
    }
    progress.result(
      [`Training artifacts of ${config.name} in ${out}:`, ...compiled.map((c) => `  ${c.strategy.padEnd(15)} ${c.dir}  ${c.parameters} parameters${c.cached ? ' (cached)' : `, ${c.seconds.toFixed(1)} s`}`)].join('\n'),
      { out, artifacts: compiled },
    );
  },
};
