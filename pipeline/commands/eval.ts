/** @file `b2m eval RUN`: held-out scores of a trained run, with student–brain similarity and (scenes) factor decodability. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { B2mError } from '../errors.js';
import { loadProbeData, probeStudent } from '../experiments/probe.js';
import { progressFor } from '../progress.js';
import { formatNumber } from '../summary.js';
import { FINAL_FILE, RUN_FILE, STUDENT_FILE } from '../train/index.js';
import type { GlobalOptions } from './global.js';
import { requireReadable } from './paths.js';

interface EvalOptions extends GlobalOptions {
  run: string;
}

/** The `eval` stage. */
export const evalCommand: CommandModule<GlobalOptions, EvalOptions> = {
  command: 'eval <run>',
  describe: 'Evaluate a trained run: held-out scores, CKA/RSA with the brain, scene-factor decodability',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('run', { type: 'string', demandOption: true, describe: 'Run directory written by `b2m train` (or a grid cell)' })
    .example('$0 eval runs/md-latent', 'scores of one run')
    .example('$0 eval runs/default/driving/both/seed-1 --json', 'as JSON') as unknown as Argv<EvalOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    requireReadable(args.run, 'a run directory written by `b2m train`');
    const runFile = path.join(args.run, RUN_FILE);
    if (!existsSync(runFile)) throw new B2mError(`${args.run} is not a run directory (it has no ${RUN_FILE}). Give a folder written by \`b2m train\` or a cell of \`b2m compare\`.`);
    const run = JSON.parse(readFileSync(runFile, 'utf8')) as { strategy: string; seed: number; dataset: string };
    const finalFile = path.join(args.run, FINAL_FILE);
    if (!existsSync(finalFile) || !existsSync(path.join(args.run, STUDENT_FILE))) {
      throw new B2mError(`${args.run} has not finished training (no ${FINAL_FILE} or ${STUDENT_FILE}); run the same \`b2m train\` command again to continue it, then evaluate.`);
    }
    const final = JSON.parse(readFileSync(finalFile, 'utf8')) as { steps: number; val: Record<string, number>; test: Record<string, number> };
    const probe = await probeStudent(path.join(args.run, STUDENT_FILE), await loadProbeData(run.dataset));
    const score = (s: Record<string, number>) => (s.accuracy !== undefined ? `accuracy ${formatNumber(s.accuracy)}` : `reconstruction MSE ${formatNumber(s.recon_mse)}`);
    const lines = [
      `${args.run}: ${run.strategy}, seed ${run.seed}, ${final.steps} steps`,
      `  validation ${score(final.val)}; test ${score(final.test)}`,
      ...(probe.cka !== undefined ? [`  student vs brain on held-out brain-paired items: linear CKA ${formatNumber(probe.cka)}, RSA ${formatNumber(probe.rsa)}`] : []),
      ...(probe.decodability !== undefined ? [`  scene-factor decodability from the latent mean (ridge, R² on test scenes): ${formatNumber(probe.decodability)} (${Object.entries(probe.decodabilityByFactor!).map(([f, v]) => `${f} ${formatNumber(v)}`).join(', ')})`] : []),
    ];
    progress.result(lines.join('\n'), { run: args.run, strategy: run.strategy, seed: run.seed, final, cka: probe.cka, rsa: probe.rsa, decodability: probe.decodability, decodabilityByFactor: probe.decodabilityByFactor });
  },
};
