/** @file The optimizers in one import: configuration, knobs, state naming, clipping and the graph transform. */
export { type OptimizerConfig, type SgdConfig, type AdamConfig, type ResolvedOptimizer, resolveOptimizer, decays } from './config.js';
export { knob, knobDefaults, KNOB_PREFIX } from './knobs.js';
export { type StateSlot, STATE_PREFIX, stateInput } from './state.js';
export { globalNorm, clipByGlobalNorm } from './clip.js';
export { applyOptimizer, type OptimizerStep } from './optimizer.js';
