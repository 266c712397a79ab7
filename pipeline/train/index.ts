/** @file The trainer's public surface: train a cell in-process or in a worker thread, its checkpoints, metrics, schedules, devices, feeds and null controls. */
export * from './checkpoint.js';
export * from './device.js';
export * from './feeds.js';
export * from './metrics.js';
export * from './model.js';
export * from './null-controls.js';
export * from './schedules.js';
export * from './task-data.js';
export * from './teacher-data.js';
export * from './trainer.js';
export * from './worker.js';
export * from './representations.js';
