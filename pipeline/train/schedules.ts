/** @file Learning-rate and loss-weight schedules, evaluated on the host each step and fed to the step graph as knobs. */
import type { LossScheduleConfig, LrScheduleConfig } from '../config.js';

/**
 * The learning rate for the step about to run (`step` counts steps already taken, from 0). A warm-up of
 * `warmupSteps` ramps linearly from base/warmupSteps to the base rate; then `constant` keeps it, `cosine`
 * anneals it to 0 at `totalSteps`, and `step` multiplies it by `gamma` every `stepEvery` steps.
 */
export function learningRateAt(step: number, base: number, schedule: LrScheduleConfig, totalSteps: number): number {
  const warmup = schedule.warmupSteps;
  if (step < warmup) return (base * (step + 1)) / warmup;
  const since = step - warmup;
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'cosine': {
      const span = Math.max(1, totalSteps - warmup);
      return 0.5 * base * (1 + Math.cos((Math.PI * Math.min(since, span)) / span));
    }
    case 'step':
      return base * schedule.gamma ** Math.floor(since / (schedule.stepEvery ?? Infinity));
  }
}

/**
 * A loss weight λ for the step about to run. `constant` keeps `weight`; a warm-up (kind `warmup`, or
 * `warmupSteps` with any kind) ramps it linearly from 0 at step 0 to `weight` at `warmupSteps`; `decay` holds it
 * until `endStep - decaySteps` and lowers it linearly to 0 at `endStep` (or, without it, at `endFraction` of the
 * run; default the last step), 0 after; without `decaySteps` it falls from `weight` at step 0 to 0 at that end.
 */
export function lossWeightAt(step: number, weight: number, schedule: LossScheduleConfig, totalSteps: number): number {
  let factor = 1;
  const warmup = schedule.warmupSteps ?? 0;
  if (warmup > 0 && step < warmup) factor = step / warmup;
  if (schedule.kind === 'decay') {
    const end = schedule.endStep ?? Math.round((schedule.endFraction ?? 1) * totalSteps);
    const span = schedule.decaySteps ?? end;
    const start = end - span;
    if (step >= end) factor = 0;
    else if (step > start) factor *= (end - step) / span;
  }
  return weight * factor;
}
