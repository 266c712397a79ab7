/** @file Eigendecomposition of a real symmetric matrix by cyclic Jacobi rotations, with a fixed sign convention. */

/** Eigenvalues in descending order and the matching unit eigenvectors as the rows of `vectors` (n × n). */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Cyclic Jacobi: sweeps of plane rotations, each zeroing one off-diagonal entry, until the off-diagonal mass
 * is negligible against the matrix's norm. Slower than Householder-QR for large n, but accurate to the last
 * digits for small eigenvalues and free of branches that depend on rounding, so the same matrix gives the same
 * vectors everywhere. Each eigenvector's largest-magnitude entry (the first one on ties) is made positive.
 * `a` (row-major n × n, symmetric) is not modified.
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} values for ${n} × ${n}, got ${a.length}.`);
  const m = Float64Array.from(a as ArrayLike<number>);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm += m[i]! * m[i]!;
  const tolerance = (Number.EPSILON * Number.EPSILON * norm) / 4;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! * m[p * n + q]!;
    if (off <= tolerance) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const app = m[p * n + p]!;
        const aqq = m[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = m[r * n + p]!;
          const arq = m[r * n + q]!;
          m[r * n + p] = c * arp - s * arq;
          m[r * n + q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = m[p * n + r]!;
          const aqr = m[q * n + r]!;
          m[p * n + r] = c * apr - s * aqr;
          m[q * n + r] = s * apr + c * aqr;
        }
        m[p * n + p] = app - t * apq;
        m[q * n + q] = aqq + t * apq;
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          const vrp = v[r * n + p]!;
          const vrq = v[r * n + q]!;
          v[r * n + p] = c * vrp - s * vrq;
          v[r * n + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j]! - m[i * n + i]! || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((col, row) => {
    values[row] = m[col * n + col]!;
    let big = 0;
    for (let r = 0; r < n; r++) if (Math.abs(v[r * n + col]!) > Math.abs(v[big * n + col]!)) big = r;
    const sign = v[big * n + col]! < 0 ? -1 : 1;
    for (let r = 0; r < n; r++) vectors[row * n + r] = sign * v[r * n + col]!;
  });
  return { values, vectors };
}
