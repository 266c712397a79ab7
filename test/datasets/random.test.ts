/** @file Seeded random streams: reproducible, independent by name, restorable, and with the right distributions. */

import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { Rng, logGamma } from '../../datasets/random.js';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

function meanVar(xs: ArrayLike<number>): [number, number] {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m += xs[i]!;
  m /= xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i]! - m) ** 2;
  return [m, v / (xs.length - 1)];
}

describe('Rng', () => {
  it('matches the xoshiro128** reference output for a given state', () => {
    // First outputs of the reference C implementation (prng.di.unimi.it/xoshiro128starstar.c) from state {1, 2, 3, 4}.
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect(draws(rng, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('gives the same stream for the same seed and path, different ones otherwise', () => {
    expect(draws(Rng.fromSeed(42), 8)).toEqual(draws(Rng.fromSeed(42), 8));
    expect(draws(Rng.fromSeed(42), 8)).not.toEqual(draws(Rng.fromSeed(43), 8));
    expect(draws(Rng.derive(42, 'subject', 1), 8)).toEqual(draws(Rng.derive(42, 'subject', 1), 8));
    expect(draws(Rng.derive(42, 'subject', 1), 8)).not.toEqual(draws(Rng.derive(42, 'subject', 2), 8));
    expect(draws(Rng.derive(42, 'ab'), 8)).not.toEqual(draws(Rng.derive(42, 'a', 'b'), 8));
    expect(draws(Rng.derive(2 ** 40), 8)).not.toEqual(draws(Rng.derive(0), 8));
  });

  it('restores exactly from a saved state', () => {
    const rng = Rng.fromSeed(7);
    draws(rng, 5);
    const saved = rng.state();
    const next = draws(rng, 10);
    expect(draws(Rng.fromState(saved), 10)).toEqual(next);
    expect(saved.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)).toBe(true);
  });

  it('forks independent child streams and advances the parent', () => {
    const a = Rng.fromSeed(1);
    const b = Rng.fromSeed(1);
    const childA = a.fork('noise');
    const childB = b.fork('noise');
    expect(draws(childA, 5)).toEqual(draws(childB, 5));
    expect(draws(a.fork('noise'), 5)).not.toEqual(draws(Rng.fromSeed(1).fork('noise'), 5));
  });

  it('draws uniform, integer and normal values with the right moments', () => {
    const rng = Rng.fromSeed(3);
    const u = Float64Array.from({ length: 200_000 }, () => rng.uniform());
    const [mu, vu] = meanVar(u);
    expect(Math.abs(mu - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(vu - 1 / 12)).toBeLessThan(0.002);
    expect(Math.min(...u.subarray(0, 10000))).toBeGreaterThanOrEqual(0);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const z = new Float64Array(200_001);
    rng.fillNormal(z, 2, 3);
    const [mz, vz] = meanVar(z);
    expect(Math.abs(mz - 2)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(vz) - 3)).toBeLessThan(0.03);
    const [m1, v1] = meanVar(Float64Array.from({ length: 100_000 }, () => rng.normal(-1, 0.5)));
    expect(Math.abs(m1 + 1)).toBeLessThan(0.01);
    expect(Math.abs(Math.sqrt(v1) - 0.5)).toBeLessThan(0.01);
  });

  it('draws Poisson counts with mean and variance equal to the rate, on both sides of the method switch', () => {
    const rng = Rng.fromSeed(5);
    for (const lambda of [0.3, 4, 9.5, 10, 37, 400]) {
      const xs = Float64Array.from({ length: 60_000 }, () => rng.poisson(lambda));
      const [m, v] = meanVar(xs);
      const se = Math.sqrt(lambda / xs.length);
      expect(Math.abs(m - lambda)).toBeLessThan(5 * se);
      expect(Math.abs(v / lambda - 1)).toBeLessThan(0.05);
      expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
    }
    expect(rng.poisson(0)).toBe(0);
    expect(() => rng.poisson(-1)).toThrow(DatasetError);
    expect(() => rng.poisson(Number.NaN)).toThrow(/Poisson rate/);
  });

  it('fills words in bulk exactly as one call per word would, and continues the same stream', () => {
    const a = Rng.derive(3, 'bulk');
    const b = Rng.derive(3, 'bulk');
    const bulk = new Uint32Array(1001);
    a.fillUint32(bulk, 1000);
    expect(Array.from(bulk.subarray(0, 1000))).toEqual(draws(b, 1000));
    expect(bulk[1000]).toBe(0);
    expect(a.nextUint32()).toBe(b.nextUint32());
  });

  it('permutes and shuffles without losing or repeating elements', () => {
    const rng = Rng.fromSeed(9);
    const p = rng.permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...p]).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const firstPositions = new Array(4).fill(0);
    for (let i = 0; i < 40_000; i++) firstPositions[rng.shuffle([0, 1, 2, 3])[0]!]++;
    for (const c of firstPositions) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('rejects seeds that are not integers', () => {
    expect(() => Rng.fromSeed(1.5)).toThrow(/seed must be an integer/);
    expect(() => Rng.derive(1, 2.5)).toThrow(DatasetError);
    expect(() => Rng.fromState([1, 2, 3] as never)).toThrow(/four 32-bit integers/);
  });
});

describe('logGamma', () => {
  it('agrees with log((n-1)!) and with Γ(1/2) = √π', () => {
    let logFactorial = 0;
    for (let n = 1; n <= 30; n++) {
      expect(logGamma(n)).toBeCloseTo(logFactorial, 10);
      logFactorial += Math.log(n);
    }
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 10);
  });
});
