/**
 * @file `experiment_minutes`: wall-clock minutes of the default grid, measured by running it: `b2m run` (both
 * simulated experiments, every strategy and seed, export, summary, report) into a fresh temporary directory with
 * the default two jobs. `--quick` runs the tiny scale instead. Runnable alone: `npx tsx tools/bench/experiment.ts`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../pipeline/cli.js';

export interface ExperimentBench {
  scale: string;
  minutes: number;
  /** CPU minutes of this process (all threads): what the grid costs whatever the machine's load. */
  cpuMinutes: number;
  cells: number;
}

export async function benchExperiment(options: { quick?: boolean } = {}): Promise<ExperimentBench> {
  const scale = options.quick ? 'tiny' : 'default';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'b2m-bench-run-'));
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const code = await main(['run', '--out', path.join(dir, 'run'), '--scale', scale, '--quiet']);
    if (code !== 0) throw new Error(`b2m run --scale ${scale} exited with ${code}`);
    const minutes = (performance.now() - started) / 60_000;
    const used = process.cpuUsage(cpu);
    const grid = JSON.parse(readFileSync(path.join(dir, 'run', 'grid.json'), 'utf8')) as { cells: unknown[] };
    return { scale, minutes, cpuMinutes: (used.user + used.system) / 60e6, cells: grid.cells.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchExperiment({ quick: process.argv.includes('--quick') });
  console.log(`experiment_minutes ${r.minutes.toFixed(2)} (b2m run --scale ${r.scale}, ${r.cells} cells; ${r.cpuMinutes.toFixed(2)} CPU minutes)`);
  console.log(JSON.stringify({ bench: 'experiment_minutes', value: r.minutes, unit: 'min', scale: r.scale, cells: r.cells, cpu_minutes: r.cpuMinutes }));
}
