/** @file `b2m compare --emit slurm DIR`: a Slurm job-array script with one array task per grid cell, each running `b2m cell` into its own run directory. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package.js';
import type { Grid } from './grid.js';

/** Where the script is written inside a comparison directory. */
export const SLURM_SCRIPT = path.join('slurm', 'b2m-array.sh');

/** Options of the generated script. */
export interface SlurmOptions {
  /** CPUs per array task (each cell's trainer uses them as intra-op threads; default 2). */
  cpusPerTask?: number;
  /** Wall-clock limit per task, Slurm's `HH:MM:SS` (default 02:00:00). */
  time?: string;
  /** Memory per task (default 4G). */
  mem?: string;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The script's text for a grid in `dir`. */
export function slurmScript(dir: string, grid: Grid, options: SlurmOptions = {}): string {
  const root = path.resolve(dir);
  const cpus = options.cpusPerTask ?? 2;
  const b2m = `node ${quote(path.join(packageRoot, 'bin', 'b2m.js'))}`;
  const experiments = grid.experiments.map((e) => `${e.name} (${e.config.compare.strategies.length} strategies × ${e.config.compare.seeds} seeds)`).join(', ');
  return [
    '#!/bin/bash',
    `# b2m grid of ${grid.cells.length} cells: ${experiments}.`,
    '# Submit with: sbatch slurm/b2m-array.sh (from the comparison directory). Each array task trains one cell into',
    '# its own run directory; a cell that already finished is skipped, one that stopped resumes from its checkpoint.',
    `# When every task has finished: ${b2m} compare --merge ${quote(root)}  (writes summary.json and report.html)`,
    '#SBATCH --job-name=b2m-grid',
    `#SBATCH --array=0-${grid.cells.length - 1}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --mem=${options.mem ?? '4G'}`,
    `#SBATCH --time=${options.time ?? '02:00:00'}`,
    `#SBATCH --output=${path.join(root, 'slurm', 'cell-%a.log')}`,
    'set -euo pipefail',
    `cd ${quote(root)}`,
    `${b2m} cell --index "$SLURM_ARRAY_TASK_ID" --threads ${cpus} --quiet ${quote(root)}`,
    '',
  ].join('\n');
}

/** Writes DIR/slurm/b2m-array.sh (atomically, executable) and returns its path. */
export function writeSlurmScript(dir: string, grid: Grid, options: SlurmOptions = {}): string {
  const file = path.join(dir, SLURM_SCRIPT);
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, slurmScript(dir, grid, options), { mode: 0o755 });
  renameSync(temporary, file);
  return file;
}
