/** @file The `b2m` command line: yargs stages over the pipeline. */
import yargs from 'yargs';
import { B2mError } from './errors.js';

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await yargs(argv)
      .scriptName('b2m')
      .usage('$0 <stage> [options]\n\nBrain2Model Transfer Learning: train small networks with brain activity as the teacher.')
      .demandCommand(1, 'Name a stage; `b2m --help` lists them.')
      .strict()
      .strictCommands()
      .check((args) => {
        const stage = args._[0];
        if (stage !== undefined) throw new B2mError(`Unknown stage "${stage}". Run \`b2m --help\` for the stages.`, 2);
        return true;
      })
      .fail((msg, err) => {
        if (err) throw err;
        throw new B2mError(`${msg}\nRun \`b2m --help\` for the stages and their options.`, 2);
      })
      .help()
      .parseAsync();
    return 0;
  } catch (err) {
    if (err instanceof B2mError) {
      process.stderr.write(`b2m: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
