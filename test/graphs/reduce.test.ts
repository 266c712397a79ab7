/** @file Reductions: shapes, keepdims, symbolic counts, opset-dependent encoding, and gradient checks. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../graphs/autodiff.js';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import * as op from '../../graphs/ops/index.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import { Runner } from '../../graphs/runner.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkGradients, f64 } from './gradcheck.js';

function weighted(g: Graph, y: Tensor): Tensor {
  const rng = new Rng(23);
  const n = (y.shape as number[]).reduce((a, b) => a * b, 1);
  const w = g.constant(Array.from({ length: n }, () => rng.uniform() + 0.5), { shape: y.shape as number[] });
  return op.reduceSum(op.mul(y, w));
}

type Reduce = (x: Tensor, axes?: number | number[], keepdims?: boolean) => Tensor;
const reductions: [string, Reduce][] = [
  ['reduceSum', op.reduceSum],
  ['reduceMean', op.reduceMean],
  ['reduceMax', op.reduceMax],
  ['reduceMin', op.reduceMin],
  ['reduceLogSumExp', op.reduceLogSumExp],
];
const axesCases: [number[] | undefined, boolean, number[]][] = [
  [[1], false, [2, 4]],
  [[1], true, [2, 1, 4]],
  [[0, 2], false, [3]],
  [[-1, 0], true, [1, 3, 1]],
  [undefined, false, []],
  [undefined, true, [1, 1, 1]],
];

describe('reductions', () => {
  for (const [name, f] of reductions) {
    for (const [axes, keepdims, shape] of axesCases) {
      it(`${name} axes=${axes === undefined ? 'all' : `[${axes}]`} keepdims=${keepdims}`, async () => {
        const r = await checkGradients((g) => {
          const x = g.input('x', 'float64', [2, 3, 4]);
          const y = f(x, axes, keepdims);
          expect(y.shape).toEqual(shape);
          return { loss: shape.length === 0 ? op.mul(y, y) : weighted(g, y), wrt: [x] };
        });
        expect(r.maxError).toBeLessThan(1e-6);
      });
    }
  }

  it('reduceMax shares the gradient among tied maxima', async () => {
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('x', 'float64', [4]);
    const [gx] = gradients(op.reduceMax(x), [x]);
    const runner = await Runner.create(encodeModel(toModel(g, { outputs: { gx } })));
    const out = await runner.run({ x: f64([1, 3, 3, 2], [4]) });
    expect([...(out.gx.data as Float64Array)]).toEqual([0, 0.5, 0.5, 0]);
    await runner.dispose();
  });

  it('reduceMean over a symbolic batch divides by the run-time count', async () => {
    const rng = new Rng(2);
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', ['batch', 3]);
        const m = op.reduceMean(op.mul(x, x), 0);
        expect(m.shape).toEqual([3]);
        return { loss: weighted(g, m), wrt: [x] };
      },
      { x: f64(Array.from({ length: 15 }, () => rng.normal()), [5, 3]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('encodes axes as attributes at opset 17 and as inputs at opset 18, with equal results', async () => {
    const g = new Graph({ floatType: 'float32' });
    const x = g.input('x', 'float32', [2, 3]);
    const outputs = {
      s: op.reduceSum(x, 1),
      m: op.reduceMean(x, 0, true),
      mx: op.reduceMax(x, 1),
      l: op.reduceLogSumExp(x, 1),
    };
    const feed = new ort.Tensor('float32', Float32Array.from([1, 2, 3, -1, 0, 5]), [2, 3]);
    const results: Record<string, number[]>[] = [];
    for (const opset of [17, 18, 21]) {
      const model = toModel(g, { outputs, opset });
      const mean = model.graph?.node.find((n) => n.opType === 'ReduceMean');
      expect(mean?.input.length).toBe(opset >= 18 ? 2 : 1);
      expect(mean?.attribute.some((a) => a.name === 'axes')).toBe(opset < 18);
      const sumNode = model.graph?.node.find((n) => n.opType === 'ReduceSum');
      expect(sumNode?.input.length).toBe(2);
      const runner = await Runner.create(encodeModel(model));
      const out = await runner.run({ x: feed });
      results.push(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...(v.data as Float32Array)]])));
      await runner.dispose();
    }
    expect(results[0].s).toEqual([6, 4]);
    expect(results[0].m).toEqual([0, 1, 4]);
    expect(results[0].mx).toEqual([3, 5]);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('a bad axis names the reduction and the tensor', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 3]);
    expect(() => op.reduceSum(x, 2)).toThrow(/ReduceSum: axis 2 is out of range for rank 2 of x float32\[2,3\]/);
  });
});
