/** @file The options every stage accepts (`--quiet`, `--json`, `--config`, `--set`, `--scale`) and their type. */
import type { Argv } from 'yargs';

/** Parsed global options, as every stage's handler receives them. */
export interface GlobalOptions {
  quiet: boolean;
  json: boolean;
  config: string | undefined;
  set: string[];
  scale: string | undefined;
}

/** Option names that take a value, so the CLI can find the stage among the arguments. */
export const GLOBAL_VALUE_OPTIONS: readonly string[] = ['--config', '-c', '--set', '--scale'];

/** Adds the global options to a yargs instance. */
export function withGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalOptions> {
  return argv
    .option('quiet', { alias: 'q', type: 'boolean', default: false, global: true, describe: 'Print no progress or messages; results and errors still print' })
    .option('json', { type: 'boolean', default: false, global: true, describe: 'Print JSON lines (progress, results, errors) for machines' })
    .option('config', { alias: 'c', type: 'string', global: true, requiresArg: true, describe: 'Experiment config: a YAML/JSON file or a built-in name (memory-decision, driving)' })
    .option('set', {
      type: 'string',
      global: true,
      requiresArg: true,
      describe: 'Override a config key, KEY=VALUE with a dotted key (repeatable); prefix an experiment name to limit it to that experiment',
      coerce: (value: string | string[] | undefined) => (value === undefined ? [] : ([] as string[]).concat(value)),
    })
    .option('scale', { type: 'string', global: true, requiresArg: true, describe: 'Scale preset from the config: tiny, default or full' })
    .group(['config', 'set', 'scale', 'quiet', 'json', 'help', 'version'], 'Global options:') as unknown as Argv<T & GlobalOptions>;
}
