/** @file Gradient checks and shape rules of the elementwise ops. */
import { describe, expect, it } from 'vitest';
import * as op from '../../graphs/ops/index.js';
import { reduceSum } from '../../graphs/ops/reduce.js';
import { checkGradients, f64 } from './gradcheck.js';

describe('elementwise gradients', () => {
  it('add broadcasts [3,1,4] + [2,4]', async () => {
    const r = await checkGradients((g) => {
      const a = g.input('a', 'float64', [3, 1, 4]);
      const b = g.input('b', 'float64', [2, 4]);
      return { loss: reduceSum(op.mul(op.add(a, b), op.add(a, b))), wrt: [a, b] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });
});
