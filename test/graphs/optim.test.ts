/** @file Optimizer graphs against an independent float64 reference: SGD, momentum, Nesterov, Adam, AdamW, decay, clipping. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileTraining, type TrainingSpec } from '../../graphs/artifacts.js';
import { GraphError } from '../../graphs/errors.js';
import { Rng, init } from '../../graphs/init.js';
import { add, matmul, mul, reduceMean, sub } from '../../graphs/ops/index.js';
import { type OptimizerConfig, resolveOptimizer } from '../../graphs/optim/index.js';
import { TrainSession } from '../../graphs/train-session.js';

const ROWS = 5;
const IN = 3;
const OUT = 2;
const W = 'lin.weight';
const B = 'lin.bias';

/** Least squares on a linear layer: loss = mean((x W + b - y)^2). */
const spec: TrainingSpec = {
  build(g) {
    const x = g.input('x', 'float64', ['batch', IN]);
    const y = g.input('y', 'float64', ['batch', OUT]);
    const pred = g.scope('lin', () => add(matmul(x, g.param('weight', [IN, OUT], 'xavierUniform')), g.param('bias', [OUT], init.normal(0.5))));
    const r = sub(pred, y);
    const loss = reduceMean(mul(r, r));
    return { loss, terms: { mse: loss }, inference: { pred } };
  },
};

interface Batch {
  x: Float64Array;
  y: Float64Array;
  lr: number;
}

function batches(count: number, seed: number): Batch[] {
  const rng = new Rng(seed);
  const lrs = [0.1, 0.05, 0.2, 0.02, 0.15, 0.08, 0.3, 0.01];
  return Array.from({ length: count }, (_, k) => ({
    x: Float64Array.from({ length: ROWS * IN }, () => rng.normal()),
    y: Float64Array.from({ length: ROWS * OUT }, () => 3 * rng.normal()),
    lr: lrs[k % lrs.length],
  }));
}

/** Loss and gradients of the least-squares problem, by hand. */
function lossAndGrads(p: Map<string, Float64Array>, b: Batch): { loss: number; grads: Map<string, Float64Array> } {
  const w = p.get(W) as Float64Array;
  const bias = p.get(B) as Float64Array;
  const gw = new Float64Array(IN * OUT);
  const gb = new Float64Array(OUT);
  let loss = 0;
  const n = ROWS * OUT;
  for (let i = 0; i < ROWS; i++) {
    for (let j = 0; j < OUT; j++) {
      let pred = bias[j];
      for (let k = 0; k < IN; k++) pred += b.x[i * IN + k] * w[k * OUT + j];
      const r = pred - b.y[i * OUT + j];
      loss += (r * r) / n;
      const dr = (2 * r) / n;
      gb[j] += dr;
      for (let k = 0; k < IN; k++) gw[k * OUT + j] += b.x[i * IN + k] * dr;
    }
  }
  return { loss, grads: new Map([[W, gw], [B, gb]]) };
}

/** PyTorch's SGD/Adam/AdamW step written out element by element, after clip_grad_norm_. */
function referenceRun(config: OptimizerConfig, start: Map<string, Float64Array>, data: Batch[]) {
  const cfg = resolveOptimizer(config);
  const p = new Map([...start].map(([k, v]) => [k, v.slice()]));
  const slots = new Map<string, Float64Array>();
  const slot = (name: string, n: number): Float64Array => {
    if (!slots.has(name)) slots.set(name, new Float64Array(n));
    return slots.get(name) as Float64Array;
  };
  const history: { loss: number; norm: number; params: Map<string, Float64Array> }[] = [];
  data.forEach((batch, k) => {
    const t = k + 1;
    const { loss, grads } = lossAndGrads(p, batch);
    let sq = 0;
    for (const gr of grads.values()) for (const v of gr) sq += v * v;
    const norm = Math.sqrt(sq);
    if (cfg.clipNorm !== null) {
      const coef = cfg.clipNorm / (norm + 1e-6);
      if (coef < 1) for (const gr of grads.values()) for (let i = 0; i < gr.length; i++) gr[i] *= coef;
    }
    for (const [name, w] of p) {
      const gr = grads.get(name) as Float64Array;
      const decay = cfg.weightDecay > 0 && !cfg.excludeFromDecay.some((e) => name === e || name.endsWith(`.${e}`));
      for (let i = 0; i < w.length; i++) {
        let gi = gr[i];
        if (cfg.kind === 'sgd') {
          if (decay) gi += cfg.weightDecay * w[i];
          let d = gi;
          if (cfg.momentum > 0) {
            const buf = slot(`${name}.buf`, w.length);
            buf[i] = cfg.momentum * buf[i] + gi;
            d = cfg.nesterov ? gi + cfg.momentum * buf[i] : buf[i];
          }
          w[i] -= batch.lr * d;
        } else {
          if (decay && cfg.kind === 'adam') gi += cfg.weightDecay * w[i];
          if (decay && cfg.kind === 'adamw') w[i] *= 1 - batch.lr * cfg.weightDecay;
          const m = slot(`${name}.m`, w.length);
          const v = slot(`${name}.v`, w.length);
          m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * gi;
          v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * gi * gi;
          const mHat = m[i] / (1 - cfg.beta1 ** t);
          const vHat = v[i] / (1 - cfg.beta2 ** t);
          w[i] -= (batch.lr * mHat) / (Math.sqrt(vHat) + cfg.eps);
        }
      }
    }
    history.push({ loss, norm, params: new Map([...p].map(([kk, vv]) => [kk, vv.slice()])) });
  });
  return history;
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

async function compare(config: OptimizerConfig, steps = 6) {
  const artifacts = compileTraining(spec, { optimizer: config, floatType: 'float64', seed: 11 });
  const start = new Map([...artifacts.params].map(([k, v]) => [k, Float64Array.from(v)]));
  const data = batches(steps, 5);
  const expected = referenceRun(config, start, data);
  const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
  let worst = 0;
  const norms: number[] = [];
  for (let k = 0; k < steps; k++) {
    const b = data[k];
    const r = await session.step(
      { x: new ort.Tensor('float64', b.x, [ROWS, IN]), y: new ort.Tensor('float64', b.y, [ROWS, OUT]) },
      { lr: b.lr },
    );
    const ref = expected[k];
    worst = Math.max(worst, relDiff([r.loss, r.terms.mse, r.gradNorm], [ref.loss, ref.loss, ref.norm]));
    const now = session.params();
    for (const [name, v] of ref.params) worst = Math.max(worst, relDiff(now.get(name) as Float64Array, v));
    norms.push(r.gradNorm);
  }
  const moved = relDiff(session.params().get(W) as Float64Array, start.get(W) as Float64Array);
  await session.release();
  return { worst, norms, moved, artifacts };
}

describe('optimizers match a float64 reference step by step', () => {
  it('plain SGD with the learning rate changed between steps, and no state', async () => {
    const r = await compare({ kind: 'sgd', lr: 0.1 });
    expect(r.worst).toBeLessThan(1e-12);
    expect(r.moved).toBeGreaterThan(1e-3);
    expect(r.artifacts.io.state).toEqual([]);
  });

  it('SGD with momentum and L2 weight decay that skips the bias', async () => {
    const r = await compare({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.05, excludeFromDecay: ['bias'] });
    expect(r.worst).toBeLessThan(1e-12);
    expect(r.artifacts.io.state.map((s) => s.name)).toEqual([`opt.${W}.momentum`, `opt.${B}.momentum`]);
  });

  it('SGD with Nesterov momentum', async () => {
    const r = await compare({ kind: 'sgd', lr: 0.1, momentum: 0.8, nesterov: true });
    expect(r.worst).toBeLessThan(1e-12);
  });

  it('Adam with bias correction and L2 weight decay', async () => {
    const r = await compare({ kind: 'adam', lr: 0.1, weightDecay: 0.05 }, 8);
    expect(r.worst).toBeLessThan(1e-12);
    expect(r.artifacts.io.state.map((s) => s.name)).toEqual([`opt.${W}.m`, `opt.${W}.v`, `opt.${B}.m`, `opt.${B}.v`]);
  });

  it('AdamW with decoupled weight decay and custom betas and eps', async () => {
    const r = await compare({ kind: 'adamw', lr: 0.1, weightDecay: 0.1, beta1: 0.8, beta2: 0.99, eps: 1e-6 }, 8);
    expect(r.worst).toBeLessThan(1e-12);
  });

  it('global-norm clipping when it triggers', async () => {
    const clipNorm = 0.5;
    const r = await compare({ kind: 'sgd', lr: 0.1, momentum: 0.9, clipNorm });
    expect(r.worst).toBeLessThan(1e-12);
    expect(r.norms.filter((n) => n > clipNorm).length).toBeGreaterThan(3);
  });

  it('global-norm clipping when it does not trigger equals no clipping', async () => {
    const config: OptimizerConfig = { kind: 'adam', lr: 0.1 };
    const plain = await compare(config);
    const loose = await compare({ ...config, clipNorm: 1e6 });
    expect(loose.worst).toBeLessThan(1e-12);
    expect(Math.max(...loose.norms)).toBeLessThan(1e6);
    expect(loose.norms).toEqual(plain.norms);
  });
});

describe('optimizer knobs and settings', () => {
  it('every hyperparameter is a runtime knob with the configured default', () => {
    const a = compileTraining(spec, { optimizer: { kind: 'adamw', lr: 0.003, clipNorm: 2 }, floatType: 'float64' });
    const knobs = Object.fromEntries(a.io.knobs.map((k) => [k.name, k.default]));
    expect(knobs).toEqual({ lr: 0.003, clip_norm: 2, weight_decay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    expect(a.io.trainStep.inputs).toContain('knob.lr');
  });

  it('bad settings name the field', () => {
    expect(() => resolveOptimizer({ kind: 'sgd', lr: 0.1, nesterov: true })).toThrow(/optimizer\.nesterov/);
    expect(() => resolveOptimizer({ kind: 'adam', lr: 0.1, beta1: 1 })).toThrow(/optimizer\.beta1 is 1/);
    expect(() => resolveOptimizer({ kind: 'adam', lr: -1 })).toThrow(GraphError);
    expect(() => resolveOptimizer({ kind: 'adamw', lr: 0.1, clipNorm: 0 })).toThrow(/optimizer\.clipNorm/);
    expect(() => resolveOptimizer({ kind: 'rmsprop', lr: 0.1 } as unknown as OptimizerConfig)).toThrow(/optimizer\.kind/);
  });
});
