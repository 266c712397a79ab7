/** @file The runner: feeds, errors, and a stateful loop that trains a quadratic with hand-written SGD. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../graphs/autodiff.js';
import { Graph } from '../../graphs/graph.js';
import { init } from '../../graphs/init.js';
import * as op from '../../graphs/ops/index.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import { Runner } from '../../graphs/runner.js';

const a = [0.5, 1, 2, 3];
const c = [1, -2, 0.5, 4];
const w0 = [0, 0, 0, 0];

/** SGD step graph of f(w) = 0.5 * sum(a * (w - c)^2), learning rate as a run-time input. */
async function sgdRunner() {
  const g = new Graph({ floatType: 'float64' });
  const w = g.param('w', [4], init.values(w0));
  const lr = g.input('lr', 'float64', []);
  const loss = op.mul(op.reduceSum(op.mul(g.constant(a), op.square(op.sub(w, g.constant(c))))), 0.5);
  const [gw] = gradients(loss, [w]);
  const next = op.sub(w, op.mul(lr, gw));
  const model = toModel(g, { outputs: { loss, 'w.next': next }, paramsAs: 'inputs' });
  return { runner: await Runner.create(encodeModel(model), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 }), w };
}

const scalar = (v: number) => new ort.Tensor('float64', Float64Array.from([v]), []);

describe('Runner', () => {
  it('steps SGD by feeding updated parameters back, matching the closed form', async () => {
    const { runner } = await sgdRunner();
    const loop = runner.loop({ w: new ort.Tensor('float64', Float64Array.from(w0), [4]) }, { 'w.next': 'w' });
    const lr = 0.2;
    const losses: number[] = [];
    for (let t = 1; t <= 12; t++) {
      const out = await loop.step({ lr: scalar(lr) });
      expect(loop.state.w).toBe(out['w.next']);
      losses.push((out.loss.data as Float64Array)[0]);
      const w = loop.state.w.data as Float64Array;
      for (let i = 0; i < 4; i++) expect(w[i]).toBeCloseTo(c[i] + (1 - lr * a[i]) ** t * (w0[i] - c[i]), 12);
    }
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    await runner.dispose();
  });

  it('runs a learning-rate schedule fed per step', async () => {
    const { runner } = await sgdRunner();
    const loop = runner.loop({ w: new ort.Tensor('float64', Float64Array.from(w0), [4]) }, { 'w.next': 'w' });
    const rates = [0.1, 0.3, 0.05];
    const expected = [...w0];
    for (const lr of rates) {
      await loop.step({ lr: scalar(lr) });
      for (let i = 0; i < 4; i++) expected[i] -= lr * a[i] * (expected[i] - c[i]);
    }
    const w = [...(loop.state.w.data as Float64Array)];
    w.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    await runner.dispose();
  });

  it('names missing, unknown and badly bound tensors', async () => {
    const { runner } = await sgdRunner();
    expect(runner.inputNames).toEqual(['lr', 'w']);
    expect(runner.outputNames).toEqual(['loss', 'w.next']);
    await expect(runner.run({ lr: scalar(0.1) })).rejects.toThrow(/missing inputs w; the model takes lr, w/);
    await expect(runner.run({ lr: scalar(0.1), w: scalar(1), v: scalar(1) })).rejects.toThrow(/unknown inputs v/);
    await expect(runner.run({ lr: scalar(0.1), w: new ort.Tensor('float64', new Float64Array(4), [4]) }, ['nope'])).rejects.toThrow(
      /unknown outputs nope/,
    );
    expect(() => runner.loop({ w: scalar(0) }, { 'w.nxt': 'w' })).toThrow(/binding names output "w.nxt"/);
    expect(() => runner.loop({}, { 'w.next': 'w' })).toThrow(/bound input "w" needs an initial value/);
    const loop = runner.loop({ w: new ort.Tensor('float64', new Float64Array(4), [4]) }, { 'w.next': 'w' });
    await expect(loop.step({ w: scalar(0), lr: scalar(0.1) })).rejects.toThrow(/input "w" is carried state/);
    await runner.dispose();
  });

  it('fetches only the asked outputs', async () => {
    const { runner } = await sgdRunner();
    const out = await runner.run({ lr: scalar(0.1), w: new ort.Tensor('float64', Float64Array.from(c), [4]) }, ['loss']);
    expect(Object.keys(out)).toEqual(['loss']);
    expect((out.loss.data as Float64Array)[0]).toBe(0);
    await runner.dispose();
  });

  it('reports a session that cannot be created', async () => {
    await expect(Runner.create(new Uint8Array([1, 2, 3]))).rejects.toThrow(/could not create an onnxruntime session \(providers cpu\)/);
  });
});
