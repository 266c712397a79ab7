/** @file The op library in one import: elementwise, matrix, reduction, shape, convolution and neural-network ops. */
export * from './conv.js';
export * from './elementwise.js';
export * from './matmul.js';
export * from './nn.js';
export * from './reduce.js';
export * from './shape.js';
