/** @file MatMul (batched, broadcasting, 1-D) and Gemm: shapes and gradient checks. */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import * as op from '../../graphs/ops/index.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkGradients, f64 } from './gradcheck.js';

function weighted(g: Graph, y: Tensor): Tensor {
  const rng = new Rng(17);
  const n = (y.shape as number[]).reduce((a, b) => a * b, 1);
  const w = g.constant(Array.from({ length: n }, () => rng.uniform() + 0.5), { shape: y.shape as number[] });
  return op.reduceSum(op.mul(y, w));
}

const cases: [number[], number[], number[]][] = [
  [[3, 4], [4, 5], [3, 5]],
  [[2, 3, 4], [2, 4, 5], [2, 3, 5]],
  [[2, 1, 3, 4], [3, 4, 5], [2, 3, 3, 5]],
  [[2, 3, 4], [4, 5], [2, 3, 5]],
  [[3, 4], [2, 4, 5], [2, 3, 5]],
  [[4], [4, 5], [5]],
  [[3, 4], [4], [3]],
  [[4], [4], []],
  [[2, 3, 4], [4], [2, 3]],
  [[4], [2, 4, 5], [2, 5]],
];

describe('matmul', () => {
  for (const [sa, sb, so] of cases) {
    it(`[${sa}] @ [${sb}] -> [${so}] and its gradients`, async () => {
      const r = await checkGradients((g) => {
        const a = g.input('a', 'float64', sa);
        const b = g.input('b', 'float64', sb);
        const y = op.matmul(a, b);
        expect(y.shape).toEqual(so);
        return { loss: so.length === 0 ? op.mul(y, y) : weighted(g, y), wrt: [a, b] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('symbolic batch [batch,3,4] @ [4,2] flattens the weight gradient into one Gemm', async () => {
    const rng = new Rng(4);
    const data = Array.from({ length: 24 }, () => rng.normal());
    const r = await checkGradients(
      (g) => {
        const a = g.input('a', 'float64', ['batch', 3, 4]);
        const w = g.param('w', [4, 2], 'xavierUniform');
        const y = op.matmul(a, w);
        expect(y.shape).toEqual(['batch', 3, 2]);
        return { loss: op.reduceSum(op.mul(y, y)), wrt: [a, w] };
      },
      { a: f64(data, [2, 3, 4]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('names both shapes when inner dims differ', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [3, 4]);
    const w = g.scope('dense', () => g.param('weight', [5, 2], 'zeros'));
    expect(() => g.scope('dense', () => op.matmul(a, w))).toThrow(
      /MatMul in scope 'dense': inner dims differ: \[3,4\] @ \[5,2\].*dense\.weight float32\[5,2\]/,
    );
  });
});

describe('gemm', () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`transA=${transA} transB=${transB} with a broadcast bias, alpha and beta`, async () => {
        const r = await checkGradients((g) => {
          const a = g.input('a', 'float64', transA ? [4, 3] : [3, 4]);
          const b = g.input('b', 'float64', transB ? [5, 4] : [4, 5]);
          const c = g.input('c', 'float64', [5]);
          const y = op.gemm(a, b, c, { transA, transB, alpha: 0.7, beta: 1.3 });
          expect(y.shape).toEqual([3, 5]);
          return { loss: weighted(g, op.tanh(y)), wrt: [a, b, c] };
        });
        expect(r.maxError).toBeLessThan(1e-6);
      });
    }
  }
});
