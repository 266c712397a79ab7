/** @file Serialization: subgraph extraction, names, parameters as inputs or initializers, and loading in onnxruntime node and web. */
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../graphs/autodiff.js';
import { Graph } from '../../graphs/graph.js';
import { init } from '../../graphs/init.js';
import * as op from '../../graphs/ops/index.js';
import { defineOp } from '../../graphs/op.js';
import { decodeModel, encodeModel, modelNodeCount, serializeModel, tensorProto, toModel } from '../../graphs/serialize.js';
import { recurrentSequence } from '../../graphs/layers/recurrent.js';
import type { Tensor } from '../../graphs/tensor.js';
import { autoOptimizationLevel } from '../../graphs/train-session.js';
import { Runner } from '../../graphs/runner.js';

/** A small MLP with a loss and its gradients, over a symbolic batch. */
function mlp(floatType: 'float32' | 'float64' = 'float32') {
  const g = new Graph({ floatType, seed: 11 });
  const x = g.input('x', floatType, ['batch', 3]);
  const y = g.input('y', floatType, ['batch', 2]);
  const h = g.scope('layer1', () => op.tanh(op.add(op.matmul(x, g.param('weight', [3, 4], 'xavierUniform')), g.param('bias', [4], 'zeros'))));
  const out = g.scope('layer2', () => op.matmul(h, g.param('weight', [4, 2], init.normal(0.5))));
  const loss = op.reduceMean(op.square(op.sub(out, y)));
  const grads = gradients(loss, g.params);
  return { g, x, y, out, loss, grads };
}

const xData = Float32Array.from([0.1, -0.2, 0.3, 0.5, 0.4, -0.6]);

describe('toModel', () => {
  it('writes only what the outputs need: inference has no targets and no gradient nodes', () => {
    const { g, out, loss, grads } = mlp();
    const inference = toModel(g, { outputs: { out } });
    expect(inference.graph?.input.map((i) => i.name)).toEqual(['x']);
    expect(inference.graph?.initializer.map((i) => i.name)).toEqual(['layer1.weight', 'layer1.bias', 'layer2.weight']);
    const step = toModel(g, { outputs: { loss, ...Object.fromEntries(grads.map((t, i) => [`grad${i}`, t])) }, paramsAs: 'inputs' });
    expect(step.graph?.input.map((i) => i.name)).toEqual(['x', 'y', 'layer1.weight', 'layer1.bias', 'layer2.weight']);
    expect(step.graph?.node.length).toBeGreaterThan(2 * (inference.graph?.node.length ?? 0));
    const dims = inference.graph?.input[0].type?.value.case === 'tensorType' ? inference.graph.input[0].type.value.value.shape?.dim : [];
    expect(dims?.map((d) => d.value.value)).toEqual(['batch', 3n]);
    expect(step.opsetImport[0].version).toBe(17n);
    expect(step.irVersion).toBe(8n);
    expect(step.producerName).toBe('b2m');
  });

  it('is deterministic: two builds give identical bytes', () => {
    const a = mlp();
    const b = mlp();
    const ba = encodeModel(toModel(a.g, { outputs: { loss: a.loss, g0: a.grads[0] }, metadata: { run: 'x' } }));
    const bb = encodeModel(toModel(b.g, { outputs: { loss: b.loss, g0: b.grads[0] }, metadata: { run: 'x' } }));
    expect(Buffer.from(ba).equals(Buffer.from(bb))).toBe(true);
    expect(decodeModel(ba).metadataProps).toEqual([expect.objectContaining({ key: 'run', value: 'x' })]);
  });

  it('outputs an input, a parameter or one tensor under two names through Identity nodes', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const w = g.param('w', [2], init.values([3, 4]));
    const y = op.mul(x, w);
    const model = toModel(g, { outputs: { y, again: y, echo: x, weights: w } });
    expect(model.graph?.node.filter((n) => n.opType === 'Identity')).toHaveLength(3);
    const runner = await Runner.create(encodeModel(model));
    const out = await runner.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2]), [2]) });
    expect([...(out.y.data as Float32Array)]).toEqual([3, 8]);
    expect([...(out.again.data as Float32Array)]).toEqual([3, 8]);
    expect([...(out.echo.data as Float32Array)]).toEqual([1, 2]);
    expect([...(out.weights.data as Float32Array)]).toEqual([3, 4]);
    await runner.dispose();
  });

  it('refuses name clashes and inputs missing from an explicit list', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const z = g.input('z', 'float32', [2]);
    expect(() => toModel(g, { outputs: { x: op.neg(x) } })).toThrow(/the name "x" of output "x" is already taken/);
    expect(() => toModel(g, { outputs: { s: op.add(x, z) }, inputs: [x] })).toThrow(/output\(s\) s need input "z", which is not in the inputs list/);
    expect(() => toModel(g, { outputs: { s: x }, opset: 12 })).toThrow(/opset 12 is not supported; choose 17 to 26/);
  });

  it('loads in onnxruntime-node at optimization level all and gives the same numbers in float32 and float64', async () => {
    const results: number[][] = [];
    for (const ft of ['float32', 'float64'] as const) {
      const { g, loss, grads } = mlp(ft);
      const model = toModel(g, { outputs: { loss, g0: grads[0] } });
      const runner = await Runner.create(encodeModel(model), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
      const Arr = ft === 'float32' ? Float32Array : Float64Array;
      const out = await runner.run({
        x: new ort.Tensor(ft, Arr.from(xData), [2, 3]),
        y: new ort.Tensor(ft, Arr.from([1, 0, 0, 1]), [2, 2]),
      });
      results.push([...(out.loss.data as Float32Array), ...(out.g0.data as Float32Array)]);
      await runner.dispose();
    }
    expect(results[0].length).toBe(13);
    for (let i = 0; i < results[0].length; i++) expect(results[0][i]).toBeCloseTo(results[1][i], 5);
  });

  it('loads in onnxruntime-web (wasm in Node) and matches onnxruntime-node', async () => {
    ortWeb.env.wasm.numThreads = 1;
    const { g, out, loss, grads } = mlp();
    const bytes = encodeModel(toModel(g, { outputs: { out, loss, g2: grads[2] } }));
    const feeds = { x: [xData, [2, 3]], y: [Float32Array.from([1, 0, 0, 1]), [2, 2]] } as const;
    const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const wout = await web.run(Object.fromEntries(Object.entries(feeds).map(([k, [d, s]]) => [k, new ortWeb.Tensor('float32', d, [...s])])));
    const runner = await Runner.create(bytes);
    const nout = await runner.run(Object.fromEntries(Object.entries(feeds).map(([k, [d, s]]) => [k, new ort.Tensor('float32', d, [...s])])));
    for (const name of ['out', 'loss', 'g2']) {
      const a = [...(wout[name].data as Float32Array)];
      const b = [...(nout[name].data as Float32Array)];
      expect(a.length).toBe(b.length);
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
    }
    await web.release();
    await runner.dispose();
  });

  it('gives shape hints for run-time shapes so that long graphs load fast', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    const loss = op.reduceMean(op.tanh(x));
    const [gx] = gradients(loss, [x]);
    const model = toModel(g, { outputs: { gx } });
    const hinted = new Set(model.graph?.valueInfo.map((v) => v.name));
    const expand = model.graph?.node.find((n) => n.opType === 'Expand');
    expect(expand).toBeDefined();
    expect(hinted.has(expand?.output[0] as string)).toBe(true);
    expect(toModel(g, { outputs: { gx }, valueInfo: 'none' }).graph?.valueInfo).toHaveLength(0);
  });

  it('writes tensor and graph attributes (a Constant and an If with two branches)', async () => {
    const branch = (v: number) => {
      const b = new Graph({ name: `branch${v}` });
      return toModel(b, { outputs: { out: op.add(b.constant([v, v]), 0.5) } }).graph;
    };
    const TestConstant = defineOp<{ values: number[] }>({
      name: 'TestConstant',
      type: 'Constant',
      shape: (_inputs, attrs) => [{ dtype: 'float32', shape: [attrs.values.length] }],
      encode: (attrs) => ({ attributes: [{ name: 'value', type: 'tensor', value: tensorProto('', 'float32', [attrs.values.length], Float32Array.from(attrs.values)) }] }),
    });
    const TestIf = defineOp({
      name: 'TestIf',
      type: 'If',
      shape: () => [{ dtype: 'float32', shape: [2] }],
      encode: () => ({
        attributes: [
          { name: 'then_branch', type: 'graph', value: branch(1) as NonNullable<ReturnType<typeof branch>> },
          { name: 'else_branch', type: 'graph', value: branch(2) as NonNullable<ReturnType<typeof branch>> },
        ],
      }),
    });
    const g = new Graph();
    const cond = g.input('cond', 'bool', []);
    const picked = g.apply(TestIf, [cond], {})[0];
    const y = op.mul(picked, g.apply(TestConstant, [], { values: [10, 100] })[0]);
    const runner = await Runner.create(encodeModel(toModel(g, { outputs: { y } })));
    for (const [c, expected] of [[true, [15, 150]], [false, [25, 250]]] as const) {
      const out = await runner.run({ cond: new ort.Tensor('bool', Uint8Array.from([c ? 1 : 0]), []) });
      expect([...(out.y.data as Float32Array)]).toEqual(expected);
    }
    await runner.dispose();
  });

  it('writes every op family correctly from opset 17 to 26, with equal results', async () => {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', 'float32', ['batch', 4, 6]);
    const w = g.param('w', [6, 5], 'xavierUniform');
    const parts = op.split(op.matmul(x, w), [2, 3], 2);
    const picked = op.gather(op.slice(x, [3, 0], [0, 6], [1, 2], [-1, 2]), [2, 0], 2);
    const padded = op.squeeze(op.unsqueeze(op.pad(picked, [0, 1, 0, 0, 0, 2]), 0), 0);
    const mixed = op.where(op.greater(padded, 0), op.clip(padded, -0.5, 0.5), op.cast(op.cast(padded, 'float64'), 'float32'));
    const reduced = op.add(op.reduceMean(mixed, [1, 2]), op.reduceLogSumExp(parts[1], [1, 2]));
    const scattered = op.scatterND(op.reduceMax(parts[0], 2), g.constant(BigInt64Array.from([1n]), { shape: [1, 1] }), op.squeeze(op.reduceMin(parts[0], [0, 2], true), 2), 'add');
    const loss = op.add(op.reduceSum(reduced), op.reduceSum(scattered));
    const [gw] = gradients(loss, [w]);
    const feed = new ort.Tensor('float32', Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), [2, 4, 6]);
    const results: number[][] = [];
    for (const opset of [17, 18, 21, 26]) {
      const runner = await Runner.create(encodeModel(toModel(g, { outputs: { loss, gw }, opset })));
      const out = await runner.run({ x: feed });
      results.push([...(out.loss.data as Float32Array), ...(out.gw.data as Float32Array)]);
      await runner.dispose();
    }
    expect(results[0]).toHaveLength(31);
    expect(results[0].some((v) => v !== 0)).toBe(true);
    for (const r of results.slice(1)) r.forEach((v, i) => expect(v).toBeCloseTo(results[0][i], 5));
  });
});

describe('modelNodeCount and the automatic optimization level', () => {
  it('counts the main graph nodes from the bytes, as decoding finds them, and picks basic only for long graphs', async () => {
    const chain = (n: number): Uint8Array => {
      const g = new Graph();
      let x = g.input('x', 'float32', ['batch', 4]);
      for (let i = 0; i < n; i++) x = op.tanh(x);
      return encodeModel(toModel(g, { outputs: { y: x }, docString: 'ü'.repeat(300) }));
    };
    const { g, loss, grads } = mlp();
    const trained = encodeModel(toModel(g, { outputs: { loss, ...Object.fromEntries(grads.map((t, i) => [`g${i}`, t])) }, paramsAs: 'inputs' }));
    for (const bytes of [trained, chain(1), chain(1000), chain(1001)]) {
      expect(modelNodeCount(bytes)).toBe(decodeModel(bytes).graph?.node.length);
    }
    expect(modelNodeCount(trained)).toBeGreaterThan(5);
    expect([autoOptimizationLevel(chain(1000)), autoOptimizationLevel(chain(1001))]).toEqual(['all', 'basic']);
    expect(() => modelNodeCount(chain(3).slice(0, 40))).toThrow(/end inside a field/);
  });
});

describe('serializeModel', () => {
  const Attrs = defineOp<Record<string, never>>({
    name: 'test.EveryAttribute',
    type: 'EveryAttribute',
    domain: 'test.b2m',
    shape: (inputs) => [{ dtype: inputs[0].dtype, shape: [...inputs[0].shape] }],
    encode: () => ({
      attributes: [
        { name: 'f', type: 'float', value: -0.1 },
        { name: 'i', type: 'int', value: -3 },
        { name: 'big', type: 'int', value: 2 ** 40 },
        { name: 's', type: 'string', value: 'größe' },
        { name: 'fs', type: 'floats', value: [1.5, -2, 0] },
        { name: 'is', type: 'ints', value: [0, -1, 300] },
        { name: 'empty', type: 'ints', value: [] },
        { name: 't', type: 'tensor', value: tensorProto('t', 'float32', [2], Float32Array.of(1, 2)) },
      ],
      extraInputs: [[4, -2]],
    }),
  });

  it('writes the bytes encodeModel(toModel()) writes, for training, inference and unusual models', () => {
    const cases: [Graph, Parameters<typeof toModel>[1]][] = [];
    const { g, loss, grads } = mlp('float64');
    cases.push([g, { outputs: { loss, ...Object.fromEntries(grads.map((t, i) => [`g${i}`, t])) }, paramsAs: 'inputs' }]);
    cases.push([g, { outputs: { loss }, paramsAs: 'initializers', metadata: { 'b2m.ü': 'x'.repeat(200) }, docString: 'ä'.repeat(100), producer: 'p' }]);
    cases.push([g, { outputs: { loss }, zeroParams: true, valueInfo: 'all', opset: 21, irVersion: 10 }]);
    const rnn = new Graph({ seed: 2, name: 'n'.repeat(150) });
    const x = rnn.input('x', 'float32', ['batch', 30, 3]);
    const seq = recurrentSequence('gru', x, { hidden: 40, layers: 2, name: 'rnn' });
    const weird = rnn.apply(Attrs, [seq.last], {})[0];
    const rnnLoss = op.reduceMean(op.mul(seq.sequence as Tensor, seq.sequence as Tensor));
    const rnnGrads = gradients(rnnLoss, rnn.params);
    cases.push([rnn, { outputs: { loss: rnnLoss, weird, same: rnnLoss, ...Object.fromEntries(rnnGrads.map((t, i) => [`g${i}`, t])) }, paramsAs: 'inputs', valueInfo: 'runtime' }]);
    cases.push([rnn, { outputs: { hidden: seq.sequence as Tensor, param: rnn.params[0] } }]);
    for (const [graph, opts] of cases) {
      const expected = encodeModel(toModel(graph, opts));
      const written = serializeModel(graph, opts);
      expect(Buffer.from(written.bytes).equals(Buffer.from(expected))).toBe(true);
      const model = decodeModel(expected).graph;
      expect(written.inputs).toEqual(model?.input.map((v) => v.name));
      expect(written.outputs).toEqual(model?.output.map((v) => v.name));
    }
    expect(cases.map(([graph, opts]) => serializeModel(graph, opts).bytes.length).some((n) => n > 1 << 17)).toBe(true);
  });
});
