/** @file Shape ops: output shapes, values against hand-computed expectations, and gradient checks. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { Rng, init } from '../../graphs/init.js';
import * as op from '../../graphs/ops/index.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import { Runner } from '../../graphs/runner.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkGradients, f64, i64 } from './gradcheck.js';

function weighted(g: Graph, y: Tensor): Tensor {
  const rng = new Rng(31);
  const n = (y.shape as number[]).reduce((a, b) => a * b, 1);
  const w = g.constant(Array.from({ length: n }, () => rng.uniform() + 0.5), { shape: y.shape as number[] });
  return op.reduceSum(op.mul(y, w));
}

/** Gradient check of f applied to one [2,3,4] float64 input, checking the output shape. */
async function check(f: (x: Tensor) => Tensor, shape: number[], inShape = [2, 3, 4]) {
  const r = await checkGradients((g) => {
    const x = g.input('x', 'float64', inShape);
    const y = f(x);
    expect(y.shape).toEqual(shape);
    return { loss: weighted(g, op.mul(y, op.add(y, 1))), wrt: [x] };
  });
  expect(r.maxError).toBeLessThan(1e-6);
  return r;
}

/** Runs f on x = 0..n-1 of a float32 shape and returns the output values. */
async function values(f: (x: Tensor) => Tensor, shape: number[]): Promise<number[]> {
  const g = new Graph();
  const x = g.input('x', 'float32', shape);
  const n = shape.reduce((a, b) => a * b, 1);
  const runner = await Runner.create(encodeModel(toModel(g, { outputs: { y: f(x) } })));
  const out = await runner.run({ x: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => i), shape) });
  await runner.dispose();
  return [...(out.y.data as Float32Array)];
}

describe('reshape, transpose, squeeze, unsqueeze, expand', () => {
  it('reshape with -1', () => check((x) => op.reshape(x, [4, -1]), [4, 6]));
  it('transpose', () => check((x) => op.transpose(x, [2, 0, 1]), [4, 2, 3]));
  it('unsqueeze then squeeze', () => check((x) => op.squeeze(op.unsqueeze(x, [0, 3]), [0]), [2, 3, 1, 4]));
  it('expand', () => check((x) => op.expand(op.slice(x, [0], [1], [1]), [3, 2, 3, 4]), [3, 2, 3, 4]));
  it('reshape keeps a symbolic batch and infers products', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 100, 8]);
    const flat = op.reshape(x, [-1, 8]);
    expect(flat.shape).toEqual(['100*batch', 8]);
    const back = op.reshape(flat, ['batch', 100, 8]);
    expect(back.shape).toEqual(['batch', 100, 8]);
    expect(op.reshape(x, ['batch', -1]).shape).toEqual(['batch', 800]);
    expect(() => op.reshape(x, [7, -1])).toThrow(/Reshape|cannot infer -1/);
  });
  it('symbolic reshape round trip runs and differentiates', async () => {
    const rng = new Rng(9);
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', ['batch', 3, 2]);
        const y = op.reshape(op.mul(op.reshape(x, [-1, 2]), 2), ['batch', 6]);
        return { loss: op.reduceSum(op.mul(y, y)), wrt: [x] };
      },
      { x: f64(Array.from({ length: 12 }, () => rng.normal()), [2, 3, 2]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });
  it('transpose values', async () => {
    expect(await values((x) => op.transpose(x), [2, 3])).toEqual([0, 3, 1, 4, 2, 5]);
  });
});

describe('concat and split', () => {
  it('concat along axis 1', async () => {
    const r = await checkGradients((g) => {
      const a = g.input('a', 'float64', [2, 1, 4]);
      const b = g.input('b', 'float64', [2, 3, 4]);
      const y = op.concat([a, b, a], 1);
      expect(y.shape).toEqual([2, 5, 4]);
      return { loss: weighted(g, op.mul(y, y)), wrt: [a, b] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });
  it('split into sizes, using only some parts', async () => {
    const r = await check((x) => {
      const [p, , q] = op.split(x, [1, 1, 2], 2);
      return op.mul(p, op.slice(q, [1], [2], [2]));
    }, [2, 3, 1]);
    expect(r.analytic.x.filter((v) => v === 0).length).toBe(12);
  });
  it('split into equal parts with an unused middle part', () => check((x) => op.concat(op.split(x, 3, 1).filter((_, i) => i !== 1), 1), [2, 2, 4]));
  it('concat along a symbolic axis is refused', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 2]);
    expect(() => op.concat([x, x], 0)).toThrow(/Concat: cannot concatenate along symbolic dim 'batch'/);
  });
});

describe('slice', () => {
  it('step 1 on two axes', () => check((x) => op.slice(x, [1, 1], [3, -1], [1, 2]), [2, 2, 2]));
  it('step 2', () => check((x) => op.slice(x, [0], [4], [2], [2]), [2, 3, 2]));
  it('step 3 from an offset', () => check((x) => op.slice(x, [1], [100], [2], [3]), [2, 3, 1]));
  it('negative step reverses', () => check((x) => op.slice(x, [-1], [-100], [1], [-1]), [2, 3, 4]));
  it('negative step 2 from the middle', () => check((x) => op.slice(x, [3], [0], [2], [-2]), [2, 3, 2]));
  it('steps on several axes at once', () => check((x) => op.slice(x, [2, 0], [-100, 4], [1, 2], [-2, 3]), [2, 2, 2]));
  it('values follow numpy', async () => {
    expect(await values((x) => op.slice(x, [5], [0], [0], [-2]), [8])).toEqual([5, 3, 1]);
    expect(await values((x) => op.slice(x, [1], [8], [0], [3]), [8])).toEqual([1, 4, 7]);
  });
  it('whole-axis slices add no node', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    expect(op.slice(x, [0], [Infinity], [0])).toBe(x);
    expect(op.slice(x, [1], [3], [1]).shape).toEqual(['batch', 2]);
  });
});

describe('gather, gatherND, scatterND', () => {
  it('gather axis 0 with repeated indices accumulates', async () => {
    const r = await check((x) => op.gather(x, [1, 0, 1], 0), [3, 3, 4]);
    expect(r.analytic.x.length).toBe(24);
  });
  it('gather axis 1 with 2-D indices', () => check((x) => op.gather(x, x.graph.constant(BigInt64Array.from([2n, 0n, 1n, 2n]), { shape: [2, 2] }), 1), [2, 2, 2, 4]));
  it('gather with negative indices', () => check((x) => op.gather(x, [-1, 0, -1], 1), [2, 3, 4]));
  it('gather a scalar index along the last axis', () => check((x) => op.gather(x, 3, 2), [2, 3]));
  it('gather with run-time int64 indices and a symbolic batch', async () => {
    const r = await checkGradients(
      (g) => {
        const table = g.param('table', [5, 3], 'xavierNormal');
        const ids = g.input('ids', 'int64', ['batch', 2]);
        const y = op.gather(table, ids, 0);
        expect(y.shape).toEqual(['batch', 2, 3]);
        return { loss: op.reduceSum(op.mul(y, op.tanh(y))), wrt: [table] };
      },
      { ids: i64([0, 4, 4, 2, 1, 4], [3, 2]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
    expect(r.analytic.table.slice(9, 12).every((v) => v === 0)).toBe(true);
  });
  it('gatherND and scatterND(add) differentiate both ways', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [3, 4]);
      const u = g.input('u', 'float64', [2, 4]);
      const idx = g.constant(BigInt64Array.from([2n, 0n]), { shape: [2, 1] });
      const picked = op.gatherND(x, g.constant(BigInt64Array.from([1n, 2n, 0n, 3n]), { shape: [2, 2] }));
      expect(picked.shape).toEqual([2]);
      const y = op.scatterND(op.mul(x, x), idx, op.mul(u, u), 'add');
      return { loss: op.add(weighted(g, y), weighted(g, op.exp(picked))), wrt: [x, u] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });
});

describe('expandAs and scatterND without reduction', () => {
  it('expandAs over a symbolic batch sums the gradient back', async () => {
    const rng = new Rng(12);
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', ['batch', 3]);
        const b = g.param('b', [1, 3], init.normal(1));
        const e = op.expandAs(b, x);
        expect(e.shape).toEqual(['batch', 3]);
        return { loss: op.reduceSum(op.mul(op.tanh(e), x)), wrt: [x, b] };
      },
      { x: f64(Array.from({ length: 12 }, () => rng.normal()), [4, 3]) },
    );
    expect(r.ok).toBe(true);
  });
  it('scatterND overwriting rows passes no gradient to the overwritten data', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [3, 2]);
      const u = g.input('u', 'float64', [1, 2]);
      const y = op.scatterND(op.exp(x), g.constant(BigInt64Array.from([1n]), { shape: [1, 1] }), op.mul(u, u));
      return { loss: weighted(g, y), wrt: [x, u] };
    });
    expect(r.ok).toBe(true);
    expect([...r.analytic.x.slice(2, 4)]).toEqual([0, 0]);
  });
});

describe('pad', () => {
  it('pads with zeros', () => check((x) => op.pad(x, [0, 1, 2, 1, 0, 3]), [3, 4, 9]));
  it('negative pads crop', () => check((x) => op.pad(x, [0, -1, 1, 0, 0, -2]), [2, 2, 3]));
  it('values with a fill value', async () => {
    expect(await values((x) => op.pad(x, [1, 2], 9), [2])).toEqual([9, 0, 1, 9, 9]);
  });
});

describe('runtime shape helpers', () => {
  it('zerosLike and expandAs follow a symbolic batch', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 3]);
    const b = g.param('b', [3], 'ones');
    const z = op.zerosLike(x);
    const e = op.expandAs(b, x);
    expect(e.shape).toEqual(['batch', 3]);
    const runner = await Runner.create(encodeModel(toModel(g, { outputs: { z, e } })));
    const out = await runner.run({ x: new ort.Tensor('float32', new Float32Array(6).fill(7), [2, 3]) });
    expect(out.z.dims).toEqual([2, 3]);
    expect([...(out.z.data as Float32Array)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...(out.e.data as Float32Array)]).toEqual([1, 1, 1, 1, 1, 1]);
    await runner.dispose();
  });
});
