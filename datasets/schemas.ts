/** @file The table kinds of b2m (trials, brain, channels, scenes, teacher): their Arrow schemas and schema checks. */

import { DataType, Field, Float32, Int32, Schema, Utf8 } from 'apache-arrow';
import { DatasetError } from './errors.js';
import { fixedShapeTensorField, isTensorField, tensorShape } from './tensor-column.js';

/** The kinds of table a dataset holds. */
export const TABLE_KINDS = ['trials', 'brain', 'channels', 'scenes', 'teacher'] as const;
export type TableKind = (typeof TABLE_KINDS)[number];

/** Split labels. */
export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** Types an extra (task variable, scene factor, annotation) column may have. */
export type ExtraColumnType = 'float32' | 'int32' | 'utf8';

/** Extra columns by name, kept in the order given. */
export type ExtraColumns = Readonly<Record<string, ExtraColumnType>>;

type ScalarType = 'int32' | 'float32' | 'utf8';

/** One required column of a kind. */
interface ColumnSpec {
  name: string;
  type: ScalarType | 'tensor';
  /** Whether nulls are allowed in this column's values. */
  nullable: boolean;
  /** For tensors: how many dimensions, and fixed trailing sizes (e.g. RGB = 3). */
  rank?: number;
  dims?: string;
  lastDim?: number;
}

const KIND_COLUMNS: Record<TableKind, ColumnSpec[]> = {
  trials: [
    { name: 'trial_id', type: 'int32', nullable: false },
    { name: 'subject', type: 'utf8', nullable: false },
    { name: 'session', type: 'utf8', nullable: false },
    { name: 'split', type: 'utf8', nullable: false },
    { name: 'condition', type: 'utf8', nullable: false },
    { name: 'inputs', type: 'tensor', nullable: false, rank: 2, dims: '[time, features]' },
    { name: 'label', type: 'int32', nullable: false },
    { name: 'decision_bin', type: 'int32', nullable: false },
  ],
  brain: [
    { name: 'trial_id', type: 'int32', nullable: true },
    { name: 'condition', type: 'utf8', nullable: false },
    { name: 'subject', type: 'utf8', nullable: false },
    { name: 'split', type: 'utf8', nullable: false },
    { name: 'features', type: 'tensor', nullable: false, rank: 2, dims: '[time, channels]' },
  ],
  channels: [
    { name: 'subject', type: 'utf8', nullable: false },
    { name: 'name', type: 'utf8', nullable: false },
    { name: 'type', type: 'utf8', nullable: false },
    { name: 'x', type: 'float32', nullable: true },
    { name: 'y', type: 'float32', nullable: true },
    { name: 'z', type: 'float32', nullable: true },
    { name: 'location', type: 'utf8', nullable: true },
    { name: 'status', type: 'utf8', nullable: false },
  ],
  scenes: [
    { name: 'scene_id', type: 'int32', nullable: false },
    { name: 'split', type: 'utf8', nullable: false },
    { name: 'image', type: 'tensor', nullable: false, rank: 3, dims: '[height, width, 3]', lastDim: 3 },
  ],
  teacher: [
    { name: 'trial_id', type: 'int32', nullable: true },
    { name: 'condition', type: 'utf8', nullable: false },
    { name: 'subject', type: 'utf8', nullable: false },
    { name: 'split', type: 'utf8', nullable: false },
    { name: 'latents', type: 'tensor', nullable: false, rank: 2, dims: '[time, k]' },
  ],
};

/** The column whose values identify rows uniquely, per kind (within a subject where `perSubject`). */
export const KIND_ID_COLUMN: Record<TableKind, { column: string; perSubject: boolean } | null> = {
  trials: { column: 'trial_id', perSubject: false },
  brain: { column: 'trial_id', perSubject: true },
  channels: null,
  scenes: { column: 'scene_id', perSubject: false },
  teacher: { column: 'trial_id', perSubject: true },
};

/** Columns whose values are limited to a fixed vocabulary. */
export const KIND_VOCABULARIES: Record<TableKind, Record<string, readonly string[]>> = {
  trials: { split: SPLITS },
  brain: { split: SPLITS },
  channels: { status: ['good', 'bad'] },
  scenes: { split: SPLITS },
  teacher: { split: SPLITS },
};

function scalarField(name: string, type: ScalarType, nullable: boolean): Field {
  const t = type === 'int32' ? new Int32() : type === 'float32' ? new Float32() : new Utf8();
  return new Field(name, t, nullable);
}

function extraFields(kind: TableKind, extras: ExtraColumns | undefined): Field[] {
  const taken = new Set(KIND_COLUMNS[kind].map((c) => c.name));
  return Object.entries(extras ?? {}).map(([name, type]) => {
    if (taken.has(name)) {
      throw new DatasetError(`extra column "${name}" clashes with the ${kind} table's own column of that name; rename it`);
    }
    if (type !== 'float32' && type !== 'int32' && type !== 'utf8') {
      throw new DatasetError(`extra column "${name}" has type "${String(type)}"; use float32, int32 or utf8`);
    }
    return scalarField(name, type, true);
  });
}

function kindSchema(kind: TableKind, tensors: Record<string, readonly number[]>, extras?: ExtraColumns): Schema {
  const fields = KIND_COLUMNS[kind].map((c) => {
    if (c.type !== 'tensor') return scalarField(c.name, c.type, c.nullable);
    const shape = tensors[c.name]!;
    checkTensorShape(kind, c, shape, '(schema)');
    return fixedShapeTensorField(c.name, shape);
  });
  return new Schema([...fields, ...extraFields(kind, extras)], new Map([['b2m:kind', kind]]));
}

function checkTensorShape(kind: TableKind, c: ColumnSpec, shape: readonly number[] | undefined, file: string): void {
  if (!shape || shape.length !== c.rank || (c.lastDim !== undefined && shape[shape.length - 1] !== c.lastDim)) {
    throw new DatasetError(
      `${file}: ${kind} column "${c.name}" must have shape ${c.dims}, found ${JSON.stringify(shape ?? null)}`,
    );
  }
}

/** Schema of a trials table: task inputs over time per trial, the label, and where the decision is read. */
export function trialsSchema(shapes: { inputs: readonly [number, number] }, extras?: ExtraColumns): Schema {
  return kindSchema('trials', shapes, extras);
}

/** Schema of a brain table: neural features over time per trial (or per condition, with null trial ids). */
export function brainSchema(shapes: { features: readonly [number, number] }, extras?: ExtraColumns): Schema {
  return kindSchema('brain', shapes, extras);
}

/** Schema of a channel table: one row per recorded channel of a subject. */
export function channelsSchema(extras?: ExtraColumns): Schema {
  return kindSchema('channels', {}, extras);
}

/** Schema of a scenes table: an RGB image in [0, 1] per scene plus its float32 scene factors, by name. */
export function scenesSchema(shapes: { image: readonly [number, number, 3] }, factors: readonly string[] = []): Schema {
  return kindSchema('scenes', shapes, Object.fromEntries(factors.map((f) => [f, 'float32' as const])));
}

/** Schema of a teacher-features table: latents over time per trial or per condition. */
export function teacherSchema(shapes: { latents: readonly [number, number] }, extras?: ExtraColumns): Schema {
  return kindSchema('teacher', shapes, extras);
}

/** What a validated schema holds: its kind, tensor shapes, and extra columns by name and type. */
export interface TableLayout {
  kind: TableKind;
  tensors: Record<string, number[]>;
  extras: Record<string, ExtraColumnType>;
  /** Required columns that may not hold nulls. */
  required: string[];
}

function typeName(t: DataType): string {
  if (DataType.isInt(t) && t.bitWidth === 32 && t.isSigned) return 'int32';
  if (DataType.isFloat(t) && t.precision === 1) return 'float32';
  if (DataType.isUtf8(t)) return 'utf8';
  return String(t);
}

/** The kinds of table in words, for messages. */
export function describeKind(kind: TableKind): string {
  return KIND_COLUMNS[kind].map((c) => `${c.name} ${c.type === 'tensor' ? `tensor${c.dims}` : c.type}`).join(', ');
}

/**
 * Checks `schema` against table kind `kind` and returns its layout. Errors name the file, the field, and the
 * expected versus found type or shape.
 */
export function validateSchema(kind: TableKind, schema: Schema, file: string): TableLayout {
  if (!TABLE_KINDS.includes(kind)) {
    throw new DatasetError(`${file}: unknown table kind "${String(kind)}"; use one of ${TABLE_KINDS.join(', ')}`);
  }
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const tensors: Record<string, number[]> = {};
  for (const c of KIND_COLUMNS[kind]) {
    const field = byName.get(c.name);
    if (!field) {
      throw new DatasetError(
        `${file}: the ${kind} table has no column "${c.name}" (expected ${c.type === 'tensor' ? `a tensor ${c.dims}` : c.type}); a ${kind} table has: ${describeKind(kind)}`,
      );
    }
    if (c.type === 'tensor') {
      if (!isTensorField(field)) {
        throw new DatasetError(
          `${file}: column "${c.name}" must be an arrow.fixed_shape_tensor ${c.dims} of float32, found ${field.type} without tensor metadata`,
        );
      }
      const shape = tensorShape(field, file);
      const element = field.type.children[0]!.type as DataType;
      if (typeName(element) !== 'float32') {
        throw new DatasetError(`${file}: tensor column "${c.name}" must hold float32, found ${typeName(element)}`);
      }
      checkTensorShape(kind, c, shape, file);
      tensors[c.name] = shape;
    } else if (typeName(field.type) !== c.type) {
      throw new DatasetError(`${file}: column "${c.name}" must be ${c.type}, found ${typeName(field.type)}`);
    }
  }
  const required = new Set(KIND_COLUMNS[kind].map((c) => c.name));
  const extras: Record<string, ExtraColumnType> = {};
  for (const field of schema.fields) {
    if (required.has(field.name)) continue;
    if (isTensorField(field)) {
      tensors[field.name] = tensorShape(field, file);
      continue;
    }
    const t = typeName(field.type);
    if (t !== 'float32' && t !== 'int32' && t !== 'utf8') {
      throw new DatasetError(
        `${file}: extra column "${field.name}" has type ${t}; extra columns must be float32, int32, utf8 or tensors`,
      );
    }
    extras[field.name] = t;
  }
  return {
    kind,
    tensors,
    extras,
    required: KIND_COLUMNS[kind].filter((c) => !c.nullable).map((c) => c.name),
  };
}
