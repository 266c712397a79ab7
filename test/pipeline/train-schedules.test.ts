import { describe, expect, it } from 'vitest';
import { learningRateAt, lossWeightAt } from '../../pipeline/train/schedules.js';

const lr = (kind: 'constant' | 'cosine' | 'step', extra: { warmupSteps?: number; stepEvery?: number; gamma?: number } = {}) => ({
  kind,
  warmupSteps: extra.warmupSteps ?? 0,
  gamma: extra.gamma ?? 0.1,
  ...(extra.stepEvery !== undefined ? { stepEvery: extra.stepEvery } : {}),
});

describe('learning-rate schedules', () => {
  it('keeps a constant rate after a linear warm-up that reaches the base rate on its last step', () => {
    const s = lr('constant', { warmupSteps: 4 });
    expect([0, 1, 2, 3].map((t) => learningRateAt(t, 0.02, s, 100))).toEqual([0.005, 0.01, 0.015, 0.02]);
    expect(learningRateAt(4, 0.02, s, 100)).toBe(0.02);
    expect(learningRateAt(99, 0.02, s, 100)).toBe(0.02);
  });

  it('anneals by a half cosine from the base rate after warm-up to zero at the last step', () => {
    const s = lr('cosine', { warmupSteps: 10 });
    expect(learningRateAt(10, 1, s, 110)).toBeCloseTo(1, 12);
    expect(learningRateAt(60, 1, s, 110)).toBeCloseTo(0.5, 12);
    expect(learningRateAt(35, 1, s, 110)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRateAt(110, 1, s, 110)).toBeCloseTo(0, 12);
    for (let t = 11; t < 110; t++) expect(learningRateAt(t, 1, s, 110)).toBeLessThan(learningRateAt(t - 1, 1, s, 110));
  });

  it('multiplies the rate by gamma every stepEvery steps counted from the end of warm-up', () => {
    const s = lr('step', { warmupSteps: 2, stepEvery: 5, gamma: 0.5 });
    expect(learningRateAt(2, 0.8, s, 50)).toBe(0.8);
    expect(learningRateAt(6, 0.8, s, 50)).toBe(0.8);
    expect(learningRateAt(7, 0.8, s, 50)).toBe(0.4);
    expect(learningRateAt(12, 0.8, s, 50)).toBe(0.2);
    expect(learningRateAt(17, 0.8, s, 50)).toBe(0.1);
  });
});

describe('loss-weight schedules', () => {
  it('constant keeps the weight at every step', () => {
    for (const t of [0, 5, 99]) expect(lossWeightAt(t, 0.7, { kind: 'constant' }, 100)).toBe(0.7);
  });

  it('warm-up ramps from 0 at step 0 to the weight at warmupSteps', () => {
    const s = { kind: 'warmup' as const, warmupSteps: 10 };
    expect(lossWeightAt(0, 2, s, 100)).toBe(0);
    expect(lossWeightAt(5, 2, s, 100)).toBe(1);
    expect(lossWeightAt(10, 2, s, 100)).toBe(2);
    expect(lossWeightAt(50, 2, s, 100)).toBe(2);
  });

  it('decay holds the weight, falls linearly over decaySteps to 0 at endStep, and stays 0 after', () => {
    const s = { kind: 'decay' as const, decaySteps: 20, endStep: 60 };
    expect(lossWeightAt(40, 1, s, 100)).toBe(1);
    expect(lossWeightAt(50, 1, s, 100)).toBe(0.5);
    expect(lossWeightAt(60, 1, s, 100)).toBe(0);
    expect(lossWeightAt(80, 1, s, 100)).toBe(0);
  });

  it('decay without decaySteps falls over the whole run, to 0 at endStep or the last step', () => {
    expect(lossWeightAt(0, 10, { kind: 'decay' }, 400)).toBe(10);
    expect(lossWeightAt(100, 10, { kind: 'decay' }, 400)).toBe(7.5);
    expect(lossWeightAt(400, 10, { kind: 'decay' }, 400)).toBe(0);
    expect(lossWeightAt(150, 10, { kind: 'decay', endStep: 300 }, 400)).toBe(5);
    expect(lossWeightAt(350, 10, { kind: 'decay', endStep: 300 }, 400)).toBe(0);
    expect(lossWeightAt(150, 10, { kind: 'decay', endFraction: 0.75 }, 400)).toBe(5);
    expect(lossWeightAt(300, 10, { kind: 'decay', endFraction: 0.75 }, 400)).toBe(0);
    expect(lossWeightAt(1500, 10, { kind: 'decay', endFraction: 0.75 }, 4000)).toBe(5);
    expect(lossWeightAt(100, 10, { kind: 'decay', endFraction: 0.75, endStep: 200 }, 400)).toBe(5);
  });

  it('decay ends at the last step when no endStep is given, and combines with a warm-up', () => {
    const s = { kind: 'decay' as const, decaySteps: 50, warmupSteps: 10 };
    expect(lossWeightAt(5, 1, s, 100)).toBe(0.5);
    expect(lossWeightAt(30, 1, s, 100)).toBe(1);
    expect(lossWeightAt(75, 1, s, 100)).toBe(0.5);
    expect(lossWeightAt(100, 1, s, 100)).toBe(0);
  });
});
