/** @file `b2m config show|validate`: print the resolved experiment config, or check config files against the schema. */
import type { Argv, CommandModule } from 'yargs';
import { EXPERIMENTS, configHash, loadConfig, toYaml } from '../config.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';

interface ValidateOptions extends GlobalOptions {
  files: string[];
}

const show: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'show',
  describe: 'Print the resolved config (defaults filled, scale and --set applied)',
  builder: (argv) => argv
    .example('$0 config show', 'both built-in experiments, as YAML')
    .example('$0 config show --config driving --scale tiny', 'the driving experiment at its tiny scale')
    .example('$0 config show -c my.yaml --set train.steps=200 --json', 'a file with an override, as JSON'),
  handler: (args) => {
    const progress = progressFor(args);
    const names = args.config === undefined ? [...EXPERIMENTS] : [args.config];
    const configs = names.map((name) => loadConfig(name, args.set, { scale: args.scale }));
    progress.result(configs.map(toYaml).join('---\n'), { configs });
  },
};

const validate: CommandModule<GlobalOptions, ValidateOptions> = {
  command: 'validate <files..>',
  describe: 'Check config files against the schema; errors name the key path and the allowed values',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('files', { type: 'string', array: true, demandOption: true, describe: 'YAML or JSON config files' })
    .example('$0 config validate configs/driving.yaml', 'check a file')
    .example('$0 config validate my.yaml --scale full', 'check it with its full-scale preset applied') as unknown as Argv<ValidateOptions>,
  handler: (args) => {
    const progress = progressFor(args);
    const results = args.files.map((file) => {
      const config = loadConfig(file, args.set, { scale: args.scale });
      return { file, experiment: config.experiment, name: config.name, scale: config.scale, configHash: configHash(config) };
    });
    progress.result(
      results.map((r) => `${r.file}: valid ${r.experiment} config "${r.name}" (scale ${r.scale}, hash ${r.configHash})`).join('\n'),
      { valid: results },
    );
  },
};

/** The `config` stage. */
export const configCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'config',
  describe: 'Show the resolved experiment config, or validate config files',
  builder: (argv) => argv.command(show).command(validate).demandCommand(1, 'Name an action: `b2m config show` or `b2m config validate FILE`.'),
  handler: () => undefined,
};
