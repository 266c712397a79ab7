/** @file Building Arrow record batches from plain columns (typed arrays, string lists) against a schema. */

import { Data, DataType, Field, RecordBatch, Schema, Struct, makeData } from 'apache-arrow';
import { DatasetError } from './errors.js';
import { isTensorField, tensorColumnFromArray, tensorShape, type TensorArray } from './tensor-column.js';

/** Values for one column: a typed array (scalars, or tensors row-major), or a list with nulls for nullable columns. */
export type ColumnValues = TensorArray | readonly (number | null)[] | readonly (string | null)[];

const textEncoder = new TextEncoder();

function isTypedArray(v: unknown): v is TensorArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function validityBitmap(values: readonly unknown[]): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function firstNull(values: readonly unknown[]): number {
  return values.findIndex((v) => v === null || v === undefined);
}

function utf8Data(field: Field, values: readonly (string | null)[], where: string): Data {
  const cache = new Map<string, Uint8Array>();
  const offsets = new Int32Array(values.length + 1);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) {
      if (typeof v !== 'string') {
        throw new DatasetError(`${where}: column "${field.name}" row ${i} is ${typeof v}, expected a string`);
      }
      let bytes = cache.get(v);
      if (!bytes) {
        bytes = textEncoder.encode(v);
        cache.set(v, bytes);
      }
      parts.push(bytes);
      total += bytes.length;
    }
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  const { bitmap, nulls } = validityBitmap(values);
  return makeData({
    type: field.type,
    length: values.length,
    nullCount: nulls,
    nullBitmap: nulls > 0 ? bitmap : null,
    valueOffsets: offsets,
    data,
  } as never);
}

function numericData(field: Field, values: ColumnValues, where: string): Data {
  const type = field.type as DataType;
  const ArrayType = (type as unknown as { ArrayType: new (n: number | ArrayLike<number>) => TensorArray }).ArrayType;
  if (isTypedArray(values)) {
    if (!(values instanceof ArrayType)) {
      throw new DatasetError(
        `${where}: column "${field.name}" is ${type} but was given a ${values.constructor.name}; pass a ${ArrayType.name}`,
      );
    }
    return makeData({ type, length: values.length, nullCount: 0, data: values } as never);
  }
  const list = values as readonly (number | null)[];
  const data = new ArrayType(list.length);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number') {
      throw new DatasetError(`${where}: column "${field.name}" row ${i} is ${typeof v}, expected a number`);
    }
    data[i] = v;
  }
  const { bitmap, nulls } = validityBitmap(list);
  return makeData({ type, length: list.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, data } as never);
}

/**
 * A record batch of `schema` from plain columns, one entry per field. Typed arrays are wrapped without copying;
 * tensor columns take `rows * prod(shape)` values row-major. `where` names the table in errors.
 */
export function recordBatchFromColumns(
  schema: Schema,
  columns: Readonly<Record<string, ColumnValues>>,
  where = 'table',
): RecordBatch {
  for (const name of Object.keys(columns)) {
    if (!schema.fields.some((f) => f.name === name)) {
      throw new DatasetError(
        `${where}: column "${name}" is not in the schema (${schema.fields.map((f) => f.name).join(', ')})`,
      );
    }
  }
  let rows = -1;
  let rowsFrom = '';
  const children = schema.fields.map((field) => {
    const values = columns[field.name];
    if (values === undefined) {
      throw new DatasetError(`${where}: column "${field.name}" is missing; the schema needs ${field.type}`);
    }
    let data: Data;
    if (isTensorField(field)) {
      const shape = tensorShape(field, where);
      if (!isTypedArray(values)) {
        throw new DatasetError(`${where}: tensor column "${field.name}" needs a typed array of values, row-major`);
      }
      const size = shape.reduce((a, b) => a * b, 1);
      if (values.length % size !== 0) {
        throw new DatasetError(
          `${where}: tensor column "${field.name}" has ${values.length} values, not a whole number of rows of shape ${JSON.stringify(shape)}`,
        );
      }
      data = tensorColumnFromArray(values, values.length / size, shape, field.name).data[0]!;
      const element = (field.type.children[0]!.type as DataType).typeId;
      if (data.type.children[0]!.type.typeId !== element) {
        throw new DatasetError(`${where}: tensor column "${field.name}" holds ${field.type.children[0]!.type}, given ${values.constructor.name}`);
      }
      data = makeData({ type: field.type, length: data.length, nullCount: 0, child: data.children[0]! } as never);
    } else if (DataType.isUtf8(field.type)) {
      if (isTypedArray(values)) {
        throw new DatasetError(`${where}: column "${field.name}" is utf8; pass a list of strings`);
      }
      data = utf8Data(field, values as readonly (string | null)[], where);
    } else if (DataType.isInt(field.type) || DataType.isFloat(field.type)) {
      data = numericData(field, values, where);
    } else {
      throw new DatasetError(`${where}: column "${field.name}" has type ${field.type}, which recordBatchFromColumns does not build`);
    }
    if (!field.nullable && data.nullCount > 0) {
      const row = firstNull(values as readonly unknown[]);
      throw new DatasetError(`${where}: column "${field.name}" may not be null (row ${row})`);
    }
    if (rows < 0) {
      rows = data.length;
      rowsFrom = field.name;
    } else if (data.length !== rows) {
      throw new DatasetError(
        `${where}: column "${field.name}" has ${data.length} rows but column "${rowsFrom}" has ${rows}; all columns need the same row count`,
      );
    }
    return data;
  });
  const length = Math.max(rows, 0);
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}
