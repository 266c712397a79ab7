/**
 * @file The experiment grid: cells = experiment × strategy × seed, each a run directory
 * `DIR/<experiment>/<strategy>/seed-<n>/`, planned once into `DIR/grid.json` (with each experiment's resolved
 * config and dataset) so that any process (a local job, a Slurm array task) can run cell i alone.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configHash, type ExperimentConfig, experimentConfigSchema, type Strategy } from '../config.js';
import { B2mError } from '../errors.js';
import { b2mVersion } from '../package.js';
import { FINAL_FILE } from '../train/index.js';

/** The grid file of a comparison directory. */
export const GRID_FILE = 'grid.json';

/** A grid directory is missing, unreadable, or does not fit the cell asked for. */
export class GridError extends B2mError {}

/** One experiment of a grid: its resolved config and its dataset directory (relative to the grid directory). */
export interface GridExperiment {
  name: string;
  config: ExperimentConfig;
  dataset: string;
}

/** One cell: which experiment, strategy and seed, and its run directory (relative to the grid directory). */
export interface Cell {
  index: number;
  experiment: string;
  strategy: Strategy;
  /** Seed of this cell: the experiment's base seed plus the seed's position, shared by every strategy (paired). */
  seed: number;
  dir: string;
}

/** A planned grid, as stored in grid.json. */
export interface Grid {
  version: 1;
  b2mVersion: string;
  experiments: GridExperiment[];
  cells: Cell[];
}

/** The cells of some experiments, in order: experiment, then seed, then strategy (so a partial run covers every strategy). */
export function planGrid(configs: readonly ExperimentConfig[], datasets: readonly string[]): Grid {
  const names = new Set<string>();
  const experiments = configs.map((config, i) => {
    if (names.has(config.name)) throw new GridError(`two experiments are both named "${config.name}"; give each config its own \`name\`.`);
    names.add(config.name);
    return { name: config.name, config, dataset: datasets[i]! };
  });
  const cells: Cell[] = [];
  for (const { name, config } of experiments) {
    for (let s = 0; s < config.compare.seeds; s++) {
      for (const strategy of config.compare.strategies) {
        const seed = config.seed + s;
        cells.push({ index: cells.length, experiment: name, strategy, seed, dir: path.join(name, strategy, `seed-${seed}`) });
      }
    }
  }
  return { version: 1, b2mVersion, experiments, cells };
}

/** Writes grid.json atomically; an existing grid must plan the same cells (same configs), else the error says what to do. */
export function writeGrid(dir: string, grid: Grid): void {
  const file = path.join(dir, GRID_FILE);
  if (existsSync(file)) {
    const old = readGrid(dir);
    const hashes = (g: Grid) => g.experiments.map((e) => `${e.name}:${configHash(e.config)}`).join(',');
    if (hashes(old) !== hashes(grid)) {
      throw new GridError(`${dir} already holds a grid planned from other configs (${hashes(old)}; now ${hashes(grid)}). Continue it with the same --config, --scale and --set, or choose a new --out directory.`);
    }
    return;
  }
  mkdirSync(dir, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(grid, null, 1)}\n`);
  renameSync(temporary, file);
}

/** Reads grid.json of a comparison directory, validating each experiment's config. */
export function readGrid(dir: string): Grid {
  const file = path.join(dir, GRID_FILE);
  let grid: Grid;
  try {
    grid = JSON.parse(readFileSync(file, 'utf8')) as Grid;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GridError(code === 'ENOENT'
      ? `${dir} has no ${GRID_FILE}; plan the grid first with \`b2m compare --out ${dir}\` (or \`--emit slurm\`).`
      : `${file} cannot be read (${(err as Error).message}); plan the grid again in a new directory with \`b2m compare\`.`);
  }
  if (grid.version !== 1 || !Array.isArray(grid.cells) || !Array.isArray(grid.experiments)) {
    throw new GridError(`${file} is not a b2m grid (version ${String(grid.version)}); plan the grid again with \`b2m compare\`.`);
  }
  for (const e of grid.experiments) {
    const parsed = experimentConfigSchema.safeParse(e.config);
    if (!parsed.success) throw new GridError(`${file}: the config of experiment "${e.name}" no longer validates (${parsed.error.issues[0]?.message}); plan the grid again with this version of b2m.`);
    e.config = parsed.data;
  }
  return grid;
}

/** The cell at `index`, with its experiment; the error names the range. */
export function cellAt(grid: Grid, index: number, dir: string): { cell: Cell; experiment: GridExperiment } {
  const cell = grid.cells[index];
  if (!Number.isInteger(index) || !cell) throw new GridError(`--index ${index} is not a cell of ${dir}: the grid has cells 0 to ${grid.cells.length - 1}.`);
  return { cell, experiment: grid.experiments.find((e) => e.name === cell.experiment)! };
}

/** The config a cell trains with: its experiment's, with the cell's seed and one intra-op thread per trainer unless set. */
export function cellConfig(experiment: GridExperiment, cell: Cell, threads?: number): ExperimentConfig {
  const config = structuredClone(experiment.config);
  config.seed = cell.seed;
  if (threads !== undefined) config.train.threads = threads;
  return config;
}

/** True when a cell's run finished (its final held-out evaluation exists). */
export function cellFinished(dir: string, cell: Cell): boolean {
  return existsSync(path.join(dir, cell.dir, FINAL_FILE));
}
