/** @file The public surface of the data layer. */

export * from './errors.js';
export * from './random.js';
export * from './tensor-column.js';
export * from './schemas.js';
export * from './record-batch.js';
export * from './table-validation.js';
export * from './table-io.js';
export * from './manifest.js';
export * from './splits.js';
export * from './dataset.js';
export * from './batcher.js';
