/** @file The `b2m` command line: the list of stages, the global options, and how errors reach the person. */
import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { cellCommand } from './commands/cell.js';
import { compareCommand } from './commands/compare.js';
import { compileCommand } from './commands/compile.js';
import { configCommand } from './commands/config.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { GLOBAL_VALUE_OPTIONS, type GlobalOptions, withGlobalOptions } from './commands/global.js';
import { ingestCommand } from './commands/ingest.js';
import { inspectCommand } from './commands/inspect.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { simulateCommand } from './commands/simulate.js';
import { teacherCommand } from './commands/teacher.js';
import { trainCommand } from './commands/train.js';
import { UsageError, isUserError } from './errors.js';
import { b2mVersion } from './package.js';
import { nearest } from './validation.js';

/** Erases a stage's own option type so stages with different options fit in one list. */
function stage<U>(module: CommandModule<GlobalOptions, U>): CommandModule<GlobalOptions, never> {
  return module as unknown as CommandModule<GlobalOptions, never>;
}

/** The stages, each a yargs command module in `pipeline/commands/<stage>.ts`; `b2m --help` lists them in this order. */
export const STAGES: readonly CommandModule<GlobalOptions, never>[] = [
  stage(simulateCommand),
  stage(ingestCommand),
  stage(teacherCommand),
  stage(compileCommand),
  stage(trainCommand),
  stage(evalCommand),
  stage(compareCommand),
  stage(cellCommand),
  stage(runCommand),
  stage(configCommand),
  stage(reportCommand),
  stage(inspectCommand),
  stage(exportCommand),
  stage(serveCommand),
];

const USAGE = `$0 <stage> [options]

Brain2Model Transfer Learning: train small networks with brain activity as the teacher.
Each stage reads and writes files you can inspect; \`$0 <stage> --help\` explains one.`;

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    checkStage(argv);
    let cli = withGlobalOptions(yargs(argv))
      .scriptName('b2m')
      .usage(USAGE)
      .locale('en')
      .updateStrings({ 'Commands:': 'Stages:' })
      .version(b2mVersion);
    for (const stage of STAGES) cli = cli.command(stage);
    await cli
      .demandCommand(1, 'Name a stage.')
      .strict()
      .strictCommands()
      .recommendCommands()
      .exitProcess(false)
      .fail((message, err) => {
        if (err) throw err;
        throw new UsageError(`${sentence(describeUnknown(message, argv))} Run \`b2m --help\` for the stages, or \`b2m <stage> --help\` for a stage's options.`);
      })
      .epilogue('Docs and the table formats: the README in the b2m repository.')
      .wrap(Math.min(110, process.stdout.columns ?? 100))
      .help()
      .parseAsync();
    return 0;
  } catch (thrown) {
    const err = (thrown as Error | undefined)?.name === 'YError' ? new UsageError(`${sentence((thrown as Error).message)} Run \`b2m --help\` for the options.`) : thrown;
    if (!isUserError(err)) throw err;
    const exitCode = typeof err.exitCode === 'number' ? err.exitCode : 1;
    if (json) process.stderr.write(`${JSON.stringify({ event: 'error', error: err.name, exitCode, message: err.message })}\n`);
    else process.stderr.write(`b2m: ${err.message}\n`);
    return exitCode;
  }
}

/** Rewrites yargs' "Unknown arguments: no-x, noX" as the tokens the person typed (`Unknown option --no-x`), and names stray words. */
function describeUnknown(message: string, argv: readonly string[]): string {
  const command = /^Unknown command: (.*)$/.exec(message);
  if (command) return `Unexpected argument "${command[1]}"`;
  const match = /^Unknown arguments?: (.*)$/.exec(message);
  if (!match) return message;
  const names = (match[1] as string).split(', ');
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const typed = names.filter((name) => !names.some((other) => other !== name && camel(other) === name)).map((name) => {
    const token = argv.find((t) => t.replace(/=.*$/, '').replace(/^-+(no-)?/, '') === name && t.startsWith('-'));
    return token ? { text: token.replace(/=.*$/, ''), option: true } : { text: `"${name}"`, option: false };
  });
  const options = typed.filter((t) => t.option).map((t) => t.text);
  const extra = typed.filter((t) => !t.option).map((t) => t.text);
  const parts = [];
  if (options.length > 0) parts.push(`Unknown option${options.length > 1 ? 's' : ''} ${options.join(', ')}`);
  if (extra.length > 0) parts.push(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  const text = parts.join('; ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function sentence(text: string): string {
  return /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
}

/** Rejects an unknown stage before yargs, so the message names the stages and the closest one. */
function checkStage(argv: readonly string[]): void {
  const names = STAGES.map((s) => String(s.command).split(' ')[0] as string);
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') return;
    if (token.startsWith('-')) {
      if (GLOBAL_VALUE_OPTIONS.includes(token)) i++;
      continue;
    }
    if (names.includes(token)) return;
    const guess = nearest(token, names);
    throw new UsageError(`Unknown stage "${token}"${guess ? `; did you mean \`${guess}\`?` : '.'} The stages are: ${names.join(', ')}. Run \`b2m --help\` for what each does.`);
  }
}
