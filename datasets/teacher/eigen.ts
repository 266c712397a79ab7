/** @file Eigendecomposition of a real symmetric matrix (ml-matrix's tred2 + tql2), sorted, with a fixed sign convention. */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Eigenvalues in descending order and the matching unit eigenvectors as the rows of `vectors` (n × n). */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Householder tridiagonalization and the implicit QL algorithm (ml-matrix's port of JAMA/EISPACK tred2 + tql2):
 * O(n³) with a small constant, a few hundred milliseconds at n = 256 where cyclic Jacobi took seconds. Eigenvalues
 * come out descending (ties in input order); each eigenvector's largest-magnitude entry (the first one on ties)
 * is made positive, so the same matrix gives the same vectors everywhere. `a` (row-major n × n, symmetric) is
 * not modified.
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} values for ${n} × ${n}, got ${a.length}.`);
  const matrix = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) matrix.set(i, j, a[i * n + j]!);
  const evd = new EigenvalueDecomposition(matrix, { assumeSymmetric: true });
  const d = evd.realEigenvalues;
  const v = evd.eigenvectorMatrix;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[j]! - d[i]! || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((col, row) => {
    values[row] = d[col]!;
    let big = 0;
    for (let r = 0; r < n; r++) if (Math.abs(v.get(r, col)) > Math.abs(v.get(big, col))) big = r;
    const sign = v.get(big, col) < 0 ? -1 : 1;
    for (let r = 0; r < n; r++) vectors[row * n + r] = sign * v.get(r, col);
  });
  return { values, vectors };
}
