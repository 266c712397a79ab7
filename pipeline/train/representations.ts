/** @file Student activations and brain latents of the held-out rows that have brain data, one Arrow table per run, for CKA and RSA between student and brain. */
import path from 'node:path';
import { Field, Int32, Schema } from 'apache-arrow';
import { fixedShapeTensorField, readTable, recordBatchFromColumns, tensorRows, tensorShape, writeTable } from '../../datasets/index.js';

export const REPRESENTATIONS_FILE = 'representations.arrow';

/** Rows of matched representations: `student` [rows, ...studentShape] and `brain` [rows, ...brainShape]. */
export interface Representations {
  /** Trial or scene id of each row. */
  ids: Int32Array;
  student: Float32Array;
  studentShape: number[];
  brain: Float32Array;
  brainShape: number[];
  /** The activation the student side holds (e.g. `hidden`, `latent_mean`). */
  activation: string;
}

/** Writes `runDir/representations.arrow`: columns `id`, `student` and `brain` (fixed-shape tensors). */
export async function writeRepresentations(runDir: string, r: Representations): Promise<string> {
  const file = path.join(runDir, REPRESENTATIONS_FILE);
  const schema = new Schema(
    [new Field('id', new Int32(), false), fixedShapeTensorField('student', r.studentShape), fixedShapeTensorField('brain', r.brainShape)],
    new Map([['b2m:activation', r.activation]]),
  );
  await writeTable(file, recordBatchFromColumns(schema, { id: r.ids, student: r.student, brain: r.brain }, file), { schema });
  return file;
}

/** Reads a run's representations back. */
export async function readRepresentations(runDir: string): Promise<Representations> {
  const file = path.join(runDir, REPRESENTATIONS_FILE);
  const table = await readTable(file);
  const field = (name: string) => table.schema.fields.find((f) => f.name === name)!;
  return {
    ids: Int32Array.from(table.getChild('id')!.toArray() as Int32Array),
    student: tensorRows(table.getChild('student') as never),
    studentShape: tensorShape(field('student'), file),
    brain: tensorRows(table.getChild('brain') as never),
    brainShape: tensorShape(field('brain'), file),
    activation: table.schema.metadata.get('b2m:activation') ?? '',
  };
}
