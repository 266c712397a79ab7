/**
 * @file The task side of training: the seeded stream of training batches (optionally limited to a budget of
 * task trials), the brain-paired training rows drawn into every batch, and the held-out rows used for evaluation.
 */
import { type RecordBatch, Table, type Data, type Utf8 } from 'apache-arrow';
import {
  type Batch,
  type BatcherPosition,
  createBatcher,
  type Dataset,
  type DatasetTable,
  openTableStream,
  Rng,
  type Split,
} from '../../datasets/index.js';
import { type TeacherData, teacherEntry, TrainDataError } from './teacher-data.js';

/** Which student the rows are for: its task table and columns. */
export type StudentKind = 'decisionRnn' | 'sceneVae';

/** Task rows on the host, row-major. */
export interface TaskRows {
  rows: number;
  /** `inputs` [rows, T, F] (decision task) or `image` [rows, H, W, 3] (scenes). */
  x: Float32Array;
  /** Choice labels and decision bins (decision task), else null. */
  label: Int32Array | null;
  decisionBin: Int32Array | null;
  /** Trial id (decision task) or scene id; -1 for none. */
  id: Int32Array;
  /** Condition keys, when the run pairs or joins by condition; else null. */
  condition: string[] | null;
}

/** The task table of a dataset as the trainer reads it. */
export interface TaskTable {
  kind: StudentKind;
  table: DatasetTable;
  /** Tensor column and its row shape. */
  xColumn: 'inputs' | 'image';
  xShape: number[];
  rowSize: number;
  idColumn: 'trial_id' | 'scene_id';
  /** Whether batches carry condition keys. */
  withConditions: boolean;
}

/** Finds the task table of the student's experiment: `trials` for the decision RNN, `scenes` for the scene VAE. */
export function taskTable(dataset: Dataset, kind: StudentKind, withConditions: boolean): TaskTable {
  const tableKind = kind === 'decisionRnn' ? 'trials' : 'scenes';
  const found = dataset.tablesOfKind(tableKind);
  if (found.length === 0) {
    throw new TrainDataError(
      `${dataset.dir} has no ${tableKind} table, which the ${kind} student trains on (tables: ${Object.keys(dataset.tables).join(', ')}); ` +
        `use a ${kind === 'decisionRnn' ? 'memory-decision' : 'driving'} dataset`,
    );
  }
  const table = found.find((t) => t.name === tableKind) ?? found[0]!;
  const xColumn = kind === 'decisionRnn' ? 'inputs' : 'image';
  const xShape = table.layout.tensors[xColumn]!;
  if (withConditions && kind === 'sceneVae') throw new TrainDataError('pairing by condition needs a trials table; scenes pair by scene id (losses.contrastive.pairing: trial)');
  return {
    kind,
    table,
    xColumn,
    xShape,
    rowSize: xShape.reduce((a, b) => a * b, 1),
    idColumn: kind === 'decisionRnn' ? 'trial_id' : 'scene_id',
    withConditions,
  };
}

type AnyBatch = Batch<string, string, string>;

function rowsOf(task: TaskTable, b: AnyBatch): TaskRows {
  const rnn = task.kind === 'decisionRnn';
  const c = b as unknown as Record<string, unknown>;
  return {
    rows: b.rows,
    x: c[task.xColumn] as Float32Array,
    label: rnn ? (c.label as Int32Array) : null,
    decisionBin: rnn ? (c.decision_bin as Int32Array) : null,
    id: c[task.idColumn] as Int32Array,
    condition: task.withConditions ? (c.condition as string[]) : null,
  };
}

function batcherColumns(task: TaskTable) {
  return {
    tensorColumns: [task.xColumn],
    scalarColumns: task.kind === 'decisionRnn' ? ['label', 'decision_bin'] : ['scene_id'],
    textColumns: task.withConditions ? ['condition'] : [],
  };
}

const SHUFFLE_BUFFER_BYTES = 64 * 1024 * 1024;

function splitIs(data: Data<Utf8>, i: number, word: Uint8Array): boolean {
  const o = data.valueOffsets as Int32Array;
  if (o[i + 1]! - o[i]! !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (data.values[o[i]! + k] !== word[k]) return false;
  return true;
}

/** The first `limit` training rows of the task table, in table order, as record-batch slices (no copy). */
async function budgetTable(task: TaskTable, limit: number): Promise<Table> {
  const word = new TextEncoder().encode('train');
  const parts: RecordBatch[] = [];
  let taken = 0;
  for await (const batch of openTableStream(task.table.files)) {
    const split = batch.getChild('split')!.data[0]! as Data<Utf8>;
    let start = -1;
    let end = -1;
    for (let i = 0; i < batch.numRows && taken < limit; i++) {
      if (splitIs(split, i, word)) {
        if (start < 0) start = i;
        end = i + 1;
        taken++;
      } else if (start >= 0) {
        parts.push(batch.slice(start, end));
        start = -1;
      }
    }
    if (start >= 0) parts.push(batch.slice(start, end));
    if (taken >= limit) break;
  }
  if (taken < limit) {
    throw new TrainDataError(`the task budget asks for ${limit} training trials but table "${task.table.name}" has only ${taken}; lower compare.budgetTaskTrials (or the budget option)`);
  }
  return new Table(parts);
}

/** Rows of the task table in the training split (one pass over the table). */
async function countTrainRows(task: TaskTable): Promise<number> {
  const word = new TextEncoder().encode('train');
  let n = 0;
  for await (const batch of openTableStream(task.table.files)) {
    const split = batch.getChild('split')!.data[0]! as Data<Utf8>;
    for (let i = 0; i < batch.numRows; i++) if (splitIs(split, i, word)) n++;
  }
  return n;
}

/** Options of the training stream. */
export interface TrainStreamOptions {
  batchSize: number;
  seed: number;
  /** Use only the first N training rows of the task table. */
  taskTrials?: number;
  resume?: BatcherPosition;
}

/** Endless shuffled batches of training rows; `position()` after a batch resumes right after it. */
export class TrainStream {
  private readonly iterator: AsyncIterator<AnyBatch>;
  private last: AnyBatch | null = null;

  private constructor(
    private readonly task: TaskTable,
    private readonly batcher: ReturnType<typeof createBatcher<string, string, string>>,
  ) {
    this.iterator = batcher[Symbol.asyncIterator]();
  }

  static async open(task: TaskTable, opts: TrainStreamOptions): Promise<TrainStream> {
    const rows = opts.taskTrials ?? (await countTrainRows(task));
    if (rows < opts.batchSize) {
      throw new TrainDataError(
        `table "${task.table.name}" gives ${rows} training rows${opts.taskTrials !== undefined ? ' within the task budget' : ''}, fewer than one batch of ${opts.batchSize}; lower train.batchSize or add training rows`,
      );
    }
    const bufferSize = Math.max(opts.batchSize, Math.min(8192, Math.floor(SHUFFLE_BUFFER_BYTES / (task.rowSize * 4))));
    const source = opts.taskTrials !== undefined ? { tables: await budgetTable(task, opts.taskTrials) } : { files: task.table.files };
    const batcher = createBatcher<string, string, string>({
      ...source,
      ...batcherColumns(task),
      batchSize: opts.batchSize,
      shuffle: { bufferSize, seed: opts.seed },
      epochs: Infinity,
      split: 'train',
      dropLast: true,
      resume: opts.resume,
    });
    await batcher.open();
    return new TrainStream(task, batcher);
  }

  /** The next batch; the previous one's memory is handed back to the batcher. */
  async next(): Promise<TaskRows> {
    this.last?.release();
    const r = await this.iterator.next();
    if (r.done) throw new TrainDataError(`table "${this.task.table.name}" has no training rows (split "train") to fill a batch`);
    this.last = r.value;
    return rowsOf(this.task, r.value);
  }

  position(): BatcherPosition {
    return this.batcher.position();
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
    await this.batcher.close();
  }
}

/** Where the paired-row sampler stands: its epoch and the rows of that epoch already drawn. */
export interface PairedPosition {
  epoch: number;
  cursor: number;
}

/**
 * The training rows whose trial has brain data (teacher rows keyed by trial id), held in memory (brain data is
 * scarce), drawn without replacement in a seeded order that is reshuffled every epoch. Every strategy draws the
 * same rows, `isolated` included, so strategies see the same task data.
 */
export class PairedRows {
  private readonly out: TaskRows;
  private order: Int32Array;
  private pos: PairedPosition;

  private constructor(
    private readonly task: TaskTable,
    private readonly data: TaskRows,
    private readonly seed: number,
    capacity: number,
    position: PairedPosition,
  ) {
    this.out = {
      rows: 0,
      x: new Float32Array(capacity * task.rowSize),
      label: data.label ? new Int32Array(capacity) : null,
      decisionBin: data.decisionBin ? new Int32Array(capacity) : null,
      id: new Int32Array(capacity),
      condition: data.condition ? new Array<string>(capacity) : null,
    };
    this.pos = { ...position };
    this.order = this.permutation(this.pos.epoch);
  }

  /** Collects the paired training rows (within the budget's first `taskTrials` training rows, if any). */
  static async load(task: TaskTable, teacher: TeacherData, opts: { seed: number; perBatch: number; taskTrials?: number; resume?: PairedPosition }): Promise<PairedRows | null> {
    if (teacher.byTrial.size === 0 || opts.perBatch === 0) return null;
    const chunks: TaskRows[] = [];
    let seen = 0;
    const limit = opts.taskTrials ?? Infinity;
    const batcher = createBatcher<string, string, string>({ files: task.table.files, ...batcherColumns(task), batchSize: 1024, split: 'train' });
    for await (const b of batcher) {
      const rows = rowsOf(task, b);
      const keep: number[] = [];
      for (let i = 0; i < rows.rows && seen < limit; i++, seen++) if (teacherEntry(teacher, rows.id[i]!, undefined) >= 0) keep.push(i);
      if (keep.length > 0) chunks.push(pick(task, rows, keep));
      if (seen >= limit) break;
    }
    if (chunks.length === 0) return null;
    const data = concatRows(task, chunks);
    return new PairedRows(task, data, opts.seed, opts.perBatch, opts.resume ?? { epoch: 0, cursor: 0 });
  }

  /** How many paired rows there are. */
  get count(): number {
    return this.data.rows;
  }

  position(): PairedPosition {
    return { ...this.pos };
  }

  /** The next `n` rows (n at most the capacity given at load); the returned rows are valid until the next call. */
  next(n: number): TaskRows {
    const size = this.task.rowSize;
    for (let i = 0; i < n; i++) {
      if (this.pos.cursor === this.order.length) {
        this.pos = { epoch: this.pos.epoch + 1, cursor: 0 };
        this.order = this.permutation(this.pos.epoch);
      }
      const src = this.order[this.pos.cursor++]!;
      this.out.x.set(this.data.x.subarray(src * size, (src + 1) * size), i * size);
      if (this.out.label) this.out.label[i] = this.data.label![src]!;
      if (this.out.decisionBin) this.out.decisionBin[i] = this.data.decisionBin![src]!;
      this.out.id[i] = this.data.id[src]!;
      if (this.out.condition) this.out.condition[i] = this.data.condition![src]!;
    }
    this.out.rows = n;
    return this.out;
  }

  private permutation(epoch: number): Int32Array {
    return Rng.derive(this.seed, 'paired-rows', epoch).permutation(this.data.rows);
  }
}

/** The rows of `batches` whose id passes `keep`, as new batches (copies). */
export function selectRows(task: TaskTable, batches: readonly TaskRows[], keep: (id: number) => boolean): TaskRows[] {
  const out: TaskRows[] = [];
  for (const b of batches) {
    const rows = Array.from({ length: b.rows }, (_, i) => i).filter((i) => keep(b.id[i]!));
    if (rows.length > 0) out.push(pick(task, b, rows));
  }
  return out;
}

function pick(task: TaskTable, rows: TaskRows, keep: readonly number[]): TaskRows {
  const size = task.rowSize;
  const x = new Float32Array(keep.length * size);
  keep.forEach((r, i) => x.set(rows.x.subarray(r * size, (r + 1) * size), i * size));
  return {
    rows: keep.length,
    x,
    label: rows.label ? Int32Array.from(keep, (r) => rows.label![r]!) : null,
    decisionBin: rows.decisionBin ? Int32Array.from(keep, (r) => rows.decisionBin![r]!) : null,
    id: Int32Array.from(keep, (r) => rows.id[r]!),
    condition: rows.condition ? keep.map((r) => rows.condition![r]!) : null,
  };
}

function concatRows(task: TaskTable, chunks: readonly TaskRows[]): TaskRows {
  if (chunks.length === 1) return chunks[0]!;
  const rows = chunks.reduce((a, c) => a + c.rows, 0);
  const x = new Float32Array(rows * task.rowSize);
  const out: TaskRows = {
    rows,
    x,
    label: chunks[0]!.label ? new Int32Array(rows) : null,
    decisionBin: chunks[0]!.decisionBin ? new Int32Array(rows) : null,
    id: new Int32Array(rows),
    condition: chunks[0]!.condition ? [] : null,
  };
  let at = 0;
  for (const c of chunks) {
    x.set(c.x, at * task.rowSize);
    out.label?.set(c.label!, at);
    out.decisionBin?.set(c.decisionBin!, at);
    out.id.set(c.id, at);
    out.condition?.push(...c.condition!);
    at += c.rows;
  }
  return out;
}

/**
 * Held-out rows for evaluation: the first `maxRows` rows of a split in table order, copied into memory once and
 * cut into batches, so every evaluation sees the same rows.
 */
export async function loadEvalRows(task: TaskTable, split: Split, batchSize: number, maxRows: number): Promise<TaskRows[]> {
  const out: TaskRows[] = [];
  let total = 0;
  const batcher = createBatcher<string, string, string>({ files: task.table.files, ...batcherColumns(task), batchSize, split });
  for await (const b of batcher) {
    const rows = rowsOf(task, b);
    const n = Math.min(rows.rows, maxRows - total);
    out.push(pick(task, rows, Array.from({ length: n }, (_, i) => i)));
    total += n;
    if (total >= maxRows) break;
  }
  return out;
}

