/** @file A dataset directory: tables plus manifest, written atomically as a whole and opened with every check. */

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Data, RecordBatch, Schema, Table, type Utf8 } from 'apache-arrow';
import { DatasetError } from './errors.js';
import { MANIFEST_FILE, SCHEMA_VERSION, parseManifest, readManifest, serializeManifest, type Manifest, type ManifestTable } from './manifest.js';
import { validateSchema, type TableKind, type TableLayout } from './schemas.js';
import { ArrowTableFile, openTableStream, readTable, writeTable, type BatchSource } from './table-io.js';

/** One table to write into a dataset. */
export interface DatasetTableInput {
  kind: TableKind;
  source: BatchSource;
  /** Needed only if the source may be empty. */
  schema?: Schema;
  maxRowsPerShard?: number;
  maxRowsPerBatch?: number;
  units?: Record<string, string>;
  description?: string;
}

/** Everything in a manifest except what writing the tables determines. */
export type ManifestInput = Omit<Manifest, 'schemaVersion' | 'tables'>;

/** One table of an open dataset. */
export interface DatasetTable {
  name: string;
  kind: TableKind;
  /** Absolute paths of its files, shards in order. */
  files: string[];
  rows: number;
  schema: Schema;
  layout: TableLayout;
  entry: ManifestTable;
}

function suffix(): string {
  return randomBytes(4).toString('hex');
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

/**
 * Writes a dataset directory: every table (validated against its kind) and `manifest.json`, all into
 * `dir.tmp-XXXX` first, then renamed to `dir` in one step. An existing `dir` is an error unless `overwrite`,
 * in which case it is replaced only after the new dataset is complete.
 */
export async function writeDataset(
  dir: string,
  content: { tables: Record<string, DatasetTableInput>; manifest: ManifestInput },
  options: { overwrite?: boolean } = {},
): Promise<Dataset> {
  const target = path.resolve(dir);
  if (!options.overwrite && (await exists(target))) {
    throw new DatasetError(`${dir}: already exists; choose another output directory or pass overwrite (--overwrite) to replace it`);
  }
  if (Object.keys(content.tables).length === 0) {
    throw new DatasetError(`${dir}: a dataset needs at least one table`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.tmp-${suffix()}`;
  await mkdir(temp);
  try {
    const tables: Record<string, ManifestTable> = {};
    for (const [name, input] of Object.entries(content.tables)) {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
        throw new DatasetError(`${dir}: table name "${name}" may use only letters, digits, _ . -`);
      }
      const written = await writeTable(path.join(temp, `${name}.arrow`), input.source, {
        kind: input.kind,
        schema: input.schema,
        maxRowsPerShard: input.maxRowsPerShard,
        maxRowsPerBatch: input.maxRowsPerBatch,
      });
      const layout = validateSchema(input.kind, written.schema, path.join(dir, `${name}.arrow`));
      tables[name] = {
        kind: input.kind,
        files: written.files.map((f) => path.basename(f)),
        rows: written.rows,
        shapes: layout.tensors,
        ...(input.units ? { units: input.units } : {}),
        ...(input.description ? { description: input.description } : {}),
      };
    }
    const manifest = parseManifest({ ...content.manifest, schemaVersion: SCHEMA_VERSION, tables }, path.join(dir, MANIFEST_FILE));
    await writeFile(path.join(temp, MANIFEST_FILE), serializeManifest(manifest));
    if (await exists(target)) {
      const old = `${target}.old-${suffix()}`;
      await rename(target, old);
      await rename(temp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, target);
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return openDataset(target);
}

/** An open dataset: its manifest and validated tables. */
export class Dataset {
  constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly tables: Readonly<Record<string, DatasetTable>>,
  ) {}

  /** The table called `name`; the error lists the tables there are. */
  table(name: string): DatasetTable {
    const t = this.tables[name];
    if (!t) {
      throw new DatasetError(`${path.join(this.dir, MANIFEST_FILE)}: no table "${name}" (tables: ${Object.keys(this.tables).join(', ')})`);
    }
    return t;
  }

  /** The tables of one kind, by name. */
  tablesOfKind(kind: TableKind): DatasetTable[] {
    return Object.values(this.tables).filter((t) => t.kind === kind);
  }

  /** Reads a table into memory, checking every row. */
  async read(name: string): Promise<Table> {
    const t = this.table(name);
    return readTable(t.files, { kind: t.kind });
  }

  /** Streams a table's record batches, checking every row. */
  stream(name: string): AsyncGenerator<RecordBatch, void, undefined> {
    const t = this.table(name);
    return openTableStream(t.files, { kind: t.kind });
  }

  /**
   * Checks that brain (or teacher) rows pair with trials: every non-null trial id must be a trial of the same
   * subject in the trials table. Needed before contrastive transfer, which pairs rows by trial.
   */
  async checkPairing(trialsName: string, brainName: string): Promise<void> {
    const trials = this.table(trialsName);
    const brain = this.table(brainName);
    const subjectOf = new Map<number, string>();
    const subjects = new Set<string>();
    for await (const batch of openTableStream(trials.files)) {
      const ids = batch.getChild('trial_id')!.data[0]!.values as Int32Array;
      const subj = batch.getChild('subject')!.data[0]! as Data<Utf8>;
      for (let i = 0; i < batch.numRows; i++) {
        const s = utf8(subj, i);
        subjectOf.set(ids[i]!, s);
        subjects.add(s);
      }
    }
    let row = 0;
    const brainFile = brain.files.length === 1 ? brain.files[0]! : `${brain.name} (${brain.files.length} shards)`;
    for await (const batch of openTableStream(brain.files)) {
      const idCol = batch.getChild('trial_id')!;
      const subj = batch.getChild('subject')!.data[0]! as Data<Utf8>;
      for (let i = 0; i < batch.numRows; i++, row++) {
        const s = utf8(subj, i);
        if (!subjects.has(s)) {
          throw new DatasetError(
            `${brainFile}: row ${row}, subject "${s}" has no trials in table "${trialsName}"; brain and trials tables must name subjects alike`,
          );
        }
        const id = idCol.get(i) as number | null;
        if (id === null) continue;
        const owner = subjectOf.get(id);
        if (owner === undefined) {
          throw new DatasetError(`${brainFile}: row ${row}, trial_id ${id} is not in table "${trialsName}"; every paired brain row needs its trial`);
        }
        if (owner !== s) {
          throw new DatasetError(
            `${brainFile}: row ${row}, trial_id ${id} belongs to subject "${owner}" in table "${trialsName}", not "${s}"`,
          );
        }
      }
    }
  }
}

const decoder = new TextDecoder();
function utf8(data: Data<Utf8>, i: number): string {
  const o = data.valueOffsets as Int32Array;
  return decoder.decode(data.values.subarray(o[i]!, o[i + 1]!));
}

/**
 * Opens a dataset directory: validates the manifest, checks that each table's files exist, share one schema,
 * match their kind and the shapes the manifest records. With `validateRows`, also streams every row through the
 * kind's checks (finite tensors, unique ids, known splits) and compares row counts with the manifest.
 */
export async function openDataset(dir: string, options: { validateRows?: boolean } = {}): Promise<Dataset> {
  const root = path.resolve(dir);
  const manifest = await readManifest(root);
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const tables: Record<string, DatasetTable> = {};
  for (const [name, entry] of Object.entries(manifest.tables)) {
    const files = entry.files.map((f) => path.join(root, f));
    let schema: Schema | undefined;
    for (const file of files) {
      const opened = await ArrowTableFile.open(file);
      await opened.close();
      if (!schema) {
        schema = opened.schema;
      } else if (opened.schema.fields.map(String).join() !== schema.fields.map(String).join()) {
        throw new DatasetError(`${file}: schema differs from ${files[0]}; every shard of table "${name}" needs one schema`);
      }
    }
    const layout = validateSchema(entry.kind, schema!, files[0]!);
    for (const [column, shape] of Object.entries(entry.shapes)) {
      const found = layout.tensors[column];
      if (!found || found.join() !== shape.join()) {
        throw new DatasetError(
          `${manifestFile}: table "${name}" column "${column}" has shape ${JSON.stringify(shape)} in the manifest but ${found ? JSON.stringify(found) : 'no such tensor column'} in ${files[0]}`,
        );
      }
    }
    if (options.validateRows) {
      let rows = 0;
      for await (const batch of openTableStream(files, { kind: entry.kind })) rows += batch.numRows;
      if (rows !== entry.rows) {
        throw new DatasetError(`${manifestFile}: table "${name}" has ${entry.rows} rows in the manifest but ${rows} in its files`);
      }
    }
    tables[name] = { name, kind: entry.kind, files, rows: entry.rows, schema: schema!, layout, entry };
  }
  return new Dataset(root, manifest, tables);
}
