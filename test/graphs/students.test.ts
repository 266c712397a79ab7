/** @file The decision RNN and scene VAE students: forward passes against plain-loop references, gradient checks, and option errors. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import type { RecurrentKind } from '../../graphs/layers/recurrent.js';
import { type ReconstructionKind, crossEntropy, gaussianKl, maskedSequenceCrossEntropy, reconstructionLoss } from '../../graphs/losses/task.js';
import { add, mul } from '../../graphs/ops/elementwise.js';
import { Runner } from '../../graphs/runner.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import { choiceProbability, decisionRnn } from '../../graphs/students/decision-rnn.js';
import { reparameterize, sceneVae } from '../../graphs/students/scene-vae.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkAgainstReference, checkGradients, f32, f64, i64 } from './gradcheck.js';

function normals(n: number, seed: number, scale = 1): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

const sigm = (x: number): number => 1 / (1 + Math.exp(-x));

async function evaluate(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, ort.Tensor>) {
  const runner = await Runner.create(encodeModel(toModel(g, { outputs })), { intraOpNumThreads: 1 });
  const out = await runner.run(feeds);
  await runner.dispose();
  const values = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float64Array.from(v.data as Float64Array)]));
  const params = new Map([...g.paramValues()].map(([k, v]) => [k, Float64Array.from(v)]));
  return { values, params };
}

/** One PyTorch-form GRU layer over x [B, T, F] (weights [in, 3H] in gate order reset, update, new); returns [B, T, H]. */
function referenceGru(x: Float64Array, B: number, T: number, F: number, H: number, p: (name: string) => Float64Array): Float64Array {
  const wIh = p('w_ih');
  const wHh = p('w_hh');
  const bIh = p('b_ih');
  const bHh = p('b_hh');
  const out = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const gi = new Float64Array(3 * H);
      const gh = new Float64Array(3 * H);
      for (let j = 0; j < 3 * H; j++) {
        gi[j] = bIh[j];
        gh[j] = bHh[j];
        for (let f = 0; f < F; f++) gi[j] += x[(b * T + t) * F + f] * wIh[f * 3 * H + j];
        for (let k = 0; k < H; k++) gh[j] += h[k] * wHh[k * 3 * H + j];
      }
      const next = new Float64Array(H);
      for (let k = 0; k < H; k++) {
        const r = sigm(gi[k] + gh[k]);
        const z = sigm(gi[H + k] + gh[H + k]);
        const n = Math.tanh(gi[2 * H + k] + r * gh[2 * H + k]);
        next[k] = (1 - z) * n + z * h[k];
      }
      h = next;
      out.set(h, (b * T + t) * H);
    }
  }
  return out;
}

describe('decisionRnn', () => {
  const B = 3;
  const T = 6;
  const F = 2;
  const H = 4;
  const decisionBins = [5, 3, 4];
  const decisionMask = new Float64Array(B * T);
  decisionBins.forEach((t, b) => (decisionMask[b * T + t] = 1));
  const x = normals(B * T * F, 1);
  const labels = [1, 0, 1];

  function build(g: Graph, cell: RecurrentKind, layers: number) {
    const inputs = g.input('inputs', g.floatType, ['batch', T, F]);
    const mask = g.input('decision_mask', g.floatType, ['batch', T]);
    const rnn = g.scope('student', () => decisionRnn(inputs, mask, { cell, inputSize: F, timeBins: T, hidden: H, layers, classes: 2 }));
    return { inputs, rnn };
  }

  it('a two-layer GRU student reads its choice from the top layer at each trial\'s decision bin, as a plain-loop GRU does', async () => {
    const g = new Graph({ floatType: 'float64', seed: 3 });
    const { rnn } = build(g, 'gru', 2);
    for (const p of g.params) if (p.name.endsWith('_ih') || p.name.endsWith('_hh')) g.setParamValue(p.name, normals(p.value?.length ?? 0, p.id, 0.5));
    const overTime = g.scope('student', () => choiceProbability(rnn.readout(rnn.hidden)));
    const { values, params } = await evaluate(g, { logits: rnn.choiceLogits, hidden: rnn.hidden, prob: overTime }, {
      inputs: f64(x, [B, T, F]),
      decision_mask: f64(decisionMask, [B, T]),
    });
    const layer = (k: number) => (name: string) => params.get(`student.rnn.layer${k}.${name}`) as Float64Array;
    const h1 = referenceGru(x, B, T, F, H, layer(0));
    const h2 = referenceGru(h1, B, T, H, H, layer(1));
    const w = params.get('student.readout.weight') as Float64Array;
    const bias = params.get('student.readout.bias') as Float64Array;
    for (let i = 0; i < B * T * H; i++) expect(values.hidden[i]).toBeCloseTo(h2[i], 12);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const logit = [0, 1].map((c) => bias[c] + [0, 1, 2, 3].reduce((s, k) => s + h2[(b * T + t) * H + k] * w[k * 2 + c], 0));
        expect(values.prob[b * T + t]).toBeCloseTo(sigm(logit[1] - logit[0]), 12);
        if (t === decisionBins[b]) for (const c of [0, 1]) expect(values.logits[b * 2 + c]).toBeCloseTo(logit[c], 12);
      }
    }
  });

  for (const cell of ['gru', 'lstm', 'rnn'] as const) {
    it(`${cell}: gradients of the decision and every-step cross-entropy match central differences`, async () => {
      const labelMask = f64(Array.from({ length: B * T }, (_, i) => (i % T >= 2 ? 1 : 0)), [B, T]);
      for (const readout of ['decision', 'every-step'] as const) {
        const r = await checkGradients(
          (g) => {
            const { inputs, rnn } = build(g, cell, 1);
            const label = g.input('label', 'int64', ['batch']);
            const loss =
              readout === 'decision'
                ? crossEntropy(rnn.choiceLogits, label)
                : maskedSequenceCrossEntropy(rnn.readout(rnn.hidden), label, g.input('label_mask', 'float64', ['batch', T]));
            return { loss, wrt: [inputs, ...g.params] };
          },
          { inputs: f64(x, [B, T, F]), decision_mask: f64(decisionMask, [B, T]), label: i64(labels, [B]), label_mask: labelMask },
          { seed: 7 },
        );
        expect(r.maxError).toBeLessThan(1e-6);
      }
    });
  }

  it('names the expected shape when the inputs do not match timeBins and inputSize', () => {
    const g = new Graph();
    const inputs = g.input('inputs', 'float32', ['batch', T + 1, F]);
    const mask = g.input('decision_mask', 'float32', ['batch', T]);
    expect(() => decisionRnn(inputs, mask, { cell: 'gru', inputSize: F, timeBins: T, hidden: H, layers: 1, classes: 2 })).toThrow(
      /inputs must be \[batch, 6, 2\]/,
    );
    expect(() => decisionRnn(inputs, mask, { cell: 'gru', inputSize: F, timeBins: T + 1, hidden: H, layers: 0, classes: 2 })).toThrow(/layers must be a positive integer/);
  });
});

/** ONNX Conv with a 4x4 kernel, stride 2, padding 1: x [N, C, S, S], w [M, C, 4, 4] -> [N, M, S/2, S/2]. */
function referenceConv(x: Float64Array, N: number, C: number, S: number, w: Float64Array, b: Float64Array, M: number): Float64Array {
  const O = S / 2;
  const y = new Float64Array(N * M * O * O);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++)
      for (let i = 0; i < O; i++)
        for (let j = 0; j < O; j++) {
          let s = b[m];
          for (let c = 0; c < C; c++)
            for (let p = 0; p < 4; p++)
              for (let q = 0; q < 4; q++) {
                const r = 2 * i + p - 1;
                const k = 2 * j + q - 1;
                if (r >= 0 && r < S && k >= 0 && k < S) s += x[((n * C + c) * S + r) * S + k] * w[((m * C + c) * 4 + p) * 4 + q];
              }
          y[((n * M + m) * O + i) * O + j] = s;
        }
  return y;
}

/** ONNX ConvTranspose with a 4x4 kernel, stride 2, padding 1: x [N, C, S, S], w [C, M, 4, 4] -> [N, M, 2S, 2S]. */
function referenceConvTranspose(x: Float64Array, N: number, C: number, S: number, w: Float64Array, b: Float64Array, M: number): Float64Array {
  const O = 2 * S;
  const y = new Float64Array(N * M * O * O);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) for (let i = 0; i < O * O; i++) y[(n * M + m) * O * O + i] = b[m];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < S; i++)
        for (let j = 0; j < S; j++)
          for (let m = 0; m < M; m++)
            for (let p = 0; p < 4; p++)
              for (let q = 0; q < 4; q++) {
                const r = 2 * i + p - 1;
                const k = 2 * j + q - 1;
                if (r >= 0 && r < O && k >= 0 && k < O) y[((n * M + m) * O + r) * O + k] += x[((n * C + c) * S + i) * S + j] * w[((c * M + m) * 4 + p) * 4 + q];
              }
  return y;
}

describe('sceneVae', () => {
  const N = 2;
  const S = 8;
  const channels = [2, 3];
  const L = 2;
  const images = Float64Array.from(normals(N * S * S * 3, 31), (v) => sigm(v));
  const noise = normals(N * L, 32);
  const feeds = () => ({ images: f32(images, [N, S, S, 3]), noise: f32(noise, [N, L]) });

  /** The whole VAE and its loss by plain loops, from parameter values by path. */
  function referenceVae(v: Record<string, Float64Array>, kind: ReconstructionKind, beta: number) {
    const p = (name: string) => v[`student.${name}`];
    const img = v.images;
    const nchw = new Float64Array(N * 3 * S * S);
    for (let n = 0; n < N; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) nchw[(n * 3 + c) * S * S + i] = img[(n * S * S + i) * 3 + c];
    let h: Float64Array = nchw;
    let size = S;
    let cin = 3;
    channels.forEach((c, k) => {
      h = referenceConv(h, N, cin, size, p(`encoder.conv${k}.weight`), p(`encoder.conv${k}.bias`), c).map((u) => Math.max(u, 0));
      size /= 2;
      cin = c;
    });
    const flat = cin * size * size;
    const linearRows = (x: Float64Array, d: number, w: Float64Array, b: Float64Array, k: number) => {
      const y = new Float64Array(N * k);
      for (let n = 0; n < N; n++) for (let j = 0; j < k; j++) y[n * k + j] = b[j] + Array.from({ length: d }, (_, q) => x[n * d + q] * w[q * k + j]).reduce((a, c) => a + c, 0);
      return y;
    };
    const mean = linearRows(h, flat, p('encoder.mean.weight'), p('encoder.mean.bias'), L);
    const logvar = linearRows(h, flat, p('encoder.logvar.weight'), p('encoder.logvar.bias'), L);
    const z = mean.map((m, i) => m + Math.exp(0.5 * logvar[i]) * v.noise[i]);
    let d: Float64Array = linearRows(z, L, p('decoder.fc.weight'), p('decoder.fc.bias'), flat);
    const outs = [...channels.slice(0, -1).reverse(), 3];
    outs.forEach((m, k) => {
      d = referenceConvTranspose(d.map((u) => Math.max(u, 0)), N, cin, size, p(`decoder.deconv${k}.weight`), p(`decoder.deconv${k}.bias`), m);
      size *= 2;
      cin = m;
    });
    let recon = 0;
    for (let i = 0; i < d.length; i++) {
      const prob = sigm(d[i]);
      recon += (kind === 'mse' ? (prob - nchw[i]) ** 2 : Math.log1p(Math.exp(d[i])) - nchw[i] * d[i]) / N;
    }
    let kl = 0;
    for (let i = 0; i < N * L; i++) kl += (0.5 * (Math.exp(logvar[i]) + mean[i] ** 2 - 1 - logvar[i])) / N;
    return { mean, logvar, logits: d, loss: recon + beta * kl };
  }

  /**
   * Zero biases put every ReLU whose window sees only zeros exactly at its kink, where one-sided slopes differ
   * from central differences; random biases move them off it.
   */
  function randomBiases(g: Graph): void {
    for (const p of g.params) if (p.name.endsWith('bias')) g.setParamValue(p.name, normals(p.value?.length ?? 0, p.id, 0.3));
  }

  function build(g: Graph, kind: ReconstructionKind, beta: number) {
    const imagesIn = g.input('images', g.floatType, ['batch', S, S, 3]);
    const noiseIn = g.input('noise', g.floatType, ['batch', L]);
    const vae = g.scope('student', () => sceneVae(g, { imageSize: [S, S], channels, latent: L }));
    const target = vae.toNchw(imagesIn);
    const e = g.scope('student', () => vae.encode(target));
    const z = reparameterize(e.mean, e.logvar, noiseIn);
    const d = g.scope('student', () => vae.decode(z));
    const loss = add(reconstructionLoss(d.logits, target, kind), mul(gaussianKl(e.mean, e.logvar), beta));
    return { e, d, loss };
  }

  it('encodes, reparameterizes and decodes as plain-loop convolutions do, with NHWC images in and out', async () => {
    const g = new Graph({ floatType: 'float32', seed: 5 });
    const { e, d, loss } = build(g, 'mse', 0.5);
    randomBiases(g);
    const runner = await Runner.create(encodeModel(toModel(g, { outputs: { mean: e.mean, logvar: e.logvar, recon: d.reconstruction, loss } })));
    const out = await runner.run(feeds());
    await runner.dispose();
    const values: Record<string, Float64Array> = { images, noise };
    for (const [k, t] of g.paramValues()) values[k] = Float64Array.from(t);
    const ref = referenceVae(values, 'mse', 0.5);
    const close = (got: ort.Tensor, want: ArrayLike<number>) => {
      const a = got.data as Float32Array;
      expect(a.length).toBe(want.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - want[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i])));
    };
    close(out.mean, ref.mean);
    close(out.logvar, ref.logvar);
    close(out.loss, [ref.loss]);
    expect(out.recon.dims).toEqual([N, S, S, 3]);
    const nhwc = new Float64Array(N * S * S * 3);
    for (let n = 0; n < N; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) nhwc[(n * S * S + i) * 3 + c] = sigm(ref.logits[(n * 3 + c) * S * S + i]);
    close(out.recon, nhwc);
  });

  for (const kind of ['mse', 'bernoulli'] as const) {
    it(`${kind}: float32 gradients of reconstruction + beta KL through every layer match float64 differences of the reference`, async () => {
      const r = await checkAgainstReference(
        (g) => {
          const { loss } = build(g, kind, 0.7);
          randomBiases(g);
          return { loss, wrt: [...g.params] };
        },
        (v) => referenceVae(v, kind, 0.7).loss,
        feeds(),
        { seed: 8 },
      );
      expect(r.maxError).toBeLessThan(2e-3);
    });
  }

  it('gives one set of decoder parameters however often the decoder is applied', () => {
    const g = new Graph();
    const vae = sceneVae(g, { imageSize: [S, S], channels, latent: L });
    const before = g.params.length;
    vae.decode(g.input('a', 'float32', ['batch', L]));
    vae.decode(g.input('b', 'float32', ['batch', L]));
    expect(g.params.length).toBe(before);
    expect(g.params.map((p) => p.name)).toContain('decoder.deconv1.weight');
  });

  it('refuses an image size the encoder cannot halve, naming the size and the channel count', () => {
    expect(() => sceneVae(new Graph(), { imageSize: [12, 12], channels: [4, 8, 16], latent: 4 })).toThrow(/imageSize \[12, 12\] must be multiples of 8/);
  });
});
