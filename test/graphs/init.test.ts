/** @file Seeded initializers: determinism per path, independence, and the statistics each promises. */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { Rng, fans, init } from '../../graphs/init.js';

function stats(v: ArrayLike<number>) {
  let mean = 0;
  for (let i = 0; i < v.length; i++) mean += v[i];
  mean /= v.length;
  let sq = 0;
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    sq += (v[i] - mean) ** 2;
    max = Math.max(max, Math.abs(v[i]));
  }
  return { mean, std: Math.sqrt(sq / v.length), max };
}

describe('parameter initialization', () => {
  it('depends only on the seed and the path, not on other parameters', () => {
    const a = new Graph({ seed: 5 });
    const wa = a.scope('enc', () => a.param('w', [4, 3], 'xavierUniform'));
    const b = new Graph({ seed: 5 });
    b.param('extra', [10], init.normal(1));
    const wb = b.scope('enc', () => b.param('w', [4, 3], 'xavierUniform'));
    expect([...(wb.value as Float32Array)]).toEqual([...(wa.value as Float32Array)]);
    const c = new Graph({ seed: 6 });
    const wc = c.scope('enc', () => c.param('w', [4, 3], 'xavierUniform'));
    expect([...(wc.value as Float32Array)]).not.toEqual([...(wa.value as Float32Array)]);
    const d = new Graph({ seed: 5 });
    const wd = d.scope('dec', () => d.param('w', [4, 3], 'xavierUniform'));
    expect([...(wd.value as Float32Array)]).not.toEqual([...(wa.value as Float32Array)]);
  });

  it('float64 graphs hold the same draws in double precision', () => {
    const a = new Graph({ seed: 2, floatType: 'float32' }).param('w', [50], init.normal(1));
    const b = new Graph({ seed: 2, floatType: 'float64' }).param('w', [50], init.normal(1));
    expect(a.value).toBeInstanceOf(Float32Array);
    expect(b.value).toBeInstanceOf(Float64Array);
    for (let i = 0; i < 50; i++) expect(a.value?.[i]).toBeCloseTo(b.value?.[i] as number, 6);
  });

  it('nests scopes into dotted paths and refuses duplicates', () => {
    const g = new Graph();
    const w = g.scope('encoder', () => g.scope('conv1', () => g.param('weight', [2, 2], 'zeros')));
    expect(w.name).toBe('encoder.conv1.weight');
    expect(g.getParam('encoder.conv1.weight')).toBe(w);
    expect(() => g.scope('encoder', () => g.scope('conv1', () => g.param('weight', [2, 2], 'zeros')))).toThrow(
      /parameter "encoder.conv1.weight" is defined twice/,
    );
    expect(() => g.param('a.b', [1], 'zeros')).toThrow(/use scope\(\) for paths/);
    expect(() => g.getParam('nope')).toThrow(/no parameter "nope"; parameters are: encoder.conv1.weight/);
  });

  it('zeros, ones, constant, values', () => {
    const g = new Graph();
    expect([...(g.param('z', [3], 'zeros').value as Float32Array)]).toEqual([0, 0, 0]);
    expect([...(g.param('o', [2], 'ones').value as Float32Array)]).toEqual([1, 1]);
    expect([...(g.param('c', [2], init.constant(0.25)).value as Float32Array)]).toEqual([0.25, 0.25]);
    expect([...(g.param('v', [2, 2], init.values([1, 2, 3, 4])).value as Float32Array)]).toEqual([1, 2, 3, 4]);
    expect(() => g.param('bad', [2, 2], init.values([1]))).toThrow(/init values for parameter "bad" have 1 elements/);
  });

  it('uniform and normal have the asked range and spread', () => {
    const g = new Graph({ seed: 3, floatType: 'float64' });
    const u = stats(g.param('u', [20000], init.uniform(-2, 4)).value as Float64Array);
    expect(u.mean).toBeCloseTo(1, 1);
    expect(u.std).toBeCloseTo(6 / Math.sqrt(12), 1);
    const n = stats(g.param('n', [20000], init.normal(0.5, 3)).value as Float64Array);
    expect(n.mean).toBeCloseTo(3, 1);
    expect(n.std).toBeCloseTo(0.5, 1);
  });

  it('Xavier and Kaiming scale by the fans of [in, out] weights and conv kernels', () => {
    expect(fans([64, 32])).toEqual({ fanIn: 64, fanOut: 32 });
    expect(fans([16, 8, 3, 3])).toEqual({ fanIn: 72, fanOut: 144 });
    const g = new Graph({ seed: 4, floatType: 'float64' });
    const xu = stats(g.param('xu', [200, 300], 'xavierUniform').value as Float64Array);
    const bound = Math.sqrt(6 / 500);
    expect(xu.max).toBeLessThanOrEqual(bound);
    expect(xu.max).toBeGreaterThan(0.99 * bound);
    expect(xu.std).toBeCloseTo(Math.sqrt(2 / 500), 3);
    const xn = stats(g.param('xn', [200, 300], 'xavierNormal').value as Float64Array);
    expect(xn.std).toBeCloseTo(Math.sqrt(2 / 500), 3);
    const ku = stats(g.param('ku', [32, 16, 3, 3], 'kaimingUniform').value as Float64Array);
    expect(ku.std).toBeCloseTo(Math.sqrt(2 / 144), 2);
    const kn = stats(g.param('kn', [32, 16, 3, 3], init.kaimingNormal({ mode: 'fanOut' })).value as Float64Array);
    expect(kn.std).toBeCloseTo(Math.sqrt(2 / 288), 2);
  });

  for (const [rows, cols] of [
    [6, 4],
    [4, 6],
    [5, 5],
  ]) {
    it(`orthogonal [${rows},${cols}] has orthonormal ${rows >= cols ? 'columns' : 'rows'}`, () => {
      const g = new Graph({ seed: 8, floatType: 'float64' });
      const w = g.param('w', [rows, cols], init.orthogonal(2)).value as Float64Array;
      const m = Math.min(rows, cols);
      for (let a = 0; a < m; a++) {
        for (let b = 0; b < m; b++) {
          let dot = 0;
          for (let k = 0; k < Math.max(rows, cols); k++) {
            dot += rows >= cols ? w[k * cols + a] * w[k * cols + b] : w[a * cols + k] * w[b * cols + k];
          }
          expect(dot).toBeCloseTo(a === b ? 4 : 0, 10);
        }
      }
    });
  }

  it('the generator is deterministic and uniform in [0, 1)', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 1000 }, () => a.uniform());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.uniform()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(new Rng(43).uniform()).not.toBe(xs[0]);
  });
});
