/** @file The dataset manifest (`manifest.json`): its zod schema, parsing with located errors, and serialization. */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DatasetError } from './errors.js';
import { TABLE_KINDS } from './schemas.js';

/** The manifest's file name inside a dataset directory. */
export const MANIFEST_FILE = 'manifest.json';
/** The manifest layout this code writes and reads. */
export const SCHEMA_VERSION = 1;
/** What produced a dataset. */
export const DATASET_KINDS = ['memory-decision', 'driving', 'ingest'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

const count = z.number().int().nonnegative();

const tableEntrySchema = z.strictObject({
  kind: z.enum(TABLE_KINDS),
  /** File names relative to the dataset directory, shards in order. */
  files: z.array(z.string().min(1).refine((f) => !path.isAbsolute(f) && !f.split(/[\\/]/).includes('..'), 'must be a path inside the dataset directory')).min(1),
  rows: count,
  /** Row shape of each tensor column. */
  shapes: z.record(z.string(), z.array(z.number().int().positive()).min(1)),
  /** Physical units by column, e.g. { features: "z-scored high-gamma power", image: "intensity 0-1" }. */
  units: z.record(z.string(), z.string()).optional(),
  description: z.string().optional(),
});

const splitCounts = z.strictObject({ train: count, val: count, test: count });

export const splitSummarySchema = z.strictObject({
  by: z.enum(['trial', 'subject']),
  seed: z.number().int(),
  fractions: z
    .strictObject({ train: z.number().min(0).max(1), val: z.number().min(0).max(1), test: z.number().min(0).max(1) })
    .refine((f) => Math.abs(f.train + f.val + f.test - 1) < 1e-6, 'train + val + test must add up to 1'),
  /** Rows per split. */
  counts: splitCounts,
  /** Distinct units per split: how many trials or subjects each split got. */
  unitCounts: splitCounts,
  /** Subjects per split, when splitting by subject. */
  subjects: z
    .strictObject({ train: z.array(z.string()), val: z.array(z.string()), test: z.array(z.string()) })
    .optional(),
});

export const manifestSchema = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  kind: z.enum(DATASET_KINDS),
  name: z.string().optional(),
  description: z.string().optional(),
  tables: z.record(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'table names use letters, digits, _ . -'), tableEntrySchema),
  /** Sampling rates in Hz by stream or table, e.g. { brain: 1000, trials: 100 }. */
  samplingRates: z.record(z.string(), z.number().positive()).optional(),
  provenance: z.strictObject({
    /** Generator (e.g. "memoryDecisionSimulator") or reader (e.g. "edf") that produced the data. */
    generator: z.string().optional(),
    /** Source files the data was read from. */
    source: z.array(z.string()).optional(),
    /** Version of the software that wrote the dataset. */
    version: z.string(),
    /** The configuration used, as given. */
    config: z.unknown().optional(),
  }),
  seed: z.number().int().nullable().optional(),
  splits: splitSummarySchema.optional(),
  /** Free-form metadata that other tools may add. */
  extra: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestTable = z.infer<typeof tableEntrySchema>;
export type SplitSummary = z.infer<typeof splitSummarySchema>;
export type SplitCounts = z.infer<typeof splitCounts>;

/** Validates a manifest value; errors list each problem with its path, e.g. `tables.trials.rows`. */
export function parseManifest(value: unknown, file: string): Manifest {
  const result = manifestSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    return `  ${where}: ${issue.message}`;
  });
  throw new DatasetError(`${file}: invalid dataset manifest:\n${problems.join('\n')}`);
}

/** Reads and validates `manifest.json` of dataset directory `dir`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(
      code === 'ENOENT'
        ? `${dir}: not a b2m dataset (no ${MANIFEST_FILE}); create one with writeDataset or the b2m simulate/ingest commands`
        : `${file}: cannot read (${code ?? String(err)})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseManifest(value, file);
}

/** The manifest as written to disk: two-space JSON with a final newline. */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
