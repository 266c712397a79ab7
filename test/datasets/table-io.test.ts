/** @file Table files: every kind round-trips through disk, shards, atomic writes, and each bad-input error. */

import { mkdir, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Field, Float32, RecordBatch, Schema, Table, Utf8 } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { recordBatchFromColumns, type ColumnValues } from '../../datasets/record-batch.js';
import {
  brainSchema,
  channelsSchema,
  scenesSchema,
  teacherSchema,
  trialsSchema,
  validateSchema,
  type TableKind,
} from '../../datasets/schemas.js';
import { ArrowTableFile, openTableStream, readTable, resolveTableFiles, writeTable } from '../../datasets/table-io.js';
import { tensorRows } from '../../datasets/tensor-column.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-table-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ramp(n: number, scale = 1): Float32Array {
  return new Float32Array(n).map((_, i) => Math.fround(Math.cos(i * 0.37) * scale));
}

function trialsColumns(rows: number, time = 6, features = 3): Record<string, ColumnValues> {
  return {
    trial_id: Int32Array.from({ length: rows }, (_, i) => 100 + i),
    subject: Array.from({ length: rows }, (_, i) => `sub-${i % 3}`),
    session: Array.from({ length: rows }, (_, i) => `ses-${i % 2}`),
    split: Array.from({ length: rows }, (_, i) => (['train', 'train', 'val', 'test'] as const)[i % 4]),
    condition: Array.from({ length: rows }, (_, i) => `o1=${i % 5}|o2=${(i * 3) % 5}`),
    inputs: ramp(rows * time * features),
    label: Int32Array.from({ length: rows }, (_, i) => i % 2),
    decision_bin: Int32Array.from({ length: rows }, () => time - 1),
    offer1: Float32Array.from({ length: rows }, (_, i) => i % 5),
    delay_bins: Int32Array.from({ length: rows }, (_, i) => 10 + (i % 7)),
  };
}

function trialsBatch(rows: number, time = 6, features = 3): RecordBatch {
  const schema = trialsSchema({ inputs: [time, features] }, { offer1: 'float32', delay_bins: 'int32' });
  return recordBatchFromColumns(schema, trialsColumns(rows, time, features), 'trials');
}

const kinds: Record<TableKind, () => RecordBatch> = {
  trials: () => trialsBatch(9),
  brain: () =>
    recordBatchFromColumns(brainSchema({ features: [4, 5] }, { rt: 'float32' }), {
      trial_id: [1, 2, null, null],
      condition: ['a', 'b', 'a', 'b'],
      subject: ['s1', 's1', 's2', 's2'],
      split: ['train', 'val', 'train', 'test'],
      features: ramp(4 * 20, 3),
      rt: [0.5, null, 0.25, 1.5],
    }),
  channels: () =>
    recordBatchFromColumns(channelsSchema(), {
      subject: ['s1', 's1', 's1'],
      name: ['LA1', 'LA2', 'EKG'],
      type: ['seeg', 'seeg', 'ekg'],
      x: [-21.5, -24, null],
      y: [3, 3.5, null],
      z: [-12, -12.25, null],
      location: ['Left-Amygdala', null, null],
      status: ['good', 'bad', 'good'],
    }),
  scenes: () =>
    recordBatchFromColumns(scenesSchema({ image: [4, 5, 3] }, ['curvature', 'offset']), {
      scene_id: Int32Array.from([0, 1, 2]),
      split: ['train', 'train', 'val'],
      image: ramp(3 * 60).map((v) => (v + 1) / 2),
      curvature: Float32Array.from([0.1, -0.2, 0.3]),
      offset: Float32Array.from([0, 0.5, -0.5]),
    }),
  teacher: () =>
    recordBatchFromColumns(teacherSchema({ latents: [6, 2] }), {
      trial_id: Int32Array.from([5, 5, 6]),
      condition: ['x', 'x', 'y'],
      subject: ['s1', 's2', 's1'],
      split: ['train', 'train', 'val'],
      latents: ramp(3 * 12),
    }),
};

function rowsOf(table: Table | RecordBatch): unknown[] {
  return table.toArray().map((row) =>
    Object.fromEntries(
      Object.entries(row.toJSON()).map(([k, v]) => [k, v && typeof v === 'object' && 'toArray' in v ? Array.from((v as { toArray(): ArrayLike<number> }).toArray()) : v]),
    ),
  );
}

async function listing(d: string): Promise<string[]> {
  return (await readdir(d)).sort();
}

describe('every table kind round-trips through disk', () => {
  for (const kind of Object.keys(kinds) as TableKind[]) {
    it(`${kind}: schema, metadata and values are equal after write and read`, async () => {
      const batch = kinds[kind]();
      const file = path.join(dir, `roundtrip-${kind}.arrow`);
      const written = await writeTable(file, batch, { kind });
      expect(written.files).toEqual([file]);
      expect(written.rows).toBe(batch.numRows);
      const table = await readTable(file, { kind });
      expect(table.numRows).toBe(batch.numRows);
      expect(table.schema.fields.map((f) => [f.name, String(f.type), f.nullable, [...f.metadata]])).toEqual(
        batch.schema.fields.map((f) => [f.name, String(f.type), f.nullable, [...f.metadata]]),
      );
      expect(table.schema.metadata.get('b2m:kind')).toBe(kind);
      expect(rowsOf(table)).toEqual(rowsOf(batch));
      const layout = validateSchema(kind, table.schema, file);
      expect(layout.kind).toBe(kind);
    });
  }

  it('keeps nulls where the kind allows them', async () => {
    const table = await readTable(path.join(dir, 'roundtrip-channels.arrow'));
    expect(table.getChild('location')!.get(1)).toBeNull();
    expect(table.getChild('x')!.get(2)).toBeNull();
    const brain = await readTable(path.join(dir, 'roundtrip-brain.arrow'));
    expect(brain.getChild('trial_id')!.get(2)).toBeNull();
    expect(brain.getChild('trial_id')!.get(1)).toBe(2);
  });
});

describe('shards and record batches', () => {
  it('splits a table into shards of bounded rows and reads them back in order', async () => {
    const file = path.join(dir, 'sharded', 'trials.arrow');
    await mkdir(path.dirname(file), { recursive: true });
    const batches = [trialsBatch(10), trialsBatch(10)].map((b, k) =>
      recordBatchFromColumns(b.schema, {
        ...trialsColumns(10),
        trial_id: Int32Array.from({ length: 10 }, (_, i) => k * 10 + i),
      }),
    );
    const written = await writeTable(file, batches, { maxRowsPerShard: 6, maxRowsPerBatch: 4, kind: 'trials' });
    expect(written.rows).toBe(20);
    expect((await writeTable(path.join(dir, 'new', 'deeper', 't.arrow'), trialsBatch(2))).files).toHaveLength(1);
    expect(written.files.map((f) => path.basename(f))).toEqual([
      'trials-00000.arrow',
      'trials-00001.arrow',
      'trials-00002.arrow',
      'trials-00003.arrow',
    ]);
    expect(await resolveTableFiles(file)).toEqual(written.files);
    const counts: number[] = [];
    for (const f of written.files) {
      const t = await ArrowTableFile.open(f);
      let rows = 0;
      for (let i = 0; i < t.numBatches; i++) {
        const b = await t.readBatch(i);
        expect(b.numRows).toBeLessThanOrEqual(4);
        rows += b.numRows;
      }
      await t.close();
      counts.push(rows);
    }
    expect(counts).toEqual([6, 6, 6, 2]);
    const table = await readTable(file, { kind: 'trials' });
    expect(Array.from(table.getChild('trial_id')!.toArray())).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(Array.from(tensorRows(table.getChild('inputs')!))).toEqual([
      ...Array.from(batches[0]!.getChild('inputs')!.data[0]!.children[0]!.values as Float32Array),
      ...Array.from(batches[1]!.getChild('inputs')!.data[0]!.children[0]!.values as Float32Array),
    ]);

    const rewritten = await writeTable(file, trialsBatch(5), { maxRowsPerShard: 6 });
    expect(rewritten.files).toHaveLength(1);
    expect((await listing(path.dirname(file))).filter((f) => f.startsWith('trials'))).toEqual(['trials-00000.arrow']);
  });

  it('streams one record batch at a time', async () => {
    const file = path.join(dir, 'stream.arrow');
    await writeTable(file, trialsBatch(50), { maxRowsPerBatch: 8 });
    const sizes: number[] = [];
    for await (const b of openTableStream(file)) sizes.push(b.numRows);
    expect(sizes).toEqual([8, 8, 8, 8, 8, 8, 2]);
  });

  it('reads record batches into memory the caller supplies and recycles', async () => {
    const file = path.join(dir, 'recycle.arrow');
    const a = trialsBatch(10);
    const b = recordBatchFromColumns(a.schema, { ...trialsColumns(10), trial_id: Int32Array.from({ length: 10 }, (_, i) => 500 + i), inputs: ramp(10 * 18, 2) });
    await writeTable(file, [a, b]);
    const t = await ArrowTableFile.open(file);
    const memory = new Uint8Array(1 << 16);
    const first = await t.readBatch(0, () => memory);
    expect(first.getChild('inputs')!.data[0]!.children[0]!.values.buffer).toBe(memory.buffer);
    expect(rowsOf(first)).toEqual(rowsOf(a));
    const second = await t.readBatch(1, () => memory);
    expect(rowsOf(second)).toEqual(rowsOf(b));
    expect(Array.from(first.getChild('trial_id')!.toArray())).toEqual(Array.from({ length: 10 }, (_, i) => 500 + i));
    await expect(t.readBatch(2)).rejects.toThrow(/recycle\.arrow: record batch 2 does not exist \(the file has 2\)/);
    await t.close();
  });

  it('writes an empty table when given its schema', async () => {
    const file = path.join(dir, 'empty.arrow');
    const schema = trialsSchema({ inputs: [2, 2] });
    await writeTable(file, [], { schema, kind: 'trials' });
    const table = await readTable(file, { kind: 'trials' });
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toContain('inputs');
    await expect(writeTable(path.join(dir, 'none.arrow'), [])).rejects.toThrow(/no record batches and no schema/);
  });
});

describe('atomic writes', () => {
  it('a source that fails midway leaves no file at the final path and no temporary files', async () => {
    const d = path.join(dir, 'atomic');
    await mkdir(d);
    const file = path.join(d, 'trials.arrow');
    async function* failing() {
      yield trialsBatch(4);
      yield trialsBatch(4);
      throw new Error('simulator crashed');
    }
    await expect(writeTable(file, failing(), { maxRowsPerShard: 3 })).rejects.toThrow('simulator crashed');
    expect(await listing(d)).toEqual([]);
  });

  it('a failed rewrite keeps the previous complete file untouched', async () => {
    const d = path.join(dir, 'atomic2');
    await mkdir(d);
    const file = path.join(d, 'trials.arrow');
    await writeTable(file, trialsBatch(3));
    const before = await stat(file);
    const bad = trialsColumns(3);
    (bad.inputs as Float32Array)[7] = Number.NaN;
    const badBatch = recordBatchFromColumns(trialsBatch(3).schema, bad);
    await expect(writeTable(file, [trialsBatch(3), badBatch], { kind: 'trials' })).rejects.toThrow(DatasetError);
    expect(await listing(d)).toEqual(['trials.arrow']);
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    expect((await readTable(file)).numRows).toBe(3);
  });
});

describe('bad input names the file and the row, field or element', () => {
  const file = () => path.join(dir, 'bad.arrow');

  it('wrong schema: a missing column', async () => {
    const schema = new Schema(trialsBatch(1).schema.fields.filter((f) => f.name !== 'label'));
    const cols = trialsColumns(2);
    delete cols.label;
    const batch = recordBatchFromColumns(schema, cols);
    const err = await writeTable(file(), batch, { kind: 'trials' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).userError).toBe(true);
    expect((err as Error).message).toMatch(/bad\.arrow: the trials table has no column "label" \(expected int32\)/);
  });

  it('wrong schema: a column of the wrong type, found when reading a file written without checks', async () => {
    const fields = trialsBatch(1).schema.fields.map((f) => (f.name === 'label' ? new Field('label', new Float32(), false) : f));
    const cols = { ...trialsColumns(2), label: Float32Array.from([0, 1]) };
    await writeTable(file(), recordBatchFromColumns(new Schema(fields), cols));
    await expect(readTable(file(), { kind: 'trials' })).rejects.toThrow(/bad\.arrow: column "label" must be int32, found float32/);
  });

  it('wrong schema: a tensor of the wrong rank, and a plain column where a tensor belongs', async () => {
    expect(() => validateSchema('scenes', scenesSchema({ image: [4, 5, 3] }), 'x.arrow')).not.toThrow();
    const brainWrong = new Schema(
      brainSchema({ features: [4, 5] }).fields.map((f) => (f.name === 'features' ? new Field('features', new Utf8()) : f)),
    );
    expect(() => validateSchema('brain', brainWrong, 'b.arrow')).toThrow(/b\.arrow: column "features" must be an arrow\.fixed_shape_tensor \[time, channels\]/);
    const teacherAsTrials = trialsSchema({ inputs: [2, 2] });
    expect(() => validateSchema('teacher', teacherAsTrials, 't.arrow')).toThrow(/t\.arrow: the teacher table has no column "latents"/);
  });

  it('NaN and infinite values in a tensor column', async () => {
    const cols = trialsColumns(4, 6, 3);
    (cols.inputs as Float32Array)[2 * 18 + 3 * 3 + 1] = Number.NaN;
    const batch = recordBatchFromColumns(trialsBatch(1).schema, cols);
    await expect(writeTable(file(), batch, { kind: 'trials' })).rejects.toThrow(
      /bad\.arrow: row 2, tensor column "inputs", element 10 \(index \[3,1\] of shape \[6,3\]\) is NaN/,
    );
    const inf = trialsColumns(4, 6, 3);
    (inf.inputs as Float32Array)[3 * 18 + 17] = Number.NEGATIVE_INFINITY;
    await writeTable(file(), recordBatchFromColumns(trialsBatch(1).schema, inf));
    await expect(readTable(file(), { kind: 'trials' })).rejects.toThrow(/row 3, tensor column "inputs", element 17 .* is -Infinity/);
  });

  it('duplicate trial ids, naming both rows, across record batches', async () => {
    const a = trialsBatch(5);
    const cols = { ...trialsColumns(5), trial_id: Int32Array.from([200, 201, 103, 202, 203]) };
    const b = recordBatchFromColumns(a.schema, cols);
    await expect(writeTable(file(), [a, b], { kind: 'trials' })).rejects.toThrow(/duplicate trial_id 103 in rows 3 and 7/);
  });

  it('brain trial ids are unique per subject, not across subjects', async () => {
    const schema = brainSchema({ features: [1, 1] });
    const ok = recordBatchFromColumns(schema, {
      trial_id: Int32Array.from([1, 1]),
      condition: ['a', 'a'],
      subject: ['s1', 's2'],
      split: ['train', 'train'],
      features: Float32Array.from([1, 2]),
    });
    await expect(writeTable(file(), ok, { kind: 'brain' })).resolves.toMatchObject({ rows: 2 });
    const dup = recordBatchFromColumns(schema, {
      trial_id: Int32Array.from([1, 1]),
      condition: ['a', 'a'],
      subject: ['s1', 's1'],
      split: ['train', 'train'],
      features: Float32Array.from([1, 2]),
    });
    await expect(writeTable(file(), dup, { kind: 'brain' })).rejects.toThrow(/duplicate trial_id 1 for subject "s1" in rows 0 and 1/);
  });

  it('an unknown split label and a null in a required column', async () => {
    const cols = { ...trialsColumns(3), split: ['train', 'validation', 'test'] };
    await expect(writeTable(file(), recordBatchFromColumns(trialsBatch(1).schema, cols), { kind: 'trials' })).rejects.toThrow(
      /row 1, column "split" is "validation"; allowed values are train, val, test/,
    );
    const channels = channelsSchema();
    const nullable = new Schema(channels.fields.map((f) => (f.name === 'status' ? new Field('status', new Utf8(), true) : f)));
    const batch = recordBatchFromColumns(nullable, {
      subject: ['s1', 's1'],
      name: ['A', 'B'],
      type: ['eeg', 'eeg'],
      x: [null, null],
      y: [null, null],
      z: [null, null],
      location: [null, null],
      status: ['good', null],
    });
    await expect(writeTable(file(), batch, { kind: 'channels' })).rejects.toThrow(/row 1, column "status" is null/);
  });

  it('columns of unequal length, and a null in a column declared non-nullable', () => {
    const cols = { ...trialsColumns(3), label: Int32Array.from([0, 1]) };
    expect(() => recordBatchFromColumns(trialsBatch(1).schema, cols, 'sim')).toThrow(/sim: column "label" has 2 rows but column "trial_id" has 3/);
    const cols2 = { ...trialsColumns(2), subject: ['a', null] };
    expect(() => recordBatchFromColumns(trialsBatch(1).schema, cols2, 'sim')).toThrow(/column "subject" may not be null \(row 1\)/);
  });

  it('a file that is not Arrow, and a truncated Arrow file', async () => {
    const csv = path.join(dir, 'trials.csv.arrow');
    await writeFile(csv, 'trial_id,label\n1,0\n');
    await expect(readTable(csv)).rejects.toThrow(/trials\.csv\.arrow: not an Arrow IPC file/);
    const cut = path.join(dir, 'cut.arrow');
    await writeTable(cut, trialsBatch(20));
    await truncate(cut, 900);
    await expect(readTable(cut)).rejects.toThrow(/cut\.arrow: Arrow IPC file is truncated/);
    await expect(readTable(path.join(dir, 'missing.arrow'))).rejects.toThrow(/missing\.arrow: no such table file, and no shards missing-00000\.arrow/);
  });

  it('a missing shard in the middle', async () => {
    const d = path.join(dir, 'gap');
    await mkdir(d);
    const { files } = await writeTable(path.join(d, 't.arrow'), trialsBatch(9), { maxRowsPerShard: 3 });
    await rm(files[1]!);
    await expect(resolveTableFiles(path.join(d, 't.arrow'))).rejects.toThrow(/t-00001\.arrow: shard 1 of table .* is missing/);
  });
});
