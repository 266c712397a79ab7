/** @file Bundles: ONNX training_info layout, exact resumption, and loading in onnxruntime-node and onnxruntime-web. */
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { compileTraining, exportInference, knob, type FloatArray, type TrainingSpec } from '../../graphs/artifacts.js';
import { BUNDLE_METADATA_KEY, readBundle, writeBundle } from '../../graphs/bundle.js';
import { GraphError } from '../../graphs/errors.js';
import type { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { add, matmul, mul, reduceLogSumExp, reduceMean, reduceSum, sub, tanh } from '../../graphs/ops/index.js';
import { decodeModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { type StepResult, TrainSession } from '../../graphs/train-session.js';

function dense(g: Graph, name: string, x: Tensor, inDim: number, outDim: number): Tensor {
  return g.scope(name, () => add(matmul(x, g.param('weight', [inDim, outDim], 'xavierUniform')), g.param('bias', [outDim], 'zeros')));
}

/** A classifier with a brain-latent readout head that only the loss uses, weighted by a knob. */
const spec: TrainingSpec = {
  build(g) {
    const x = g.input('x', 'float32', ['batch', 4]);
    const y = g.input('y', 'float32', ['batch', 3]);
    const brain = g.input('brain', 'float32', ['batch', 5]);
    const h = tanh(dense(g, 'encoder', x, 4, 8));
    const logits = dense(g, 'head', h, 8, 3);
    const task = mul(reduceMean(reduceSum(mul(sub(logits, reduceLogSumExp(logits, 1, true)), y), 1)), -1);
    const r = sub(dense(g, 'readout', h, 8, 5), brain);
    const latent = reduceMean(mul(r, r));
    const loss = add(task, mul(latent, knob(g, 'lambda_latent', 0.5)));
    return { loss, terms: { task, latent }, metrics: { logit_mean: reduceMean(logits) }, activations: { hidden: h }, inference: { logits } };
  },
};

function batch(rng: Rng, rows: number): Record<string, ort.Tensor> {
  const normal = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
  const y = new Float32Array(rows * 3);
  for (let i = 0; i < rows; i++) y[i * 3 + Math.floor(rng.uniform() * 3)] = 1;
  return {
    x: new ort.Tensor('float32', normal(rows * 4), [rows, 4]),
    y: new ort.Tensor('float32', y, [rows, 3]),
    brain: new ort.Tensor('float32', normal(rows * 5), [rows, 5]),
  };
}

function sameBits(a: FloatArray, b: FloatArray): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sameMaps(a: Map<string, FloatArray>, b: Map<string, FloatArray>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.has(k) && sameBits(v, b.get(k) as FloatArray));
}

const artifacts = compileTraining(spec, { optimizer: { kind: 'adamw', lr: 0.05, clipNorm: 1 }, seed: 4 });

async function trainedSession(steps: number): Promise<{ session: TrainSession; rng: Rng }> {
  const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
  const rng = new Rng(9);
  for (let i = 0; i < steps; i++) await session.step(batch(rng, 16), { lr: 0.05 - 0.005 * i });
  return { session, rng };
}

describe('bundle', () => {
  it('follows ONNX training_info: the step graph as algorithm, an update_binding for every parameter, state and step', async () => {
    const { session } = await trainedSession(3);
    const model = decodeModel(writeBundle(artifacts, session.params(), session.state(), session.stepCount));
    await session.release();
    expect(model.trainingInfo).toHaveLength(1);
    const info = model.trainingInfo[0];
    const algorithm = info.algorithm;
    const main = model.graph;
    if (!algorithm || !main) throw new Error('bundle lacks a graph');
    const binding = new Map(info.updateBinding.map((e) => [e.key, e.value]));
    const params = artifacts.io.params.map((p) => p.path);
    expect([...binding.keys()].sort()).toEqual([...params, ...artifacts.io.state.map((s) => s.name), 'step'].sort());
    const initializers = new Set([...main.initializer, ...algorithm.initializer].map((t) => t.name));
    const algorithmOutputs = new Set(algorithm.output.map((v) => v.name));
    for (const [key, value] of binding) {
      expect(initializers.has(key)).toBe(true);
      expect(algorithmOutputs.has(value)).toBe(true);
    }
    expect(main.initializer.map((t) => t.name)).not.toContain('readout.weight');
    expect(algorithm.initializer.map((t) => t.name)).toContain('readout.weight');
    // The inference graph followed by the algorithm must define every name once (ONNX's combined training graph).
    const defined: string[] = [];
    for (const gp of [main, algorithm]) {
      defined.push(...gp.input.map((v) => v.name), ...gp.initializer.map((t) => t.name));
      for (const n of gp.node) defined.push(...n.output);
    }
    expect(new Set(defined).size).toBe(defined.length);
    const known = new Set(defined);
    for (const n of algorithm.node) for (const i of n.input) if (i !== '') expect(known.has(i)).toBe(true);
    expect(model.metadataProps.some((e) => e.key === BUNDLE_METADATA_KEY)).toBe(true);
  });

  it('round-trips: resuming from a bundle takes bit-identical steps to the original session', async () => {
    const { session, rng } = await trainedSession(5);
    const bytes = writeBundle(artifacts, session.params(), session.state(), session.stepCount);
    const bundle = readBundle(bytes);
    expect(Buffer.from(bundle.trainStep).equals(Buffer.from(artifacts.trainStep))).toBe(true);
    expect(Buffer.from(bundle.inference).equals(Buffer.from(exportInference(artifacts, session.params())))).toBe(true);
    expect(bundle.step).toBe(5);
    expect(sameMaps(bundle.params, session.params())).toBe(true);
    expect(sameMaps(bundle.state, session.state())).toBe(true);

    const resumed = await TrainSession.create(bundle, { intraOpNumThreads: 1 });
    for (let i = 0; i < 3; i++) {
      const b = batch(rng, 16);
      const knobs = { lr: 0.02, lambda_latent: 0.25 * (i + 1) };
      const a: StepResult = await session.step(b, knobs);
      const r: StepResult = await resumed.step(b, knobs);
      expect(r).toEqual(a);
      expect(sameMaps(resumed.params(), session.params())).toBe(true);
      expect(sameMaps(resumed.state(), session.state())).toBe(true);
    }
    expect(resumed.stepCount).toBe(8);
    const first = [...artifacts.params.values()][0];
    expect(sameBits([...resumed.params().values()][0], first)).toBe(false);
    await session.release();
    await resumed.release();
  });

  it('loads in onnxruntime-node (optimization all) and onnxruntime-web (wasm), which ignore training_info', async () => {
    const { session, rng } = await trainedSession(2);
    const bytes = writeBundle(artifacts, session.params(), session.state(), session.stepCount);
    const { inference } = readBundle(bytes);
    const b = batch(rng, 6);
    const x = b.x.data as Float32Array;
    const fromNode = async (model: Uint8Array): Promise<Float32Array> => {
      const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
      expect(s.inputNames).toEqual(['x']);
      return (await s.run({ x: new ort.Tensor('float32', x, [6, 4]) })).logits.data as Float32Array;
    };
    ortWeb.env.wasm.numThreads = 1;
    const fromWeb = async (model: Uint8Array): Promise<Float32Array> => {
      const s = await ortWeb.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const out = (await s.run({ x: new ortWeb.Tensor('float32', x, [6, 4]) })).logits.data as Float32Array;
      await s.release();
      return out;
    };
    const reference = await fromNode(inference);
    expect(sameBits(await fromNode(bytes), reference)).toBe(true);
    for (const web of [await fromWeb(bytes), await fromWeb(inference)]) {
      expect(web.length).toBe(18);
      for (let i = 0; i < web.length; i++) expect(Math.abs(web[i] - reference[i])).toBeLessThan(1e-5);
    }
    const initial = await fromNode(artifacts.inference);
    expect(sameBits(initial, reference)).toBe(false);
    await session.release();
  });

  it('a plain model is refused with a message that says what a bundle is', () => {
    expect(() => readBundle(artifacts.inference)).toThrow(GraphError);
    expect(() => readBundle(artifacts.inference)).toThrow(/not a b2m bundle/);
    expect(() => readBundle(Uint8Array.of(1, 2, 3))).toThrow(/readBundle/);
  });
});
