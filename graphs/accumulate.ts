/** @file Summing the gradient parts of one tensor in few nodes: shared-weight products merged into one Gemm, negated parts subtracted. */
import { Neg, neg, sub, sum } from './ops/elementwise.js';
import { Gemm, type GemmAttrs, gemm } from './ops/matmul.js';
import { ReduceSum, type ReduceAttrs, reduceSum } from './ops/reduce.js';
import { concat, reshape } from './ops/shape.js';
import type { Tensor } from './tensor.js';

/**
 * Concatenations made while summing, by the ids of what they join, so that the row blocks of a weight's
 * gradient and of its bias's gradient are joined once.
 */
export type JoinCache = Map<string, Tensor>;

/**
 * The sum of `parts`. A weight used at many steps (a recurrent `w_hh`) gets one `aᵢᵀ gᵢ` product per use; these
 * become a single Gemm over the row-stacked operands (Σᵢ aᵢᵀ gᵢ = [a₁;…;aₙ]ᵀ [g₁;…;gₙ]), and the per-use row sums
 * of its bias one ReduceSum over the same stacked rows: two nodes instead of 2n + 2, and one large product runs
 * faster than n small ones. Parts that are `Neg(x)` are subtracted instead of negated and added.
 */
export function accumulate(parts: readonly Tensor[], joins: JoinCache): Tensor {
  if (parts.length === 1) return parts[0];
  const products = groupBy(parts.filter(isWeightProduct), (p) => `${p.dtype}:${String(inputOf(p, 0).shape[0])}`);
  const rowSums = groupBy(parts.filter(isRowSum), (p) => `${p.dtype}:${String(inputOf(p, 0).shape[0])}`);
  const merged = new Set<Tensor>();
  const terms: Tensor[] = [];
  for (const group of products.values()) {
    if (group.length < 2) continue;
    const a = rowStack(group.map((p) => inputOf(p, 0)), joins);
    const d = rowStack(group.map((p) => inputOf(p, 1)), joins);
    terms.push(gemm(a, d, null, { transA: true }));
    for (const p of group) merged.add(p);
  }
  for (const group of rowSums.values()) {
    if (group.length < 2) continue;
    terms.push(reduceSum(rowStack(group.map((p) => inputOf(p, 0)), joins), [0], false));
    for (const p of group) merged.add(p);
  }
  const negated: Tensor[] = [];
  for (const p of parts) {
    if (merged.has(p)) continue;
    if (p.producer?.op === Neg) negated.push(inputOf(p, 0));
    else terms.push(p);
  }
  if (negated.length === 0) return sum(terms);
  if (terms.length === 0) return neg(sum(negated));
  return sub(sum(terms), sum(negated));
}

function inputOf(t: Tensor, i: number): Tensor {
  return (t.producer as NonNullable<Tensor['producer']>).inputs[i];
}

/** aᵀ g of two matrices with the same rows: what the gradient of `x @ W` gives W. */
function isWeightProduct(t: Tensor): boolean {
  const n = t.producer;
  if (n === null || n.op !== Gemm || n.inputs.length !== 2) return false;
  const attrs = n.attrs as GemmAttrs;
  return attrs.transA && !attrs.transB && attrs.alpha === 1 && n.inputs[0].rank === 2 && n.inputs[1].rank === 2;
}

/** The sum over the rows of a matrix: what the gradient of a broadcast bias gives the bias. */
function isRowSum(t: Tensor): boolean {
  const n = t.producer;
  if (n === null || n.op !== ReduceSum) return false;
  const attrs = n.attrs as ReduceAttrs;
  return !attrs.keepdims && attrs.axes.length === 1 && attrs.axes[0] === 0 && n.inputs[0].rank === 2;
}

function groupBy(xs: readonly Tensor[], key: (t: Tensor) => string): Map<string, Tensor[]> {
  const out = new Map<string, Tensor[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

/**
 * Matrices [m, kᵢ=k] with one row count m stacked as [n·m, k], rows grouped by source row: joined along the
 * columns (the row count may be the symbolic batch, which Concat cannot join along) and reshaped.
 */
function rowStack(xs: readonly Tensor[], joins: JoinCache): Tensor {
  const key = xs.map((x) => x.id).join(',');
  let out = joins.get(key);
  if (out === undefined) {
    out = reshape(concat(xs, 1), [-1, xs[0].shape[1]]);
    joins.set(key, out);
  }
  return out;
}
