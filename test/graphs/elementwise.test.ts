/** @file Gradient checks of every elementwise op, broadcasting included; float32-only kernels against references. */
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import * as op from '../../graphs/ops/index.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkAgainstReference, checkGradients, f32, f64 } from './gradcheck.js';

/** A scalar that weighs every element differently, so each upstream gradient element is distinct. */
function weighted(g: Graph, y: Tensor): Tensor {
  const rng = new Rng(99);
  const n = (y.shape as number[]).reduce((a, b) => a * b, 1);
  const w = g.constant(Array.from({ length: n }, () => rng.uniform() + 0.5), { shape: y.shape as number[] });
  return op.reduceSum(op.mul(y, w));
}

/** Values in [lo, hi), seeded. */
function values(n: number, lo: number, hi: number, seed = 3): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
}

type Unary = (x: Tensor) => Tensor;
const unary: [string, Unary, number, number][] = [
  ['neg', op.neg, -2, 2],
  ['sqrt', op.sqrt, 0.5, 2],
  ['exp', op.exp, -1, 1],
  ['log', op.log, 0.5, 2],
  ['abs', op.abs, -2, 2],
  ['reciprocal', op.reciprocal, 0.5, 2],
  ['square', op.square, -2, 2],
  ['relu', op.relu, -2, 2],
  ['leakyRelu', (x) => op.leakyRelu(x, 0.2), -2, 2],
  ['sigmoid', op.sigmoid, -3, 3],
  ['tanh', op.tanh, -2, 2],
  ['softplus (float64 form)', op.softplus, -4, 4],
  ['elu (float64 form)', (x) => op.elu(x, 0.7), -2, 2],
  ['identity', op.identity, -2, 2],
  ['cast to own dtype', (x) => op.cast(x, 'float64'), -2, 2],
  ['clip scalar bounds', (x) => op.clip(x, -0.5, 0.8), -2, 2],
  ['clip one side', (x) => op.clip(x, null, 0.3), -2, 2],
  ['pow by a constant', (x) => op.pow(x, 3), -2, 2],
];

describe('unary gradients match central differences (float64)', () => {
  for (const [name, f, lo, hi] of unary) {
    it(name, async () => {
      const r = await checkGradients(
        (g) => {
          const x = g.input('x', 'float64', [2, 5]);
          return { loss: weighted(g, f(x)), wrt: [x] };
        },
        { x: f64(values(10, lo, hi).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v)), [2, 5]) },
      );
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }
});

type Binary = (a: Tensor, b: Tensor) => Tensor;
const binary: [string, Binary, number, number][] = [
  ['add', op.add, -2, 2],
  ['sub', op.sub, -2, 2],
  ['mul', op.mul, -2, 2],
  ['div', op.div, 0.5, 2],
  ['pow', op.pow, 0.5, 2],
  ['maximum', op.maximum, -2, 2],
  ['minimum', op.minimum, -2, 2],
  ['sum of two', (a, b) => op.sum([a, b, a]), -2, 2],
];
const broadcasts: [number[], number[]][] = [
  [[3, 4], [3, 4]],
  [[3, 1, 4], [2, 4]],
  [[2, 3], [3]],
  [[4], [2, 1]],
  [[2, 3], []],
];

describe('binary gradients with broadcasting (float64)', () => {
  for (const [name, f, lo, hi] of binary) {
    for (const [sa, sb] of broadcasts) {
      it(`${name} [${sa}] with [${sb}]`, async () => {
        const na = sa.reduce((a, b) => a * b, 1);
        const nb = sb.reduce((a, b) => a * b, 1);
        const r = await checkGradients(
          (g) => {
            const a = g.input('a', 'float64', sa);
            const b = g.input('b', 'float64', sb);
            return { loss: weighted(g, f(a, b)), wrt: [a, b] };
          },
          { a: f64(values(na, lo, hi, 5), sa), b: f64(values(nb, lo, hi, 6), sb) },
        );
        expect(r.maxError).toBeLessThan(1e-6);
      });
    }
  }

  it('[batch,5] * [5] with a symbolic batch', async () => {
    const r = await checkGradients(
      (g) => {
        const a = g.input('a', 'float64', ['batch', 5]);
        const b = g.input('b', 'float64', [5]);
        const y = op.mul(a, b);
        expect(y.shape).toEqual(['batch', 5]);
        return { loss: op.reduceSum(op.mul(y, y)), wrt: [a, b] };
      },
      { a: f64(values(15, -1, 1), [3, 5]), b: f64(values(5, -1, 1, 8), [5]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('where broadcasts condition [3,1], x [1,4] and y []', async () => {
    const r = await checkGradients((g) => {
      const c = op.greater(g.constant([1, -1, 2], { shape: [3, 1] }), 0);
      const x = g.input('x', 'float64', [1, 4]);
      const y = g.input('y', 'float64', []);
      return { loss: weighted(g, op.where(c, op.mul(x, x), op.exp(y))), wrt: [x, y] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('where with a data-dependent mask gives gradient only where picked', async () => {
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', [6]);
        return { loss: weighted(g, op.where(op.greater(x, 0), op.mul(x, 3), op.neg(x))), wrt: [x] };
      },
      { x: f64([-1.5, 0.7, 2, -0.3, 0.4, -2], [6]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
    expect(Math.abs(r.analytic.x[1] / r.analytic.x[0])).toBeGreaterThan(1);
  });

  it('clip with tensor bounds differentiates the bounds too', async () => {
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', [8]);
        const lo = g.input('lo', 'float64', []);
        const hi = g.input('hi', 'float64', []);
        return { loss: weighted(g, op.clip(x, lo, hi)), wrt: [x, lo, hi] };
      },
      { x: f64([-2, -1.1, -0.5, 0.1, 0.4, 0.9, 1.3, 2.2], [8]), lo: f64([-0.8], []), hi: f64([1], []) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
    expect(r.analytic.lo[0]).not.toBe(0);
    expect(r.analytic.hi[0]).not.toBe(0);
  });

  it('fan-out: x used by several ops accumulates every path', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [4]);
      const y = op.add(op.add(op.mul(x, x), op.exp(x)), op.mul(op.tanh(x), x));
      return { loss: weighted(g, y), wrt: [x] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('stopGradient blocks one path but not the other', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [4]);
      return { loss: weighted(g, op.mul(op.stopGradient(x), x)), wrt: [x] };
    });
    expect(r.maxError).toBeGreaterThan(0.1);
    const x = [...r.numeric.x].map((v, i) => r.analytic.x[i] / v);
    for (const q of x) expect(q).toBeCloseTo(0.5, 6);
  });

  it('sign has zero gradient', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [5]);
      return { loss: weighted(g, op.add(op.mul(op.sign(x), 2), x)), wrt: [x] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });
});

describe('float32-only kernels against float64 references', () => {
  const xs = values(12, -3, 3, 11);
  const w = values(12, 0.5, 1.5, 12);
  const refLoss = (f: (v: number) => number) => (v: Record<string, Float64Array>) => {
    let s = 0;
    for (let i = 0; i < 12; i++) s += w[i] * f(v.x[i]);
    return s;
  };
  const build = (f: (x: Tensor) => Tensor) => (g: Graph) => {
    const x = g.input('x', 'float32', [3, 4]);
    return { loss: op.reduceSum(op.mul(f(x), g.constant(w, { shape: [3, 4] }))), wrt: [x] };
  };

  it('Softplus node', async () => {
    const r = await checkAgainstReference(build(op.softplus), refLoss((v) => Math.log1p(Math.exp(v))), { x: f32(xs, [3, 4]) });
    expect(r.maxError).toBeLessThan(1e-3);
  });

  it('Elu node', async () => {
    const r = await checkAgainstReference(
      build((x) => op.elu(x, 0.7)),
      refLoss((v) => (v > 0 ? v : 0.7 * (Math.exp(v) - 1))),
      { x: f32(xs, [3, 4]) },
    );
    expect(r.maxError).toBeLessThan(1e-3);
  });

  it('Cast between float32 and float64', async () => {
    const r = await checkAgainstReference(
      build((x) => op.cast(op.exp(op.cast(x, 'float64')), 'float32')),
      refLoss((v) => Math.exp(v)),
      { x: f32(xs, [3, 4]) },
    );
    expect(r.maxError).toBeLessThan(1e-3);
  });
});

describe('elementwise shape rules and folding', () => {
  it('folds scalar constants and identities without adding nodes', async () => {
    const { Graph } = await import('../../graphs/graph.js');
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    expect(op.mul(x, 1)).toBe(x);
    expect(op.add(0, x)).toBe(x);
    expect(op.div(x, 1)).toBe(x);
    const c = op.mul(op.add(g.scalar(2), 3), 4);
    expect(c.kind).toBe('constant');
    expect(c.value?.[0]).toBe(20);
    expect(g.nodes.length).toBe(0);
    expect(g.scalar(2)).toBe(g.scalar(2));
  });

  it('a broadcast mismatch names the op, the scope, the parameter and both shapes', async () => {
    const { Graph } = await import('../../graphs/graph.js');
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 3]);
    g.scope('encoder', () => {
      const b = g.param('bias', [4], 'zeros');
      expect(() => op.add(x, b)).toThrow(
        "Add in scope 'encoder': shapes [batch,3] and [4] do not broadcast (dim 3 vs 4) (inputs: x float32[batch,3], encoder.bias float32[4])",
      );
    });
    const y = g.input('y', 'float32', [3, 3]);
    expect(() => op.mul(x, y)).toThrow(/Mul: shapes \[batch,3\] and \[3,3\] do not broadcast \(dim batch vs 3\)/);
  });

  it('comparisons give bool and mismatched dtypes are refused', async () => {
    const { Graph } = await import('../../graphs/graph.js');
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    expect(op.less(x, 1).dtype).toBe('bool');
    const i = g.input('i', 'int64', [3]);
    expect(() => op.add(x, i)).toThrow(/Add: dtypes float32 and int64 differ/);
  });
});
