/** @file Task, Brain Contrastive and Brain Latent losses: values against plain loops and gradients against central differences. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { type BrainContrastiveOptions, brainContrastiveLoss } from '../../graphs/losses/brain-contrastive.js';
import { brainLatentLoss } from '../../graphs/losses/brain-latent.js';
import { correctCount, crossEntropy, gaussianKl, maskedSequenceCrossEntropy, reconstructionLoss } from '../../graphs/losses/task.js';
import { Runner } from '../../graphs/runner.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkGradients, f64, i64 } from './gradcheck.js';

function normals(n: number, seed: number, scale = 1): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

function uniforms(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.uniform());
}

/** Runs a float64 graph's outputs once; returns them and the graph's parameter values. */
async function evaluate(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, ort.Tensor>) {
  const runner = await Runner.create(encodeModel(toModel(g, { outputs })), { intraOpNumThreads: 1 });
  const out = await runner.run(feeds);
  await runner.dispose();
  const values = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float64Array.from(v.data as Float64Array)]));
  const params = new Map([...g.paramValues()].map(([k, v]) => [k, Float64Array.from(v)]));
  return { values, params };
}

function logSumExp(xs: readonly number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

const sigm = (x: number): number => 1 / (1 + Math.exp(-x));

/** y = x W + b for rows of x [n, d] and W [d, k]. */
function dense(x: Float64Array, n: number, d: number, w: Float64Array, b: Float64Array, k: number): Float64Array {
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      let s = b[j];
      for (let q = 0; q < d; q++) s += x[i * d + q] * w[q * k + j];
      y[i * k + j] = s;
    }
  }
  return y;
}

describe('task losses', () => {
  const B = 5;
  const C = 3;
  const T = 4;
  const labels = [2, 0, 1, 1, 0];

  it('cross-entropy at the decision bin and the correct count match plain loops', async () => {
    const logits = normals(B * C, 1, 2);
    logits.set([1, 4, 4], 3 * C);
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('logits', 'float64', ['batch', C]);
    const y = g.input('label', 'int64', ['batch']);
    const { values } = await evaluate(g, { ce: crossEntropy(x, y), correct: correctCount(x, y) }, { logits: f64(logits, [B, C]), label: i64(labels, [B]) });
    let ce = 0;
    let correct = 0;
    for (let i = 0; i < B; i++) {
      const row = Array.from(logits.subarray(i * C, (i + 1) * C));
      ce += (logSumExp(row) - row[labels[i]]) / B;
      if (row[labels[i]] >= Math.max(...row)) correct++;
    }
    expect(values.ce[0]).toBeCloseTo(ce, 12);
    expect(values.correct[0]).toBe(correct);
    expect(correct).toBeGreaterThan(0);
  });

  it('cross-entropy at every masked step matches plain loops, and an empty mask gives 0', async () => {
    const logits = normals(B * T * C, 2, 1.5);
    const mask = Float64Array.from({ length: B * T }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const build = (maskValues: Float64Array) => {
      const g = new Graph({ floatType: 'float64' });
      const x = g.input('logits', 'float64', ['batch', T, C]);
      const y = g.input('label', 'int64', ['batch']);
      const m = g.input('mask', 'float64', ['batch', T]);
      return evaluate(g, { ce: maskedSequenceCrossEntropy(x, y, m) }, { logits: f64(logits, [B, T, C]), label: i64(labels, [B]), mask: f64(maskValues, [B, T]) });
    };
    let sum = 0;
    let count = 0;
    for (let i = 0; i < B; i++) {
      for (let t = 0; t < T; t++) {
        if (mask[i * T + t] === 0) continue;
        const row = Array.from(logits.subarray((i * T + t) * C, (i * T + t + 1) * C));
        sum += logSumExp(row) - row[labels[i]];
        count++;
      }
    }
    expect((await build(mask)).values.ce[0]).toBeCloseTo(sum / count, 12);
    expect((await build(new Float64Array(B * T))).values.ce[0]).toBe(0);
  });

  it('reconstruction (MSE and Bernoulli) and the Gaussian KL match plain loops', async () => {
    const shape = [3, 2, 4];
    const n = 24;
    const logits = normals(n, 3, 2);
    const target = uniforms(n, 4);
    const L = 3;
    const mean = normals(3 * L, 5);
    const logvar = normals(3 * L, 6, 0.5);
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('logits', 'float64', ['batch', 2, 4]);
    const y = g.input('target', 'float64', ['batch', 2, 4]);
    const mu = g.input('mean', 'float64', ['batch', L]);
    const lv = g.input('logvar', 'float64', ['batch', L]);
    const { values } = await evaluate(
      g,
      { mse: reconstructionLoss(x, y, 'mse'), bce: reconstructionLoss(x, y, 'bernoulli'), kl: gaussianKl(mu, lv) },
      { logits: f64(logits, shape), target: f64(target, shape), mean: f64(mean, [3, L]), logvar: f64(logvar, [3, L]) },
    );
    let mse = 0;
    let bce = 0;
    for (let i = 0; i < n; i++) {
      const p = sigm(logits[i]);
      mse += (p - target[i]) ** 2 / 3;
      bce -= (target[i] * Math.log(p) + (1 - target[i]) * Math.log(1 - p)) / 3;
    }
    let kl = 0;
    for (let i = 0; i < 3 * L; i++) kl += (0.5 * (Math.exp(logvar[i]) + mean[i] ** 2 - 1 - logvar[i])) / 3;
    expect(values.mse[0]).toBeCloseTo(mse, 12);
    expect(values.bce[0]).toBeCloseTo(bce, 10);
    expect(values.kl[0]).toBeCloseTo(kl, 12);
  });

  it('gradients of every task loss match central differences', async () => {
    const ce = await checkGradients(
      (g) => {
        const x = g.input('logits', 'float64', [B, C]);
        return { loss: crossEntropy(x, g.input('label', 'int64', [B])), wrt: [x] };
      },
      { label: i64(labels, [B]) },
    );
    const seqMask = f64(Array.from({ length: B * T }, (_, i) => (i % 4 === 1 ? 0 : 1)), [B, T]);
    const seq = await checkGradients(
      (g) => {
        const x = g.input('logits', 'float64', [B, T, C]);
        return { loss: maskedSequenceCrossEntropy(x, g.input('label', 'int64', [B]), g.input('mask', 'float64', [B, T])), wrt: [x] };
      },
      { label: i64(labels, [B]), mask: seqMask },
    );
    const target = f64(uniforms(2 * 3 * 4, 7), [2, 3, 4]);
    const recon = await Promise.all(
      (['mse', 'bernoulli'] as const).map((kind) =>
        checkGradients(
          (g) => {
            const x = g.input('logits', 'float64', [2, 3, 4]);
            return { loss: reconstructionLoss(x, g.input('target', 'float64', [2, 3, 4]), kind), wrt: [x] };
          },
          { target },
        ),
      ),
    );
    const kl = await checkGradients((g) => {
      const mu = g.input('mean', 'float64', [3, 4]);
      const lv = g.input('logvar', 'float64', [3, 4]);
      return { loss: gaussianKl(mu, lv), wrt: [mu, lv] };
    });
    for (const r of [ce, seq, ...recon, kl]) expect(r.maxError).toBeLessThan(1e-6);
  });
});

/** Independent multi-positive symmetric InfoNCE over masked rows, from the embeddings' raw projections. */
function referenceInfoNce(zs: Float64Array, zb: Float64Array, n: number, d: number, pos: Float64Array, mask: Float64Array, t: number): number {
  const norm = (z: Float64Array) => {
    const out = new Float64Array(z.length);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += z[i * d + k] ** 2;
      for (let k = 0; k < d; k++) out[i * d + k] = z[i * d + k] / Math.sqrt(s);
    }
    return out;
  };
  const a = norm(zs);
  const b = norm(zb);
  const sim = (i: number, j: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
    return s / t;
  };
  const valid = [...Array(n).keys()].filter((i) => mask[i] === 1);
  const direction = (studentAnchors: boolean): number => {
    let total = 0;
    let anchors = 0;
    for (const i of valid) {
      const logits = valid.map((j) => (studentAnchors ? sim(i, j) : sim(j, i)));
      const lse = logSumExp(logits);
      const positives = valid.map((j, k) => [studentAnchors ? pos[i * n + j] : pos[j * n + i], k]).filter(([p]) => p === 1);
      if (positives.length === 0) continue;
      anchors++;
      total += positives.reduce((s, [, k]) => s + (lse - logits[k]), 0) / positives.length;
    }
    return anchors === 0 ? 0 : total / anchors;
  };
  return 0.5 * (direction(true) + direction(false));
}

describe('brainContrastiveLoss', () => {
  const B = 6;
  const Ds = 5;
  const Db = 4;
  const P = 3;
  // Rows 0-1 and 3-4 share a condition (two positives each); row 2 has no brain data; row 5 has only itself.
  const positives = new Float64Array(B * B);
  for (const [i, j] of [[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [3, 3], [3, 4], [4, 3], [4, 4], [5, 5]]) positives[i * B + j] = 1;
  const mask = Float64Array.of(1, 1, 0, 1, 1, 1);
  const student = normals(B * Ds, 11);
  const brain = normals(B * Db, 12);
  const temperature = { init: 0.2, min: 0.05, max: 1 };

  function build(g: Graph, opts: Partial<BrainContrastiveOptions> = {}) {
    const s = g.input('student', 'float64', ['batch', Ds]);
    const b = g.input('brain', 'float64', ['batch', Db]);
    const p = g.input('positives', 'float64', ['batch', 'batch']);
    const m = g.input('mask', 'float64', ['batch']);
    const r = g.scope('contrastive', () => brainContrastiveLoss(s, b, p, m, { projectionDim: P, temperature, ...opts }));
    return { r, s, b };
  }
  const feeds = (brainValues = brain) => ({
    student: f64(student, [B, Ds]),
    brain: f64(brainValues, [B, Db]),
    positives: f64(positives, [B, B]),
    mask: f64(mask, [B]),
  });

  it('matches an independent InfoNCE with multiple positives, masked rows and the bounded temperature', async () => {
    const g = new Graph({ floatType: 'float64', seed: 4 });
    const { r } = build(g);
    const theta = 0.7;
    g.setParamValue('contrastive.log_temperature', [theta]);
    const { values, params } = await evaluate(g, { loss: r.loss, t: r.temperature }, feeds());
    const t = Math.exp(Math.log(0.05) + (Math.log(1) - Math.log(0.05)) * sigm(theta));
    const p = (name: string) => params.get(`contrastive.${name}`) as Float64Array;
    const zs = dense(student, B, Ds, p('student_head.weight'), p('student_head.bias'), P);
    const zb = dense(brain, B, Db, p('brain_head.weight'), p('brain_head.bias'), P);
    expect(values.t[0]).toBeCloseTo(t, 12);
    expect(values.loss[0]).toBeCloseTo(referenceInfoNce(zs, zb, B, P, positives, mask, t), 10);
  });

  it('starts at the initial temperature, stays within its bounds, and is fixed when not learnable', async () => {
    const g = new Graph({ floatType: 'float64' });
    const { r } = build(g);
    expect((await evaluate(g, { t: r.temperature }, {})).values.t[0]).toBeCloseTo(0.2, 12);
    for (const theta of [-40, 40]) {
      g.setParamValue('contrastive.log_temperature', [theta]);
      const t = (await evaluate(g, { t: r.temperature }, {})).values.t[0];
      expect(t).toBeGreaterThanOrEqual(0.05 - 1e-12);
      expect(t).toBeLessThanOrEqual(1 + 1e-12);
    }
    const fixed = new Graph({ floatType: 'float64' });
    build(fixed, { temperature: { ...temperature, learnable: false } });
    expect(fixed.params.map((q) => q.name)).not.toContain('contrastive.log_temperature');
  });

  it('ignores the brain features of rows without brain data, and is 0 when no row has any', async () => {
    const g = new Graph({ floatType: 'float64' });
    const { r } = build(g);
    const changed = brain.slice();
    for (let k = 0; k < Db; k++) changed[2 * Db + k] = 100 + k;
    const a = (await evaluate(g, { loss: r.loss }, feeds())).values.loss[0];
    const b = (await evaluate(g, { loss: r.loss }, feeds(changed))).values.loss[0];
    expect(b).toBe(a);
    const none = { ...feeds(), mask: f64(new Float64Array(B), [B]) };
    expect((await evaluate(g, { loss: r.loss }, none)).values.loss[0]).toBe(0);
  });

  it('with MLP heads matches the reference through ReLU hidden layers', async () => {
    const g = new Graph({ floatType: 'float64', seed: 9 });
    const { r } = build(g, { studentHead: 'mlp', brainHead: 'mlp', temperature: { ...temperature, learnable: false } });
    const { values, params } = await evaluate(g, { loss: r.loss }, feeds());
    const p = (name: string) => params.get(`contrastive.${name}`) as Float64Array;
    const mlp = (x: Float64Array, d: number, head: string) => {
      const h = dense(x, B, d, p(`${head}.fc1.weight`), p(`${head}.fc1.bias`), 2 * P).map((v) => Math.max(v, 0));
      return dense(h, B, 2 * P, p(`${head}.fc2.weight`), p(`${head}.fc2.bias`), P);
    };
    expect(values.loss[0]).toBeCloseTo(referenceInfoNce(mlp(student, Ds, 'student_head'), mlp(brain, Db, 'brain_head'), B, P, positives, mask, 0.2), 10);
  });

  it('gradients with respect to both sides, both heads and the temperature match central differences', async () => {
    for (const heads of ['linear', 'mlp'] as const) {
      const r = await checkGradients(
        (g) => {
          const { r: out, s, b } = build(g, { studentHead: heads, brainHead: heads });
          return { loss: out.loss, wrt: [s, b, ...g.params] };
        },
        feeds(),
        { seed: 5 },
      );
      expect(r.errors['contrastive.log_temperature']).toBeDefined();
      expect(r.maxError).toBeLessThan(1e-6);
    }
  });
});

describe('brainLatentLoss', () => {
  const B = 4;
  const T = 3;
  const D = 5;
  const K = 2;

  /** Masked MSE of a linear readout, by plain loops over rows (and steps). */
  function reference(x: Float64Array, y: Float64Array, m: Float64Array, w: Float64Array, b: Float64Array, rows: number): number {
    const pred = dense(x, rows, D, w, b, K);
    let sse = 0;
    let count = 0;
    for (let r = 0; r < rows; r++) {
      if (m[r] === 0) continue;
      count++;
      for (let k = 0; k < K; k++) sse += (pred[r * K + k] - y[r * K + k]) ** 2;
    }
    return count === 0 ? 0 : sse / (count * K);
  }

  for (const aligned of [false, true]) {
    const lead = aligned ? [B, T] : [B];
    const rows = aligned ? B * T : B;
    const x = normals(rows * D, 21);
    const y = normals(rows * K, 22);
    const m = Float64Array.from({ length: rows }, (_, i) => (i % 3 === 2 ? 0 : 1));
    const feeds = { features: f64(x, [...lead, D]), target: f64(y, [...lead, K]), mask: f64(m, lead) };
    const build = (g: Graph) => {
      const f = g.input('features', 'float64', ['batch', ...lead.slice(1), D]);
      const t = g.input('target', 'float64', ['batch', ...lead.slice(1), K]);
      const mk = g.input('mask', 'float64', ['batch', ...lead.slice(1)]);
      return { f, r: g.scope('latent', () => brainLatentLoss(f, t, mk)) };
    };

    it(`${aligned ? 'time-aligned [batch, T, K]' : '[batch, K]'}: matches a masked MSE of the readout, and its gradients`, async () => {
      const g = new Graph({ floatType: 'float64', seed: 2 });
      const { r } = build(g);
      const { values, params } = await evaluate(g, { loss: r.loss }, feeds);
      const w = params.get('latent.readout.weight') as Float64Array;
      const b = params.get('latent.readout.bias') as Float64Array;
      expect(values.loss[0]).toBeCloseTo(reference(x, y, m, w, b, rows), 12);
      const masked = y.slice();
      masked[2 * K] += 50;
      const { values: same } = await evaluate(g, { loss: r.loss }, { ...feeds, target: f64(masked, [...lead, K]) });
      expect(same.loss[0]).toBe(values.loss[0]);
      const grad = await checkGradients((gg) => {
        const { f, r: out } = build(gg);
        return { loss: out.loss, wrt: [f, ...gg.params] };
      }, feeds);
      expect(grad.maxError).toBeLessThan(1e-6);
    });
  }

  it('names the shapes when the student and the brain latents are not aligned in time', () => {
    const g = new Graph();
    const f = g.input('features', 'float32', ['batch', 5, D]);
    const t = g.input('target', 'float32', ['batch', 4, K]);
    const mk = g.input('mask', 'float32', ['batch', 4]);
    expect(() => brainLatentLoss(f, t, mk)).toThrow(/5 tapped steps, the target's 4/);
  });
});
