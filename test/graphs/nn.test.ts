/** @file Softmax, LogSoftmax, LayerNormalization, SoftmaxCrossEntropyLoss and logSigmoid: values and gradient checks. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../graphs/graph.js';
import { Rng, init } from '../../graphs/init.js';
import { linear } from '../../graphs/layers/linear.js';
import { add, mul } from '../../graphs/ops/elementwise.js';
import { SoftmaxCrossEntropyLoss, layerNorm, logSigmoid, logSoftmax, softmax, softmaxCrossEntropy } from '../../graphs/ops/nn.js';
import { reduceSum } from '../../graphs/ops/reduce.js';
import { Runner } from '../../graphs/runner.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { checkAgainstReference, checkGradients, f32, f64, i64 } from './gradcheck.js';

function normals(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** sum(y * r) with seeded weights r, so that gradients of normalized outputs do not vanish. */
function weighted(g: Graph, y: Tensor, seed = 11): Tensor {
  const shape = y.shape as number[];
  const n = shape.reduce((a, b) => a * b, 1);
  return reduceSum(mul(y, g.constant(normals(n, seed), { shape })));
}

async function evaluate(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  const runner = await Runner.create(encodeModel(toModel(g, { outputs })), { graphOptimizationLevel: 'all' });
  const out = await runner.run(feeds);
  await runner.dispose();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as Float64Array, Number)]));
}

/** Reference softmax over the last axis of rows of length n. */
function referenceSoftmax(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[r * n + i]);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[r * n + i] - m);
    for (let i = 0; i < n; i++) out[r * n + i] = Math.exp(x[r * n + i] - m) / s;
  }
  return out;
}

/** Reference layer norm over rows of length n. */
function referenceLayerNorm(x: Float64Array, scale: Float64Array, bias: Float64Array | null, n: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[r * n + i] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[r * n + i] - mean) ** 2 / n;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < n; i++) out[r * n + i] = (x[r * n + i] - mean) * inv * scale[i] + (bias ? bias[i] : 0);
  }
  return out;
}

describe('softmax and logSoftmax', () => {
  for (const axis of [-1, 0, 1]) {
    it(`softmax gradient along axis ${axis} of [3,4,5]`, async () => {
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', [3, 4, 5]);
        return { loss: weighted(g, softmax(x, axis)), wrt: [x] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
    it(`logSoftmax gradient along axis ${axis} of [3,4,5]`, async () => {
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', [3, 4, 5]);
        return { loss: weighted(g, logSoftmax(x, axis)), wrt: [x] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('matches a reference softmax, and logSoftmax stays finite for large logits', async () => {
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('x', 'float64', [2, 3]);
    const data = [1, 2, 3, -1000, 0, 1000];
    const out = await evaluate(g, { p: softmax(x), lp: logSoftmax(x) }, { x: f64(data, [2, 3]) });
    const ref = referenceSoftmax(Float64Array.from(data), 3);
    out.p.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 12));
    expect(out.lp[3]).toBeCloseTo(-2000, 9);
    expect(out.lp[5]).toBeCloseTo(0, 12);
  });

  it('rejects an axis outside the rank', () => {
    const g = new Graph();
    expect(() => softmax(g.input('x', 'float32', [2, 3]), 2)).toThrow(/softmax of x float32\[2,3\]: axis 2 is out of range for rank 2/);
  });
});

describe('layerNorm', () => {
  for (const [axis, shape] of [
    [-1, [3, 2, 5]],
    [1, [3, 2, 5]],
  ] as const) {
    it(`float64 gradient over axes from ${axis} of [${shape}], wrt input, scale and bias`, async () => {
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', shape);
        const normalized = shape.slice(axis < 0 ? axis + shape.length : axis);
        const scale = g.param('scale', normalized, init.normal(0.5, 1));
        const bias = g.param('bias', normalized, init.normal(0.5));
        return { loss: weighted(g, layerNorm(x, scale, bias, { axis })), wrt: [x, scale, bias] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('float64 gradient without bias and with a symbolic batch', async () => {
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', ['batch', 6]);
        const scale = g.param('scale', [6], init.normal(0.5, 1));
        const y = layerNorm(x, scale, null, { epsilon: 1e-3 });
        return { loss: reduceSum(mul(mul(y, y), y)), wrt: [x, scale] };
      },
      { x: f64(normals(24, 3), [4, 6]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('float32 gradient reusing the node statistics matches float64 differences of a reference', async () => {
    const n = 8;
    const weights = normals(4 * n, 11);
    const r = await checkAgainstReference(
      (g) => {
        const x = g.input('x', 'float32', [4, n]);
        const scale = g.input('scale', 'float32', [n]);
        const bias = g.input('bias', 'float32', [n]);
        const y = layerNorm(x, scale, bias);
        expect(y.producer?.outputs.length).toBe(3);
        return { loss: weighted(g, y), wrt: [x, scale, bias] };
      },
      (v) => {
        const y = referenceLayerNorm(v.x, v.scale, v.bias, n, 1e-5);
        return y.reduce((s, yi, i) => s + yi * weights[i], 0);
      },
      { x: f32(normals(4 * n, 5), [4, n]), scale: f32(normals(n, 6), [n]), bias: f32(normals(n, 7), [n]) },
    );
    expect(r.maxError).toBeLessThan(1e-3);
  });

  it('matches the reference in float64', async () => {
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('x', 'float64', [3, 4]);
    const s = g.input('s', 'float64', [4]);
    const b = g.input('b', 'float64', [4]);
    const xs = normals(12, 1);
    const ss = normals(4, 2);
    const bs = normals(4, 3);
    const out = await evaluate(g, { y: layerNorm(x, s, b, { epsilon: 1e-4 }) }, { x: f64(xs, [3, 4]), s: f64(ss, [4]), b: f64(bs, [4]) });
    const ref = referenceLayerNorm(xs, ss, bs, 4, 1e-4);
    out.y.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 10));
  });

  it('names the expected shape of a wrong scale', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4, 5]);
    expect(() => layerNorm(x, g.param('scale', [4], 'ones'))).toThrow(/scale must have the normalized shape \[5\], got \[4\]/);
  });
});

describe('softmaxCrossEntropy', () => {
  const labels = [2, 0, 3, 1, 3];
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`gradient with reduction '${reduction}' and a symbolic batch`, async () => {
      const r = await checkGradients(
        (g) => {
          const x = g.input('x', 'float64', ['batch', 4]);
          const y = g.input('y', 'int64', ['batch']);
          const l = softmaxCrossEntropy(x, y, reduction);
          return { loss: reduction === 'none' ? reduceSum(mul(l, l)) : l, wrt: [x] };
        },
        { x: f64(normals(20, 9), [5, 4]), y: i64(labels, [5]) },
      );
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('gradient through both outputs with spatial dims [N, C, d]', async () => {
    const r = await checkGradients(
      (g) => {
        const x = g.input('x', 'float64', [2, 3, 4]);
        const y = g.input('y', 'int64', [2, 4]);
        const [loss, logProb] = g.apply(SoftmaxCrossEntropyLoss, [x, y], { reduction: 'mean' });
        return { loss: add(loss, weighted(g, logProb)), wrt: [x] };
      },
      { y: i64([0, 1, 2, 2, 1, 1, 0, 2], [2, 4]) },
    );
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('equals the mean negative log-probability of the labels', async () => {
    const g = new Graph({ floatType: 'float64' });
    const x = g.input('x', 'float64', ['batch', 4]);
    const y = g.input('y', 'int64', ['batch']);
    const xs = normals(20, 4);
    const out = await evaluate(g, { l: softmaxCrossEntropy(x, y) }, { x: f64(xs, [5, 4]), y: i64(labels, [5]) });
    const p = referenceSoftmax(xs, 4);
    const ref = labels.reduce((s, c, i) => s - Math.log(p[i * 4 + c]), 0) / labels.length;
    expect(out.l[0]).toBeCloseTo(ref, 12);
  });

  it('names the expected label shape and dtype', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    expect(() => softmaxCrossEntropy(x, g.input('y', 'int64', ['batch', 4]))).toThrow(/labels must have shape \[batch\]/);
    expect(() => softmaxCrossEntropy(x, g.input('z', 'int32', ['batch']))).toThrow(/labels must be int64/);
  });
});

describe('logSigmoid', () => {
  it('float64 gradient', async () => {
    const r = await checkGradients((g) => {
      const x = g.input('x', 'float64', [3, 5]);
      return { loss: weighted(g, logSigmoid(mul(x, 3))), wrt: [x] };
    });
    expect(r.maxError).toBeLessThan(1e-6);
  });

  it('is finite and exact at the extremes in float32', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const out = await evaluate(g, { y: logSigmoid(x) }, { x: f32([-100, 0, 100], [3]) });
    expect(out.y[0]).toBeCloseTo(-100, 4);
    expect(out.y[1]).toBeCloseTo(-Math.LN2, 6);
    expect(out.y[2]).toBeCloseTo(0, 6);
  });
});

describe('linear', () => {
  for (const shape of [
    [4, 3],
    [2, 3, 3],
  ]) {
    it(`float64 gradient for input [${shape}], wrt input, weight and bias`, async () => {
      const r = await checkGradients((g) => {
        const x = g.input('x', 'float64', shape);
        const fc = g.scope('head', () => linear('fc', x, 5, { biasInit: init.normal(0.5) }));
        expect(fc.shape).toEqual([...shape.slice(0, -1), 5]);
        return { loss: weighted(g, mul(fc, fc)), wrt: [x, g.getParam('head.fc.weight'), g.getParam('head.fc.bias')] };
      });
      expect(r.maxError).toBeLessThan(1e-6);
    });
  }

  it('names its parameters [in, units] and leaves the bias out on request', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 7]);
    linear('a', x, 3);
    linear('b', x, 2, { bias: false });
    expect(g.params.map((p) => `${p.name}[${p.shape}]`)).toEqual(['a.weight[7,3]', 'a.bias[3]', 'b.weight[7,2]']);
    expect(() => linear('c', g.input('y', 'float32', ['batch', 'n']), 2)).toThrow(/linear 'c': the last axis of y float32\[batch,n\] must be static/);
  });
});
