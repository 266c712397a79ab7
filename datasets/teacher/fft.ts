/**
 * @file Complex FFT of any length: a self-sorting (Stockham) mixed-radix transform for lengths whose prime
 * factors are at most 13 (radix 2, 3, 4 and 5 butterflies written out, 7, 11 and 13 as small DFTs), and
 * Bluestein's chirp-z for the rest. Written here because the analytic signal needs an exact DFT of the
 * recording's own length (padding would change the Hilbert transform), and the registry's maintained FFTs
 * handle powers of two only.
 */

const LARGEST_RADIX = 13;
const SIN_3 = Math.sin((2 * Math.PI) / 3);
const COS_5 = Math.cos((2 * Math.PI) / 5);
const COS_25 = Math.cos((4 * Math.PI) / 5);
const SIN_5 = Math.sin((2 * Math.PI) / 5);
const SIN_25 = Math.sin((4 * Math.PI) / 5);

/** The factors of n in the order the stages use them, or undefined when a prime factor exceeds LARGEST_RADIX. */
function factorize(n: number): number[] | undefined {
  const factors: number[] = [];
  let rest = n;
  while (rest % 4 === 0) {
    factors.push(4);
    rest /= 4;
  }
  for (let p = 2; p <= LARGEST_RADIX && rest > 1; p++) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  return rest === 1 ? factors : undefined;
}

/** Factors and the table `e^{2πik/n}` shared by every stage of a length-n transform. */
interface StockhamPlan {
  factors: number[];
  cos: Float64Array;
  sin: Float64Array;
}

/** Plans for the lengths seen last; a band-power run transforms many channels of one length. */
const PLANS_KEPT = 8;
const stockhamPlans = new Map<number, StockhamPlan>();

function remember<K, V>(cache: Map<K, V>, key: K, value: V): V {
  if (cache.size >= PLANS_KEPT) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return value;
}

function stockhamPlan(n: number, factors: number[]): StockhamPlan {
  const plan = stockhamPlans.get(n);
  if (plan) return plan;
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = Math.sin((2 * Math.PI * k) / n);
  }
  return remember(stockhamPlans, n, { factors, cos, sin });
}

/**
 * Stockham decimation in frequency: at each stage of radix P on the current length L = P·m with stride s,
 * `y[q + s(Pp + r)] = w_L^{pr} Σ_j x[q + s(p + jm)] ω_P^{jr}`; the output lands sorted, no bit reversal.
 * `sign` is -1 forward, +1 inverse (unscaled).
 */
function stockham(re: Float64Array, im: Float64Array, sign: number, plan: StockhamPlan): void {
  const n = re.length;
  const { factors, cos, sin } = plan;
  let xr: Float64Array = re;
  let xi: Float64Array = im;
  let yr: Float64Array = new Float64Array(n);
  let yi: Float64Array = new Float64Array(n);
  const ar = new Float64Array(LARGEST_RADIX);
  const ai = new Float64Array(LARGEST_RADIX);
  const or = new Float64Array(LARGEST_RADIX);
  const oi = new Float64Array(LARGEST_RADIX);
  const wr = new Float64Array(LARGEST_RADIX);
  const wi = new Float64Array(LARGEST_RADIX);
  let s = 1;
  let length = n;
  for (const radix of factors) {
    const m = length / radix;
    const step = n / radix;
    const dftr = new Float64Array(radix * radix);
    const dfti = new Float64Array(radix * radix);
    for (let j = 0; j < radix * radix; j++) {
      const k = ((Math.floor(j / radix) * (j % radix)) % radix) * step;
      dftr[j] = cos[k]!;
      dfti[j] = sign * sin[k]!;
    }
    for (let p = 0; p < m; p++) {
      for (let r = 0; r < radix; r++) {
        const k = p * r * s;
        wr[r] = cos[k]!;
        wi[r] = sign * sin[k]!;
      }
      for (let q = 0; q < s; q++) {
        const src = q + s * p;
        const dst = q + s * radix * p;
        if (radix === 4) {
          const i0 = src;
          const i1 = src + s * m;
          const i2 = i1 + s * m;
          const i3 = i2 + s * m;
          const t0r = xr[i0]! + xr[i2]!;
          const t0i = xi[i0]! + xi[i2]!;
          const t1r = xr[i0]! - xr[i2]!;
          const t1i = xi[i0]! - xi[i2]!;
          const t2r = xr[i1]! + xr[i3]!;
          const t2i = xi[i1]! + xi[i3]!;
          // (a1 - a3) times ω_4 = sign·i.
          const t3r = -sign * (xi[i1]! - xi[i3]!);
          const t3i = sign * (xr[i1]! - xr[i3]!);
          yr[dst] = t0r + t2r;
          yi[dst] = t0i + t2i;
          let vr = t1r + t3r;
          let vi = t1i + t3i;
          yr[dst + s] = vr * wr[1]! - vi * wi[1]!;
          yi[dst + s] = vr * wi[1]! + vi * wr[1]!;
          vr = t0r - t2r;
          vi = t0i - t2i;
          yr[dst + 2 * s] = vr * wr[2]! - vi * wi[2]!;
          yi[dst + 2 * s] = vr * wi[2]! + vi * wr[2]!;
          vr = t1r - t3r;
          vi = t1i - t3i;
          yr[dst + 3 * s] = vr * wr[3]! - vi * wi[3]!;
          yi[dst + 3 * s] = vr * wi[3]! + vi * wr[3]!;
        } else if (radix === 2) {
          const i1 = src + s * m;
          const br = xr[src]! - xr[i1]!;
          const bi = xi[src]! - xi[i1]!;
          yr[dst] = xr[src]! + xr[i1]!;
          yi[dst] = xi[src]! + xi[i1]!;
          yr[dst + s] = br * wr[1]! - bi * wi[1]!;
          yi[dst + s] = br * wi[1]! + bi * wr[1]!;
        } else {
          for (let j = 0; j < radix; j++) {
            ar[j] = xr[src + j * s * m]!;
            ai[j] = xi[src + j * s * m]!;
          }
          if (radix === 3) {
            const br = ar[1]! + ar[2]!;
            const bi = ai[1]! + ai[2]!;
            const cr = ar[0]! - 0.5 * br;
            const ci = ai[0]! - 0.5 * bi;
            // i·s₁·(a1 - a2) with s₁ = sign·sin(2π/3).
            const dr = -sign * SIN_3 * (ai[1]! - ai[2]!);
            const di = sign * SIN_3 * (ar[1]! - ar[2]!);
            or[0] = ar[0]! + br;
            oi[0] = ai[0]! + bi;
            or[1] = cr + dr;
            oi[1] = ci + di;
            or[2] = cr - dr;
            oi[2] = ci - di;
          } else if (radix === 5) {
            const b1r = ar[1]! + ar[4]!;
            const b1i = ai[1]! + ai[4]!;
            const b2r = ar[2]! + ar[3]!;
            const b2i = ai[2]! + ai[3]!;
            const d1r = ar[1]! - ar[4]!;
            const d1i = ai[1]! - ai[4]!;
            const d2r = ar[2]! - ar[3]!;
            const d2i = ai[2]! - ai[3]!;
            const t1r = ar[0]! + COS_5 * b1r + COS_25 * b2r;
            const t1i = ai[0]! + COS_5 * b1i + COS_25 * b2i;
            const t2r = ar[0]! + COS_25 * b1r + COS_5 * b2r;
            const t2i = ai[0]! + COS_25 * b1i + COS_5 * b2i;
            // i·(s₁d₁ + s₂d₂) and i·(s₂d₁ - s₁d₂) with s_k = sign·sin(2πk/5).
            const u1r = -sign * (SIN_5 * d1i + SIN_25 * d2i);
            const u1i = sign * (SIN_5 * d1r + SIN_25 * d2r);
            const u2r = -sign * (SIN_25 * d1i - SIN_5 * d2i);
            const u2i = sign * (SIN_25 * d1r - SIN_5 * d2r);
            or[0] = ar[0]! + b1r + b2r;
            oi[0] = ai[0]! + b1i + b2i;
            or[1] = t1r + u1r;
            oi[1] = t1i + u1i;
            or[4] = t1r - u1r;
            oi[4] = t1i - u1i;
            or[2] = t2r + u2r;
            oi[2] = t2i + u2i;
            or[3] = t2r - u2r;
            oi[3] = t2i - u2i;
          } else {
            for (let r = 0; r < radix; r++) {
              let sr = 0;
              let si = 0;
              for (let j = 0, o = r * radix; j < radix; j++, o++) {
                sr += ar[j]! * dftr[o]! - ai[j]! * dfti[o]!;
                si += ar[j]! * dfti[o]! + ai[j]! * dftr[o]!;
              }
              or[r] = sr;
              oi[r] = si;
            }
          }
          for (let r = 0; r < radix; r++) {
            yr[dst + r * s] = or[r]! * wr[r]! - oi[r]! * wi[r]!;
            yi[dst + r * s] = or[r]! * wi[r]! + oi[r]! * wr[r]!;
          }
        }
      }
    }
    [xr, yr] = [yr, xr];
    [xi, yi] = [yi, xi];
    s *= radix;
    length = m;
  }
  if (xr !== re) {
    re.set(xr);
    im.set(xi);
  }
}

/** Bluestein's chirp and the transform of its convolution kernel, for one length and direction. */
interface BluesteinPlan {
  m: number;
  inner: StockhamPlan;
  wr: Float64Array;
  wi: Float64Array;
  br: Float64Array;
  bi: Float64Array;
}

const bluesteinPlans = new Map<string, BluesteinPlan>();

function bluesteinPlan(n: number, sign: number): BluesteinPlan {
  const key = `${n}:${sign}`;
  const plan = bluesteinPlans.get(key);
  if (plan) return plan;
  let m = 1;
  while (m < 2 * n - 1) m <<= 1;
  const inner = stockhamPlan(m, factorize(m)!);
  const wr = new Float64Array(n);
  const wi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // k² mod 2n keeps the chirp's angle small, so it stays exact for long signals.
    const angle = (Math.PI * ((k * k) % (2 * n))) / n;
    wr[k] = Math.cos(angle);
    wi[k] = sign * Math.sin(angle);
  }
  const br = new Float64Array(m);
  const bi = new Float64Array(m);
  br[0] = wr[0]!;
  bi[0] = -wi[0]!;
  for (let k = 1; k < n; k++) {
    br[k] = br[m - k] = wr[k]!;
    bi[k] = bi[m - k] = -wi[k]!;
  }
  stockham(br, bi, -1, inner);
  return remember(bluesteinPlans, key, { m, inner, wr, wi, br, bi });
}

/** Bluestein: the length-n DFT as a circular convolution with a chirp, of power-of-two length. */
function bluestein(re: Float64Array, im: Float64Array, sign: number): void {
  const n = re.length;
  const { m, inner, wr, wi, br, bi } = bluesteinPlan(n, sign);
  const ar = new Float64Array(m);
  const ai = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    ar[k] = re[k]! * wr[k]! - im[k]! * wi[k]!;
    ai[k] = re[k]! * wi[k]! + im[k]! * wr[k]!;
  }
  stockham(ar, ai, -1, inner);
  for (let k = 0; k < m; k++) {
    const r = ar[k]! * br[k]! - ai[k]! * bi[k]!;
    ai[k] = ar[k]! * bi[k]! + ai[k]! * br[k]!;
    ar[k] = r;
  }
  stockham(ar, ai, 1, inner);
  const scale = 1 / m;
  for (let k = 0; k < n; k++) {
    const cr = ar[k]! * scale;
    const ci = ai[k]! * scale;
    re[k] = cr * wr[k]! - ci * wi[k]!;
    im[k] = cr * wi[k]! + ci * wr[k]!;
  }
}

/**
 * In-place discrete Fourier transform `X_k = Σ x_j e^{∓2πi jk/n}` of any length (forward: minus sign). The
 * inverse is scaled by `1/n`, so `fft(…, true)` undoes `fft(…)`.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError(`fft: real part has ${n} values but imaginary part has ${im.length}.`);
  if (n <= 1) return;
  const sign = inverse ? 1 : -1;
  const factors = factorize(n);
  if (factors) stockham(re, im, sign, stockhamPlan(n, factors));
  else bluestein(re, im, sign);
  if (inverse) {
    const scale = 1 / n;
    for (let k = 0; k < n; k++) {
      re[k] = re[k]! * scale;
      im[k] = im[k]! * scale;
    }
  }
}
