/** @file Tensor columns follow the canonical arrow.fixed_shape_tensor extension, on disk and in memory. */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Field, FixedSizeList, Float32, Int32, RecordBatch, Schema, Type, Vector } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { recordBatchFromColumns } from '../../datasets/record-batch.js';
import { readTable, writeTable } from '../../datasets/table-io.js';
import {
  fixedShapeTensorField,
  tensorColumnFromArray,
  tensorMetadata,
  tensorRows,
  tensorShape,
} from '../../datasets/tensor-column.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-tensor-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Finds `text` in `bytes` as a flatbuffers string: a little-endian uint32 length right before the UTF-8 bytes. */
function hasFlatbufferString(bytes: Uint8Array, text: string): boolean {
  const needle = new TextEncoder().encode(text);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  outer: for (let i = 4; i + needle.length <= bytes.length; i++) {
    for (let k = 0; k < needle.length; k++) if (bytes[i + k] !== needle[k]) continue outer;
    if (view.getUint32(i - 4, true) === needle.length && bytes[i + needle.length] === 0) return true;
  }
  return false;
}

describe('fixedShapeTensorField', () => {
  it('stores the spec metadata: extension name, JSON shape, FixedSizeList storage of prod(shape)', () => {
    const field = fixedShapeTensorField('inputs', [60, 7]);
    expect(field.metadata.get('ARROW:extension:name')).toBe('arrow.fixed_shape_tensor');
    const raw = field.metadata.get('ARROW:extension:metadata')!;
    expect(JSON.parse(raw)).toEqual({ shape: [60, 7] });
    expect(field.type.typeId).toBe(Type.FixedSizeList);
    expect((field.type as FixedSizeList).listSize).toBe(420);
    expect(field.type.children[0]!.type).toBeInstanceOf(Float32);
    expect(field.nullable).toBe(false);
  });

  it('writes the optional dim_names the spec allows, and element types other than float32', () => {
    const field = fixedShapeTensorField('image', [2, 3, 3], new Int32(), { dimNames: ['H', 'W', 'C'] });
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!)).toEqual({
      shape: [2, 3, 3],
      dim_names: ['H', 'W', 'C'],
    });
    expect(field.type.children[0]!.type).toBeInstanceOf(Int32);
    expect(() => fixedShapeTensorField('x', [2, 3], undefined, { dimNames: ['a'] })).toThrow(/dim_names/);
  });

  it('rejects empty or non-positive shapes, naming the column', () => {
    expect(() => fixedShapeTensorField('latents', [])).toThrow(/latents/);
    expect(() => fixedShapeTensorField('latents', [3, 0])).toThrow(DatasetError);
    expect(() => fixedShapeTensorField('latents', [2.5])).toThrow(/positive integers/);
  });
});

describe('tensorShape', () => {
  const storage = new FixedSizeList(6, new Field('item', new Float32(), true));
  const withMeta = (meta: Record<string, string>) => new Field('features', storage, false, new Map(Object.entries(meta)));

  it('reads the shape back and validates it against the storage', () => {
    expect(tensorShape(fixedShapeTensorField('features', [2, 3]))).toEqual([2, 3]);
    expect(tensorShape(withMeta({ 'ARROW:extension:name': 'arrow.fixed_shape_tensor', 'ARROW:extension:metadata': '{"shape":[3,2],"permutation":[0,1]}' }))).toEqual([3, 2]);
  });

  it('names the field and the file when the metadata is wrong', () => {
    expect(() => tensorShape(withMeta({}), 'brain.arrow')).toThrow(/brain\.arrow: column "features" is not a tensor column/);
    expect(() =>
      tensorShape(withMeta({ 'ARROW:extension:name': 'arrow.fixed_shape_tensor', 'ARROW:extension:metadata': '{"shape":[4,2]}' })),
    ).toThrow(/"features".*8 elements.*stores 6/);
    expect(() =>
      tensorShape(withMeta({ 'ARROW:extension:name': 'arrow.fixed_shape_tensor', 'ARROW:extension:metadata': 'shape=2x3' })),
    ).toThrow(/must be JSON/);
    expect(() =>
      tensorShape(withMeta({ 'ARROW:extension:name': 'arrow.fixed_shape_tensor', 'ARROW:extension:metadata': '{"shape":[2,3],"permutation":[1,0]}' })),
    ).toThrow(/non row-major/);
    expect(() => tensorShape(new Field('features', new Float32(), false, new Map([['ARROW:extension:name', 'arrow.fixed_shape_tensor']])))).toThrow(/FixedSizeList/);
  });
});

describe('tensorColumnFromArray and tensorRows', () => {
  it('wraps the values without copying and reads them back as the same memory', () => {
    const values = new Float32Array(4 * 6).map((_, i) => i * 0.5);
    const column = tensorColumnFromArray(values, 4, [2, 3], 'features');
    expect(column.length).toBe(4);
    const rows = tensorRows(column);
    expect(rows.buffer).toBe(values.buffer);
    expect(rows.byteOffset).toBe(values.byteOffset);
    expect(Array.from(column.get(2)!)).toEqual(Array.from(values.subarray(12, 18)));
  });

  it('copies rows of a multi-chunk column into one array in order', () => {
    const a = tensorColumnFromArray(Float32Array.from([1, 2, 3, 4]), 2, [2]);
    const b = tensorColumnFromArray(Float32Array.from([5, 6]), 1, [2]);
    const both = new Vector([...a.data, ...b.data]);
    expect(Array.from(tensorRows(both))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses values that do not fill whole rows', () => {
    expect(() => tensorColumnFromArray(new Float32Array(7), 2, [2, 2], 'inputs')).toThrow(/"inputs": 7 values do not fill 2 rows/);
  });
});

describe('tensor columns on disk', () => {
  it('round-trips shape metadata and values through an Arrow IPC file, encoded as the IPC spec lays out strings', async () => {
    const schema = new Schema([new Field('id', new Int32(), false), fixedShapeTensorField('latents', [5, 2], undefined, { dimNames: ['time', 'k'] })]);
    const values = new Float32Array(3 * 10).map((_, i) => Math.sin(i));
    const batch: RecordBatch = recordBatchFromColumns(schema, { id: Int32Array.from([7, 8, 9]), latents: values });
    const file = path.join(dir, 'latents.arrow');
    await writeTable(file, batch);

    const table = await readTable(file);
    const field = table.schema.fields[1]!;
    expect(tensorMetadata(field)).toEqual({ shape: [5, 2], dim_names: ['time', 'k'] });
    expect(Array.from(tensorRows(table.getChild('latents')!))).toEqual(Array.from(values));

    const bytes = new Uint8Array(await readFile(file));
    expect(new TextDecoder().decode(bytes.subarray(0, 6))).toBe('ARROW1');
    expect(hasFlatbufferString(bytes, 'ARROW:extension:name')).toBe(true);
    expect(hasFlatbufferString(bytes, 'arrow.fixed_shape_tensor')).toBe(true);
    expect(hasFlatbufferString(bytes, 'ARROW:extension:metadata')).toBe(true);
    expect(hasFlatbufferString(bytes, '{"shape":[5,2],"dim_names":["time","k"]}')).toBe(true);
    expect(hasFlatbufferString(bytes, '{"shape":[2,5]}')).toBe(false);
  });
});
