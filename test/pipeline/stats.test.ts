import { describe, expect, it } from 'vitest';
import {
  StatsError,
  correlationRdm,
  learningCurveArea,
  linearCka,
  meanCi,
  median,
  pairedTTest,
  rsa,
  scoreAtBudget,
  spearman,
  stepsToTarget,
  wilcoxonSignedRank,
} from '../../pipeline/stats.js';
import { seeded } from '../datasets/teacher-random.js';

/** Two-sided p of Student's t with 4 degrees of freedom, by Simpson integration of its density. */
function twoSidedPDf4(t: number): number {
  const density = (x: number): number => (3 / 8) * (1 + (x * x) / 4) ** -2.5;
  const steps = 20000;
  const h = Math.abs(t) / steps;
  let s = density(0) + density(Math.abs(t));
  for (let i = 1; i < steps; i++) s += (i % 2 ? 4 : 2) * density(i * h);
  return 1 - 2 * ((s * h) / 3);
}

/** Exact two-sided Wilcoxon p by enumerating every sign pattern of the ranks. */
function bruteForceWilcoxon(ranks: number[], wPlus: number): number {
  const n = ranks.length;
  let below = 0;
  let above = 0;
  for (let mask = 0; mask < 2 ** n; mask++) {
    let w = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) w += ranks[i]!;
    if (w <= wPlus + 1e-9) below++;
    if (w >= wPlus - 1e-9) above++;
  }
  return Math.min(1, (2 * Math.min(below, above)) / 2 ** n);
}

describe('meanCi and pairedTTest', () => {
  const t975df4 = 2.7764451;

  it('gives mean ± t·sd/√n for a sample of five', () => {
    const x = [1, 2, 3, 4, 6];
    const mean = 16 / 5;
    const sd = Math.sqrt(((1 - mean) ** 2 + (2 - mean) ** 2 + (3 - mean) ** 2 + (4 - mean) ** 2 + (6 - mean) ** 2) / 4);
    const ci = meanCi(x);
    expect(ci.mean).toBeCloseTo(mean, 12);
    expect(ci.sd).toBeCloseTo(sd, 12);
    expect(ci.lower).toBeCloseTo(mean - (t975df4 * sd) / Math.sqrt(5), 6);
    expect(ci.upper).toBeCloseTo(mean + (t975df4 * sd) / Math.sqrt(5), 6);
    expect(Number.isNaN(meanCi([3]).halfWidth)).toBe(true);
  });

  it('tests paired differences with t = mean/(sd/√n) and its two-sided p', () => {
    const a = [0.81, 0.85, 0.79, 0.9, 0.88];
    const b = [0.8, 0.8, 0.8, 0.84, 0.83];
    const d = a.map((x, i) => x - b[i]!);
    const mean = d.reduce((s, x) => s + x, 0) / 5;
    const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / 4);
    const res = pairedTTest(a, b);
    expect(res.df).toBe(4);
    expect(res.t).toBeCloseTo(mean / (sd / Math.sqrt(5)), 10);
    expect(res.p).toBeCloseTo(twoSidedPDf4(res.t), 7);
    // At t = t_{0.975,4} the two-sided p is 0.05 by definition: differences c + e, e of mean 0 and sd 1.
    const e = [-2, -1, 0, 1, 2].map((v) => v / Math.sqrt(2.5));
    const c = t975df4 / Math.sqrt(5);
    expect(pairedTTest(e.map((x) => x + c), [0, 0, 0, 0, 0]).p).toBeCloseTo(0.05, 7);
  });

  it('names mismatched pairs and non-finite values', () => {
    expect(() => pairedTTest([1, 2], [1])).toThrow(StatsError);
    expect(() => pairedTTest([1, 2], [1])).toThrow(/2 values against 1/);
    expect(() => meanCi([1, Number.NaN])).toThrow(/value 1 is NaN/);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('wilcoxonSignedRank', () => {
  it('matches brute-force enumeration, with ties and zero differences', () => {
    // Quarters are exact in binary, so equal differences really tie (the test compares values exactly, as R does).
    const a = [1.25, 3.5, 2.25, 5.0, 0.25, 4.5, 2.0, 3.25, 1.0, 7.0, 2.5, 3.0];
    const b = [1.0, 3.0, 2.5, 4.0, 0.25, 4.0, 2.25, 3.0, 1.5, 5.0, 2.5, 2.5];
    const res = wilcoxonSignedRank(a, b);
    const d = a.map((x, i) => x - b[i]!).filter((x) => x !== 0);
    expect(res.method).toBe('exact');
    expect(res.zeros).toBe(2);
    expect(res.n).toBe(d.length);
    // Average ranks of |d| by brute force: count smaller values plus half the ties.
    const mags = d.map(Math.abs);
    const ranks = mags.map((m) => mags.filter((x) => x < m).length + (mags.filter((x) => x === m).length + 1) / 2);
    expect(ranks.some((r) => !Number.isInteger(r))).toBe(true);
    const wPlus = ranks.reduce((s, r, i) => s + (d[i]! > 0 ? r : 0), 0);
    expect(res.wPlus).toBeCloseTo(wPlus, 9);
    expect(res.p).toBeCloseTo(bruteForceWilcoxon(ranks, wPlus), 12);
  });

  it('gives 2/2ⁿ when every difference favours one side', () => {
    const a = Array.from({ length: 10 }, (_, i) => i + 1.5);
    const b = Array.from({ length: 10 }, (_, i) => i);
    expect(wilcoxonSignedRank(a, b).p).toBeCloseTo(2 / 1024, 15);
  });

  it('uses the normal approximation beyond 20 pairs, close to the exact p', () => {
    const rng = seeded(13);
    const d = Array.from({ length: 21 }, () => rng.normal() + 0.45);
    const zeros = d.map(() => 0);
    const approx = wilcoxonSignedRank(d, zeros);
    expect(approx.method).toBe('normal');
    const exact = wilcoxonSignedRank(d, zeros, { method: 'exact' });
    const ranks = Array.from({ length: 21 }, (_, i) => d.filter((x) => Math.abs(x) < Math.abs(d[i]!)).length + 1);
    expect(exact.p).toBeCloseTo(bruteForceWilcoxon(ranks, exact.wPlus), 12);
    expect(Math.abs(approx.p - exact.p)).toBeLessThan(0.005);
    const mu = (21 * 22) / 4;
    const sigma = Math.sqrt((21 * 22 * 43) / 24);
    expect(approx.z).toBeCloseTo((approx.wPlus - mu - Math.sign(approx.wPlus - mu) * 0.5) / sigma, 12);
  });
});

describe('learning-curve summaries', () => {
  const steps = [100, 200, 300, 400, 500];
  const acc = [0.5, 0.7, 0.9, 0.6, 0.95];

  it('finds the first step where the smoothed metric reaches the target, censored at the budget', () => {
    expect(stepsToTarget(steps, acc, 0.78)).toEqual({ reached: true, step: 300 });
    expect(stepsToTarget(steps, acc, 0.78, { window: 2 })).toEqual({ reached: true, step: 300 });
    expect(stepsToTarget(steps, acc, 0.78, { window: 3 })).toEqual({ reached: true, step: 500 });
    expect(stepsToTarget(steps, acc, 0.99)).toEqual({ reached: false, step: 500 });
    expect(stepsToTarget(steps, [2, 1.5, 1.2, 0.9, 0.8], 1, { direction: 'lower' })).toEqual({ reached: true, step: 400 });
    expect(() => stepsToTarget([1, 3, 2], [0, 0, 0], 1)).toThrow(/step 2 \(2\) does not come after step 1 \(3\)/);
  });

  it('averages the curve by the trapezoid rule over its span, exactly for a line', () => {
    const s = [0, 10, 25, 70, 100];
    const v = s.map((x) => 0.2 + 0.003 * x);
    expect(learningCurveArea(s, v)).toBeCloseTo(0.2 + 0.003 * 50, 12);
    expect(learningCurveArea([0, 1, 3], [0, 1, 1])).toBeCloseTo((0.5 + 2) / 3, 12);
    expect(learningCurveArea([7], [0.4])).toBe(0.4);
  });

  it('reads the score at a fixed budget', () => {
    expect(scoreAtBudget(steps, acc, 450)).toBe(0.6);
    expect(() => scoreAtBudget(steps, acc, 50)).toThrow(/no evaluation at or before step 50/);
  });
});

/** Random orthonormal rows (p × q, p ≤ q) by Gram–Schmidt on Gaussian rows. */
function orthonormalRows(p: number, q: number, seed: number): Float64Array {
  const rng = seeded(seed);
  const m = rng.normals(p * q);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < i; j++) {
      let d = 0;
      for (let k = 0; k < q; k++) d += m[i * q + k]! * m[j * q + k]!;
      for (let k = 0; k < q; k++) m[i * q + k] = m[i * q + k]! - d * m[j * q + k]!;
    }
    let norm = 0;
    for (let k = 0; k < q; k++) norm += m[i * q + k]! ** 2;
    for (let k = 0; k < q; k++) m[i * q + k] = m[i * q + k]! / Math.sqrt(norm);
  }
  return m;
}

function matmul(a: Float64Array, n: number, p: number, b: Float64Array, q: number): Float64Array {
  const c = new Float64Array(n * q);
  for (let i = 0; i < n; i++) for (let k = 0; k < p; k++) for (let j = 0; j < q; j++) c[i * q + j] = c[i * q + j]! + a[i * p + k]! * b[k * q + j]!;
  return c;
}

/** CKA from its definition with the centring matrix H: tr(KHLH) / √(tr(KHKH) tr(LHLH)). */
function ckaByDefinition(x: Float64Array, p: number, y: Float64Array, q: number, n: number): number {
  const h = Float64Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) === i % n ? 1 : 0) - 1 / n);
  const kernel = (a: Float64Array, w: number): Float64Array => {
    const t = new Float64Array(w * n);
    for (let i = 0; i < n; i++) for (let f = 0; f < w; f++) t[f * n + i] = a[i * w + f]!;
    return matmul(matmul(h, n, n, matmul(a, n, w, t, n), n), n, n, h, n);
  };
  const kc = kernel(x, p);
  const lc = kernel(y, q);
  const dot = (u: Float64Array, v: Float64Array): number => u.reduce((s, val, i) => s + val * v[i]!, 0);
  return dot(kc, lc) / Math.sqrt(dot(kc, kc) * dot(lc, lc));
}

describe('linearCka', () => {
  it('is 1 under orthogonal transforms and isotropic scaling, for narrow and wide representations', () => {
    for (const [n, p, q] of [
      [60, 8, 8],
      [60, 8, 20],
      [30, 50, 80],
    ] as const) {
      const x = seeded(n + p).normals(n * p);
      const y = matmul(x, n, p, orthonormalRows(p, q, q), q).map((v) => 3.5 * v + 2);
      expect(linearCka({ data: x, samples: n, features: p }, { data: y, samples: n, features: q })).toBeCloseTo(1, 10);
    }
  });

  it('matches the centring-matrix definition in both computation paths', () => {
    const rng = seeded(17);
    for (const [n, p, q] of [
      [40, 3, 5],
      [12, 30, 25],
    ] as const) {
      const x = rng.normals(n * p);
      const mix = rng.normals(p * q);
      const y = matmul(x, n, p, mix, q).map((v) => v + 2 * rng.normal());
      expect(linearCka({ data: x, samples: n, features: p }, { data: y, samples: n, features: q })).toBeCloseTo(ckaByDefinition(x, p, y, q, n), 10);
    }
  });

  it('is near 0 for independent noise and refuses a constant representation', () => {
    const rng = seeded(19);
    const n = 2000;
    const cka = linearCka({ data: rng.normals(n * 5), samples: n, features: 5 }, { data: rng.normals(n * 5), samples: n, features: 5 });
    expect(cka).toBeLessThan(0.02);
    expect(() => linearCka({ data: new Float64Array(20), samples: 10, features: 2 }, { data: rng.normals(20), samples: 10, features: 2 })).toThrow(
      /first representation does not vary/,
    );
  });
});

describe('RSA', () => {
  const rng = seeded(23);
  const n = 15;
  const p = 10;
  const x = rng.normals(n * p);

  it('builds correlation-distance RDMs: 1 - Pearson r per pair of samples', () => {
    const rdm = correlationRdm({ data: x, samples: n, features: p });
    expect(rdm.length).toBe((n * (n - 1)) / 2);
    const pearson = (i: number, j: number): number => {
      const a = Array.from(x.subarray(i * p, (i + 1) * p));
      const b = Array.from(x.subarray(j * p, (j + 1) * p));
      const ma = a.reduce((s, v) => s + v, 0) / p;
      const mb = b.reduce((s, v) => s + v, 0) / p;
      const sab = a.reduce((s, v, k) => s + (v - ma) * (b[k]! - mb), 0);
      return sab / Math.sqrt(a.reduce((s, v) => s + (v - ma) ** 2, 0) * b.reduce((s, v) => s + (v - mb) ** 2, 0));
    };
    expect(rdm[0]).toBeCloseTo(1 - pearson(0, 1), 12);
    // Pair (2, 5) sits after the 14 + 13 pairs of rows 0 and 1, at offset 5 - 2 - 1.
    expect(rdm[14 + 13 + 2]).toBeCloseTo(1 - pearson(2, 5), 12);
  });

  it('is 1 for a representation with itself and invariant to monotone transforms of distances', () => {
    const rep = { data: x, samples: n, features: p };
    expect(rsa(rep, rep)).toBeCloseTo(1, 12);
    const rdm = correlationRdm(rep);
    expect(spearman(rdm, rdm.map((d) => Math.exp(3 * d) + d ** 3))).toBeCloseTo(1, 12);
    expect(spearman(rdm, rdm.map((d) => -Math.log(d)))).toBeCloseTo(-1, 12);
    // Per-sample positive affine maps leave every correlation, hence the RDM, unchanged.
    const scaled = x.map((v, i) => (1 + Math.floor(i / p)) * v + Math.floor(i / p));
    expect(rsa(rep, { data: scaled, samples: n, features: p })).toBeCloseTo(1, 10);
    const unrelated = { data: seeded(29).normals(n * p), samples: n, features: p };
    expect(Math.abs(rsa(rep, unrelated))).toBeLessThan(0.3);
  });

  it('averages tied ranks in Spearman', () => {
    // Ranks (1.5, 1.5, 3, 4) and (1, 2, 3, 4): Pearson of those by hand.
    const ra = [1.5, 1.5, 3, 4];
    const rb = [1, 2, 3, 4];
    const mean = 2.5;
    const sab = ra.reduce((s, v, i) => s + (v - mean) * (rb[i]! - mean), 0);
    const expected = sab / Math.sqrt(ra.reduce((s, v) => s + (v - mean) ** 2, 0) * rb.reduce((s, v) => s + (v - mean) ** 2, 0));
    expect(spearman([2, 2, 5, 9], [0.1, 0.2, 0.3, 0.4])).toBeCloseTo(expected, 12);
  });
});
