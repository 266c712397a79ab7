/**
 * @file Complex FFT of any length: iterative radix-2 for powers of two, Bluestein's chirp-z for the rest.
 * Written here because the analytic signal needs an exact DFT of the recording's own length (padding to a power
 * of two would change the Hilbert transform), and the registry's maintained FFTs handle powers of two only.
 */

const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddleCache.get(n);
  if (!t) {
    const half = n >>> 1;
    t = { cos: new Float64Array(half), sin: new Float64Array(half) };
    for (let k = 0; k < half; k++) {
      t.cos[k] = Math.cos((2 * Math.PI * k) / n);
      t.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    twiddleCache.set(n, t);
  }
  return t;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** In-place radix-2 transform; `sign` is -1 for the forward and +1 for the (unscaled) inverse transform. */
function radix2(re: Float64Array, im: Float64Array, sign: number): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >>> 1;
    for (; j & bit; bit >>>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  const { cos, sin } = twiddles(n);
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >>> 1;
    const stride = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * stride]!;
        const wi = sign * sin[k * stride]!;
        const a = start + k;
        const b = a + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/** In-place Bluestein transform of any length, as a circular convolution of power-of-two length. */
function bluestein(re: Float64Array, im: Float64Array, sign: number): void {
  const n = re.length;
  let m = 1;
  while (m < 2 * n - 1) m <<= 1;
  const wr = new Float64Array(n);
  const wi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // k² mod 2n keeps the chirp's angle small, so it stays exact for long signals.
    const angle = (Math.PI * ((k * k) % (2 * n))) / n;
    wr[k] = Math.cos(angle);
    wi[k] = sign * Math.sin(angle);
  }
  const ar = new Float64Array(m);
  const ai = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    ar[k] = re[k]! * wr[k]! - im[k]! * wi[k]!;
    ai[k] = re[k]! * wi[k]! + im[k]! * wr[k]!;
  }
  const br = new Float64Array(m);
  const bi = new Float64Array(m);
  br[0] = wr[0]!;
  bi[0] = -wi[0]!;
  for (let k = 1; k < n; k++) {
    br[k] = br[m - k] = wr[k]!;
    bi[k] = bi[m - k] = -wi[k]!;
  }
  radix2(ar, ai, -1);
  radix2(br, bi, -1);
  for (let k = 0; k < m; k++) {
    const r = ar[k]! * br[k]! - ai[k]! * bi[k]!;
    ai[k] = ar[k]! * bi[k]! + ai[k]! * br[k]!;
    ar[k] = r;
  }
  radix2(ar, ai, 1);
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
  if (isPowerOfTwo(n)) radix2(re, im, sign);
  else bluestein(re, im, sign);
  if (inverse) {
    const scale = 1 / n;
    for (let k = 0; k < n; k++) {
      re[k] = re[k]! * scale;
      im[k] = im[k]! * scale;
    }
  }
}
