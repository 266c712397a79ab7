/** @file The layer library in one import: linear, convolution and recurrent layers. */
export * from './conv.js';
export * from './linear.js';
export * from './recurrent.js';
