/** @file compileTraining's models and io, the artifact cache, and TrainSession's contract (frozen parameters, errors, providers). */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type TrainingOutputs,
  type TrainingSpec,
  artifactHash,
  cachedTraining,
  compileTraining,
  exportInference,
  initialParams,
  knob,
} from '../../graphs/artifacts.js';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { add, matmul, mul, reduceMean, sub, tanh } from '../../graphs/ops/index.js';
import { decodeModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { ExecutionProviderError, TrainSession, createSession, cudaUnavailableReason } from '../../graphs/train-session.js';

function dense(g: Graph, name: string, x: Tensor, inDim: number, outDim: number): Tensor {
  return g.scope(name, () => add(matmul(x, g.param('weight', [inDim, outDim], 'xavierUniform')), g.param('bias', [outDim], 'zeros')));
}

/** Regression with an auxiliary head; `freeze` leaves the encoder out of the trainable set. */
function regression(opts: { freeze?: boolean; builds?: { count: number } } = {}): TrainingSpec {
  return {
    build(g) {
      if (opts.builds) opts.builds.count++;
      const x = g.input('x', g.floatType, ['batch', 3]);
      const y = g.input('y', g.floatType, ['batch', 2]);
      const aux = g.input('aux', g.floatType, ['batch', 4]);
      const h = tanh(dense(g, 'encoder', x, 3, 6));
      const pred = dense(g, 'head', h, 6, 2);
      const r = sub(pred, y);
      const mse = reduceMean(mul(r, r));
      const ra = sub(dense(g, 'aux_head', h, 6, 4), aux);
      const auxLoss = reduceMean(mul(ra, ra));
      const loss = add(mse, mul(auxLoss, knob(g, 'lambda_aux', 0.3)));
      const trainable = opts.freeze ? g.params.filter((p) => !p.name.startsWith('encoder.')) : undefined;
      return { loss, terms: { mse, aux: auxLoss }, metrics: { pred_mean: reduceMean(pred) }, activations: { hidden: h }, inference: { pred }, trainable };
    },
  };
}

function feeds(type: 'float32' | 'float64', rows: number, seed: number): Record<string, ort.Tensor> {
  const rng = new Rng(seed);
  const make = (cols: number): ort.Tensor => {
    const n = rows * cols;
    const data = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.normal();
    return new ort.Tensor(type, data, [rows, cols]);
  };
  return { x: make(3), y: make(2), aux: make(4) };
}

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

describe('compileTraining', () => {
  const a = compileTraining(regression(), { optimizer: { kind: 'adam', lr: 0.01 }, floatType: 'float64', seed: 2 });

  it('describes each model\'s inputs and outputs', () => {
    const params = ['encoder.weight', 'encoder.bias', 'head.weight', 'head.bias', 'aux_head.weight', 'aux_head.bias'];
    const state = params.flatMap((p) => [`opt.${p}.m`, `opt.${p}.v`]);
    const knobs = ['knob.lambda_aux', 'knob.lr', 'knob.beta1', 'knob.beta2', 'knob.eps'];
    expect(a.io.params.map((p) => p.path)).toEqual(params);
    expect(a.io.trainStep.inputs).toEqual([...params, ...state, 'step', 'x', 'y', 'aux', ...knobs]);
    expect(a.io.trainStep.outputs).toEqual([
      'loss', 'term.mse', 'term.aux', 'metric.pred_mean', 'grad_norm',
      ...params.map((p) => `${p}.next`), ...state.map((s) => `${s}.next`), 'step.next',
    ]);
    expect(a.io.eval).toEqual({ inputs: [...params, 'x', 'y', 'aux', 'knob.lambda_aux'], outputs: ['loss', 'term.mse', 'term.aux', 'metric.pred_mean', 'act.hidden'] });
    expect(a.io.inferenceModel).toEqual({ inputs: ['x'], outputs: ['pred'] });
    const inference = decodeModel(a.inference).graph;
    expect(inference?.initializer.map((t) => t.name)).toEqual(expect.arrayContaining(['encoder.weight', 'head.bias']));
    expect(inference?.initializer.map((t) => t.name)).not.toContain('aux_head.weight');
    expect(inference?.input[0].type?.value.case === 'tensorType' && inference.input[0].type.value.value.shape?.dim[0].value).toEqual({ case: 'dimParam', value: 'batch' });
  });

  it('every model loads with optimization all; eval agrees with the step; inference takes any batch size', async () => {
    const f = feeds('float64', 7, 1);
    const paramFeeds = Object.fromEntries([...a.params].map(([k, v]) => [k, new ort.Tensor('float64', v, a.io.params.find((p) => p.path === k)?.shape)]));
    const evalSession = await createSession(a.eval, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    const ev = await evalSession.run({ ...paramFeeds, ...f, 'knob.lambda_aux': new ort.Tensor('float64', Float64Array.of(0.3), []) });
    const train = await TrainSession.create(a, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    const step = await train.step(f);
    const evLoss = (ev.loss.data as Float64Array)[0];
    expect(Math.abs(step.loss - evLoss)).toBeLessThan(1e-12 * Math.abs(evLoss));
    expect(step.terms.aux).toBeCloseTo((ev['term.aux'].data as Float64Array)[0], 12);
    expect(ev['act.hidden'].dims).toEqual([7, 6]);

    const inference = await createSession(exportInference(a, train.params()), { graphOptimizationLevel: 'all' });
    for (const rows of [1, 5]) {
      const out = await inference.run({ x: feeds('float64', rows, rows).x });
      expect(out.pred.dims).toEqual([rows, 2]);
    }
    const after = await evalSession.run({ ...train.paramTensors(), ...f, 'knob.lambda_aux': new ort.Tensor('float64', Float64Array.of(0.3), []) });
    expect((after.loss.data as Float64Array)[0]).toBeLessThan(evLoss);
    await Promise.all([evalSession.release(), train.release(), inference.release()]);
  });

  it('writes the chosen opset and IR version', () => {
    const b = compileTraining(regression(), { optimizer: { kind: 'sgd', lr: 0.1 }, opset: 18, irVersion: 9 });
    for (const bytes of [b.trainStep, b.eval, b.inference]) {
      const m = decodeModel(bytes);
      expect(m.irVersion).toBe(9n);
      expect(m.opsetImport.find((o) => o.domain === '')?.version).toBe(18n);
    }
    expect(decodeModel(a.inference).irVersion).toBe(8n);
    expect(decodeModel(a.inference).opsetImport[0].version).toBe(17n);
  });

  it('refuses builds it cannot train, naming what is wrong', () => {
    const base = (g: Graph) => {
      const x = g.input('x', 'float32', ['batch', 2]);
      const pred = matmul(x, g.param('w', [2, 1], 'xavierUniform'));
      return { pred, loss: reduceMean(mul(pred, pred)) };
    };
    const compileWith = (build: (g: Graph, b: ReturnType<typeof base>) => TrainingOutputs) =>
      compileTraining({ build: (g) => build(g, base(g)) }, { optimizer: { kind: 'sgd', lr: 0.1 } });
    expect(() => compileWith((_g, b) => ({ loss: b.loss, terms: { per_row: b.pred }, inference: { pred: b.pred } }))).toThrow(
      /terms\.per_row .* must be a scalar/,
    );
    expect(() => compileWith((_g, b) => ({ loss: b.loss, terms: {}, inference: { loss: b.pred } }))).toThrow(/inference output "loss"/);
    expect(() => compileWith((_g, b) => ({ loss: b.loss, terms: {}, inference: {} }))).toThrow(/no inference outputs/);
    expect(() =>
      compileWith((g, b) => {
        g.param('unused', [3], 'zeros');
        return { loss: b.loss, terms: {}, inference: { pred: b.pred } };
      }),
    ).toThrow(/"unused" is trainable but the loss does not depend on it/);
    expect(() =>
      compileWith((g, b) => ({ loss: mul(b.loss, g.input('knob.raw', 'float32', [])), terms: {}, inference: { pred: b.pred } })),
    ).toThrow(/knob\.raw.*knob\(g, name, default\)/);
    expect(() =>
      compileWith((g, b) => ({ loss: mul(b.loss, add(knob(g, 'w1', 1), knob(g, 'w1', 2))), terms: {}, inference: { pred: b.pred } })),
    ).toThrow(/knob "w1" is declared twice/);
    expect(() =>
      compileWith((g, b) => {
        const extra = g.scope('opt', () => g.param('z', [1], 'ones'));
        return { loss: add(b.loss, reduceMean(extra)), terms: {}, inference: { pred: b.pred } };
      }),
    ).toThrow(/scope 'opt' is reserved/);
  });
});

describe('artifact hash and cache', () => {
  it('hashes plain data independently of key order, and refuses functions', () => {
    expect(artifactHash({ a: 1, b: [2, { c: 3 }] })).toBe(artifactHash({ b: [2, { c: 3 }], a: 1 }));
    expect(artifactHash({ a: 1 })).not.toBe(artifactHash({ a: 2 }));
    expect(artifactHash({ v: Float32Array.of(1, 2) })).toBe(artifactHash({ v: [1, 2] }));
    expect(() => artifactHash({ f: () => 1 })).toThrow(/cacheKey\.f holds a function/);
  });

  it('compiles once per key and reads the same artifacts back', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-cache-'));
    tmpDirs.push(dir);
    const builds = { count: 0 };
    const options = { optimizer: { kind: 'adamw' as const, lr: 0.01 }, cacheKey: { model: 'regression', hidden: 6 } };
    const first = await cachedTraining(dir, regression({ builds }), options);
    const second = await cachedTraining(dir, regression({ builds }), options);
    expect([first.hit, second.hit, builds.count]).toEqual([false, true, 1]);
    expect(second.artifacts.io).toEqual(first.artifacts.io);
    for (const k of ['trainStep', 'eval', 'inference'] as const) expect(Buffer.from(second.artifacts[k]).equals(Buffer.from(first.artifacts[k]))).toBe(true);
    expect([...second.artifacts.params.keys()]).toEqual([...first.artifacts.params.keys()]);
    for (const [k, v] of first.artifacts.params) expect(second.artifacts.params.get(k)).toEqual(v);
    const other = await cachedTraining(dir, regression({ builds }), { ...options, cacheKey: { model: 'regression', hidden: 7 } });
    expect(other.hit).toBe(false);
    expect((await readdir(dir)).sort()).toEqual([first.artifacts.io.hash, other.artifacts.io.hash].sort());
    await expect(cachedTraining(dir, regression(), { optimizer: options.optimizer })).rejects.toThrow(/cacheKey is required/);
  });
  it('compiles models that no seed changes, and draws the initial values of a seed as a graph built with it holds them', async () => {
    const spec = regression();
    const optimizer = { kind: 'adam' as const, lr: 0.01 };
    const one = compileTraining(spec, { optimizer, seed: 1 });
    const two = compileTraining(spec, { optimizer, seed: 2 });
    expect(two.io).toEqual(one.io);
    for (const k of ['trainStep', 'eval', 'inference'] as const) expect(Buffer.from(two[k]).equals(Buffer.from(one[k]))).toBe(true);
    expect(two.params.get('encoder.weight')).not.toEqual(one.params.get('encoder.weight'));
    for (const seed of [1, 2, 99]) {
      const g = new Graph({ seed });
      spec.build(g);
      const drawn = initialParams(one.io, seed);
      expect([...drawn.keys()]).toEqual(g.params.map((p) => p.name));
      for (const p of g.params) expect(Buffer.from((drawn.get(p.name) as Float32Array).buffer).equals(Buffer.from((p.value as Float32Array).buffer))).toBe(true);
    }
    const template = decodeModel(one.inference).graph;
    for (const t of template?.initializer.filter((i) => i.name.includes('.weight')) ?? []) expect(t.rawData.every((b) => b === 0)).toBe(true);
    expect(() => new Graph({ seed: null }).param('w', [2], 'xavierUniform').value).toThrow(/built without a seed/);
  });

  it('keeps one entry for every seed, and callers missing it at once compile it once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-cache-'));
    tmpDirs.push(dir);
    const builds = { count: 0 };
    const options = { optimizer: { kind: 'sgd' as const, lr: 0.1 }, cacheKey: { model: 'regression' } };
    const runs = await Promise.all([1, 2, 3].map((seed) => cachedTraining(dir, regression({ builds }), { ...options, seed })));
    expect(builds.count).toBe(1);
    expect(runs.map((r) => r.hit).sort()).toEqual([false, true, true]);
    expect(await readdir(dir)).toEqual([runs[0].artifacts.io.hash]);
    runs.forEach((r, i) => expect(r.artifacts.params).toEqual(initialParams(r.artifacts.io, i + 1)));
    expect(runs[1].artifacts.params.get('head.weight')).not.toEqual(runs[0].artifacts.params.get('head.weight'));
  });

  it('takes over the lock of a compilation whose process is gone, or which is far older than any compilation', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-cache-'));
    tmpDirs.push(dir);
    const options = { optimizer: { kind: 'sgd' as const, lr: 0.1 }, cacheKey: { model: 'regression', lock: true } };
    const hash = compileTraining(regression(), options).io.hash;
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await mkdir(path.join(dir, `.${hash}.lock`));
    await writeFile(path.join(dir, `.${hash}.lock`, 'pid'), dead.stdout);
    const r = await cachedTraining(dir, regression(), options);
    expect(r.hit).toBe(false);
    expect(await readdir(dir)).toEqual([hash]);
    const other = { ...options, cacheKey: { model: 'regression', lock: 'old' } };
    const otherHash = compileTraining(regression(), other).io.hash;
    const held = path.join(dir, `.${otherHash}.lock`);
    await mkdir(held);
    await writeFile(path.join(held, 'pid'), String(process.pid));
    const past = new Date(Date.now() - 120_000);
    await utimes(held, past, past);
    expect((await cachedTraining(dir, regression(), other)).hit).toBe(false);
    expect((await readdir(dir)).sort()).toEqual([hash, otherHash].sort());
  });
});

describe('TrainSession', () => {
  it('keeps frozen parameters fixed and updates the others', async () => {
    const a = compileTraining(regression({ freeze: true }), { optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.5 } });
    expect(a.io.trainStep.outputs).not.toContain('encoder.weight.next');
    expect(a.io.state.map((s) => s.param)).not.toContain('encoder.weight');
    const s = await TrainSession.create(a, { intraOpNumThreads: 1 });
    for (let i = 0; i < 3; i++) await s.step(feeds('float32', 8, i));
    const now = s.params();
    expect(now.get('encoder.weight')).toEqual(a.params.get('encoder.weight'));
    expect(now.get('head.weight')).not.toEqual(a.params.get('head.weight'));
    expect(s.stepCount).toBe(3);
    await s.release();
  });

  it('names missing and unknown batch inputs and knobs', async () => {
    const a = compileTraining(regression(), { optimizer: { kind: 'sgd', lr: 0.1 } });
    const s = await TrainSession.create(a, { intraOpNumThreads: 1 });
    const f = feeds('float32', 4, 3);
    await expect(s.step({ x: f.x, y: f.y })).rejects.toThrow(/the batch has no "aux"/);
    await expect(s.step({ ...f, z: f.x })).rejects.toThrow(/batch input "z" is not an input/);
    await expect(s.step(f, { learning_rate: 0.1 })).rejects.toThrow(/unknown knob "learning_rate"; knobs are lambda_aux, lr/);
    await expect(s.step(f, { lr: Number.NaN })).rejects.toThrow(/knob "lr" is NaN/);
    expect(s.stepCount).toBe(0);
    await s.release();
  });

  it('asking for CUDA without its provider libraries is an error that says how to install them', async () => {
    const a = compileTraining(regression(), { optimizer: { kind: 'sgd', lr: 0.1 } });
    const reason = cudaUnavailableReason();
    if (reason === null) {
      const s = await TrainSession.create(a, { executionProvider: 'cuda' });
      expect((await s.step(feeds('float32', 4, 1))).step).toBe(1);
      await s.release();
      return;
    }
    const attempt = TrainSession.create(a, { executionProvider: 'cuda' });
    await expect(attempt).rejects.toThrow(ExecutionProviderError);
    await expect(TrainSession.create(a, { executionProvider: 'cuda' })).rejects.toThrow(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);
    expect(reason).toMatch(/libonnxruntime_providers_(shared|cuda)\.so|onnxruntime_providers|only for Linux x64/);
  });
});
