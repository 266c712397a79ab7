/** @file CSV and TSV tables with a header row, streamed through csv-parse into typed numeric or text columns. */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { parse, CsvError } from 'csv-parse';
import { DatasetError } from '../errors.js';

/** A column whose every present cell is a number (missing cells are NaN), or a column of text. */
export type DelimitedColumn = { name: string; kind: 'number'; values: Float64Array } | { name: string; kind: 'text'; values: string[] };

/** A header-and-rows file read whole; `rows` excludes the header. */
export interface DelimitedTable {
  file: string;
  rowCount: number;
  columns: DelimitedColumn[];
  /** 1-based line in the file of each data row, for error messages. */
  lines: Int32Array;
}

export interface DelimitedReadOptions {
  /** Field separator; `,` for CSV, a tab for TSV. */
  delimiter?: string;
  /** Cells read as missing (NaN in numeric columns). */
  missing?: readonly string[];
  /** Honour double-quoted fields (CSV); BIDS TSV files have no quoting. */
  quoted?: boolean;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INFINITY = /^[+-]?(inf|infinity)$/i;
const DEFAULT_MISSING = ['', 'n/a', 'NA', 'NaN', 'nan'];

function parseNumber(cell: string): number | undefined {
  if (NUMBER.test(cell)) return Number(cell);
  if (INFINITY.test(cell)) return cell.startsWith('-') ? -Infinity : Infinity;
  return undefined;
}

/**
 * Reads a delimited text file with a header row. Columns whose present cells all parse as numbers become
 * `Float64Array`s (missing cells NaN); the others stay text. A row with a different number of fields than the
 * header throws a `DatasetError` naming the file, the row and its line.
 */
export async function readDelimited(file: string, options: DelimitedReadOptions = {}): Promise<DelimitedTable> {
  const name = path.basename(file);
  const delimiter = options.delimiter ?? ',';
  const missing = new Set(options.missing ?? DEFAULT_MISSING);
  try {
    await access(file);
  } catch {
    throw new DatasetError(`${file}: no such file; check the path`);
  }
  const parser = createReadStream(file).pipe(
    parse({
      delimiter,
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      quote: options.quoted === false ? null : '"',
    }),
  );
  let header: string[] | undefined;
  let cells: string[][] = [];
  const lines: number[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record.map((h) => h.trim());
        const seen = new Set<string>();
        header.forEach((h, i) => {
          if (h === '') throw new DatasetError(`${name}: header column ${i + 1} has no name; every column needs one`);
          if (seen.has(h)) throw new DatasetError(`${name}: header names column '${h}' twice; column names must be unique`);
          seen.add(h);
        });
        cells = header.map(() => []);
        continue;
      }
      if (record.length !== header.length) {
        throw new DatasetError(
          `${name}: row ${lines.length + 1} (line ${info.lines}) has ${record.length} fields but the header has ` +
            `${header.length} (${header.join(', ')}); every row needs one field per column`,
        );
      }
      for (let c = 0; c < record.length; c++) cells[c].push(record[c].trim());
      lines.push(info.lines);
    }
  } catch (err) {
    parser.destroy();
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new DatasetError(`${name}: cannot parse${line ? ` line ${line}` : ''}: ${err.message}`);
    }
    throw err;
  }
  if (!header) throw new DatasetError(`${name}: the file is empty; expected a header row naming the columns`);
  const columns: DelimitedColumn[] = header.map((column, c) => {
    const text = cells[c];
    const values = new Float64Array(text.length);
    for (let r = 0; r < text.length; r++) {
      const cell = text[r];
      if (missing.has(cell)) {
        values[r] = Number.NaN;
        continue;
      }
      const v = parseNumber(cell);
      if (v === undefined) return { name: column, kind: 'text', values: text };
      values[r] = v;
    }
    return { name: column, kind: 'number', values };
  });
  return { file, rowCount: lines.length, columns, lines: Int32Array.from(lines) };
}

/** Reads a comma-separated file with a header row. */
export function readCsv(file: string, options: Omit<DelimitedReadOptions, 'delimiter'> = {}): Promise<DelimitedTable> {
  return readDelimited(file, { ...options, delimiter: ',' });
}

/** Reads a tab-separated file with a header row, unquoted as BIDS writes it, `n/a` for missing. */
export function readTsv(file: string, options: Omit<DelimitedReadOptions, 'delimiter'> = {}): Promise<DelimitedTable> {
  return readDelimited(file, { quoted: false, ...options, delimiter: '\t' });
}

/** The named column, or a `DatasetError` naming the file and listing the columns there are. */
export function column(table: DelimitedTable, name: string): DelimitedColumn {
  const found = table.columns.find((c) => c.name === name);
  if (!found) {
    throw new DatasetError(`${path.basename(table.file)}: no column '${name}'; the columns are ${table.columns.map((c) => c.name).join(', ')}`);
  }
  return found;
}

/** The named column as numbers; text cells throw a `DatasetError` naming the first offending row. */
export function numberColumn(table: DelimitedTable, name: string): Float64Array {
  const found = column(table, name);
  if (found.kind === 'number') return found.values;
  const row = found.values.findIndex((cell) => !DEFAULT_MISSING.includes(cell) && parseNumber(cell) === undefined);
  throw new DatasetError(
    `${path.basename(table.file)}: column '${name}' must be numeric but row ${row + 1} (line ${table.lines[row]}) holds '${found.values[row]}'`,
  );
}

/** The named column as text; numeric columns are rendered back with `String`, missing cells as `''`. */
export function textColumn(table: DelimitedTable, name: string): string[] {
  const found = column(table, name);
  return found.kind === 'text' ? found.values : Array.from(found.values, (v) => (Number.isNaN(v) ? '' : String(v)));
}

/**
 * The chosen numeric columns (all numeric ones by default) as a row-major `[rows, columns]` Float32Array.
 * A missing cell throws a `DatasetError` naming the row and column, since a tensor cannot hold a hole.
 */
export function numericMatrix(table: DelimitedTable, names?: readonly string[]): { columns: string[]; values: Float32Array } {
  const chosen = names ?? table.columns.filter((c) => c.kind === 'number').map((c) => c.name);
  if (chosen.length === 0) throw new DatasetError(`${path.basename(table.file)}: no numeric column to read; the columns are ${table.columns.map((c) => c.name).join(', ')}`);
  const n = table.rowCount;
  const values = new Float32Array(n * chosen.length);
  chosen.forEach((columnName, c) => {
    const col = numberColumn(table, columnName);
    for (let r = 0; r < n; r++) {
      const v = col[r];
      if (!Number.isFinite(v)) {
        throw new DatasetError(
          `${path.basename(table.file)}: row ${r + 1} (line ${table.lines[r]}), column '${columnName}' is missing or infinite; fill it or drop the row`,
        );
      }
      values[r * chosen.length + c] = v;
    }
  });
  return { columns: [...chosen], values };
}
