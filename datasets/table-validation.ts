/** @file Streaming checks of table contents: no nulls where required, finite tensors, known labels, unique ids. */

import { Data, DataType, RecordBatch, Schema, type FixedSizeList, type Utf8 } from 'apache-arrow';
import { DatasetError } from './errors.js';
import { KIND_ID_COLUMN, KIND_VOCABULARIES, validateSchema, type TableKind, type TableLayout } from './schemas.js';
import { tensorChunkValues } from './tensor-column.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function isValid(data: Data, i: number): boolean {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.length === 0) return true;
  const bit = data.offset + i;
  return (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

function utf8At(data: Data<Utf8>, i: number): string {
  const offsets = data.valueOffsets as Int32Array;
  return textDecoder.decode(data.values.subarray(offsets[i]!, offsets[i + 1]!));
}

function indexIn(shape: readonly number[], flat: number): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}

/**
 * Checks record batches of one table as they stream past, remembering only what uniqueness needs. Each error
 * names the file, the row (counted from 0 over the whole table), the column and the offending value.
 */
export class TableValidator {
  readonly layout: TableLayout;
  private rowsSeen = 0;
  private readonly ids = new Map<string, Map<number, number>>();
  private readonly vocab: [string, readonly string[], Uint8Array[]][];

  constructor(
    readonly kind: TableKind,
    readonly schema: Schema,
    readonly file: string,
  ) {
    this.layout = validateSchema(kind, schema, file);
    this.vocab = Object.entries(KIND_VOCABULARIES[kind]).map(([col, words]) => [
      col,
      words,
      words.map((w) => textEncoder.encode(w)),
    ]);
  }

  /** Rows checked so far. */
  get rows(): number {
    return this.rowsSeen;
  }

  /** Checks one record batch; throws a DatasetError naming file, row and column at the first problem. */
  check(batch: RecordBatch): void {
    for (let c = 0; c < batch.schema.fields.length; c++) {
      const field = batch.schema.fields[c]!;
      const expected = this.schema.fields[c];
      if (!expected || expected.name !== field.name || String(expected.type) !== String(field.type)) {
        throw new DatasetError(
          `${this.file}: a record batch has column ${c} "${field.name}" (${field.type}) where the table has "${expected?.name}" (${expected?.type}); every batch must share the table's schema`,
        );
      }
    }
    const base = this.rowsSeen;
    for (const name of this.layout.required) this.checkNoNulls(batch, name, base);
    for (const [name, shape] of Object.entries(this.layout.tensors)) this.checkFinite(batch, name, shape, base);
    for (const [col, words, encoded] of this.vocab) this.checkVocabulary(batch, col, words, encoded, base);
    this.checkIds(batch, base);
    this.rowsSeen += batch.numRows;
  }

  private chunk(batch: RecordBatch, name: string): Data {
    return batch.getChild(name)!.data[0]!;
  }

  private checkNoNulls(batch: RecordBatch, name: string, base: number): void {
    const data = this.chunk(batch, name);
    if (data.nullCount === 0) return;
    for (let i = 0; i < data.length; i++) {
      if (!isValid(data, i)) {
        throw new DatasetError(`${this.file}: row ${base + i}, column "${name}" is null; this column needs a value in every row`);
      }
    }
  }

  private checkFinite(batch: RecordBatch, name: string, shape: readonly number[], base: number): void {
    const data = this.chunk(batch, name) as Data<FixedSizeList>;
    if (data.nullCount > 0) {
      for (let i = 0; i < data.length; i++) {
        if (!isValid(data, i)) {
          throw new DatasetError(`${this.file}: row ${base + i}, tensor column "${name}" is null; every row needs a tensor`);
        }
      }
    }
    const values = tensorChunkValues(data);
    if (!DataType.isFloat(data.type.children[0]!.type)) return;
    const n = values.length;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (v - v !== 0) {
        const size = data.type.listSize;
        const row = Math.floor(i / size);
        const element = i - row * size;
        throw new DatasetError(
          `${this.file}: row ${base + row}, tensor column "${name}", element ${element} (index ${JSON.stringify(indexIn(shape, element))} of shape ${JSON.stringify(shape)}) is ${v}; tensors must hold finite numbers, so clean or drop this row`,
        );
      }
    }
  }

  private checkVocabulary(
    batch: RecordBatch,
    col: string,
    words: readonly string[],
    encoded: Uint8Array[],
    base: number,
  ): void {
    const data = this.chunk(batch, col) as Data<Utf8>;
    const offsets = data.valueOffsets as Int32Array;
    const bytes = data.values;
    for (let i = 0; i < data.length; i++) {
      if (!isValid(data, i)) continue;
      const start = offsets[i]!;
      const len = offsets[i + 1]! - start;
      let known = false;
      for (const w of encoded) {
        if (w.length !== len) continue;
        let same = true;
        for (let k = 0; k < len; k++) {
          if (bytes[start + k] !== w[k]) {
            same = false;
            break;
          }
        }
        if (same) {
          known = true;
          break;
        }
      }
      if (!known) {
        throw new DatasetError(
          `${this.file}: row ${base + i}, column "${col}" is ${JSON.stringify(utf8At(data, i))}; allowed values are ${words.join(', ')}`,
        );
      }
    }
  }

  private checkIds(batch: RecordBatch, base: number): void {
    const spec = KIND_ID_COLUMN[this.kind];
    if (!spec) return;
    const data = this.chunk(batch, spec.column);
    const ids = data.values as Int32Array;
    const subjects = spec.perSubject ? (this.chunk(batch, 'subject') as Data<Utf8>) : null;
    for (let i = 0; i < data.length; i++) {
      if (!isValid(data, i)) continue;
      const scope = subjects ? utf8At(subjects, i) : '';
      let seen = this.ids.get(scope);
      if (!seen) {
        seen = new Map();
        this.ids.set(scope, seen);
      }
      const id = ids[i]!;
      const first = seen.get(id);
      if (first !== undefined) {
        const owner = subjects ? ` for subject ${JSON.stringify(scope)}` : '';
        throw new DatasetError(
          `${this.file}: duplicate ${spec.column} ${id}${owner} in rows ${first} and ${base + i}; ids must be unique, so renumber or drop one of them`,
        );
      }
      seen.set(id, base + i);
    }
  }
}
