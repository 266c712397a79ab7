/** @file The streaming batcher: order, zero-copy views, seeded shuffling in bounded memory, resume, filters, splits. */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Field, Int32, RecordBatch, Schema, Table } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatcher, type Batch, type BatcherPosition } from '../../datasets/batcher.js';
import { DatasetError } from '../../datasets/errors.js';
import { recordBatchFromColumns } from '../../datasets/record-batch.js';
import { trialsSchema } from '../../datasets/schemas.js';
import { assignSplits } from '../../datasets/splits.js';
import { ArrowTableFile, resolveTableFiles, writeTable } from '../../datasets/table-io.js';
import { fixedShapeTensorField } from '../../datasets/tensor-column.js';

const T = 4;
const F = 3;
const SIZE = T * F;
const N = 1000;
const SUBJECTS = ['sub-01', 'sub-02', 'sub-03', 'sub-04', 'sub-05'];

let dir: string;
let file: string;

/** Row i holds inputs i*100 + k, so any delivered row can be checked against its trial id. */
function trialsBatch(start: number, rows: number): RecordBatch {
  const ids = Int32Array.from({ length: rows }, (_, i) => start + i);
  return recordBatchFromColumns(trialsSchema({ inputs: [T, F] }, { offer1: 'float32' }), {
    trial_id: ids,
    subject: Array.from(ids, (id) => SUBJECTS[id % 5]!),
    session: Array.from(ids, () => 'ses-1'),
    split: Array.from(ids, (id) => (id % 10 < 7 ? 'train' : id % 10 < 9 ? 'val' : 'test')),
    condition: Array.from(ids, (id) => `o1=${id % 4}`),
    inputs: new Float32Array(rows * SIZE).map((_, j) => ids[Math.floor(j / SIZE)]! * 100 + (j % SIZE)),
    label: Int32Array.from(ids, (id) => id % 2),
    decision_bin: Int32Array.from(ids, () => T - 1),
    offer1: Float32Array.from(ids, (id) => id / 2),
  });
}

function checkRows(batch: Batch<'inputs', 'label'>): void {
  const ids = batch.trial_id!;
  expect(ids.length).toBe(batch.rows);
  expect(batch.inputs.length).toBe(batch.rows * SIZE);
  for (let r = 0; r < batch.rows; r++) {
    const id = ids[r]!;
    expect(batch.label[r]).toBe(id % 2);
    for (let k = 0; k < SIZE; k += 5) expect(batch.inputs[r * SIZE + k]).toBe(id * 100 + k);
  }
}

async function collect<B>(it: AsyncIterable<B>, limit = Infinity): Promise<B[]> {
  const out: B[] = [];
  for await (const b of it) {
    out.push(b);
    if (out.length >= limit) break;
  }
  return out;
}

function idsOf(batches: Batch<'inputs', 'label'>[]): number[] {
  return batches.flatMap((b) => Array.from(b.trial_id!));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-batcher-'));
  file = path.join(dir, 'trials.arrow');
  async function* source() {
    for (let s = 0; s < N; s += 250) yield trialsBatch(s, 250);
  }
  await writeTable(file, source(), { maxRowsPerShard: 400, maxRowsPerBatch: 100, kind: 'trials' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('without shuffling', () => {
  it('delivers every row once in file order across shards, with values aligned to ids', async () => {
    const batcher = createBatcher({ files: file, tensorColumns: ['inputs'], scalarColumns: ['label'], batchSize: 64 });
    const batches = await collect(batcher);
    expect(idsOf(batches)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(batches.map((b) => b.rows)).toEqual([...Array(15).fill(64), N - 15 * 64]);
    batches.forEach(checkRows);
    expect(batches.map((b) => b.index)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const stats = batcher.stats();
    let recordBatches = 0;
    for (const f of await resolveTableFiles(file)) {
      const t = await ArrowTableFile.open(f);
      recordBatches += t.numBatches;
      await t.close();
    }
    expect(stats.recordBatchesRead).toBe(recordBatches);
    expect(stats.zeroCopyBatches).toBeGreaterThan(0);
    expect(stats.zeroCopyBatches).toBeLessThan(16);
  });

  it('hands out views of the record batch memory when a batch lies inside one record batch', async () => {
    const batch = trialsBatch(0, 100);
    const table = new Table([batch]);
    const batches = await collect(createBatcher({ tables: table, tensorColumns: ['inputs'], scalarColumns: ['label'], batchSize: 25 }));
    const inputsBuffer = batch.getChild('inputs')!.data[0]!.children[0]!.values.buffer;
    const labelBuffer = batch.getChild('label')!.data[0]!.values.buffer;
    expect(batches).toHaveLength(4);
    for (const b of batches) {
      expect(b.inputs.buffer).toBe(inputsBuffer);
      expect(b.label.buffer).toBe(labelBuffer);
    }
    expect(batches[1]!.inputs.byteOffset - batches[0]!.inputs.byteOffset).toBe(25 * SIZE * 4);
    const straddling = await collect(createBatcher({ tables: new Table([trialsBatch(0, 30), trialsBatch(30, 30)]), tensorColumns: ['inputs'], batchSize: 20 }));
    expect(straddling.map((b) => b.inputs.buffer === batch.getChild('inputs')!.data[0]!.children[0]!.values.buffer)).toEqual([false, false, false]);
    expect(Array.from(straddling[1]!.trial_id!)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
  });

  it('filters by split and subject, and drops a short last batch on request', async () => {
    const batches = await collect(
      createBatcher({
        files: file,
        tensorColumns: ['inputs'],
        scalarColumns: ['label'],
        textColumns: ['subject', 'split'],
        batchSize: 50,
        split: 'train',
        subjects: ['sub-01', 'sub-03'],
        dropLast: true,
      }),
    );
    const expected = Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 < 7 && (i % 5 === 0 || i % 5 === 2));
    expect(batches.every((b) => b.rows === 50)).toBe(true);
    expect(idsOf(batches)).toEqual(expected.slice(0, Math.floor(expected.length / 50) * 50));
    for (const b of batches) {
      expect(new Set(b.split)).toEqual(new Set(['train']));
      b.subject.forEach((s, r) => expect(s).toBe(SUBJECTS[b.trial_id![r]! % 5]));
      checkRows(b);
    }
  });
});

describe('with shuffling', () => {
  const opts = (seed: number) =>
    ({ files: file, tensorColumns: ['inputs'], scalarColumns: ['label'], batchSize: 32, shuffle: { bufferSize: 128, seed }, epochs: 2 }) as const;

  it('delivers each row exactly once per epoch, in a different order each epoch', async () => {
    const batches = await collect(createBatcher(opts(5)));
    batches.forEach(checkRows);
    const e0 = idsOf(batches.filter((b) => b.epoch === 0));
    const e1 = idsOf(batches.filter((b) => b.epoch === 1));
    const all = Array.from({ length: N }, (_, i) => i);
    expect([...e0].sort((a, b) => a - b)).toEqual(all);
    expect([...e1].sort((a, b) => a - b)).toEqual(all);
    expect(e0).not.toEqual(all);
    expect(e0).not.toEqual(e1);
    const displacement = e0.reduce((s, id, pos) => s + Math.abs(id - pos), 0) / N;
    expect(displacement).toBeGreaterThan(100);
  });

  it('is deterministic: same seed, same batches; another seed, another order', async () => {
    const a = idsOf(await collect(createBatcher(opts(11))));
    const b = idsOf(await collect(createBatcher(opts(11))));
    const c = idsOf(await collect(createBatcher(opts(12))));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('holds at most bufferSize rows, whatever the table size', async () => {
    const batcher = createBatcher({ ...opts(3), epochs: 1 });
    let maxDuring = 0;
    for await (const _ of batcher) maxDuring = Math.max(maxDuring, batcher.stats().rowsHeld);
    const stats = batcher.stats();
    expect(stats.maxRowsHeld).toBe(128);
    expect(maxDuring).toBeLessThanOrEqual(128);
    expect(stats.rowsHeld).toBe(0);
    expect(stats.zeroCopyBatches).toBe(0);
  });

  it('reuses the memory of released batches and never that of batches still held', async () => {
    const held = await collect(createBatcher({ ...opts(4), epochs: 1 }));
    expect(new Set(held.map((b) => b.inputs.buffer)).size).toBe(held.length);
    const buffers = new Set<ArrayBufferLike>();
    const ids: number[] = [];
    for await (const b of createBatcher({ ...opts(4), epochs: 1 })) {
      checkRows(b);
      buffers.add(b.inputs.buffer);
      ids.push(...b.trial_id!);
      b.release();
      b.release();
    }
    expect(buffers.size).toBe(1);
    expect(ids).toEqual(idsOf(held));
  });

  it('shuffles only the selected rows when filtering by split and subject, each once, with its own values', async () => {
    const batches = await collect(
      createBatcher({ ...opts(13), textColumns: ['split', 'subject'], split: 'train', subjects: ['sub-01', 'sub-03'], epochs: 1 }),
    );
    batches.forEach(checkRows);
    for (const b of batches) expect(new Set(b.split)).toEqual(new Set(['train']));
    const expected = Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 < 7 && (i % 5 === 0 || i % 5 === 2));
    const ids = idsOf(batches);
    expect([...ids].sort((a, b) => a - b)).toEqual(expected);
    expect(ids).not.toEqual(expected);
  });

  it('shuffles in-memory tables and files alike: every row once, deterministic per seed', async () => {
    const table = new Table(Array.from({ length: 10 }, (_, k) => trialsBatch(k * 100, 100)));
    const fromTable = (seed: number) => createBatcher({ ...opts(seed), files: undefined, tables: table, epochs: 1 });
    const a = await collect(fromTable(5));
    a.forEach(checkRows);
    expect([...idsOf(a)].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(idsOf(await collect(fromTable(5)))).toEqual(idsOf(a));
    expect(idsOf(await collect(fromTable(6)))).not.toEqual(idsOf(a));
  });

  it('works with a buffer smaller than a record batch, and delivers two tensor columns row-aligned', async () => {
    const two = path.join(dir, 'two.arrow');
    const schema = new Schema([
      new Field('trial_id', new Int32(), false),
      fixedShapeTensorField('inputs', [T, F]),
      fixedShapeTensorField('target', [2]),
      new Field('label', new Int32(), false),
    ]);
    const withTarget = (start: number, rows: number) => {
      const ids = Int32Array.from({ length: rows }, (_, i) => start + i);
      return recordBatchFromColumns(schema, {
        trial_id: ids,
        inputs: new Float32Array(rows * SIZE).map((_, j) => ids[Math.floor(j / SIZE)]! * 100 + (j % SIZE)),
        target: Float32Array.from({ length: rows * 2 }, (_, j) => -(start + Math.floor(j / 2)) - (j % 2) / 2),
        label: Int32Array.from(ids, (id) => id % 2),
      });
    };
    await writeTable(two, [withTarget(0, 300), withTarget(300, 200)], { maxRowsPerBatch: 250 });
    const batches = await collect(
      createBatcher({ files: two, tensorColumns: ['inputs', 'target'], scalarColumns: ['label'], batchSize: 16, shuffle: { bufferSize: 40, seed: 3 } }),
    );
    const ids: number[] = [];
    for (const b of batches) {
      checkRows(b);
      for (let r = 0; r < b.rows; r++) {
        const id = b.trial_id![r]!;
        ids.push(id);
        expect([b.target[2 * r], b.target[2 * r + 1]]).toEqual([-id, -id - 0.5]);
      }
    }
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(ids).not.toEqual([...ids].sort((x, y) => x - y));
    const displacement = ids.reduce((s, id, pos) => s + Math.abs(id - pos), 0) / ids.length;
    expect(displacement).toBeGreaterThan(8);
  });

  it('resumes exactly from a saved position, also after a JSON round trip', async () => {
    const reference = await collect(createBatcher(opts(21)));
    const first = createBatcher(opts(21));
    const head = await collect(first, 40);
    const saved = JSON.parse(JSON.stringify(first.position())) as BatcherPosition;
    expect(saved.epoch).toBe(1);
    expect(saved.batch).toBe(40 - Math.ceil(N / 32));
    expect(saved.rngState).toHaveLength(4);
    const rest = await collect(createBatcher({ ...opts(21), resume: saved }));
    expect(idsOf([...head, ...rest])).toEqual(idsOf(reference));
    expect(rest[0]!.epoch).toBe(1);
    expect(rest[0]!.index).toBe(saved.batch);
  });

  it('refuses to resume when the data changed or the seed differs', async () => {
    const first = createBatcher(opts(8));
    await collect(first, 5);
    const saved = first.position();
    const other = path.join(dir, 'other.arrow');
    await writeTable(other, [trialsBatch(0, 300), trialsBatch(300, 300)], { maxRowsPerBatch: 100 });
    await expect(collect(createBatcher({ ...opts(8), files: other, resume: saved }))).rejects.toThrow(
      /cannot resume at epoch 0, batch 5: replaying the shuffle does not reach the saved random state/,
    );
    expect(() => createBatcher({ ...opts(9), resume: saved })).toThrow(/saved with shuffle seed 8 but this batcher uses 9/);
    await expect(collect(createBatcher({ ...opts(8), files: other, resume: { ...saved, batch: 500 } }))).rejects.toThrow(/that epoch now has only 19 batches/);
  });
});

describe('bad batcher options name the problem', () => {
  it('missing or mistyped columns name the file and list the columns', async () => {
    await expect(collect(createBatcher({ files: file, tensorColumns: ['features'], batchSize: 8 }))).rejects.toThrow(
      /trials-00000\.arrow \(\+2 shards\): no column "features" for tensorColumns; columns are: trial_id \(Int32\)/,
    );
    await expect(collect(createBatcher({ files: file, tensorColumns: ['label'], batchSize: 8 }))).rejects.toThrow(/column "label" is Int32, not an arrow\.fixed_shape_tensor column/);
    await expect(collect(createBatcher({ files: file, tensorColumns: ['inputs'], scalarColumns: ['subject'], batchSize: 8 }))).rejects.toThrow(/scalar column "subject" is Utf8/);
    expect(() => createBatcher({ files: file, tensorColumns: ['inputs'], batchSize: 0 })).toThrow(DatasetError);
    expect(() => createBatcher({ files: file, tensorColumns: ['inputs'], batchSize: 4, shuffle: { bufferSize: 0, seed: 1 } })).toThrow(/bufferSize/);
  });
});

describe('assignSplits', () => {
  const subjects = Array.from({ length: 600 }, (_, i) => `sub-${String(i % 12).padStart(2, '0')}`);

  it('by subject keeps every subject in one split only, and the splits disjoint', () => {
    const { split, summary } = assignSplits(subjects, { by: 'subject', fractions: { train: 0.5, val: 0.25, test: 0.25 }, seed: 3 });
    const where = new Map<string, Set<string>>();
    subjects.forEach((s, i) => where.set(s, (where.get(s) ?? new Set()).add(split[i]!)));
    for (const splits of where.values()) expect(splits.size).toBe(1);
    const s = summary.subjects!;
    expect([...s.train, ...s.val, ...s.test].sort()).toEqual([...new Set(subjects)].sort());
    expect(new Set([...s.train, ...s.val, ...s.test]).size).toBe(12);
    expect(summary.unitCounts).toEqual({ train: 6, val: 3, test: 3 });
    expect(summary.counts.train + summary.counts.val + summary.counts.test).toBe(600);
    expect(summary.counts.train).toBe(300);
  });

  it('by trial follows the fractions, depends only on the seed, and gives every split a unit', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => 5000 - i);
    const a = assignSplits(ids, { by: 'trial', fractions: { train: 0.8, val: 0.1, test: 0.1 }, seed: 1 });
    expect(a.summary.counts).toEqual({ train: 800, val: 100, test: 100 });
    const b = assignSplits([...ids].reverse(), { by: 'trial', fractions: { train: 0.8, val: 0.1, test: 0.1 }, seed: 1 });
    const splitOf = new Map(ids.map((id, i) => [id, a.split[i]]));
    expect([...ids].reverse().map((id) => splitOf.get(id))).toEqual(b.split);
    const c = assignSplits(ids, { by: 'trial', fractions: { train: 0.8, val: 0.1, test: 0.1 }, seed: 2 });
    expect(c.split).not.toEqual(a.split);
    const few = assignSplits([1, 2, 3], { by: 'trial', fractions: { train: 0.9, val: 0.05, test: 0.05 }, seed: 1 });
    expect([...few.split].sort()).toEqual(['test', 'train', 'val']);
  });

  it('rejects bad fractions, duplicate trial ids, and too few subjects', () => {
    expect(() => assignSplits([1, 2], { by: 'trial', fractions: { train: 0.5, val: 0.2, test: 0.2 }, seed: 1 })).toThrow(/add up to 1/);
    expect(() => assignSplits([1, 2, 1], { by: 'trial', fractions: { train: 1, val: 0, test: 0 }, seed: 1 })).toThrow(/trial id 1 appears in rows 0 and 2/);
    expect(() => assignSplits(['a', 'b'], { by: 'subject', fractions: { train: 0.6, val: 0.2, test: 0.2 }, seed: 1 })).toThrow(
      /2 distinct subjects cannot fill 3 non-empty splits/,
    );
  });
});
