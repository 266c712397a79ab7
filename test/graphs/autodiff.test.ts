/** @file Autodiff behaviour: subgraph selection, unused and blocked gradients, error messages, and large-graph speed. */
import { describe, expect, it } from 'vitest';
import { gradients } from '../../graphs/autodiff.js';
import { GraphError } from '../../graphs/errors.js';
import { Graph } from '../../graphs/graph.js';
import * as op from '../../graphs/ops/index.js';
import { encodeModel, extractSubgraph, toModel } from '../../graphs/serialize.js';
import { Runner } from '../../graphs/runner.js';
import { checkGradients, f64 } from './gradcheck.js';

describe('gradients()', () => {
  it('differentiates only the nodes between the wrt tensors and the loss', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const unrelated = g.input('u', 'float32', [3]);
    const side = op.exp(op.mul(unrelated, 2));
    const loss = op.reduceSum(op.add(op.mul(x, side), op.tanh(side)));
    const before = g.nodes.length;
    gradients(loss, [x]);
    const added = g.nodes.slice(before).map((n) => n.op.name);
    expect(added).not.toContain('Tanh');
    expect(added.filter((n) => n === 'Exp')).toHaveLength(0);
    expect(added.length).toBeLessThanOrEqual(3);
  });

  it('sums the gradient of a weight shared over many steps as one product over stacked rows, and subtracts negated parts', async () => {
    let added: string[] = [];
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', ['batch', 5, 3]);
      const w = g.param('w', [3, 3], 'orthogonal');
      const b = g.param('b', [3], 'xavierUniform');
      const xs = op.split(x, 5, 1).map((t) => op.squeeze(t, 1));
      let h = xs[0];
      for (let t = 1; t < 5; t++) {
        const n = op.tanh(op.add(xs[t], op.gemm(h, w, b)));
        h = op.add(n, op.mul(0.5, op.sub(h, n)));
      }
      const loss = op.reduceSum(op.mul(h, h));
      const before = g.nodes.length;
      const grads = gradients(loss, [w, b, x]);
      added = extractSubgraph(g, grads).nodes.filter((n) => n.id >= before).map((n) => n.op.name);
      return { loss, wrt: [w, b, x] };
    }, { x: f64(Array.from({ length: 30 }, (_, i) => Math.sin(i)), [2, 5, 3]) });
    expect(r.maxError).toBeLessThan(1e-6);
    expect(added.filter((n) => n === 'Sum')).toHaveLength(0);
    expect(added.filter((n) => n === 'Neg')).toHaveLength(0);
    expect(added.filter((n) => n === 'ReduceSum')).toHaveLength(1);
  });

  it('gives the gradient with respect to an intermediate tensor', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [3]);
      const h = op.tanh(x);
      const loss = op.reduceSum(op.mul(h, h));
      const [dh, dx] = gradients(loss, [h, x]);
      expect(dh.shape).toEqual([3]);
      expect(dx.shape).toEqual([3]);
      return { loss, wrt: [x] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('refuses a wrt tensor the loss does not depend on, or gives zeros when allowed', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const y = g.input('y', 'float32', [2]);
    const loss = op.reduceSum(op.add(op.mul(x, x), op.stopGradient(y)));
    expect(() => gradients(loss, [x, y])).toThrow(/does not depend on y float32\[2\] \(not connected, or only through stopGradient\)/);
    const [, gy] = gradients(loss, [x, y], { allowUnused: true });
    const runner = await Runner.create(encodeModel(toModel(g, { outputs: { gy } })));
    expect(runner.inputNames).toEqual([]);
    const out = await runner.run({});
    expect([...(out.gy.data as Float32Array)]).toEqual([0, 0]);
    await runner.dispose();
  });

  it('names the comparison when a gradient would have to pass through it', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const mask = op.cast(op.greater(x, 0), 'float32');
    const loss = op.reduceSum(op.mul(mask, x));
    expect(() => gradients(loss, [x])).toThrow(GraphError);
    expect(() => gradients(loss, [x])).toThrow(/no gradient through a cast from bool to float32: its input Greater_\d+ \(produced by Greater/);
    const ok = op.reduceSum(op.mul(op.stopGradient(mask), x));
    expect(gradients(ok, [x])[0].shape).toEqual([3]);
  });

  it('names a non-differentiable op reached by the gradient', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const n = op.cast(op.sizeOf(x), 'float32');
    expect(() => gradients(op.mul(n, op.reduceSum(x)), [x])).toThrow(/cast from int64 to float32: its input Size_\d+ \(produced by Size/);
  });

  it('refuses integer wrt tensors and non-scalar losses', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 3]);
    const i = g.input('i', 'int64', [3]);
    expect(() => gradients(op.reduceSum(x), [i])).toThrow(/cannot differentiate with respect to i int64\[3\]: it is not a float tensor/);
    expect(() => gradients(op.mul(x, 2), [x])).toThrow(/must be a scalar; reduce it first/);
  });

  it('takes a vector-Jacobian product with gradOutput', async () => {
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', [3]);
        const v = g.constant([1, -2, 0.5]);
        const [vjp] = gradients(op.mul(op.tanh(x), op.exp(x)), [x], { gradOutput: v });
        return { loss: op.reduceSum(op.mul(vjp, vjp)), wrt: [x] };
      },
      { x: f64([0.1, -0.4, 0.9], [3]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('second derivatives: gradient of a gradient norm', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [2, 3]);
      const w = g.param('w', [3, 2], 'xavierUniform');
      const loss = op.reduceSum(op.tanh(op.matmul(x, w)));
      const [gw] = gradients(loss, [w]);
      return { loss: op.reduceSum(op.mul(gw, gw)), wrt: [x, w] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });
});

describe('speed on long graphs', () => {
  it('builds, differentiates and serializes an unrolled GRU of over 20k nodes in linear time', () => {
    const cpuSeconds = (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const t0 = cpuSeconds();
    const g = new Graph({ floatType: 'float32', seed: 1 });
    const hidden = 128;
    const steps = 600;
    const xs = g.input('x', 'float32', ['batch', steps, 8]);
    let state = g.input('h0', 'float32', ['batch', hidden]);
    const wx = g.param('wx', [8, 3 * hidden], 'xavierUniform');
    const wh = g.param('wh', [hidden, 3 * hidden], 'orthogonal');
    const b = g.param('b', [3 * hidden], 'zeros');
    const inputs = op.split(xs, steps, 1);
    for (let t = 0; t < steps; t++) {
      const x = op.squeeze(inputs[t], 1);
      const gates = op.add(op.add(op.matmul(x, wx), op.matmul(state, wh)), b);
      const [z, r, n] = op.split(gates, 3, 1);
      const zg = op.sigmoid(z);
      const cand = op.tanh(op.add(n, op.mul(op.sigmoid(r), state)));
      state = op.add(op.mul(zg, state), op.mul(op.sub(1, zg), cand));
    }
    const loss = op.reduceMean(op.mul(state, state));
    const forward = g.nodes.length;
    const grads = gradients(loss, [wx, wh, b]);
    const differentiated = cpuSeconds() - t0;
    const outputs = Object.fromEntries([['loss', loss], ...grads.map((t, i) => [`g${i}`, t] as const)]);
    const model = toModel(g, { outputs, paramsAs: 'inputs' });
    const bytes = encodeModel(model);
    const seconds = cpuSeconds() - t0;
    expect(forward).toBeGreaterThan(4000);
    expect(model.graph?.node.length).toBeGreaterThan(20000);
    expect(bytes.length).toBeGreaterThan(100000);
    // CPU time, which a busy shared machine inflates far less than wall time. Linear passes take about 0.2 s
    // to build and differentiate and 0.3 s to serialize here; a quadratic pass over 20k nodes would take minutes.
    expect(differentiated).toBeLessThan(3);
    expect(seconds - differentiated).toBeLessThan(3);
  });
});
