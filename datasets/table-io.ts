/** @file Arrow IPC tables on disk: atomic sharded writes, whole-table reads, and record-batch streams. */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import {
  AsyncByteQueue,
  DataType,
  Message,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  makeData,
  type AsyncRecordBatchFileReader,
  type Field,
} from 'apache-arrow';
import { VectorLoader } from 'apache-arrow/visitor/vectorloader';
import { DatasetError } from './errors.js';
import type { TableKind } from './schemas.js';
import { TableValidator } from './table-validation.js';

/** Where record batches for a table come from. */
export type BatchSource = Table | RecordBatch | Iterable<RecordBatch> | AsyncIterable<RecordBatch>;

export interface WriteTableOptions {
  /** Split the table into files of at most this many rows, named `name-00000.arrow`, `name-00001.arrow`, ... */
  maxRowsPerShard?: number;
  /** Cut record batches larger than this many rows (default: about 8 MiB of fixed-width data per batch). */
  maxRowsPerBatch?: number;
  /** Check the schema and every row against this table kind while writing; a failure leaves nothing behind. */
  kind?: TableKind;
  /** The schema, needed only when the source may yield no batch at all. */
  schema?: Schema;
}

/** What a write produced. */
export interface WrittenTable {
  files: string[];
  rows: number;
  batches: number;
  bytes: number;
  schema: Schema;
}

const MAGIC = 'ARROW1';
const TARGET_BATCH_BYTES = 8 << 20;
const MAX_IOV = 512;

/** Collects the writer's output so each batch's bytes reach the file before the next batch is encoded. */
class ChunkSink extends AsyncByteQueue {
  chunks: Uint8Array[] = [];
  override write(value: ArrayBufferView | ArrayBufferLike | ArrayLike<number> | Iterable<number>): void {
    const bytes = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBufferLike);
    if (bytes.byteLength > 0) this.chunks.push(bytes);
  }
}

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** The stem and shard file name pattern of a table path (`dir/name.arrow` → `dir/name-00000.arrow`, ...). */
function shardNaming(file: string): { dir: string; stem: string; name: (i: number) => string; pattern: RegExp } {
  const dir = path.dirname(file);
  const stem = path.basename(file).replace(/\.arrow$/, '');
  const escaped = stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    dir,
    stem,
    name: (i) => path.join(dir, `${stem}-${String(i).padStart(5, '0')}.arrow`),
    pattern: new RegExp(`^${escaped}-(\\d{5,})\\.arrow$`),
  };
}

function fixedRowBytes(schema: Schema): number {
  let bytes = 0;
  for (const f of schema.fields) {
    const t = f.type as DataType;
    if (DataType.isFixedSizeList(t)) {
      const child = t.children[0]!.type as DataType & { bitWidth?: number; precision?: number };
      const width = DataType.isFloat(child) ? [2, 4, 8][child.precision]! : (child.bitWidth ?? 32) / 8;
      bytes += t.listSize * width;
    } else {
      bytes += 16;
    }
  }
  return Math.max(bytes, 1);
}

function sameFields(a: readonly Field[], b: readonly Field[]): boolean {
  return (
    a.length === b.length &&
    a.every((f, i) => {
      const g = b[i]!;
      return (
        f.name === g.name &&
        String(f.type) === String(g.type) &&
        f.metadata.get('ARROW:extension:metadata') === g.metadata.get('ARROW:extension:metadata')
      );
    })
  );
}

async function* batchesOf(source: BatchSource): AsyncGenerator<RecordBatch> {
  if (source instanceof Table) {
    yield* source.batches;
  } else if (source instanceof RecordBatch) {
    yield source;
  } else {
    yield* source as AsyncIterable<RecordBatch>;
  }
}

/** One open output file: a temp name being written by an Arrow file writer. */
class ShardWriter {
  rows = 0;
  bytes = 0;
  private readonly sink = new ChunkSink();
  private readonly writer = new RecordBatchFileWriter();

  private constructor(
    readonly temp: string,
    readonly target: string,
    private readonly handle: FileHandle,
    schema: Schema,
  ) {
    this.writer.reset(this.sink, schema);
  }

  static async create(target: string, schema: Schema): Promise<ShardWriter> {
    const temp = tempName(target);
    return new ShardWriter(temp, target, await open(temp, 'wx'), schema);
  }

  async write(batch: RecordBatch): Promise<void> {
    this.writer.write(batch);
    this.rows += batch.numRows;
    await this.flush();
  }

  async finish(): Promise<void> {
    this.writer.finish();
    await this.flush();
    await this.handle.datasync();
    await this.handle.close();
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.temp).catch(() => undefined);
  }

  private async flush(): Promise<void> {
    const chunks = this.sink.chunks;
    this.sink.chunks = [];
    for (let i = 0; i < chunks.length; i += MAX_IOV) {
      const part = chunks.slice(i, i + MAX_IOV);
      const { bytesWritten } = await this.handle.writev(part);
      const expected = part.reduce((s, c) => s + c.byteLength, 0);
      if (bytesWritten !== expected) {
        throw new DatasetError(`${this.target}: short write (${bytesWritten} of ${expected} bytes); is the disk full?`);
      }
      this.bytes += bytesWritten;
    }
  }
}

/**
 * Writes a table as Arrow IPC file(s). Each file is written under a temporary name in the same directory and
 * renamed into place only when every file is complete, so an interrupted write never leaves a table that looks
 * whole. With `maxRowsPerShard` the table becomes `name-00000.arrow`, `name-00001.arrow`, ..., one file open at
 * a time, so memory stays flat however large the source; stale higher-numbered shards of an older write are removed.
 */
export async function writeTable(file: string, source: BatchSource, options: WriteTableOptions = {}): Promise<WrittenTable> {
  const { maxRowsPerShard } = options;
  if (maxRowsPerShard !== undefined && (!Number.isInteger(maxRowsPerShard) || maxRowsPerShard < 1)) {
    throw new DatasetError(`${file}: maxRowsPerShard must be a positive integer (got ${maxRowsPerShard})`);
  }
  if (options.maxRowsPerBatch !== undefined && (!Number.isInteger(options.maxRowsPerBatch) || options.maxRowsPerBatch < 1)) {
    throw new DatasetError(`${file}: maxRowsPerBatch must be a positive integer (got ${options.maxRowsPerBatch})`);
  }
  const naming = shardNaming(file);
  const sharded = maxRowsPerShard !== undefined;
  let schema: Schema | undefined = options.schema ?? (source instanceof Table || source instanceof RecordBatch ? source.schema : undefined);
  let validator: TableValidator | undefined;
  let rowsPerBatch = 0;
  const done: ShardWriter[] = [];
  let current: ShardWriter | undefined;
  let rows = 0;
  let batches = 0;

  const begin = (s: Schema): void => {
    schema = s;
    if (options.kind) validator = new TableValidator(options.kind, s, file);
    rowsPerBatch = options.maxRowsPerBatch ?? Math.max(1, Math.floor(TARGET_BATCH_BYTES / fixedRowBytes(s)));
  };
  const nextShard = async (): Promise<ShardWriter> => {
    const target = sharded ? naming.name(done.length + (current ? 1 : 0)) : file;
    if (current) {
      await current.finish();
      done.push(current);
    }
    current = await ShardWriter.create(target, schema!);
    return current;
  };

  try {
    await mkdir(naming.dir, { recursive: true });
  } catch (err) {
    throw new DatasetError(`${file}: cannot create its directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    if (schema) begin(schema);
    for await (let batch of batchesOf(source)) {
      if (!schema) begin(batch.schema);
      if (batch.schema !== schema) {
        if (!sameFields(batch.schema.fields, schema!.fields)) {
          throw new DatasetError(
            `${file}: record batch ${batches} has columns (${batch.schema.fields.map((f) => `${f.name}: ${f.type}`).join(', ')}) but the table has (${schema!.fields.map((f) => `${f.name}: ${f.type}`).join(', ')})`,
          );
        }
        batch = new RecordBatch(schema!, batch.data);
      }
      validator?.check(batch);
      for (let at = 0; at < batch.numRows; ) {
        let writer = current ?? (await nextShard());
        if (sharded && writer.rows >= maxRowsPerShard!) writer = await nextShard();
        const room = sharded ? maxRowsPerShard! - writer.rows : Infinity;
        const take = Math.min(batch.numRows - at, rowsPerBatch, room);
        await writer.write(take === batch.numRows ? batch : batch.slice(at, at + take));
        at += take;
        batches++;
      }
      rows += batch.numRows;
    }
    if (!schema) {
      throw new DatasetError(`${file}: the source yielded no record batches and no schema was given; pass options.schema`);
    }
    if (!current) await nextShard();
    await current!.finish();
    done.push(current!);
    current = undefined;
  } catch (err) {
    await current?.discard();
    for (const w of done) await w.discard();
    throw err;
  }

  for (const w of done) await rename(w.temp, w.target);
  if (sharded) await removeStaleShards(naming, done.length);
  return {
    files: done.map((w) => w.target),
    rows,
    batches,
    bytes: done.reduce((s, w) => s + w.bytes, 0),
    schema: schema!,
  };
}

async function removeStaleShards(naming: ReturnType<typeof shardNaming>, count: number): Promise<void> {
  for (const entry of await readdir(naming.dir)) {
    const m = naming.pattern.exec(entry);
    if (m && Number(m[1]) >= count) await unlink(path.join(naming.dir, entry));
  }
}

/**
 * The files of a table: the file itself if it exists, else its shards `name-00000.arrow`, ... in order.
 * A list is taken as given.
 */
export async function resolveTableFiles(fileOrShards: string | readonly string[]): Promise<string[]> {
  if (typeof fileOrShards !== 'string') {
    if (fileOrShards.length === 0) throw new DatasetError('no table files given; pass at least one .arrow file');
    return [...fileOrShards];
  }
  const file = fileOrShards;
  const info = await stat(file).catch(() => null);
  if (info?.isFile()) return [file];
  const naming = shardNaming(file);
  const entries = await readdir(naming.dir).catch(() => [] as string[]);
  const shards = entries
    .map((e) => ({ e, m: naming.pattern.exec(e) }))
    .filter((x) => x.m)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
    .map((x) => path.join(naming.dir, x.e));
  if (shards.length === 0) {
    throw new DatasetError(`${file}: no such table file, and no shards ${naming.stem}-00000.arrow, ... in ${naming.dir}`);
  }
  shards.forEach((s, i) => {
    if (s !== naming.name(i)) {
      throw new DatasetError(`${naming.name(i)}: shard ${i} of table ${file} is missing (found ${path.basename(s)} instead)`);
    }
  });
  return shards;
}

/** A record batch whose deferred columns are not read yet: their values start at `positions` in the file. */
export interface DeferredRecordBatch {
  record: RecordBatch;
  /** File position of each deferred column's values, in the order the columns were named. */
  positions: number[];
}

/** Supplies the memory a record batch body is read into (at least `bytes` long). */
export type BodyAllocator = (bytes: number) => Uint8Array;

/**
 * One Arrow IPC file opened for random access to its record batches. Record batches are read with one positional
 * read for the message header and one for the body, straight into memory the caller may supply and recycle.
 */
export class ArrowTableFile {
  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly reader: AsyncRecordBatchFileReader,
    readonly schema: Schema,
    readonly numBatches: number,
  ) {}

  /** Opens `file`, checking that it is a complete Arrow IPC file; errors name the file. */
  static async open(file: string): Promise<ArrowTableFile> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      throw new DatasetError(`${file}: cannot open table file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      const { size } = await handle.stat();
      const head = Buffer.alloc(6);
      const tail = Buffer.alloc(6);
      await handle.read(head, 0, 6, 0);
      if (size >= 6) await handle.read(tail, 0, 6, size - 6);
      if (head.toString('latin1') !== MAGIC) {
        throw new DatasetError(
          `${file}: not an Arrow IPC file (it does not start with "ARROW1"); b2m tables are Arrow IPC files, as pyarrow's feather.write_feather or ipc.new_file write them`,
        );
      }
      if (size < 12 || tail.toString('latin1') !== MAGIC) {
        throw new DatasetError(`${file}: Arrow IPC file is truncated (no closing "ARROW1" footer); it was not completely written, so write it again`);
      }
      const reader = (await RecordBatchReader.from(handle)) as AsyncRecordBatchFileReader;
      await reader.open({ autoDestroy: false });
      return new ArrowTableFile(file, handle, reader, reader.schema, reader.numRecordBatches);
    } catch (err) {
      await handle.close().catch(() => undefined);
      if (err instanceof DatasetError) throw err;
      throw new DatasetError(`${file}: cannot read the Arrow IPC footer or schema (${(err as Error).message}); the file is damaged`);
    }
  }

  /**
   * Record batch `index` (0-based), read from disk. With `alloc`, the body goes into the memory it returns, so a
   * caller that is done with a batch can recycle that memory for the next; the batch's columns are views into it.
   */
  async readBatch(index: number, alloc?: BodyAllocator): Promise<RecordBatch> {
    const block = this.reader.footer?.getRecordBatch(index);
    if (!block) throw new DatasetError(`${this.file}: record batch ${index} does not exist (the file has ${this.numBatches})`);
    try {
      const header = await this.batchHeader(block, index);
      if (header.compression != null) {
        const batch = await this.reader.readRecordBatch(index);
        if (!batch) throw new Error('record batch missing');
        return batch;
      }
      const bodyLength = Number(block.bodyLength);
      const body = (alloc ? alloc(bodyLength) : new Uint8Array(bodyLength)).subarray(0, bodyLength);
      await this.readFully(body, block.offset + block.metaDataLength);
      return this.batchFromBody(header, body);
    } catch (err) {
      if (err instanceof DatasetError) throw err;
      throw new DatasetError(`${this.file}: record batch ${index} cannot be read (${(err as Error).message}); the file is damaged`);
    }
  }

  /**
   * Record batch `index` with the values of the columns named in `deferred` (fixed-width columns, such as tensor
   * columns) left unread: every other column is read into memory from `alloc`, and for each deferred column the
   * file position of its values is returned, so the caller can read rows of it straight into memory of its own
   * with `readInto` (one copy, by the kernel, instead of two). Null when the body is compressed, whose values have
   * no file position of their own; read such batches with `readBatch`.
   */
  async readBatchDeferred(index: number, deferred: readonly string[], alloc: BodyAllocator): Promise<DeferredRecordBatch | null> {
    const block = this.reader.footer?.getRecordBatch(index);
    if (!block) throw new DatasetError(`${this.file}: record batch ${index} does not exist (the file has ${this.numBatches})`);
    try {
      const header = await this.batchHeader(block, index);
      if (header.compression != null) return null;
      const bodyLength = Number(block.bodyLength);
      const bodyPosition = block.offset + block.metaDataLength;
      const body = alloc(bodyLength).subarray(0, bodyLength);
      const record = this.batchFromBody(header, body);
      const skipped: { start: number; end: number }[] = [];
      const positions: number[] = [];
      for (const name of deferred) {
        const data = record.getChild(name)?.data[0];
        const values = data?.children[0]?.values as ArrayBufferView | undefined;
        if (!values || values.buffer !== body.buffer) return null;
        const at = values.byteOffset - body.byteOffset;
        skipped.push({ start: at, end: at + values.byteLength });
        positions.push(bodyPosition + at);
      }
      skipped.sort((a, b) => a.start - b.start);
      let from = 0;
      for (const gap of [...skipped, { start: bodyLength, end: bodyLength }]) {
        if (gap.start > from) await this.readFully(body.subarray(from, gap.start), bodyPosition + from);
        from = Math.max(from, gap.end);
      }
      return { record, positions };
    } catch (err) {
      if (err instanceof DatasetError) throw err;
      throw new DatasetError(`${this.file}: record batch ${index} cannot be read (${(err as Error).message}); the file is damaged`);
    }
  }

  /** The record-batch message header of a footer block (its metadata read from disk). */
  private async batchHeader(block: { offset: number; metaDataLength: number }, index: number) {
    const meta = Buffer.allocUnsafe(block.metaDataLength);
    await this.readFully(meta, block.offset);
    const continuation = meta.readInt32LE(0) === -1;
    const start = continuation ? 8 : 4;
    const length = meta.readInt32LE(continuation ? 4 : 0);
    const message = Message.decode(meta.subarray(start, start + length));
    if (!message.isRecordBatch()) throw new Error(`message ${index} is not a record batch`);
    return message.header();
  }

  /** A record batch whose columns are views into `body`, laid out as `header` says. */
  private batchFromBody(header: Awaited<ReturnType<ArrowTableFile['batchHeader']>>, body: Uint8Array): RecordBatch {
    const children = new VectorLoader(
      body,
      header.nodes,
      header.buffers,
      this.reader.dictionaries,
      this.schema.metadataVersion,
      header.variadicBufferCounts,
    ).visitMany(this.schema.fields);
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: header.length, nullCount: 0, children }));
  }

  /**
   * Reads consecutive bytes from `position` into `targets`, one after another (a scatter read: the kernel copies
   * straight into each target).
   */
  async readInto(targets: readonly Uint8Array[], position: number): Promise<void> {
    let at = position;
    for (let i = 0; i < targets.length; i += MAX_IOV) {
      let part = targets.slice(i, i + MAX_IOV);
      while (part.length > 0) {
        const expected = part.reduce((n, t) => n + t.byteLength, 0);
        const { bytesRead } = await this.handle.readv(part, at);
        if (bytesRead === 0) throw new DatasetError(`${this.file}: unexpected end of file at byte ${at}; the file is damaged`);
        at += bytesRead;
        if (bytesRead === expected) break;
        let done = bytesRead;
        while (done >= part[0]!.byteLength) {
          done -= part[0]!.byteLength;
          part = part.slice(1);
        }
        part = [part[0]!.subarray(done), ...part.slice(1)];
      }
    }
  }

  private async readFully(into: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await this.handle.read(into, done, into.length - done, position + done);
      if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel();
    await this.handle.close().catch(() => undefined);
  }
}

export interface ReadTableOptions {
  /** Check schema and every row against this kind. */
  kind?: TableKind;
}

/**
 * Streams the record batches of a table (a file, its shards, or a list of files) one at a time, never holding
 * more than the batch in hand. All files must share one schema.
 */
export async function* openTableStream(
  fileOrShards: string | readonly string[],
  options: ReadTableOptions = {},
): AsyncGenerator<RecordBatch, void, undefined> {
  const files = await resolveTableFiles(fileOrShards);
  let schema: Schema | undefined;
  let validator: TableValidator | undefined;
  for (const file of files) {
    const table = await ArrowTableFile.open(file);
    try {
      if (!schema) {
        schema = table.schema;
        if (options.kind) validator = new TableValidator(options.kind, schema, file);
      } else if (!sameFields(table.schema.fields, schema.fields)) {
        throw new DatasetError(`${file}: its schema differs from the table's first file ${files[0]}; all shards need one schema`);
      }
      for (let i = 0; i < table.numBatches; i++) {
        let batch = await table.readBatch(i);
        if (batch.schema !== schema) batch = new RecordBatch(schema, batch.data);
        if (validator) {
          try {
            validator.check(batch);
          } catch (err) {
            if (err instanceof DatasetError && files.length > 1) err.message = `${err.message} (in shard ${file})`;
            throw err;
          }
        }
        yield batch;
      }
    } finally {
      await table.close();
    }
  }
}

/** The schema of a table without reading its rows. */
export async function readTableSchema(fileOrShards: string | readonly string[]): Promise<Schema> {
  const [first] = await resolveTableFiles(fileOrShards);
  const table = await ArrowTableFile.open(first!);
  await table.close();
  return table.schema;
}

/** Reads a whole table (file, shards, or list of files) into memory. */
export async function readTable(fileOrShards: string | readonly string[], options: ReadTableOptions = {}): Promise<Table> {
  const batches: RecordBatch[] = [];
  for await (const batch of openTableStream(fileOrShards, options)) batches.push(batch);
  if (batches.length === 0) return new Table(await readTableSchema(fileOrShards));
  return new Table(batches);
}
