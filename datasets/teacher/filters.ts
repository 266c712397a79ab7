/**
 * @file Butterworth band-pass filters as cascaded biquads, zero-phase forward-backward filtering, and the
 * analytic signal (FFT-based Hilbert transform) whose magnitude is a signal's envelope.
 */
import { DatasetError } from '../errors.js';
import { fft } from './fft.js';

/**
 * Second-order sections, six numbers each, `[b0, b1, b2, 1, a1, a2]` per section, the layout scipy's `sos` uses:
 * each section is `H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)`.
 */
export type Sos = Float64Array;

type Complex = [number, number];

const mul = (a: Complex, b: Complex): Complex => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const div = (a: Complex, b: Complex): Complex => {
  const d = b[0] * b[0] + b[1] * b[1];
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
};
const sqrtC = (a: Complex): Complex => {
  const r = Math.hypot(a[0], a[1]);
  const re = Math.sqrt((r + a[0]) / 2);
  const im = Math.sqrt(Math.max(0, (r - a[0]) / 2));
  return [re, a[1] < 0 ? -im : im];
};
/** The bilinear transform `z = (2 + s) / (2 - s)` for frequencies prewarped with `W = 2 tan(πf/fs)`. */
const bilinear = (s: Complex): Complex => div([2 + s[0], s[1]], [2 - s[0], -s[1]]);

/**
 * Designs a Butterworth band-pass filter of prototype order `order` (so `2·order` poles, `order` sections) for
 * `[low, high]` Hz at `sampleRate` Hz, as scipy's `butter(order, [low, high], 'band', fs=fs, output='sos')` does:
 * analog prototype, low-pass to band-pass transform around the prewarped band edges, bilinear transform. Zeros
 * sit at z = 1 and z = -1, one of each per section. Each section is scaled to unit gain at the band's centre
 * frequency, where the Butterworth band-pass has unit gain, so the cascade's gain is right without a global
 * constant and no section overflows.
 */
export function butterworthBandpass(order: number, low: number, high: number, sampleRate: number): Sos {
  if (!Number.isInteger(order) || order < 1 || order > 20) {
    throw new DatasetError(`butterworthBandpass: order must be an integer from 1 to 20, got ${order}.`);
  }
  const nyquist = sampleRate / 2;
  if (!(low > 0 && low < high && high < nyquist)) {
    throw new DatasetError(
      `butterworthBandpass: the band [${low}, ${high}] Hz must satisfy 0 < low < high < Nyquist (${nyquist} Hz at ${sampleRate} Hz sampling); ` +
        'lower the band or use a recording with a higher sampling rate.',
    );
  }
  const w1 = 2 * Math.tan((Math.PI * low) / sampleRate);
  const w2 = 2 * Math.tan((Math.PI * high) / sampleRate);
  const bw = w2 - w1;
  const w0sq = w1 * w2;
  const analogPairs: [Complex, Complex][] = [];
  for (let k = 1; k <= order; k++) {
    const theta = (Math.PI * (2 * k + order - 1)) / (2 * order);
    const p: Complex = [Math.cos(theta), Math.sin(theta)];
    if (p[1] < -1e-12) continue;
    if (p[1] > 1e-12) {
      // s² - p·bw·s + w0² = 0; the conjugate prototype pole gives the conjugate roots.
      const half: Complex = [(p[0] * bw) / 2, (p[1] * bw) / 2];
      const root = sqrtC([half[0] * half[0] - half[1] * half[1] - w0sq, 2 * half[0] * half[1]]);
      for (const s of [[half[0] + root[0], half[1] + root[1]] as Complex, [half[0] - root[0], half[1] - root[1]] as Complex]) {
        analogPairs.push([s, [s[0], -s[1]]]);
      }
    } else {
      const disc = (bw * bw) / 4 - w0sq;
      if (disc < 0) {
        const s: Complex = [-bw / 2, Math.sqrt(-disc)];
        analogPairs.push([s, [s[0], -s[1]]]);
      } else {
        analogPairs.push([[-bw / 2 + Math.sqrt(disc), 0], [-bw / 2 - Math.sqrt(disc), 0]]);
      }
    }
  }
  const centre = 2 * Math.atan(Math.sqrt(w0sq) / 2);
  const z1: Complex = [Math.cos(-centre), Math.sin(-centre)];
  const z2 = mul(z1, z1);
  const sections = analogPairs.map(([s1, s2]) => {
    const p1 = bilinear(s1);
    const p2 = bilinear(s2);
    const a1 = -(p1[0] + p2[0]);
    const a2 = mul(p1, p2)[0];
    const num: Complex = [1 - z2[0], -z2[1]];
    const den: Complex = [1 + a1 * z1[0] + a2 * z2[0], a1 * z1[1] + a2 * z2[1]];
    const gain = Math.hypot(den[0], den[1]) / Math.hypot(num[0], num[1]);
    return { radius: Math.max(Math.hypot(p1[0], p1[1]), Math.hypot(p2[0], p2[1])), coeffs: [gain, 0, -gain, 1, a1, a2] };
  });
  // Poles nearest the unit circle go last, where rounding from earlier sections has been filtered least.
  sections.sort((a, b) => a.radius - b.radius);
  const sos = new Float64Array(sections.length * 6);
  sections.forEach((s, i) => sos.set(s.coeffs, i * 6));
  return sos;
}

/** Initial states of each section (direct form II transposed) for the steady state under a unit step input. */
function stepInitialState(sos: Sos): Float64Array {
  const n = sos.length / 6;
  const zi = new Float64Array(n * 2);
  let scale = 1;
  for (let s = 0; s < n; s++) {
    const [b0, b1, b2, , a1, a2] = sos.subarray(s * 6, s * 6 + 6);
    const dc = (b0! + b1! + b2!) / (1 + a1! + a2!);
    zi[s * 2] = scale * (dc - b0!);
    zi[s * 2 + 1] = scale * (b2! - a2! * dc);
    scale *= dc;
  }
  return zi;
}

/** Filters `x` in place through the cascade, each section in direct form II transposed, from states `zi`. */
function sosFilterInPlace(sos: Sos, x: Float64Array, zi: Float64Array): void {
  const sections = sos.length / 6;
  const n = x.length;
  for (let s = 0; s < sections; s++) {
    const o = s * 6;
    const b0 = sos[o]!;
    const b1 = sos[o + 1]!;
    const b2 = sos[o + 2]!;
    const a1 = sos[o + 4]!;
    const a2 = sos[o + 5]!;
    let z1 = zi[s * 2]!;
    let z2 = zi[s * 2 + 1]!;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const y = b0 * xi + z1;
      z1 = b1 * xi - a1 * y + z2;
      z2 = b2 * xi - a2 * y;
      x[i] = y;
    }
  }
}

/** Causal filtering through the cascade from rest (zero initial state), like scipy's `sosfilt`. */
export function sosFilter(sos: Sos, x: ArrayLike<number>): Float64Array {
  const y = Float64Array.from(x as ArrayLike<number>);
  sosFilterInPlace(sos, y, new Float64Array((sos.length / 6) * 2));
  return y;
}

/**
 * Zero-phase filtering as scipy's `sosfiltfilt` does by default: the signal is extended at both ends by
 * `3·(2·sections + 1)` samples of odd reflection, filtered forward from the steady state for its first value,
 * then backward from the steady state for the last value of the forward pass, and the extension cut off. The
 * result has no phase shift and the squared magnitude response.
 */
export function filtfilt(sos: Sos, x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const pad = 3 * (2 * (sos.length / 6) + 1);
  if (n <= pad) {
    throw new DatasetError(`filtfilt: a signal of ${n} samples is too short for this filter; it needs more than ${pad} samples.`);
  }
  const ext = new Float64Array(n + 2 * pad);
  const first = x[0]!;
  const last = x[n - 1]!;
  for (let i = 0; i < pad; i++) {
    ext[i] = 2 * first - x[pad - i]!;
    ext[pad + n + i] = 2 * last - x[n - 2 - i]!;
  }
  for (let i = 0; i < n; i++) ext[pad + i] = x[i]!;
  const zi = stepInitialState(sos);
  const state = new Float64Array(zi.length);
  for (let i = 0; i < zi.length; i++) state[i] = zi[i]! * ext[0]!;
  sosFilterInPlace(sos, ext, state);
  ext.reverse();
  for (let i = 0; i < zi.length; i++) state[i] = zi[i]! * ext[0]!;
  sosFilterInPlace(sos, ext, state);
  ext.reverse();
  return ext.slice(pad, pad + n);
}

/**
 * The analytic signal `x + i·H[x]` of a real signal by the FFT of its exact length, as scipy's `hilbert`: keep
 * DC (and Nyquist for even lengths), double the positive frequencies, zero the negative ones, invert.
 */
export function analyticSignal(x: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = x.length;
  const re = Float64Array.from(x as ArrayLike<number>);
  const im = new Float64Array(n);
  fft(re, im);
  const half = Math.floor(n / 2);
  const lastPositive = n % 2 === 0 ? half - 1 : half;
  for (let k = 1; k <= lastPositive; k++) {
    re[k] = 2 * re[k]!;
    im[k] = 2 * im[k]!;
  }
  for (let k = lastPositive + 1 + (n % 2 === 0 ? 1 : 0); k < n; k++) {
    re[k] = 0;
    im[k] = 0;
  }
  fft(re, im, true);
  return { re, im };
}

/** The magnitude of the analytic signal: the instantaneous amplitude of a narrow-band signal. */
export function envelope(x: ArrayLike<number>): Float64Array {
  const { re, im } = analyticSignal(x);
  const out = new Float64Array(re.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(re[i]! * re[i]! + im[i]! * im[i]!);
  return out;
}
