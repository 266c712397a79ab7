/** @file Global-norm gradient clipping: the L2 norm over every gradient, and gradients rescaled to a maximum norm. */
import { GraphError } from '../errors.js';
import { add, div, minimum, mul, sqrt, sum } from '../ops/elementwise.js';
import { reduceSum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';

/** sqrt(sum over all gradients of sum(g^2)), a scalar. */
export function globalNorm(grads: readonly Tensor[]): Tensor {
  if (grads.length === 0) throw new GraphError('globalNorm: needs at least one gradient');
  return sqrt(sum(grads.map((gr) => reduceSum(mul(gr, gr)))));
}

/**
 * Gradients scaled by min(1, maxNorm / (norm + 1e-6)), as PyTorch's clip_grad_norm_: unchanged while their
 * global norm stays below `maxNorm`, rescaled to it above.
 */
export function clipByGlobalNorm(grads: readonly Tensor[], norm: Tensor, maxNorm: Tensor): Tensor[] {
  const scale = minimum(div(maxNorm, add(norm, 1e-6)), 1);
  return grads.map((gr) => mul(gr, scale));
}
