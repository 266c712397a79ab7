/** @file The simulators' fast Poisson counts: the right distribution on both sides of the method switch, clipping, and seeding. */

import { describe, expect, it } from 'vitest';
import { Rng } from '../../datasets/random.js';
import { PoissonCounter } from '../../datasets/simulators/poisson-counts.js';

/** P(X = k) for X ~ Poisson(lambda), from logs so large rates do not overflow. */
function pmf(lambda: number, k: number): number {
  let logFact = 0;
  for (let j = 2; j <= k; j++) logFact += Math.log(j);
  return Math.exp(-lambda + k * Math.log(lambda) - logFact);
}

function draw(counter: PoissonCounter, lambda: number, n: number, seed: number): Float32Array {
  const means = new Float64Array(n).fill(counter.mean(Math.log(lambda)));
  const out = new Float32Array(n + 2).fill(-1);
  counter.fill(Rng.derive(seed, 'poisson-test'), means, out, 1);
  expect(out[0]).toBe(-1);
  expect(out[n + 1]).toBe(-1);
  return out.subarray(1, n + 1);
}

describe('PoissonCounter', () => {
  const counter = new PoissonCounter(Math.log(200 * 0.05));

  it('computes means to float32 precision over the whole range of log rates', () => {
    for (let x = -29.9; x <= Math.log(10); x += 0.0137) {
      expect(Math.abs(counter.mean(x) / Math.exp(x) - 1)).toBeLessThan(1e-8);
    }
    expect(counter.mean(5)).toBeCloseTo(10, 6);
    expect(counter.mean(-1000)).toBeLessThan(1e-12);
  });

  it('draws counts whose frequencies match the Poisson distribution, on both sides of the branch-free steps', () => {
    for (const lambda of [0.02, 0.4, 1.5, 3, 7]) {
      const n = 200_000;
      const xs = draw(counter, lambda, n, Math.round(lambda * 100));
      const freq = new Float64Array(40);
      let bad = 0;
      for (const x of xs) {
        if (!(Number.isInteger(x) && x >= 0 && x < 40)) bad++;
        else freq[x]! += 1 / n;
      }
      expect(bad).toBe(0);
      for (let k = 0; k < 12; k++) {
        const p = pmf(lambda, k);
        const se = Math.sqrt((p * (1 - p)) / n);
        expect(Math.abs(freq[k]! - p)).toBeLessThan(5 * se + 1e-6);
      }
    }
  });

  it('hands means of 10 and above to the exact sampler, which also matches mean and variance', () => {
    const wide = new PoissonCounter(Math.log(1000));
    for (const lambda of [10, 60]) {
      const n = 100_000;
      const xs = draw(wide, lambda, n, lambda);
      let m = 0;
      for (const x of xs) m += x / n;
      let v = 0;
      for (const x of xs) v += (x - m) ** 2 / (n - 1);
      expect(Math.abs(m - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n));
      expect(Math.abs(v / lambda - 1)).toBeLessThan(0.03);
    }
  });

  it('clips means at the maximum rate', () => {
    const n = 50_000;
    const means = new Float64Array(n).fill(counter.mean(Math.log(1e6)));
    const out = new Float32Array(n);
    counter.fill(Rng.derive(8), means, out, 0);
    let m = 0;
    for (const x of out) m += x / n;
    expect(Math.abs(m - 10)).toBeLessThan(5 * Math.sqrt(10 / n));
  });

  it('gives the same counts for the same generator state and different ones otherwise', () => {
    const a = draw(counter, 1.2, 5000, 1);
    const b = draw(counter, 1.2, 5000, 1);
    const c = draw(counter, 1.2, 5000, 2);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});
