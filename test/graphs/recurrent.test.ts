/** @file GRU, LSTM and RNN cells and sequence layers: reference values, gradient checks over several steps, init, and delayed recall. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { type TrainingSpec, compileTraining, exportInference } from '../../graphs/artifacts.js';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { linear } from '../../graphs/layers/linear.js';
import {
  type RecurrentKind,
  type RecurrentState,
  type RecurrentWeights,
  gruCell,
  lstmCell,
  recurrentSequence,
  recurrentWeights,
  rnnCell,
} from '../../graphs/layers/recurrent.js';
import { add, cast, equal, greaterOrEqual, mul } from '../../graphs/ops/elementwise.js';
import { softmaxCrossEntropy } from '../../graphs/ops/nn.js';
import { reduceMax, reduceMean, reduceSum } from '../../graphs/ops/reduce.js';
import { gather, unsqueeze } from '../../graphs/ops/shape.js';
import { Runner } from '../../graphs/runner.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { TrainSession } from '../../graphs/train-session.js';
import { checkGradients, f64 } from './gradcheck.js';

function normals(n: number, seed: number, scale = 1): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

/** sum(y * r) with seeded weights r. */
function weighted(g: Graph, y: Tensor, seed: number): Tensor {
  const shape = y.shape as number[];
  return reduceSum(mul(y, g.constant(normals(shape.reduce((a, b) => a * b, 1), seed), { shape })));
}

/** Gives the biases non-zero values, so their paths are exercised in value and gradient checks. */
function randomizeBiases(g: Graph, w: RecurrentWeights, seed: number): void {
  g.setParamValue(w.bIh.name, normals(w.bIh.shape[0] as number, seed, 0.5));
  g.setParamValue(w.bHh.name, normals(w.bHh.shape[0] as number, seed + 1, 0.5));
}

const sigm = (v: number): number => 1 / (1 + Math.exp(-v));

/** Plain-loop reference step of one cell, PyTorch's equations in this library's gate order. */
function referenceStep(kind: RecurrentKind, x: Float64Array, h: Float64Array, c: Float64Array, p: Map<string, Float64Array>, prefix: string, B: number, F: number, H: number) {
  const G = { gru: 3, lstm: 4, rnn: 1 }[kind];
  const wIh = p.get(`${prefix}.w_ih`) as Float64Array;
  const wHh = p.get(`${prefix}.w_hh`) as Float64Array;
  const bIh = p.get(`${prefix}.b_ih`) as Float64Array;
  const bHh = p.get(`${prefix}.b_hh`) as Float64Array;
  const hOut = new Float64Array(B * H);
  const cOut = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    const a = new Float64Array(G * H);
    const r = new Float64Array(G * H);
    for (let j = 0; j < G * H; j++) {
      a[j] = bIh[j];
      r[j] = bHh[j];
      for (let k = 0; k < F; k++) a[j] += x[b * F + k] * wIh[k * G * H + j];
      for (let k = 0; k < H; k++) r[j] += h[b * H + k] * wHh[k * G * H + j];
    }
    for (let j = 0; j < H; j++) {
      const hp = h[b * H + j];
      if (kind === 'rnn') hOut[b * H + j] = Math.tanh(a[j] + r[j]);
      else if (kind === 'gru') {
        const rs = sigm(a[j] + r[j]);
        const z = sigm(a[H + j] + r[H + j]);
        const n = Math.tanh(a[2 * H + j] + rs * r[2 * H + j]);
        hOut[b * H + j] = (1 - z) * n + z * hp;
      } else {
        const s = (k: number) => a[k * H + j] + r[k * H + j];
        const cn = sigm(s(1)) * c[b * H + j] + sigm(s(0)) * Math.tanh(s(3));
        cOut[b * H + j] = cn;
        hOut[b * H + j] = sigm(s(2)) * Math.tanh(cn);
      }
    }
  }
  return { h: hOut, c: cOut };
}

async function run(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float64Array>> {
  const runner = await Runner.create(encodeModel(toModel(g, { outputs })), { graphOptimizationLevel: 'all' });
  const out = await runner.run(feeds);
  await runner.dispose();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float64Array.from(v.data as Float64Array)]));
}

const kinds: RecurrentKind[] = ['gru', 'lstm', 'rnn'];

describe('recurrent cells: gradients over 5 steps from a given initial state', () => {
  for (const kind of kinds) {
    it(`${kind}Cell, wrt inputs, initial state and every weight`, async () => {
      const [B, T, F, H] = [2, 5, 3, 4];
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', [B, T, F]);
        const h0 = g.input('h0', 'float64', [B, H]);
        const c0 = g.input('c0', 'float64', [B, H]);
        const w = g.scope('cell', () => recurrentWeights(g, kind, F, H));
        randomizeBiases(g, w, 3);
        let state: RecurrentState = { h: h0, c: c0 };
        const terms: Tensor[] = [];
        for (let t = 0; t < T; t++) {
          const xt = gather(x, t, 1);
          if (kind === 'gru') state = { h: gruCell(xt, state.h, w) };
          else if (kind === 'rnn') state = { h: rnnCell(xt, state.h, w) };
          else state = lstmCell(xt, state, w);
          terms.push(weighted(g, state.h, 100 + t));
        }
        if (state.c) terms.push(weighted(g, state.c, 99));
        const wrt = [x, h0, ...(kind === 'lstm' ? [c0] : []), w.wIh, w.wHh, w.bIh, w.bHh];
        return { loss: terms.reduce((a, b) => add(a, b)), wrt };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }
});

describe('recurrent sequences', () => {
  for (const kind of kinds) {
    it(`${kind}: 2 layers from a zero state match the plain-loop reference`, async () => {
      const [B, T, F, H] = [3, 4, 2, 5];
      const g = new Graph({ floatType: 'float64', seed: 5 });
      const x = g.input('x', 'float64', ['batch', T, F]);
      const res = recurrentSequence(kind, x, { hidden: H, layers: 2, name: 'enc' });
      res.weights.forEach((w, i) => randomizeBiases(g, w, 10 * i));
      expect(res.sequence?.shape).toEqual(['batch', T, H]);
      const xs = normals(B * T * F, 2);
      const outputs: Record<string, Tensor> = { seq: res.sequence as Tensor, last: res.last };
      if (kind === 'lstm') outputs.c1 = res.final[1].c as Tensor;
      const out = await run(g, outputs, { x: f64(xs, [B, T, F]) });

      const p = g.paramValues() as Map<string, Float64Array>;
      let below: Float64Array[] = [];
      for (let t = 0; t < T; t++) {
        const xt = new Float64Array(B * F);
        for (let b = 0; b < B; b++) for (let k = 0; k < F; k++) xt[b * F + k] = xs[(b * T + t) * F + k];
        below.push(xt);
      }
      let c = new Float64Array(B * H);
      for (let l = 0; l < 2; l++) {
        let h = new Float64Array(B * H);
        c = new Float64Array(B * H);
        const next: Float64Array[] = [];
        for (let t = 0; t < T; t++) {
          const s = referenceStep(kind, below[t], h, c, p, `enc.layer${l}`, B, l === 0 ? F : H, H);
          h = s.h;
          c = s.c;
          next.push(h);
        }
        below = next;
      }
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          for (let j = 0; j < H; j++) expect(out.seq[(b * T + t) * H + j]).toBeCloseTo(below[t][b * H + j], 12);
        }
      }
      out.last.forEach((v, i) => expect(v).toBeCloseTo(below[T - 1][i], 12));
      if (kind === 'lstm') out.c1.forEach((v, i) => expect(v).toBeCloseTo(c[i], 12));
    });

    it(`${kind}: gradients of a 2-layer sequence with given initial states, wrt inputs, states and weights`, async () => {
      const [B, T, F, H] = [2, 3, 2, 3];
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', [B, T, F]);
        const initial = [0, 1].map((l) => ({ h: g.input(`h${l}`, 'float64', [B, H]), c: g.input(`c${l}`, 'float64', [B, H]) }));
        const res = recurrentSequence(kind, x, { hidden: H, layers: 2, initial: kind === 'lstm' ? initial : initial.map((s) => ({ h: s.h })) });
        res.weights.forEach((w, i) => randomizeBiases(g, w, 20 * i));
        const ws = res.weights.flatMap((w) => [w.wIh, w.wHh, w.bIh, w.bHh]);
        const states = initial.flatMap((s) => (kind === 'lstm' ? [s.h, s.c] : [s.h]));
        return { loss: weighted(g, res.sequence as Tensor, 7), wrt: [x, ...states, ...ws] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });

    it(`${kind}: gradients from the zero state (first step without the recurrent product)`, async () => {
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', [2, 4, 3]);
        const res = recurrentSequence(kind, x, { hidden: 3, returnSequence: false });
        randomizeBiases(g, res.weights[0], 1);
        const w = res.weights[0];
        expect(res.sequence).toBeNull();
        return { loss: weighted(g, res.last, 3), wrt: [x, w.wIh, w.wHh, w.bIh, w.bHh] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('names parameters by layer, makes each w_hh gate block orthogonal, and draws the same values for the same seed', () => {
    const build = (seed: number) => {
      const g = new Graph({ seed });
      recurrentSequence('gru', g.input('x', 'float32', ['batch', 6, 3]), { hidden: 8, layers: 2 });
      return g;
    };
    const g = build(4);
    expect(g.params.map((p) => p.name)).toEqual([
      'rnn.layer0.w_ih',
      'rnn.layer0.w_hh',
      'rnn.layer0.b_ih',
      'rnn.layer0.b_hh',
      'rnn.layer1.w_ih',
      'rnn.layer1.w_hh',
      'rnn.layer1.b_ih',
      'rnn.layer1.b_hh',
    ]);
    expect(g.getParam('rnn.layer1.w_ih').shape).toEqual([8, 24]);
    const w = g.paramValues().get('rnn.layer0.w_hh') as Float32Array;
    for (let k = 0; k < 3; k++) {
      for (let a = 0; a < 8; a++) {
        for (let b = 0; b < 8; b++) {
          let dot = 0;
          for (let r = 0; r < 8; r++) dot += w[r * 24 + k * 8 + a] * w[r * 24 + k * 8 + b];
          expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
        }
      }
    }
    expect(build(4).paramValues().get('rnn.layer0.w_hh')).toEqual(w);
    expect(build(5).paramValues().get('rnn.layer0.w_hh')).not.toEqual(w);
  });

  it('explains wrong input shapes and mismatched weights', () => {
    const g = new Graph();
    expect(() => recurrentSequence('gru', g.input('x', 'float32', ['batch', 'T', 3]), { hidden: 4 })).toThrow(/input must be \[batch, T, features\] with static T/);
    const w = g.scope('c', () => recurrentWeights(g, 'gru', 3, 4));
    const h = g.input('h', 'float32', ['batch', 4]);
    expect(() => rnnCell(g.input('x2', 'float32', ['batch', 3]), h, w)).toThrow(/rnnCell: the weights are for a gru cell/);
    expect(() => gruCell(g.input('x3', 'float32', ['batch', 5]), h, w)).toThrow(/gruCell: input must be \[batch, 3\]/);
  });
});

/**
 * Delayed recall: a symbol (one of N, one-hot) at step 0, `delay` steps of small noise on every channel, then a
 * cue on its own channel; the answer is the symbol.
 */
function recallBatch(rng: Rng, batch: number, symbols: number, delay: number) {
  const T = delay + 2;
  const C = symbols + 1;
  const x = new Float32Array(batch * T * C);
  const labels = new BigInt64Array(batch);
  for (let b = 0; b < batch; b++) {
    const s = Math.floor(rng.uniform() * symbols);
    labels[b] = BigInt(s);
    for (let t = 1; t < T - 1; t++) for (let k = 0; k < C; k++) x[(b * T + t) * C + k] = 0.2 * rng.normal();
    x[b * T * C + s] = 1;
    x[(b * T + T - 1) * C + symbols] = 1;
  }
  return { x: new ort.Tensor('float32', x, [batch, T, C]), y: new ort.Tensor('int64', labels, [batch]) };
}

describe('delayed recall', () => {
  it('a GRU recalls one of 8 symbols across a 20-step noisy delay with over 95% accuracy', async () => {
    const [symbols, delay, hidden] = [8, 20, 32];
    const T = delay + 2;
    const spec: TrainingSpec = {
      build(g) {
        const x = g.input('x', 'float32', ['batch', T, symbols + 1]);
        const y = g.input('y', 'int64', ['batch']);
        const { last } = recurrentSequence('gru', x, { hidden, returnSequence: false });
        const logits = linear('readout', last, symbols);
        const loss = softmaxCrossEntropy(logits, y);
        const oneHot = cast(equal(unsqueeze(y, 1), g.constant(BigInt64Array.from({ length: symbols }, (_, k) => BigInt(k)), { shape: [1, symbols] })), 'float32');
        const picked = reduceSum(mul(logits, oneHot), 1);
        const accuracy = reduceMean(cast(greaterOrEqual(picked, reduceMax(logits, 1)), 'float32'));
        return { loss, terms: { task: loss }, metrics: { accuracy }, inference: { logits } };
      },
    };
    const artifacts = compileTraining(spec, { optimizer: { kind: 'adam', lr: 0.02 }, seed: 1 });
    const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
    const rng = new Rng(2024);
    let recent = 0;
    while (session.stepCount < 1500) {
      const r = await session.step(recallBatch(rng, 64, symbols, delay));
      recent = 0.8 * recent + 0.2 * r.metrics.accuracy;
      if (session.stepCount > 50 && recent > 0.99) break;
    }
    const inference = await ort.InferenceSession.create(exportInference(artifacts, session.params()));
    const test = recallBatch(new Rng(7), 1000, symbols, delay);
    const logits = (await inference.run({ x: test.x })).logits.data as Float32Array;
    let correct = 0;
    for (let b = 0; b < 1000; b++) {
      let best = 0;
      for (let k = 1; k < symbols; k++) if (logits[b * symbols + k] > logits[b * symbols + best]) best = k;
      if (BigInt(best) === (test.y.data as BigInt64Array)[b]) correct++;
    }
    console.log(`delayed recall: ${correct / 10}% on 1000 held-out trials after ${session.stepCount} steps`);
    expect(correct / 1000).toBeGreaterThan(0.95);
    await session.release();
  }, 60_000);
});
