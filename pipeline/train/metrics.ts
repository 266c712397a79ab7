/** @file The metrics table of a run (`metrics.csv`): one row per training step and per evaluation, appended in blocks and cut back to a checkpoint on resume. */
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CheckpointError } from './checkpoint.js';

export const METRICS_FILE = 'metrics.csv';

/** One row: step, split, then numbers by column name (missing ones are written empty). */
export interface MetricsRow {
  step: number;
  split: string;
  values: Readonly<Record<string, number>>;
}

/** Numbers print in their shortest exact form, so a resumed run writes the same text as an uninterrupted one. */
function cell(v: number | undefined): string {
  return v === undefined ? '' : String(v);
}

/** A CSV table with a fixed header, buffered in memory and appended to disk on `flush`. */
export class MetricsTable {
  private pending: string[] = [];
  private written: number;

  private constructor(
    readonly file: string,
    readonly columns: readonly string[],
    rows: number,
  ) {
    this.written = rows;
  }

  /**
   * Opens `runDir/metrics.csv` for a run starting at a checkpoint that had written `keepRows` rows (0 for a fresh
   * run): rows past it, left by an interrupted run, are dropped; the header must match `columns`.
   */
  static async open(runDir: string, columns: readonly string[], keepRows: number): Promise<MetricsTable> {
    const file = path.join(runDir, METRICS_FILE);
    const header = ['step', 'split', ...columns].join(',');
    let lines: string[] = [];
    if (keepRows > 0) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new CheckpointError(`cannot resume: ${file} is missing or unreadable (${(err as Error).message}) though the checkpoint recorded ${keepRows} rows`);
      }
      lines = text.split('\n').filter((l) => l !== '');
      if (lines[0] !== header) throw new CheckpointError(`cannot resume: ${file} has other columns than this run writes; start the run in a new folder`);
      if (lines.length - 1 < keepRows) throw new CheckpointError(`cannot resume: ${file} has ${lines.length - 1} rows, the checkpoint recorded ${keepRows}`);
      lines = lines.slice(1, keepRows + 1);
    }
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, [header, ...lines].map((l) => `${l}\n`).join(''));
    await rename(tmp, file);
    return new MetricsTable(file, columns, keepRows);
  }

  /** Rows written or pending. */
  get rows(): number {
    return this.written + this.pending.length;
  }

  add(row: MetricsRow): void {
    this.pending.push([String(row.step), row.split, ...this.columns.map((c) => cell(row.values[c]))].join(','));
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    await appendFile(this.file, this.pending.map((l) => `${l}\n`).join(''));
    this.written += this.pending.length;
    this.pending = [];
  }
}

/** Reads a metrics table back: the columns and one record per row (empty cells are absent). */
export async function readMetrics(runDir: string): Promise<{ columns: string[]; rows: MetricsRow[] }> {
  const text = await readFile(path.join(runDir, METRICS_FILE), 'utf8');
  const [head, ...body] = text.split('\n').filter((l) => l !== '');
  const columns = head!.split(',').slice(2);
  const rows = body.map((line) => {
    const cells = line.split(',');
    const values: Record<string, number> = {};
    columns.forEach((c, i) => {
      const v = cells[i + 2];
      if (v !== undefined && v !== '') values[c] = Number(v);
    });
    return { step: Number(cells[0]), split: cells[1]!, values };
  });
  return { columns, rows };
}
