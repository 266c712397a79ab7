/**
 * @file Statistics of experiments over seeds: confidence intervals, paired tests, learning-curve summaries, and
 * representational similarity between a student and the brain (linear CKA, RSA).
 */
import jStat from 'jstat';
import { B2mError } from './errors.js';

/** A statistic asked of data that cannot give it (too few values, mismatched pairs, no variance). */
export class StatsError extends B2mError {}

function finiteValues(values: ArrayLike<number>, what: string): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw new StatsError(`${what}: value ${i} is ${out[i]}; every value must be finite.`);
  }
  return out;
}

/** Median, averaging the two middle values for an even count. */
export function median(values: ArrayLike<number>): number {
  const v = finiteValues(values, 'median').sort();
  if (v.length === 0) throw new StatsError('median: no values.');
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export interface MeanCi {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1). */
  sd: number;
  /** Standard error of the mean, sd / √n. */
  sem: number;
  level: number;
  lower: number;
  upper: number;
  halfWidth: number;
}

/**
 * Mean and its t-based confidence interval, `mean ± t_{(1+level)/2, n-1} · sd/√n`, the interval for a mean over
 * seeds. With one value the interval is undefined and its bounds are NaN.
 */
export function meanCi(values: ArrayLike<number>, level = 0.95): MeanCi {
  if (!(level > 0 && level < 1)) throw new StatsError(`meanCi: level must be in (0, 1), got ${level}.`);
  const v = finiteValues(values, 'meanCi');
  const n = v.length;
  if (n === 0) throw new StatsError('meanCi: no values.');
  let mean = 0;
  for (const x of v) mean += x;
  mean /= n;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN;
  const sem = sd / Math.sqrt(n);
  const halfWidth = n > 1 ? jStat.studentt.inv((1 + level) / 2, n - 1) * sem : Number.NaN;
  return { n, mean, sd, sem, level, lower: mean - halfWidth, upper: mean + halfWidth, halfWidth };
}

function pairedDifferences(a: ArrayLike<number>, b: ArrayLike<number>, what: string): Float64Array {
  if (a.length !== b.length) throw new StatsError(`${what}: ${a.length} values against ${b.length}; pairs need equal counts (one per seed).`);
  const x = finiteValues(a, `${what} first sample`);
  const y = finiteValues(b, `${what} second sample`);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! - y[i]!;
  return x;
}

export interface PairedTTest {
  n: number;
  /** Mean of `a - b`. */
  meanDifference: number;
  sdDifference: number;
  t: number;
  df: number;
  /** Two-sided p-value from Student's t distribution. */
  p: number;
}

/**
 * Paired two-sided t-test of `a - b` (pairs are seeds: same initialisation and data order). When every
 * difference is equal, t is ±∞ with p = 0, or undefined with p = 1 if they are all zero.
 */
export function pairedTTest(a: ArrayLike<number>, b: ArrayLike<number>): PairedTTest {
  const d = pairedDifferences(a, b, 'pairedTTest');
  const n = d.length;
  if (n < 2) throw new StatsError(`pairedTTest: needs at least 2 pairs, got ${n}.`);
  const { mean, sd } = meanCi(d);
  const df = n - 1;
  if (sd === 0) {
    return { n, meanDifference: mean, sdDifference: 0, t: mean === 0 ? Number.NaN : Math.sign(mean) * Infinity, df, p: mean === 0 ? 1 : 0 };
  }
  const t = mean / (sd / Math.sqrt(n));
  const p = Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), df));
  return { n, meanDifference: mean, sdDifference: sd, t, df, p };
}

/** Ranks 1..n of the values, ties given their average rank. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i]! - values[j]! || i - j);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = rank;
    i = j + 1;
  }
  return ranks;
}

export interface WilcoxonSignedRank {
  /** Pairs with a non-zero difference (zero differences are dropped, as in Wilcoxon's test). */
  n: number;
  zeros: number;
  /** Sum of the ranks of positive differences `a - b`, and of negative ones. */
  wPlus: number;
  wMinus: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
  /** The normal approximation's z (with continuity correction), when that method was used. */
  z?: number;
}

/**
 * Wilcoxon signed-rank test of `a - b`, two-sided. Zero differences are dropped; tied |differences| share their
 * average rank (ties are exact equality, as in R: round metrics first if rounding noise should tie them). `exact` (the default for n ≤ 20 non-zero pairs) enumerates all 2ⁿ sign assignments of the
 * observed ranks by dynamic programming, so it is exact with ties too (a permutation test); p is twice the
 * smaller tail, capped at 1. `normal` (the default beyond 20) uses W⁺'s mean n(n+1)/4 and variance
 * n(n+1)(2n+1)/24 less Σ(t³ - t)/48 over tie groups, with a continuity correction of ½, as R's `wilcox.test`.
 */
export function wilcoxonSignedRank(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: { method?: 'auto' | 'exact' | 'normal' } = {},
): WilcoxonSignedRank {
  const all = pairedDifferences(a, b, 'wilcoxonSignedRank');
  const d = all.filter((x) => x !== 0);
  const n = d.length;
  const zeros = all.length - n;
  const ranks = averageRanks(d.map(Math.abs));
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (d[i]! > 0) wPlus += ranks[i]!;
  const wMinus = (n * (n + 1)) / 2 - wPlus;
  const method = options.method === undefined || options.method === 'auto' ? (n <= 20 ? 'exact' : 'normal') : options.method;
  if (n === 0) return { n, zeros, wPlus: 0, wMinus: 0, p: 1, method };
  if (method === 'exact') {
    if (n > 60) throw new StatsError(`wilcoxonSignedRank: the exact method enumerates 2^n sign patterns; with n = ${n} use 'normal'.`);
    // Doubled ranks are integers even with ties; count the sign assignments giving each doubled W⁺.
    const doubled = Array.from(ranks, (r) => Math.round(2 * r));
    const max = doubled.reduce((s, r) => s + r, 0);
    let counts = new Float64Array(max + 1);
    counts[0] = 1;
    let reach = 0;
    for (const r of doubled) {
      const next = counts.slice();
      for (let s = 0; s <= reach; s++) next[s + r] = next[s + r]! + counts[s]!;
      reach += r;
      counts = next;
    }
    const w = Math.round(2 * wPlus);
    let below = 0;
    let above = 0;
    for (let s = 0; s <= max; s++) {
      if (s <= w) below += counts[s]!;
      if (s >= w) above += counts[s]!;
    }
    const total = 2 ** n;
    return { n, zeros, wPlus, wMinus, p: Math.min(1, (2 * Math.min(below, above)) / total), method };
  }
  const magnitudes = d.map(Math.abs).sort();
  let ties = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && magnitudes[j + 1] === magnitudes[i]) j++;
    const t = j - i + 1;
    ties += t * t * t - t;
    i = j + 1;
  }
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - ties / 48);
  const centred = wPlus - (n * (n + 1)) / 4;
  const z = (centred - Math.sign(centred) * 0.5) / sigma;
  return { n, zeros, wPlus, wMinus, p: Math.min(1, 2 * jStat.normal.cdf(-Math.abs(z), 0, 1)), method, z };
}

function checkCurve(steps: ArrayLike<number>, values: ArrayLike<number>, what: string): { s: Float64Array; v: Float64Array } {
  if (steps.length !== values.length) throw new StatsError(`${what}: ${steps.length} steps but ${values.length} values; give one value per evaluation step.`);
  if (steps.length === 0) throw new StatsError(`${what}: the learning curve has no evaluations.`);
  const s = finiteValues(steps, `${what} steps`);
  const v = finiteValues(values, `${what} values`);
  for (let i = 1; i < s.length; i++) {
    if (!(s[i]! > s[i - 1]!)) throw new StatsError(`${what}: step ${i} (${s[i]}) does not come after step ${i - 1} (${s[i - 1]}); steps must increase.`);
  }
  return { s, v };
}

export interface StepsToTarget {
  reached: boolean;
  /** The first evaluation step whose smoothed metric reaches the target; when never reached, the last step. */
  step: number;
}

/**
 * The first evaluation step at which the metric, smoothed by a trailing mean over `window` evaluations (fewer
 * at the start), reaches `target` (≥ for `higher` metrics such as accuracy, ≤ for `lower` ones such as loss).
 * A run that never reaches it is right-censored: `reached` is false and `step` is the last evaluated step, the
 * budget, which understates its true steps, so comparisons against a censored baseline are conservative.
 */
export function stepsToTarget(
  steps: ArrayLike<number>,
  values: ArrayLike<number>,
  target: number,
  options: { window?: number; direction?: 'higher' | 'lower' } = {},
): StepsToTarget {
  const { s, v } = checkCurve(steps, values, 'stepsToTarget');
  const window = options.window ?? 1;
  if (!Number.isInteger(window) || window < 1) throw new StatsError(`stepsToTarget: window must be a positive integer, got ${window}.`);
  const higher = (options.direction ?? 'higher') === 'higher';
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    sum += v[i]!;
    if (i >= window) sum -= v[i - window]!;
    const smoothed = sum / Math.min(i + 1, window);
    if (higher ? smoothed >= target : smoothed <= target) return { reached: true, step: s[i]! };
  }
  return { reached: false, step: s[s.length - 1]! };
}

/**
 * Area under the learning curve by the trapezoid rule, divided by the span of steps: the curve's mean level,
 * comparable across budgets. A single evaluation gives its value.
 */
export function learningCurveArea(steps: ArrayLike<number>, values: ArrayLike<number>): number {
  const { s, v } = checkCurve(steps, values, 'learningCurveArea');
  if (s.length === 1) return v[0]!;
  let area = 0;
  for (let i = 1; i < s.length; i++) area += ((v[i]! + v[i - 1]!) / 2) * (s[i]! - s[i - 1]!);
  return area / (s[s.length - 1]! - s[0]!);
}

/** The metric at a fixed budget: its value at the last evaluation at or before `budget` steps. */
export function scoreAtBudget(steps: ArrayLike<number>, values: ArrayLike<number>, budget: number): number {
  const { s, v } = checkCurve(steps, values, 'scoreAtBudget');
  let at = -1;
  for (let i = 0; i < s.length && s[i]! <= budget; i++) at = i;
  if (at < 0) throw new StatsError(`scoreAtBudget: no evaluation at or before step ${budget}; the first is at step ${s[0]}.`);
  return v[at]!;
}

/** A representation: one row of `features` values per sample (stimulus, trial or condition), row-major. */
export interface Representation {
  data: ArrayLike<number>;
  samples: number;
  features: number;
}

function centredColumns(x: Representation, what: string): Float64Array {
  const { data, samples, features } = x;
  if (data.length !== samples * features) {
    throw new StatsError(`${what}: data has ${data.length} values but samples × features = ${samples} × ${features}.`);
  }
  const out = finiteValues(data, what);
  for (let f = 0; f < features; f++) {
    let mean = 0;
    for (let i = 0; i < samples; i++) mean += out[i * features + f]!;
    mean /= samples;
    for (let i = 0; i < samples; i++) out[i * features + f] = out[i * features + f]! - mean;
  }
  return out;
}

/** ‖Aᵀ B‖²_F for centred row-major A (n × p) and B (n × q). */
function crossFrobenius(a: Float64Array, p: number, b: Float64Array, q: number, n: number): number {
  const c = new Float64Array(p * q);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) {
      const aij = a[i * p + j]!;
      if (aij === 0) continue;
      const row = j * q;
      for (let k = 0; k < q; k++) c[row + k] = c[row + k]! + aij * b[i * q + k]!;
    }
  }
  let s = 0;
  for (const v of c) s += v * v;
  return s;
}

/** The Gram matrix A Aᵀ (n × n) of centred row-major A (n × p). */
function gram(a: Float64Array, p: number, n: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += a[i * p + k]! * a[j * p + k]!;
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  return g;
}

/**
 * Linear centred kernel alignment (Kornblith et al. 2019) between two representations of the same samples,
 * any feature widths: `‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F)` with features centred over samples. It is 1 for
 * representations equal up to rotation and isotropic scaling, and near 0 for independent ones. Computed in
 * feature space or sample space (`⟨XXᵀ, YYᵀ⟩`), whichever is cheaper; both are exact.
 */
export function linearCka(x: Representation, y: Representation): number {
  if (x.samples !== y.samples) throw new StatsError(`linearCka: ${x.samples} samples against ${y.samples}; both representations must cover the same samples.`);
  const n = x.samples;
  if (n < 2) throw new StatsError(`linearCka: needs at least 2 samples, got ${n}.`);
  const a = centredColumns(x, 'linearCka first representation');
  const b = centredColumns(y, 'linearCka second representation');
  const p = x.features;
  const q = y.features;
  let xy: number;
  let xx: number;
  let yy: number;
  if (p * q + p * p + q * q <= n * (p + q + 1)) {
    xy = crossFrobenius(a, p, b, q, n);
    xx = crossFrobenius(a, p, a, p, n);
    yy = crossFrobenius(b, q, b, q, n);
  } else {
    const k = gram(a, p, n);
    const l = gram(b, q, n);
    xy = 0;
    xx = 0;
    yy = 0;
    for (let i = 0; i < n * n; i++) {
      xy += k[i]! * l[i]!;
      xx += k[i]! * k[i]!;
      yy += l[i]! * l[i]!;
    }
  }
  if (!(xx > 0)) throw new StatsError('linearCka: the first representation does not vary across samples; CKA is undefined.');
  if (!(yy > 0)) throw new StatsError('linearCka: the second representation does not vary across samples; CKA is undefined.');
  return xy / Math.sqrt(xx * yy);
}

/**
 * Representational dissimilarity matrix, correlation distance `1 - r` between every pair of samples' feature
 * patterns, as its upper triangle in row order: (0,1), (0,2), …, (1,2), …: n(n - 1)/2 values.
 */
export function correlationRdm(x: Representation): Float64Array {
  const { data, samples: n, features: p } = x;
  if (data.length !== n * p) throw new StatsError(`correlationRdm: data has ${data.length} values but samples × features = ${n} × ${p}.`);
  if (p < 2) throw new StatsError(`correlationRdm: correlation distance needs at least 2 features per sample, got ${p}.`);
  const z = finiteValues(data, 'correlationRdm');
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let f = 0; f < p; f++) mean += z[i * p + f]!;
    mean /= p;
    let ss = 0;
    for (let f = 0; f < p; f++) {
      const v = z[i * p + f]! - mean;
      z[i * p + f] = v;
      ss += v * v;
    }
    if (!(ss > 0)) throw new StatsError(`correlationRdm: sample ${i} has the same value in every feature; its correlation distance is undefined.`);
    const inv = 1 / Math.sqrt(ss);
    for (let f = 0; f < p; f++) z[i * p + f] = z[i * p + f]! * inv;
  }
  const out = new Float64Array((n * (n - 1)) / 2);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let r = 0;
      for (let f = 0; f < p; f++) r += z[i * p + f]! * z[j * p + f]!;
      out[o++] = 1 - r;
    }
  }
  return out;
}

/** Spearman's rank correlation: Pearson's correlation of average ranks. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new StatsError(`spearman: ${a.length} values against ${b.length}; they must pair up.`);
  const ra = averageRanks(finiteValues(a, 'spearman first sample'));
  const rb = averageRanks(finiteValues(b, 'spearman second sample'));
  const n = ra.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i]! - mean;
    const db = rb[i]! - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (!(saa > 0 && sbb > 0)) throw new StatsError('spearman: one sample has all values tied; the rank correlation is undefined.');
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Representational similarity analysis: Spearman correlation of the two representations' correlation-distance
 * RDMs over the same samples. Only the order of dissimilarities matters, so it is invariant to any monotone
 * transform of the distances.
 */
export function rsa(x: Representation, y: Representation): number {
  if (x.samples !== y.samples) throw new StatsError(`rsa: ${x.samples} samples against ${y.samples}; both representations must cover the same samples.`);
  if (x.samples < 3) throw new StatsError(`rsa: needs at least 3 samples for a correlation of dissimilarities, got ${x.samples}.`);
  return spearman(correlationRdm(x), correlationRdm(y));
}
