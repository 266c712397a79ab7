/** @file The op library in one import: elementwise, matrix, reduction and shape ops. */
export * from './elementwise.js';
export * from './matmul.js';
export * from './reduce.js';
export * from './shape.js';
