/** @file The dense layer: x @ weight + bias over the last axis, with named, seeded parameters. */
import { GraphError } from '../errors.js';
import { type InitSpec, init } from '../init.js';
import { add } from '../ops/elementwise.js';
import { gemm, matmul } from '../ops/matmul.js';
import type { Tensor } from '../tensor.js';

export interface LinearOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Initializer of the weight (default Xavier/Glorot uniform). */
  weightInit?: InitSpec;
  /** Initializer of the bias (default zeros). */
  biasInit?: InitSpec;
}

/**
 * A dense layer named `name`: x [..., in] -> [..., units], with parameters `<name>.weight` [in, units] and
 * `<name>.bias` [units] under the current scope. A matrix input takes one Gemm node.
 */
export function linear(name: string, x: Tensor, units: number, opts: LinearOptions = {}): Tensor {
  const g = x.graph;
  const inputs = x.shape[x.rank - 1];
  if (x.rank === 0 || typeof inputs !== 'number') {
    throw new GraphError(`linear '${name}': the last axis of ${x.toString()} must be static (it is the layer's input size)`);
  }
  if (!Number.isInteger(units) || units < 1) throw new GraphError(`linear '${name}': units must be a positive integer, got ${units}`);
  return g.scope(name, () => {
    const w = g.param('weight', [inputs, units], opts.weightInit ?? 'xavierUniform');
    const b = opts.bias === false ? null : g.param('bias', [units], opts.biasInit ?? init.zeros());
    if (x.rank === 2) return gemm(x, w, b);
    const y = matmul(x, w);
    return b ? add(y, b) : y;
  });
}
