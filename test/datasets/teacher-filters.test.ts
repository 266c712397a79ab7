import { describe, expect, it } from 'vitest';
import { bandPower } from '../../datasets/teacher/band-power.js';
import { fft } from '../../datasets/teacher/fft.js';
import { analyticSignal, butterworthBandpass, envelope, filtfilt, sosFilter } from '../../datasets/teacher/filters.js';
import { DatasetError } from '../../datasets/errors.js';
import { seeded } from './teacher-random.js';

const fs = 1000;

function sine(n: number, freq: number, amp: number, phase = 0): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / fs + phase));
}

/** Amplitude of a sinusoid at `freq` in `x[from, to)` by projection on sine and cosine (an exact DFT bin). */
function amplitudeAt(x: Float64Array, freq: number, from: number, to: number): number {
  let s = 0;
  let c = 0;
  for (let i = from; i < to; i++) {
    s += x[i]! * Math.sin((2 * Math.PI * freq * i) / fs);
    c += x[i]! * Math.cos((2 * Math.PI * freq * i) / fs);
  }
  return (2 * Math.hypot(s, c)) / (to - from);
}

/** Complex response of the cascade at `freq` Hz, evaluated from the coefficients. */
function response(sos: Float64Array, freq: number): number {
  const w = (2 * Math.PI * freq) / fs;
  let mag = 1;
  for (let o = 0; o < sos.length; o += 6) {
    const num = Math.hypot(sos[o]! + sos[o + 1]! * Math.cos(w) + sos[o + 2]! * Math.cos(2 * w), -sos[o + 1]! * Math.sin(w) - sos[o + 2]! * Math.sin(2 * w));
    const den = Math.hypot(1 + sos[o + 4]! * Math.cos(w) + sos[o + 5]! * Math.cos(2 * w), -sos[o + 4]! * Math.sin(w) - sos[o + 5]! * Math.sin(2 * w));
    mag *= num / den;
  }
  return mag;
}

describe('fft', () => {
  it.each([1, 2, 3, 8, 12, 30, 49, 97, 143, 243, 625, 1000, 1024, 1031, 2 * 17 * 19, 7 * 11 * 13 * 6])('matches a direct DFT for length %i and inverts', (n) => {
    const rng = seeded(n);
    const re = rng.normals(n);
    const im = rng.normals(n);
    const fr = re.slice();
    const fi = im.slice();
    fft(fr, fi);
    for (const k of new Set([0, Math.min(1, n - 1), Math.floor(n / 2), n - 1])) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * j * k) / n;
        sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
        si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
      }
      expect(fr[k]).toBeCloseTo(sr, 9);
      expect(fi[k]).toBeCloseTo(si, 9);
    }
    fft(fr, fi, true);
    for (let j = 0; j < n; j++) {
      expect(fr[j]).toBeCloseTo(re[j]!, 10);
      expect(fi[j]).toBeCloseTo(im[j]!, 10);
    }
  });
});

describe('butterworthBandpass', () => {
  const sos = butterworthBandpass(4, 70, 150, fs);

  it('has four stable sections with unit gain at the band centre and -3 dB at the edges', () => {
    expect(sos.length).toBe(24);
    for (let o = 0; o < sos.length; o += 6) {
      // Stable iff both poles lie inside the unit circle: |a2| < 1 and |a1| < 1 + a2.
      expect(Math.abs(sos[o + 5]!)).toBeLessThan(1);
      expect(Math.abs(sos[o + 4]!)).toBeLessThan(1 + sos[o + 5]!);
    }
    const centre = (fs / Math.PI) * Math.atan(Math.sqrt(Math.tan((Math.PI * 70) / fs) * Math.tan((Math.PI * 150) / fs)));
    expect(response(sos, centre)).toBeCloseTo(1, 12);
    expect(response(sos, 70)).toBeCloseTo(Math.SQRT1_2, 10);
    expect(response(sos, 150)).toBeCloseTo(Math.SQRT1_2, 10);
    expect(response(sos, 10)).toBeLessThan(1e-4);
  });

  it.each([
    [3, 1, 100],
    [1, 8, 12],
    [5, 0.5, 40],
    [2, 300, 450],
  ])('meets the Butterworth edges for order %i, %f–%f Hz, including real-pole wide bands', (order, low, high) => {
    const filter = butterworthBandpass(order, low, high, fs);
    expect(filter.length).toBe(6 * order);
    const centre = (fs / Math.PI) * Math.atan(Math.sqrt(Math.tan((Math.PI * low) / fs) * Math.tan((Math.PI * high) / fs)));
    expect(response(filter, centre)).toBeCloseTo(1, 10);
    expect(response(filter, low)).toBeCloseTo(Math.SQRT1_2, 8);
    expect(response(filter, high)).toBeCloseTo(Math.SQRT1_2, 8);
    // The analog prototype's magnitude 1/√(1 + ((Ω² - Ω₀²)/(Ω·B))^{2N}) at the prewarped Ω = 2·tan(πf/fs).
    const warp = (f: number): number => 2 * Math.tan((Math.PI * f) / fs);
    const w0sq = warp(low) * warp(high);
    const band = warp(high) - warp(low);
    for (const f of [0.2, 3, 9, 11, 33, 70, 99, 150, 320, 449, 480]) {
      const omega = warp(f);
      expect(response(filter, f)).toBeCloseTo(1 / Math.sqrt(1 + ((omega * omega - w0sq) / (omega * band)) ** (2 * order)), 9);
    }
  });

  it('filters a 100 Hz tone through the causal cascade at its designed gain and phase-shifts it', () => {
    const x = sine(4000, 100, 1);
    const y = sosFilter(sos, x);
    expect(amplitudeAt(y, 100, 2000, 4000)).toBeCloseTo(response(sos, 100), 3);
  });

  it('rejects a band at or above Nyquist with a named error', () => {
    expect(() => butterworthBandpass(4, 70, 500, fs)).toThrow(DatasetError);
    expect(() => butterworthBandpass(4, 70, 500, fs)).toThrow(/Nyquist \(500 Hz/);
  });
});

describe('filtfilt', () => {
  const sos = butterworthBandpass(4, 70, 150, fs);
  const n = 4000;
  const x = sine(n, 10, 1);
  const high = sine(n, 100, 0.5, 0.3);
  for (let i = 0; i < n; i++) x[i] = x[i]! + high[i]!;
  const y = filtfilt(sos, x);

  it('keeps 100 Hz within a few percent and attenuates 10 Hz by more than 40 dB', () => {
    const kept = amplitudeAt(y, 100, 500, 3500);
    expect(Math.abs(kept / 0.5 - 1)).toBeLessThan(0.03);
    expect(kept / 0.5).toBeCloseTo(response(sos, 100) ** 2, 3);
    const leaked = amplitudeAt(y, 10, 500, 3500);
    expect(20 * Math.log10(leaked / 1)).toBeLessThan(-40);
  });

  it('is zero-phase: the 100 Hz tone keeps its phase and a pulse keeps its peak', () => {
    let worst = 0;
    for (let i = 500; i < 3500; i++) worst = Math.max(worst, Math.abs(y[i]! - high[i]! * response(sos, 100) ** 2));
    expect(worst).toBeLessThan(2e-3);
    const pulse = Float64Array.from({ length: 2001 }, (_, i) => Math.exp(-(((i - 1000) / 3) ** 2)) * Math.cos((2 * Math.PI * 100 * (i - 1000)) / fs));
    const out = filtfilt(sos, pulse);
    let peak = 0;
    for (let i = 0; i < out.length; i++) if (Math.abs(out[i]!) > Math.abs(out[peak]!)) peak = i;
    expect(peak).toBe(1000);
    for (let d = 1; d < 50; d++) expect(out[1000 + d]).toBeCloseTo(out[1000 - d]!, 6);
  });

  it('refuses a signal shorter than its padding', () => {
    expect(() => filtfilt(sos, new Float64Array(27))).toThrow(/27 samples is too short/);
  });
});

describe('envelope', () => {
  it('recovers the modulation of an AM tone', () => {
    const n = 2000;
    const m = 0.6;
    const x = Float64Array.from({ length: n }, (_, i) => (1 + m * Math.cos((2 * Math.PI * 3 * i) / fs)) * Math.cos((2 * Math.PI * 100 * i) / fs));
    const env = envelope(x);
    for (let i = 0; i < n; i++) expect(env[i]).toBeCloseTo(1 + m * Math.cos((2 * Math.PI * 3 * i) / fs), 9);
  });

  it('gives the Hilbert transform of a cosine as a sine, for odd and even lengths', () => {
    for (const n of [1000, 999]) {
      const f = n === 1000 ? 50 : 37;
      const x = Float64Array.from({ length: n }, (_, i) => Math.cos((2 * Math.PI * f * i) / n));
      const { re, im } = analyticSignal(x);
      for (let i = 0; i < n; i += 37) {
        expect(re[i]).toBeCloseTo(x[i]!, 10);
        expect(im[i]).toBeCloseTo(Math.sin((2 * Math.PI * f * i) / n), 10);
      }
    }
  });
});

describe('bandPower', () => {
  it('gives log high-gamma power in bins: louder gamma bins are higher, a flat channel is named', () => {
    const n = 3000;
    const rng = seeded(7);
    const noise = rng.normals(2 * n);
    const data = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const burst = i >= 1000 && i < 2000 ? 4 : 1;
      data[i] = 0.1 * noise[i]! + burst * Math.sin((2 * Math.PI * 110 * i) / fs) + 5 * Math.sin((2 * Math.PI * 8 * i) / fs);
      data[n + i] = noise[n + i]!;
    }
    const out = bandPower({ data, channels: 2, samples: n, sampleRate: fs }, { binWidth: 0.1 });
    expect(out.samples).toBe(30);
    expect(out.sampleRate).toBeCloseTo(10, 12);
    expect(out.startTime).toBeCloseTo(0.05, 12);
    // The squared envelope of A·sin is A²; forward-backward filtering scales the amplitude by |H|², and the
    // 8 Hz component is filtered away.
    const gain = response(butterworthBandpass(4, 70, 150, fs), 110) ** 2;
    expect(out.data[5]).toBeCloseTo(Math.log(gain * gain), 1);
    expect(out.data[15]).toBeCloseTo(Math.log(16 * gain * gain), 1);
    expect(out.data[15]! - out.data[5]!).toBeCloseTo(Math.log(16), 1);
    // Unit white noise: the squared envelope's mean is twice the filtered variance, ∫|H(f)|⁴ df / (fs / 2).
    const sos = butterworthBandpass(4, 70, 150, fs);
    let kept = 0;
    for (let f = 0.05; f < fs / 2; f += 0.1) kept += (response(sos, f) ** 4 * 0.1) / (fs / 2);
    let mean = 0;
    for (let b = 1; b < 29; b++) mean += Math.exp(out.data[30 + b]!) / 28;
    expect(mean / (2 * kept)).toBeGreaterThan(0.85);
    expect(mean / (2 * kept)).toBeLessThan(1.15);
    const flat = new Float64Array(n);
    expect(() => bandPower({ data: flat, channels: 1, samples: n, sampleRate: fs, channelNames: ['LA7'] }, { binWidth: 0.1 })).toThrow(/channel LA7 has no power/);
  });
});
