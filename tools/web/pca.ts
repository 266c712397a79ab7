/** @file A small PCA for 2-D trajectories: leading components of a covariance by power iteration with deflation. */

export interface Pca {
  dim: number;
  mean: Float64Array;
  /** `k` unit vectors of length `dim`, row after row, in order of variance. */
  components: Float64Array;
  /** Share of the total variance each component explains. */
  explained: number[];
}

/**
 * The `k` leading principal components of `rows` points of `dim` values each (row-major). Each component's sign
 * is fixed so that its largest entry is positive, so the same data always gives the same picture.
 */
export function fitPca(data: ArrayLike<number>, rows: number, dim: number, k = 2): Pca {
  if (rows < 2 || data.length !== rows * dim) throw new Error(`fitPca: ${data.length} values are not ${rows} rows (at least 2) of ${dim}`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j] += data[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= rows;
  const cov = new Float64Array(dim * dim);
  const centered = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) centered[j] = data[r * dim + j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const ci = centered[i];
      if (ci === 0) continue;
      for (let j = i; j < dim; j++) cov[i * dim + j] += ci * centered[j];
    }
  }
  let total = 0;
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      cov[i * dim + j] /= rows - 1;
      cov[j * dim + i] = cov[i * dim + j];
    }
    total += cov[i * dim + i];
  }
  const count = Math.min(k, dim);
  const components = new Float64Array(count * dim);
  const explained: number[] = [];
  const v = new Float64Array(dim);
  const w = new Float64Array(dim);
  for (let c = 0; c < count; c++) {
    for (let j = 0; j < dim; j++) v[j] = 1 + ((j * 7919 + c * 104729) % 97) / 97;
    normalize(v);
    let lambda = 0;
    for (let iter = 0; iter < 500; iter++) {
      multiply(cov, v, w, dim);
      const norm = normalize(w);
      let change = 0;
      for (let j = 0; j < dim; j++) change = Math.max(change, Math.abs(w[j] - v[j]));
      v.set(w);
      lambda = norm;
      if (norm === 0 || change < 1e-12) break;
    }
    let largest = 0;
    for (let j = 0; j < dim; j++) if (Math.abs(v[j]) > Math.abs(v[largest])) largest = j;
    if (v[largest] < 0) for (let j = 0; j < dim; j++) v[j] = -v[j];
    components.set(v, c * dim);
    explained.push(total > 0 ? lambda / total : 0);
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) cov[i * dim + j] -= lambda * v[i] * v[j];
  }
  return { dim, mean, components, explained };
}

/** The points projected on the components: `[rows, k]`. */
export function projectPca(pca: Pca, data: ArrayLike<number>, rows: number): Float32Array {
  const k = pca.components.length / pca.dim;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < pca.dim; j++) s += (data[r * pca.dim + j] - pca.mean[j]) * pca.components[c * pca.dim + j];
      out[r * k + c] = s;
    }
  }
  return out;
}

function multiply(m: Float64Array, v: Float64Array, out: Float64Array, dim: number): void {
  for (let i = 0; i < dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += m[i * dim + j] * v[j];
    out[i] = s;
  }
}

function normalize(v: Float64Array): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  const n = Math.sqrt(s);
  if (n > 0) for (let j = 0; j < v.length; j++) v[j] /= n;
  return n;
}
