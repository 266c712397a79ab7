/** @file The streaming batcher: record batches in, Float32Array training batches out, shuffled in bounded memory. */

import { Data, DataType, RecordBatch, Schema, Table, type Field, type FixedSizeList, type Utf8 } from 'apache-arrow';
import { DatasetError } from './errors.js';
import { Rng, type RngState } from './random.js';
import type { Split } from './schemas.js';
import { ArrowTableFile, resolveTableFiles } from './table-io.js';
import { isTensorField, shapeSize, tensorChunkValues, tensorShape } from './tensor-column.js';

/** Where a batcher stands: enough to continue exactly there after a restart. */
export interface BatcherPosition {
  /** The epoch of the next batch (0-based). */
  epoch: number;
  /** How many batches of that epoch were already delivered. */
  batch: number;
  /** The shuffle seed, or null without shuffling. */
  seed: number | null;
  /** The shuffle generator's state after the last delivered batch, or null without shuffling. */
  rngState: RngState | null;
}

export interface BatcherOptions<T extends string, S extends string, X extends string> {
  /** Table files: one file, its shard stem (`dir/name.arrow` for `name-00000.arrow`, ...), or a list. */
  files?: string | readonly string[];
  /** Tables already in memory, used instead of files. */
  tables?: Table | readonly Table[];
  /** Float32 tensor columns, delivered as `batch * prod(shape)` Float32Arrays. */
  tensorColumns: readonly T[];
  /** Int32 or float32 scalar columns (nulls become -1 or NaN). */
  scalarColumns?: readonly S[];
  /** Utf8 columns delivered as string lists (e.g. condition keys for pairing). */
  textColumns?: readonly X[];
  batchSize: number;
  /** Shuffle through a buffer of `bufferSize` rows, seeded; record batch order is shuffled too. Omit for file order. */
  shuffle?: { bufferSize: number; seed: number } | false;
  /** Passes over the data (default 1; Infinity for an endless stream). */
  epochs?: number;
  /** Keep only rows of these splits (the table's `split` column). */
  split?: Split | readonly Split[];
  /** Keep only rows of these subjects (the table's `subject` column). */
  subjects?: readonly string[];
  /** Drop each epoch's last batch when it is short (default false). */
  dropLast?: boolean;
  /** Continue from a saved position. */
  resume?: BatcherPosition;
}

/** One training batch. `trial_id` is added whenever the table has one (null ids become -1). */
export type Batch<T extends string = string, S extends string = never, X extends string = never> = {
  readonly rows: number;
  readonly epoch: number;
  /** Index of this batch within its epoch. */
  readonly index: number;
  readonly trial_id?: Int32Array;
  /**
   * Hands the batch's memory back to the batcher for a later batch. Optional: unreleased batches stay valid and
   * are garbage collected; releasing spares an allocation per batch, about half the CPU time of streaming. The
   * arrays must not be used after release.
   */
  release(): void;
} & { readonly [K in T]: Float32Array } & { readonly [K in S]: Int32Array | Float32Array } & {
  readonly [K in X]: string[];
};

/** Memory and progress counters. */
export interface BatcherStats {
  /** Rows now held in the shuffle buffer. */
  rowsHeld: number;
  /** Most rows ever held in the shuffle buffer. */
  maxRowsHeld: number;
  /** Record batches read from the source. */
  recordBatchesRead: number;
  /** Batches delivered. */
  batchesDelivered: number;
  /** Batches whose tensors are views into a record batch (no copy). */
  zeroCopyBatches: number;
}

type ScalarArray = Int32Array | Float32Array;

/** The columns of one record batch as flat arrays, with rows filtered by `selection` (null: all rows). */
interface Block {
  rows: number;
  tensors: Float32Array[];
  scalars: ScalarArray[];
  text: Data<Utf8>[];
  selection: Int32Array | null;
}

/** Record batches read ahead of the one being batched, so disk reads overlap with copying. */
const READ_AHEAD = 2;

/** Scatter reads into the shuffle buffer kept in flight at once. */
const MAX_LANDING = 4;

/** Released batches kept for reuse. */
const MAX_SPARE_BATCHES = 4;

/** Shard files kept open at once. */
const MAX_OPEN_SHARDS = 8;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function utf8At(data: Data<Utf8>, i: number): string {
  const o = data.valueOffsets as Int32Array;
  return decoder.decode(data.values.subarray(o[i]!, o[i + 1]!));
}

function isValid(data: Data, i: number): boolean {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.length === 0) return true;
  const bit = data.offset + i;
  return (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

function copyRow(src: Float32Array, from: number, dst: Float32Array, to: number, size: number): void {
  if (size < 32) {
    for (let k = 0; k < size; k++) dst[to + k] = src[from + k]!;
  } else {
    dst.set(src.subarray(from, from + size), to);
  }
}

/**
 * Uninitialized memory for `n` elements: every element a batch exposes is written before delivery, so the zero fill
 * of a fresh allocation would be a wasted pass over memory.
 */
function uninitialized<A extends Float32Array | Int32Array>(Type: { new (b: ArrayBufferLike, o: number, n: number): A }, n: number): A {
  const bytes = Buffer.allocUnsafeSlow(n * 4);
  return new Type(bytes.buffer, bytes.byteOffset, n);
}

/** Rows laid out column by column: the shuffle buffer, and each batch being assembled. */
class RowStore {
  readonly tensors: Float32Array[];
  readonly scalars: ScalarArray[];
  readonly text: string[][];
  private byteViews: Uint8Array[][] | null = null;

  constructor(
    readonly capacity: number,
    private readonly sizes: readonly number[],
    scalarKinds: readonly ('int32' | 'float32')[],
    textCount: number,
  ) {
    this.tensors = sizes.map((s) => uninitialized(Float32Array, capacity * s));
    this.scalars = scalarKinds.map((k) => (k === 'int32' ? uninitialized(Int32Array, capacity) : uninitialized(Float32Array, capacity)));
    this.text = Array.from({ length: textCount }, () => new Array<string>(capacity));
  }

  fromBlock(slot: number, block: Block, row: number): void {
    this.tensorsFromBlock(slot, block, row);
    this.scalarsFromBlock(slot, block, row);
  }

  tensorsFromBlock(slot: number, block: Block, row: number): void {
    const { sizes } = this;
    for (let c = 0; c < sizes.length; c++) copyRow(block.tensors[c]!, row * sizes[c]!, this.tensors[c]!, slot * sizes[c]!, sizes[c]!);
  }

  scalarsFromBlock(slot: number, block: Block, row: number): void {
    for (let c = 0; c < this.scalars.length; c++) this.scalars[c]![slot] = block.scalars[c]![row]!;
    for (let c = 0; c < this.text.length; c++) this.text[c]![slot] = utf8At(block.text[c]!, row);
  }

  /** The bytes of row `slot` of tensor column `c`: views made once, as reads into the buffer take one per row. */
  tensorBytes(c: number, slot: number): Uint8Array {
    this.byteViews ??= this.tensors.map((t, k) => {
      const bytes = this.sizes[k]! * 4;
      return Array.from({ length: this.capacity }, (_, j) => new Uint8Array(t.buffer, t.byteOffset + j * bytes, bytes));
    });
    return this.byteViews[c]![slot]!;
  }

  fromStore(slot: number, other: RowStore, from: number): void {
    const { sizes } = this;
    for (let c = 0; c < sizes.length; c++) copyRow(other.tensors[c]!, from * sizes[c]!, this.tensors[c]!, slot * sizes[c]!, sizes[c]!);
    for (let c = 0; c < this.scalars.length; c++) this.scalars[c]![slot] = other.scalars[c]![from]!;
    for (let c = 0; c < this.text.length; c++) this.text[c]![slot] = other.text[c]![from]!;
  }
}

/**
 * The shuffle buffer's slots, split into those whose rows have landed (drawable) and the rest (empty, or being
 * filled by a read in flight), each change O(1): `order` lists landed slots first, `pos` is its inverse.
 */
class SlotSet {
  private readonly order: Int32Array;
  private readonly pos: Int32Array;
  /** Slots whose rows have landed: `order[0 .. landed)`. */
  landed = 0;

  constructor(readonly capacity: number) {
    this.order = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
  }

  reset(): void {
    for (let j = 0; j < this.capacity; j++) {
      this.order[j] = j;
      this.pos[j] = j;
    }
    this.landed = 0;
  }

  private swap(a: number, b: number): void {
    const { order, pos } = this;
    const sa = order[a]!;
    const sb = order[b]!;
    order[a] = sb;
    order[b] = sa;
    pos[sb] = a;
    pos[sa] = b;
  }

  /** The `k`-th landed slot, which stops being landed (its row is delivered and a new one will fill it). */
  take(k: number): number {
    const slot = this.order[k]!;
    this.swap(k, --this.landed);
    return slot;
  }

  /** Marks `slot`, just filled, as landed. */
  settle(slot: number): void {
    this.swap(this.pos[slot]!, this.landed++);
  }
}

/** A promise that never rejects: reads in flight may fail before anyone awaits them, without an unhandled rejection. */
type Outcome<V> = Promise<{ ok: true; value: V } | { ok: false; error: unknown }>;

function outcome<V>(p: Promise<V>): Outcome<V> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

async function unwrap<V>(o: Outcome<V>): Promise<V> {
  const r = await o;
  if (!r.ok) throw r.error;
  return r.value;
}

/** A record batch ready for the shuffle buffer: its tensor values still on disk when `deferred` is set. */
interface Prepared {
  record: RecordBatch;
  /** Memory from the body pool holding the record batch's other columns; back to the pool once they are copied. */
  body: Uint8Array | null;
  deferred: DeferredBlock | null;
}

/** Recycles record batch bodies, so streaming does not allocate (and fault in) fresh memory for each one. */
class BodyPool {
  private readonly free: Uint8Array[] = [];

  take(bytes: number): Uint8Array {
    const i = this.free.findIndex((b) => b.length >= bytes);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    const buf = Buffer.allocUnsafeSlow(Math.ceil(bytes * 1.125));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }

  give(body: Uint8Array | null): void {
    if (!body) return;
    this.free.push(body);
    if (this.free.length > READ_AHEAD + 1) {
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i]!.length < this.free[smallest]!.length) smallest = i;
      this.free.splice(smallest, 1);
    }
  }
}

/** A source of record batches in a fixed global order, read one at a time. */
interface BlockSource {
  schema: Schema;
  where: string;
  count: number;
  /** Reads record batch `index`; with `alloc`, its body goes into memory that `alloc` supplies. */
  read(index: number, alloc?: (bytes: number) => Uint8Array): Promise<RecordBatch>;
  /** Reads record batch `index` but the values of `columns`, left on disk to be read row by row; null where it cannot. */
  readDeferred?(index: number, columns: readonly string[], alloc: (bytes: number) => Uint8Array): Promise<DeferredBlock | null>;
  close(): Promise<void>;
}

/** A record batch whose tensor values are still on disk. */
interface DeferredBlock {
  record: RecordBatch;
  /** File position of each deferred column's values. */
  positions: number[];
  /** Reads consecutive bytes of the file from `position` into `targets`, one after another. */
  readInto(targets: readonly Uint8Array[], position: number): Promise<void>;
  /** Called once every read is done: lets the file close. */
  done(): Promise<void>;
}

async function fileSource(spec: string | readonly string[]): Promise<BlockSource> {
  const files = await resolveTableFiles(spec);
  const index: { file: number; batch: number }[] = [];
  let schema: Schema | undefined;
  for (let f = 0; f < files.length; f++) {
    const t = await ArrowTableFile.open(files[f]!);
    await t.close();
    if (!schema) schema = t.schema;
    else if (t.schema.fields.map(String).join() !== schema.fields.map(String).join()) {
      throw new DatasetError(`${files[f]}: schema differs from ${files[0]}; every shard needs one schema`);
    }
    for (let b = 0; b < t.numBatches; b++) index.push({ file: f, batch: b });
  }
  /** Open shards, opened on first use; idle ones beyond a few are closed so thousands of shards stay cheap. */
  const open = new Map<number, { table: Promise<ArrowTableFile>; inflight: number }>();
  const use = (file: number) => {
    let entry = open.get(file);
    if (!entry) {
      entry = { table: ArrowTableFile.open(files[file]!), inflight: 0 };
      open.set(file, entry);
    }
    entry.inflight++;
    return entry;
  };
  const closeIdle = async (keep: number): Promise<void> => {
    for (const [f, entry] of open) {
      if (open.size <= keep) break;
      if (entry.inflight > 0) continue;
      open.delete(f);
      await (await entry.table).close();
    }
  };
  return {
    schema: schema!,
    where: files.length === 1 ? files[0]! : `${files[0]} (+${files.length - 1} shards)`,
    count: index.length,
    async read(i, alloc) {
      const at = index[i]!;
      const entry = use(at.file);
      try {
        return await (await entry.table).readBatch(at.batch, alloc ?? freshBody);
      } finally {
        entry.inflight--;
        await closeIdle(MAX_OPEN_SHARDS);
      }
    },
    async readDeferred(i, columns, alloc) {
      const at = index[i]!;
      const entry = use(at.file);
      let result: DeferredBlock | null = null;
      try {
        const table = await entry.table;
        const deferred = await table.readBatchDeferred(at.batch, columns, alloc);
        if (!deferred) return null;
        let finished = false;
        result = {
          ...deferred,
          readInto: (targets, position) => table.readInto(targets, position),
          done: async () => {
            if (finished) return;
            finished = true;
            entry.inflight--;
            await closeIdle(MAX_OPEN_SHARDS);
          },
        };
        return result;
      } finally {
        if (!result) {
          entry.inflight--;
          await closeIdle(MAX_OPEN_SHARDS);
        }
      }
    },
    async close() {
      await closeIdle(0);
    },
  };
}

function freshBody(bytes: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(bytes);
  return new Uint8Array(buf.buffer, buf.byteOffset, bytes);
}

function tableSource(tables: readonly Table[]): BlockSource {
  const batches = tables.flatMap((t) => t.batches);
  const schema = tables[0]!.schema;
  return {
    schema,
    where: 'in-memory table',
    count: batches.length,
    read: async (i) => batches[i]!,
    close: async () => undefined,
  };
}

/**
 * Streams training batches from Arrow tables. Without shuffling, batches follow file order and are zero-copy views
 * into record batches whenever a batch's rows are contiguous in one record batch. With shuffling, record batches
 * are visited in a seeded random order and their rows kept in a buffer of `bufferSize` rows; each delivered row is
 * drawn uniformly from the rows held, and a new row takes its slot. From files, tensor values are read from disk
 * straight into their buffer slots by scatter reads, in flight while earlier rows are delivered, so each value is
 * copied once by the kernel and once into its batch; rows whose reads are still in flight are not drawn until they
 * land (which reads are awaited depends only on row counts, so the order never depends on timing). Memory is
 * bounded by the buffer plus a few record batches' small columns, whatever the table size. Same options and seed
 * give the same batches; `position()` and `resume` continue exactly.
 */
export class Batcher<T extends string = string, S extends string = string, X extends string = string>
  implements AsyncIterable<Batch<T, S, X>>
{
  private readonly opts: BatcherOptions<T, S, X>;
  private readonly shuffle: { bufferSize: number; seed: number } | null;
  private readonly epochs: number;
  private source: BlockSource | null = null;
  private sizes: number[] = [];
  private scalarKinds: ('int32' | 'float32')[] = [];
  private idColumn: string | null = null;
  private splitFilter: Uint8Array[] | null = null;
  private subjectFilter: Uint8Array[] | null = null;
  private current: BatcherPosition;
  private running = false;
  private readonly bodies = new BodyPool();
  /** Batch memory handed back by `release()`, reused before allocating. */
  private readonly spare: RowStore[] = [];
  private pool: RowStore | null = null;
  private slotSet: SlotSet | null = null;
  private readonly counters: BatcherStats = {
    rowsHeld: 0,
    maxRowsHeld: 0,
    recordBatchesRead: 0,
    batchesDelivered: 0,
    zeroCopyBatches: 0,
  };

  constructor(options: BatcherOptions<T, S, X>) {
    const { batchSize, shuffle, epochs = 1 } = options;
    if (!options.files === !options.tables) {
      throw new DatasetError('createBatcher needs exactly one of `files` (Arrow table files) or `tables` (tables in memory)');
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new DatasetError(`batchSize must be a positive integer (got ${batchSize})`);
    }
    if (!(epochs >= 1) || (!Number.isInteger(epochs) && epochs !== Infinity)) {
      throw new DatasetError(`epochs must be a positive integer or Infinity (got ${epochs})`);
    }
    if (shuffle) {
      if (!Number.isInteger(shuffle.bufferSize) || shuffle.bufferSize < 1) {
        throw new DatasetError(`shuffle.bufferSize must be a positive integer number of rows (got ${shuffle.bufferSize})`);
      }
      Rng.derive(shuffle.seed);
    }
    if (options.tensorColumns.length === 0 && (options.scalarColumns ?? []).length === 0) {
      throw new DatasetError('createBatcher needs at least one tensor or scalar column to deliver');
    }
    this.opts = options;
    this.shuffle = shuffle ? { ...shuffle } : null;
    this.epochs = epochs;
    const resume = options.resume;
    if (resume) {
      if (!Number.isInteger(resume.epoch) || resume.epoch < 0 || !Number.isInteger(resume.batch) || resume.batch < 0) {
        throw new DatasetError(`resume position needs whole epoch and batch numbers (got ${JSON.stringify(resume)})`);
      }
      if ((resume.seed ?? null) !== (this.shuffle?.seed ?? null)) {
        throw new DatasetError(
          `resume position was saved with shuffle seed ${resume.seed} but this batcher uses ${this.shuffle?.seed ?? 'no shuffling'}; use the same shuffle settings to resume`,
        );
      }
    }
    this.current = resume ? { ...resume } : { epoch: 0, batch: 0, seed: this.shuffle?.seed ?? null, rngState: null };
  }

  /** Where the batcher stands after the last delivered batch; pass it as `resume` to continue from there. */
  position(): BatcherPosition {
    return { ...this.current, rngState: this.current.rngState ? [...this.current.rngState] as unknown as RngState : null };
  }

  /** Memory and progress counters. */
  stats(): BatcherStats {
    return { ...this.counters };
  }

  /** Opens the source and checks the requested columns; done by the first iteration if not called. */
  async open(): Promise<Schema> {
    if (this.source) return this.source.schema;
    const o = this.opts;
    const source = o.tables ? tableSource(o.tables instanceof Table ? [o.tables] : o.tables) : await fileSource(o.files!);
    const { schema, where } = source;
    const fields = new Map(schema.fields.map((f) => [f.name, f]));
    const available = () => schema.fields.map((f) => `${f.name} (${f.type})`).join(', ');
    const need = (name: string, what: string): Field => {
      const f = fields.get(name);
      if (!f) throw new DatasetError(`${where}: no column "${name}" for ${what}; columns are: ${available()}`);
      return f;
    };
    try {
      this.sizes = o.tensorColumns.map((name) => {
        const f = need(name, 'tensorColumns');
        if (!isTensorField(f)) throw new DatasetError(`${where}: column "${name}" is ${f.type}, not an arrow.fixed_shape_tensor column`);
        const shape = tensorShape(f, where);
        if (!(DataType.isFloat(f.type.children[0]!.type) && f.type.children[0]!.type.precision === 1)) {
          throw new DatasetError(`${where}: tensor column "${name}" holds ${f.type.children[0]!.type}; the batcher delivers float32 tensors`);
        }
        return shapeSize(shape);
      });
      const scalarNames = [...(o.scalarColumns ?? [])] as string[];
      const id = fields.get('trial_id');
      if (id && DataType.isInt(id.type) && id.type.bitWidth === 32 && !scalarNames.includes('trial_id')) {
        scalarNames.push('trial_id');
        this.idColumn = 'trial_id';
      }
      this.scalarKinds = scalarNames.map((name) => {
        const t = need(name, 'scalarColumns').type as DataType;
        if (DataType.isInt(t) && t.bitWidth === 32 && t.isSigned) return 'int32';
        if (DataType.isFloat(t) && t.precision === 1) return 'float32';
        throw new DatasetError(`${where}: scalar column "${name}" is ${t}; scalar columns must be int32 or float32`);
      });
      for (const name of o.textColumns ?? []) {
        if (!DataType.isUtf8(need(name, 'textColumns').type)) throw new DatasetError(`${where}: text column "${name}" is not utf8`);
      }
      if (o.split !== undefined) {
        if (!DataType.isUtf8(need('split', 'the split filter').type)) throw new DatasetError(`${where}: column "split" is not utf8`);
        this.splitFilter = (typeof o.split === 'string' ? [o.split] : [...o.split]).map((s) => encoder.encode(s));
      }
      if (o.subjects !== undefined) {
        if (!DataType.isUtf8(need('subject', 'the subject filter').type)) throw new DatasetError(`${where}: column "subject" is not utf8`);
        this.subjectFilter = o.subjects.map((s) => encoder.encode(s));
      }
    } catch (err) {
      await source.close();
      throw err;
    }
    this.source = source;
    return schema;
  }

  /** Releases open files. */
  async close(): Promise<void> {
    await this.source?.close();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch<T, S, X>, void, undefined> {
    if (this.running) throw new DatasetError('this batcher is already being iterated; create another one for a second pass');
    this.running = true;
    try {
      await this.open();
      const start = this.current;
      for (let epoch = start.epoch; epoch < this.epochs; epoch++) {
        const skip = epoch === start.epoch ? start.batch : 0;
        const expected = epoch === start.epoch && skip > 0 ? start.rngState : null;
        yield* this.runEpoch(epoch, skip, expected);
        this.current = { epoch: epoch + 1, batch: 0, seed: this.current.seed, rngState: null };
      }
    } finally {
      this.running = false;
      await this.close();
    }
  }

  private columnsOf(batch: RecordBatch): Block {
    const o = this.opts;
    const tensors = o.tensorColumns.map((name) => tensorChunkValues(batch.getChild(name)!.data[0]! as Data<FixedSizeList>) as Float32Array);
    const scalarNames = [...(o.scalarColumns ?? []), ...(this.idColumn ? [this.idColumn] : [])];
    const scalars = scalarNames.map((name, c) => {
      const data = batch.getChild(name)!.data[0]!;
      const values = (data.values as ScalarArray).subarray(0, data.length);
      if (data.nullCount === 0) return values;
      const filled = values.slice();
      const missing = this.scalarKinds[c] === 'int32' ? -1 : Number.NaN;
      for (let i = 0; i < data.length; i++) if (!isValid(data, i)) filled[i] = missing;
      return filled;
    });
    const text = (o.textColumns ?? []).map((name) => batch.getChild(name)!.data[0]! as Data<Utf8>);
    return { rows: batch.numRows, tensors, scalars, text, selection: this.select(batch) };
  }

  private select(batch: RecordBatch): Int32Array | null {
    const filters: [Data<Utf8>, Uint8Array[]][] = [];
    if (this.splitFilter) filters.push([batch.getChild('split')!.data[0]! as Data<Utf8>, this.splitFilter]);
    if (this.subjectFilter) filters.push([batch.getChild('subject')!.data[0]! as Data<Utf8>, this.subjectFilter]);
    if (filters.length === 0) return null;
    const keep = new Int32Array(batch.numRows);
    let n = 0;
    for (let i = 0; i < batch.numRows; i++) {
      let ok = true;
      for (const [data, words] of filters) {
        if (!isValid(data, i) || !matchesAny(data, i, words)) {
          ok = false;
          break;
        }
      }
      if (ok) keep[n++] = i;
    }
    return keep.subarray(0, n);
  }

  private async *runEpoch(epoch: number, skip: number, expectedState: RngState | null): AsyncGenerator<Batch<T, S, X>> {
    const source = this.source!;
    const o = this.opts;
    const rng = this.shuffle ? Rng.derive(this.shuffle.seed, 'batcher', epoch) : null;
    const order = rng ? rng.permutation(source.count) : Int32Array.from({ length: source.count }, (_, i) => i);
    const { batchSize } = o;
    const textCount = (o.textColumns ?? []).length;
    const scalarNames = [...(o.scalarColumns ?? []), ...(this.idColumn ? [this.idColumn] : [])];
    let out: RowStore | null = null;
    let filled = 0;
    let index = 0;

    const deliver = (rows: number, store: RowStore | null, view: Block | null, viewStart: number): Batch<T, S, X> | null => {
      const number = index++;
      if (number < skip) {
        if (number === skip - 1) this.checkResume(epoch, skip, rng, expectedState);
        return null;
      }
      const batch: Record<string, unknown> = { rows, epoch, index: number };
      o.tensorColumns.forEach((name, c) => {
        const size = this.sizes[c]!;
        batch[name] = view
          ? view.tensors[c]!.subarray(viewStart * size, (viewStart + rows) * size)
          : store!.tensors[c]!.subarray(0, rows * size);
      });
      scalarNames.forEach((name, c) => {
        batch[name] = view ? view.scalars[c]!.subarray(viewStart, viewStart + rows) : store!.scalars[c]!.subarray(0, rows);
      });
      (o.textColumns ?? []).forEach((name, c) => {
        batch[name] = view
          ? Array.from({ length: rows }, (_, i) => utf8At(view.text[c]!, viewStart + i))
          : store!.text[c]!.slice(0, rows);
      });
      let released = false;
      batch.release = () => {
        if (released || !store) return;
        released = true;
        if (this.spare.length < MAX_SPARE_BATCHES) this.spare.push(store);
      };
      if (view) this.counters.zeroCopyBatches++;
      this.counters.batchesDelivered++;
      this.current = { epoch, batch: index, seed: this.current.seed, rngState: rng ? rng.state() : null };
      return batch as Batch<T, S, X>;
    };
    const nextStore = (): RowStore | null =>
      index < skip ? null : (this.spare.pop() ?? new RowStore(batchSize, this.sizes, this.scalarKinds, textCount));
    /** Copies one row into the batch being assembled; returns the batch when it is full. */
    const addRow = (block: Block, row: number): Batch<T, S, X> | null => {
      if (filled === 0) out = nextStore();
      out?.fromBlock(filled, block, row);
      filled++;
      if (filled < batchSize) return null;
      filled = 0;
      return deliver(batchSize, out, null, 0);
    };

    /** Copies row `from` of the shuffle buffer into the batch being assembled; returns the batch when full. */
    const addPooled = (pool: RowStore, from: number): Batch<T, S, X> | null => {
      if (filled === 0) out = nextStore();
      out?.fromStore(filled, pool, from);
      filled++;
      if (filled < batchSize) return null;
      filled = 0;
      return deliver(batchSize, out, null, 0);
    };
    if (!rng) {
      const pending: Promise<RecordBatch>[] = [];
      for (let k = 0; k < Math.min(READ_AHEAD, source.count); k++) pending.push(source.read(order[k]!));
      try {
        for (let k = 0; k < source.count; k++) {
          const record = await pending.shift()!;
          if (k + READ_AHEAD < source.count) pending.push(source.read(order[k + READ_AHEAD]!));
          this.counters.recordBatchesRead++;
          const block = this.columnsOf(record);
          const sel = block.selection;
          const n = sel ? sel.length : block.rows;
          for (let i = 0; i < n; ) {
            const row = sel ? sel[i]! : i;
            if (filled === 0 && n - i >= batchSize && (!sel || sel[i + batchSize - 1]! - row === batchSize - 1)) {
              const b = deliver(batchSize, null, block, row);
              if (b) yield b;
              i += batchSize;
              continue;
            }
            const b = addRow(block, row);
            if (b) yield b;
            i++;
          }
        }
      } finally {
        for (const p of pending) await p.catch(() => undefined);
      }
    } else {
      const pool = this.shufflePool(textCount);
      const capacity = pool.capacity;
      const slots = this.shuffleState(capacity);
      const rowBytes = this.sizes.map((size) => size * 4);
      const tensorNames = o.tensorColumns as readonly string[];
      const bodies = this.bodies;
      let held = 0;
      /** Reads into the buffer in flight, oldest first: the slots each fills. Reads land in the order issued. */
      const landing: { slots: Int32Array; read: Outcome<void> }[] = [];
      const settleOldest = async (): Promise<void> => {
        const oldest = landing.shift()!;
        await unwrap(oldest.read);
        for (const slot of oldest.slots) slots.settle(slot);
      };
      /** Each deferred record batch's release of its file, once its reads are done. */
      const closing: Promise<void>[] = [];
      const prepare = async (k: number): Promise<Prepared> => {
        let body: Uint8Array | null = null;
        const take = (n: number) => (body = bodies.take(n));
        const deferred = source.readDeferred && tensorNames.length > 0 ? await source.readDeferred(order[k]!, tensorNames, take) : null;
        if (deferred) return { record: deferred.record, body, deferred };
        if (body) bodies.give(body);
        body = null;
        const record = await source.read(order[k]!, take);
        return { record, body, deferred: null };
      };
      const pending: Outcome<Prepared>[] = [];
      for (let k = 0; k < Math.min(READ_AHEAD, source.count); k++) pending.push(outcome(prepare(k)));
      try {
        for (let k = 0; k < source.count; k++) {
          const { record, body, deferred } = await unwrap(pending.shift()!);
          if (k + READ_AHEAD < source.count) pending.push(outcome(prepare(k + READ_AHEAD)));
          this.counters.recordBatchesRead++;
          const block = this.columnsOf(record);
          const sel = block.selection;
          const n = sel ? sel.length : block.rows;
          const reads: Promise<void>[] = [];
          for (let i = 0; i < n; ) {
            // A wave: up to a buffer's worth of this record batch's rows, each into a slot of its own. Slots still
            // free come first; then each row takes a slot drawn uniformly without replacement, whose row is
            // delivered first. Rows whose slot an unsettled wave is still filling are delivered last, after it lands.
            let m: number;
            const wave = new Int32Array(Math.min(n - i, capacity));
            if (held < capacity) {
              m = Math.min(n - i, capacity - held);
              for (let q = 0; q < m; q++) wave[q] = held + q;
              held += m;
            } else {
              m = Math.min(n - i, capacity);
              // Only rows that have landed are drawn. While fewer than half the buffer beyond this wave has
              // landed, the oldest reads are awaited first; which are awaited depends only on row counts, never
              // on timing, so the order is the same on every run. One draw per delivered row, as ever.
              while (landing.length > 0 && (landing.length > MAX_LANDING || 2 * slots.landed < capacity + m)) await settleOldest();
              for (let q = 0; q < m; q++) {
                const slot = slots.take(rng.int(slots.landed));
                wave[q] = slot;
                const b = addPooled(pool, slot);
                if (b) yield b;
              }
            }
            const filling = wave.subarray(0, m);
            for (let q = 0; q < m; q++) pool.scalarsFromBlock(filling[q]!, block, sel ? sel[i + q]! : i + q);
            if (deferred) {
              const read = this.scatterRows(deferred, pool, rowBytes, filling, m, sel, i);
              reads.push(read);
              landing.push({ slots: filling, read: outcome(read) });
            } else {
              for (let q = 0; q < m; q++) {
                pool.tensorsFromBlock(filling[q]!, block, sel ? sel[i + q]! : i + q);
                slots.settle(filling[q]!);
              }
            }
            i += m;
          }
          if (body) bodies.give(body);
          if (deferred) closing.push(Promise.allSettled(reads).then(() => deferred.done()));
          this.counters.rowsHeld = held;
          if (held > this.counters.maxRowsHeld) this.counters.maxRowsHeld = held;
        }
        while (landing.length > 0) await settleOldest();
        while (held > 0) {
          const j = rng.int(held);
          const b = addPooled(pool, j);
          held--;
          if (j !== held) pool.fromStore(j, pool, held);
          this.counters.rowsHeld = held;
          if (b) yield b;
        }
      } finally {
        for (const p of [...pending, ...landing.map((l) => l.read)]) await p;
        await Promise.all(closing);
      }
    }
    if (filled > 0 && !o.dropLast) {
      const rows = filled;
      filled = 0;
      const b = deliver(rows, out, null, 0);
      if (b) yield b;
    }
    if (index < skip) {
      throw new DatasetError(
        `cannot resume at epoch ${epoch}, batch ${skip}: that epoch now has only ${index} batches; the data or batch settings changed since the position was saved`,
      );
    }
  }

  /**
   * Reads the tensor values of rows `first .. first + count` of the selection (all rows without one) from disk
   * straight into their buffer slots: one scatter read per run of consecutive rows and column.
   */
  private async scatterRows(
    deferred: DeferredBlock,
    pool: RowStore,
    rowBytes: readonly number[],
    slots: Int32Array,
    count: number,
    sel: Int32Array | null,
    first: number,
  ): Promise<void> {
    for (let c = 0; c < rowBytes.length; c++) {
      let q = 0;
      while (q < count) {
        const start = sel ? sel[first + q]! : first + q;
        const targets: Uint8Array[] = [];
        do {
          targets.push(pool.tensorBytes(c, slots[q]!));
          q++;
        } while (q < count && (sel ? sel[first + q]! : first + q) === start + targets.length);
        await deferred.readInto(targets, deferred.positions[c]! + start * rowBytes[c]!);
      }
    }
  }

  /** Slot bookkeeping of the shuffle buffer, reset for each epoch. */
  private shuffleState(capacity: number): SlotSet {
    if (this.slotSet?.capacity !== capacity) this.slotSet = new SlotSet(capacity);
    this.slotSet.reset();
    return this.slotSet;
  }

  /** The shuffle buffer, allocated once and reused by every epoch. */
  private shufflePool(textCount: number): RowStore {
    this.pool ??= new RowStore(this.shuffle!.bufferSize, this.sizes, this.scalarKinds, textCount);
    return this.pool;
  }

  private checkResume(epoch: number, skip: number, rng: Rng | null, expected: RngState | null): void {
    if (!rng || !expected) return;
    const now = rng.state();
    if (now.some((w, i) => w !== expected[i])) {
      throw new DatasetError(
        `cannot resume at epoch ${epoch}, batch ${skip}: replaying the shuffle does not reach the saved random state, so the data or batch settings changed since the position was saved`,
      );
    }
  }
}

function matchesAny(data: Data<Utf8>, i: number, words: readonly Uint8Array[]): boolean {
  const o = data.valueOffsets as Int32Array;
  const start = o[i]!;
  const len = o[i + 1]! - start;
  const bytes = data.values;
  outer: for (const w of words) {
    if (w.length !== len) continue;
    for (let k = 0; k < len; k++) if (bytes[start + k] !== w[k]) continue outer;
    return true;
  }
  return false;
}

/** A batcher over Arrow tables; iterate it with `for await`. See `Batcher`. */
export function createBatcher<T extends string, S extends string = never, X extends string = never>(
  options: BatcherOptions<T, S, X>,
): Batcher<T, S, X> {
  return new Batcher(options);
}
