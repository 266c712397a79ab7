/** @file Tensor columns as Arrow's canonical `arrow.fixed_shape_tensor` extension: fields, shapes, zero-copy vectors. */

import {
  Data,
  DataType,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int16,
  Int32,
  Int8,
  Type,
  Uint16,
  Uint8,
  Vector,
  makeData,
} from 'apache-arrow';
import { DatasetError } from './errors.js';

/** The canonical extension's name (Arrow columnar format, "Canonical Extension Types: Fixed shape tensor"). */
export const FIXED_SHAPE_TENSOR = 'arrow.fixed_shape_tensor';
/** Field metadata key holding an extension type's name. */
export const EXTENSION_NAME_KEY = 'ARROW:extension:name';
/** Field metadata key holding an extension type's serialized parameters. */
export const EXTENSION_METADATA_KEY = 'ARROW:extension:metadata';

/** Element types a tensor column may hold. */
export type TensorElementType = Float32 | Float64 | Int32 | Int16 | Int8 | Uint8 | Uint16;
/** Typed arrays matching `TensorElementType`. */
export type TensorArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/** The extension's parameters as the spec defines them; `dim_names` and `permutation` are optional. */
export interface TensorExtensionMetadata {
  shape: number[];
  dim_names?: string[];
  permutation?: number[];
}

/** A tensor column's storage type: a fixed-size list of `prod(shape)` elements. */
export type TensorStorage<T extends TensorElementType = Float32> = FixedSizeList<T>;

function elementTypeOf(values: TensorArray): TensorElementType {
  if (values instanceof Float32Array) return new Float32();
  if (values instanceof Float64Array) return new Float64();
  if (values instanceof Int32Array) return new Int32();
  if (values instanceof Int16Array) return new Int16();
  if (values instanceof Int8Array) return new Int8();
  if (values instanceof Uint8Array) return new Uint8();
  return new Uint16();
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(name: string, shape: readonly number[]): void {
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new DatasetError(
      `tensor column "${name}": shape must be a non-empty list of positive integers (got ${JSON.stringify(shape)})`,
    );
  }
}

/**
 * The field of a tensor column with row shape `shape` (row-major), typed as the canonical extension: storage
 * `FixedSizeList<type>` of `prod(shape)` items, metadata name and `{"shape":[...]}` (plus `dim_names` if given).
 */
export function fixedShapeTensorField<T extends TensorElementType = Float32>(
  name: string,
  shape: readonly number[],
  type?: T,
  options: { dimNames?: readonly string[]; nullable?: boolean } = {},
): Field<TensorStorage<T>> {
  checkShape(name, shape);
  const meta: TensorExtensionMetadata = { shape: [...shape] };
  if (options.dimNames) {
    if (options.dimNames.length !== shape.length) {
      throw new DatasetError(
        `tensor column "${name}": ${options.dimNames.length} dim_names for a ${shape.length}-dimensional shape`,
      );
    }
    meta.dim_names = [...options.dimNames];
  }
  const element = (type ?? new Float32()) as T;
  const storage = new FixedSizeList(product(shape), new Field('item', element, true));
  const metadata = new Map([
    [EXTENSION_NAME_KEY, FIXED_SHAPE_TENSOR],
    [EXTENSION_METADATA_KEY, JSON.stringify(meta)],
  ]);
  return new Field(name, storage, options.nullable ?? false, metadata);
}

/** True when the field carries the `arrow.fixed_shape_tensor` extension name. */
export function isTensorField(field: Field): boolean {
  return field.metadata.get(EXTENSION_NAME_KEY) === FIXED_SHAPE_TENSOR;
}

/** The parsed extension metadata of a tensor field, validated against its storage; errors name the field. */
export function tensorMetadata(field: Field, file?: string): TensorExtensionMetadata {
  const where = file ? `${file}: column "${field.name}"` : `column "${field.name}"`;
  const extName = field.metadata.get(EXTENSION_NAME_KEY);
  if (extName !== FIXED_SHAPE_TENSOR) {
    throw new DatasetError(
      `${where} is not a tensor column: field metadata ${EXTENSION_NAME_KEY} is ${extName === undefined ? 'missing' : JSON.stringify(extName)}, expected "${FIXED_SHAPE_TENSOR}"; write it with fixedShapeTensorField()`,
    );
  }
  if (!DataType.isFixedSizeList(field.type)) {
    throw new DatasetError(`${where}: a ${FIXED_SHAPE_TENSOR} column must be stored as a FixedSizeList, found ${field.type}`);
  }
  const valueType = field.type.children[0]!.type;
  if (!DataType.isFloat(valueType) && !DataType.isInt(valueType)) {
    throw new DatasetError(`${where}: tensor elements must be numeric, found ${valueType}`);
  }
  const raw = field.metadata.get(EXTENSION_METADATA_KEY);
  let meta: unknown;
  try {
    meta = JSON.parse(raw ?? '');
  } catch {
    throw new DatasetError(
      `${where}: ${EXTENSION_METADATA_KEY} must be JSON like {"shape":[time,features]}, found ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`,
    );
  }
  const m = meta as Partial<TensorExtensionMetadata> | null;
  if (!m || !Array.isArray(m.shape) || m.shape.length === 0 || m.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new DatasetError(`${where}: ${EXTENSION_METADATA_KEY} needs "shape", a list of non-negative integers; found ${raw}`);
  }
  const size = product(m.shape);
  if (size !== field.type.listSize) {
    throw new DatasetError(
      `${where}: shape ${JSON.stringify(m.shape)} holds ${size} elements but the FixedSizeList stores ${field.type.listSize} per row`,
    );
  }
  if (m.dim_names !== undefined && (!Array.isArray(m.dim_names) || m.dim_names.length !== m.shape.length)) {
    throw new DatasetError(`${where}: dim_names must list one name per dimension of shape ${JSON.stringify(m.shape)}`);
  }
  if (m.permutation !== undefined) {
    const p = m.permutation;
    if (!Array.isArray(p) || p.length !== m.shape.length || p.some((v, i) => v !== i)) {
      throw new DatasetError(
        `${where}: permutation ${JSON.stringify(p)} stores the tensor in a non row-major layout, which b2m does not read; rewrite the column row-major`,
      );
    }
  }
  return m as TensorExtensionMetadata;
}

/** The row shape of a tensor field (validated; the error names the field and, if given, the file). */
export function tensorShape(field: Field, file?: string): number[] {
  return tensorMetadata(field, file).shape;
}

/** Elements per row of a shape. */
export function shapeSize(shape: readonly number[]): number {
  return product(shape);
}

/**
 * A tensor column of `rows` rows of `shape` over `values` (row-major, `rows * prod(shape)` elements). The vector
 * wraps `values` without copying.
 */
export function tensorColumnFromArray<A extends TensorArray>(
  values: A,
  rows: number,
  shape: readonly number[],
  name = 'tensor',
): Vector<FixedSizeList> {
  checkShape(name, shape);
  const size = product(shape);
  if (!Number.isInteger(rows) || rows < 0 || values.length !== rows * size) {
    throw new DatasetError(
      `tensor column "${name}": ${values.length} values do not fill ${rows} rows of shape ${JSON.stringify(shape)} (${rows * size} needed)`,
    );
  }
  const element = elementTypeOf(values);
  const child = makeData({ type: element, length: values.length, nullCount: 0, data: values } as never) as Data;
  const type = new FixedSizeList(size, new Field('item', element, true));
  const data = makeData({ type, length: rows, nullCount: 0, child } as never) as unknown as Data<FixedSizeList>;
  return new Vector([data]);
}

/** The element array of one chunk of a tensor column, starting at the chunk's first row (a view, no copy). */
export function tensorChunkValues(data: Data<FixedSizeList>): TensorArray {
  const child = data.children[0]!;
  const values = child.values as TensorArray;
  return values.subarray(0, data.length * data.type.listSize);
}

/**
 * All rows of a float32 tensor column as one Float32Array: a view into the column's buffer when it is one chunk,
 * a copy when it spans several record batches.
 */
export function tensorRows(column: Vector<FixedSizeList> | Data<FixedSizeList>): Float32Array {
  const chunks = column instanceof Vector ? column.data : [column];
  for (const chunk of chunks) {
    if (chunk.type.typeId !== Type.FixedSizeList || !(chunk.children[0]?.values instanceof Float32Array)) {
      throw new DatasetError(`tensorRows reads float32 tensor columns; this column is ${chunk.type}`);
    }
  }
  if (chunks.length === 1) return tensorChunkValues(chunks[0]!) as Float32Array;
  let total = 0;
  for (const chunk of chunks) total += chunk.length * chunk.type.listSize;
  const out = new Float32Array(total);
  let at = 0;
  for (const chunk of chunks) {
    const v = tensorChunkValues(chunk);
    out.set(v, at);
    at += v.length;
  }
  return out;
}
