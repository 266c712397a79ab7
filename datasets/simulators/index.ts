/** @file The simulated experiments that stand in for the paper's unpublished recordings: memory decision and driving scenes. */

export { type DeepPartial } from './common.js';
export * from './memory-decision.js';
export { simulateMemoryBrainParallel } from './memory-brain-workers.js';
export * from './driving-scenes.js';
export * from './scene-render.js';
export * from './tables.js';
export { fillGaussian, gaussian } from './ziggurat.js';
