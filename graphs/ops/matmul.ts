/** @file Matrix products: MatMul (batched, broadcasting, numpy 1-D rules) and Gemm (2-D, transposes, bias). */
import { GraphError } from '../errors.js';
import { defineOp } from '../op.js';
import { type Dim, Tensor, broadcastShapes, formatShape } from '../tensor.js';
import { mul } from './elementwise.js';
import { sumToShape } from './reduce.js';
import { reshape, squeeze, transpose, unsqueeze } from './shape.js';

export const MatMul = defineOp({
  type: 'MatMul',
  shape: (inputs) => {
    const [a, b] = inputs;
    if (a.dtype !== b.dtype) throw new GraphError(`dtypes ${a.dtype} and ${b.dtype} differ`);
    if (a.rank === 0 || b.rank === 0) throw new GraphError('operands must have rank 1 or more');
    const as: Dim[] = a.rank === 1 ? [1, a.shape[0]] : [...a.shape];
    const bs: Dim[] = b.rank === 1 ? [b.shape[0], 1] : [...b.shape];
    const k1 = as[as.length - 1];
    const k2 = bs[bs.length - 2];
    if (k1 !== k2) throw new GraphError(`inner dims differ: ${formatShape(a.shape)} @ ${formatShape(b.shape)} (${k1} vs ${k2})`);
    const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2));
    const shape = [...batch];
    if (a.rank > 1) shape.push(as[as.length - 2]);
    if (b.rank > 1) shape.push(bs[bs.length - 1]);
    return [{ dtype: a.dtype, shape }];
  },
  grad: ({ inputs: [a, b], grads: [g], wants }) => {
    let g2 = g as Tensor;
    if (a.rank === 1 && b.rank === 1) g2 = reshape(g2, [1, 1]);
    else if (a.rank === 1) g2 = unsqueeze(g2, g2.rank - 1);
    else if (b.rank === 1) g2 = unsqueeze(g2, g2.rank);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (wants[0]) {
      const b2 = b.rank === 1 ? unsqueeze(b, 0) : b;
      da = sumToShape(b.rank === 1 ? matmul(g2, b2) : matmulNT(g2, b2), a.shape);
    }
    if (wants[1]) {
      const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
      if (b.rank === 1) db = squeeze(sumToShape(matmulTN(a2, g2), [b.shape[0], 1]), 1);
      else if (b.rank === 2 && a2.rank > 2) db = matmulTN(flattenBatch(a2), flattenBatch(g2));
      else db = sumToShape(matmulTN(a2, g2), b.shape);
    }
    return [da, db];
  },
});

/** Merges all leading dims into one: [..., m, k] -> [-1, k]. */
function flattenBatch(x: Tensor): Tensor {
  return reshape(x, [-1, x.shape[x.rank - 1]]);
}

/** x @ y^T over the last two axes; one Gemm when both are matrices. */
function matmulNT(x: Tensor, y: Tensor): Tensor {
  if (x.rank === 2 && y.rank === 2) return gemm(x, y, null, { transB: true });
  return matmul(x, swapLast(y));
}

/** x^T @ y over the last two axes; one Gemm when both are matrices. */
function matmulTN(x: Tensor, y: Tensor): Tensor {
  if (x.rank === 2 && y.rank === 2) return gemm(x, y, null, { transA: true });
  return matmul(swapLast(x), y);
}

function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return transpose(x, perm);
}

/** numpy matmul: batched and broadcasting over leading dims; a 1-D operand is a vector. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.graph.apply(MatMul, [a, b], {})[0];
}

export interface GemmAttrs {
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
}

export const Gemm = defineOp<GemmAttrs>({
  type: 'Gemm',
  shape: (inputs, attrs) => {
    const [a, b, c] = inputs;
    if (a.rank !== 2 || b.rank !== 2) throw new GraphError('Gemm operands must be matrices');
    if (a.dtype !== b.dtype || (c && c.dtype !== a.dtype)) throw new GraphError('operand dtypes differ');
    const [m, k1] = attrs.transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = attrs.transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (k1 !== k2) throw new GraphError(`inner dims differ (${k1} vs ${k2})`);
    if (c) {
      const out = broadcastShapes([m, n], c.shape);
      if (out[0] !== m || out[1] !== n) throw new GraphError(`bias ${formatShape(c.shape)} does not broadcast to [${m},${n}]`);
    }
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  encode: (attrs) => ({
    attributes: [
      { name: 'alpha', type: 'float', value: attrs.alpha },
      { name: 'beta', type: 'float', value: attrs.beta },
      { name: 'transA', type: 'int', value: attrs.transA ? 1 : 0 },
      { name: 'transB', type: 'int', value: attrs.transB ? 1 : 0 },
    ],
  }),
  grad: ({ inputs: [a, b, c], grads: [g], attrs, wants }) => {
    const gt = g as Tensor;
    const { transA: ta, transB: tb, alpha } = attrs;
    const da = !wants[0]
      ? null
      : ta
        ? gemm(b, gt, null, { transA: tb, transB: true, alpha })
        : gemm(gt, b, null, { transB: !tb, alpha });
    const db = !wants[1]
      ? null
      : tb
        ? gemm(gt, a, null, { transA: true, transB: ta, alpha })
        : gemm(a, gt, null, { transA: !ta, alpha });
    const dc = c && wants[2] ? mul(sumToShape(gt, c.shape), attrs.beta) : null;
    return c ? [da, db, dc] : [da, db];
  },
});

/** alpha * op(a) @ op(b) + beta * c for matrices; c broadcasts to the output. */
export function gemm(a: Tensor, b: Tensor, c: Tensor | null = null, opts: Partial<GemmAttrs> = {}): Tensor {
  const attrs: GemmAttrs = { transA: opts.transA ?? false, transB: opts.transB ?? false, alpha: opts.alpha ?? 1, beta: opts.beta ?? 1 };
  return a.graph.apply(Gemm, c ? [a, b, c] : [a, b], attrs)[0];
}
