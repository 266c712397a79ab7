/** @file Benchmark: a GRU unrolled in the graph against the same GRU as ONNX Scan loops (forward and generated backward). */

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { create } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { AttributeProtoSchema, AttributeProto_AttributeType, type GraphProto, type ModelProto } from 'onnx-buf';
import { compileTraining } from '../../graphs/artifacts.js';
import { gradients } from '../../graphs/autodiff.js';
import { Graph } from '../../graphs/graph.js';
import { linear } from '../../graphs/layers/linear.js';
import { type RecurrentWeights, recurrentSequence, recurrentStep, recurrentWeights } from '../../graphs/layers/recurrent.js';
import { type OutputSpec, defineOp } from '../../graphs/op.js';
import { add, identity, sum } from '../../graphs/ops/elementwise.js';
import { gemm, matmul } from '../../graphs/ops/matmul.js';
import { softmaxCrossEntropy } from '../../graphs/ops/nn.js';
import { concat, slice, transpose, unsqueeze, zerosLike } from '../../graphs/ops/shape.js';
import { Runner } from '../../graphs/runner.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { TrainSession } from '../../graphs/train-session.js';

export interface RecurrenceBenchOptions {
  batch?: number;
  steps?: number;
  hidden?: number;
  features?: number;
  classes?: number;
  /** onnxruntime intra-op threads (default 2). */
  threads?: number;
  /** Timed runs per measurement, after warm-up; the best is reported (default 15). */
  runs?: number;
  /** Compile rounds per form; the best CPU time of each phase is reported (default 3). */
  repeats?: number;
  /** onnxruntime graph optimization level of every session (default 'all'). */
  level?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** Timings and sizes of one form of the recurrence. */
export interface FormResult {
  /** Nodes of the forward + backward model. */
  nodes: number;
  /** CPU milliseconds of each compile phase; run times are the best wall-clock milliseconds. */
  build_ms: number;
  autodiff_ms: number;
  serialize_ms: number;
  session_ms: number;
  forward_ms: number;
  forward_backward_ms: number;
}

/** A form's timings and one run of its training model, for comparing the forms' numbers. */
interface FormRun {
  result: FormResult;
  outputs: Record<string, Float32Array>;
}

export interface RecurrenceBenchResult {
  config: Required<RecurrenceBenchOptions>;
  unrolled: FormResult;
  scan: FormResult;
  /** compileTraining (GRU student, Adam) plus TrainSession creation: the real compile path, CPU seconds. */
  compile_seconds: number;
  /** The same in wall-clock seconds (inflated when the machine is shared). */
  compile_wall_seconds: number;
  /** One training step (forward, backward, Adam) of the compiled student. */
  train_step_ms: number;
  /** Recurrent weight gradient over all steps: T per-step Gemms summed by one Sum node, vs Concat + one Gemm. */
  weight_grad_sum_ms: number;
  weight_grad_concat_ms: number;
  /** Largest difference between the two forms' loss and gradients on the same batch, relative to each output's largest magnitude. */
  forms_max_rel_diff: number;
}

/**
 * Process CPU milliseconds since `start` (from process.cpuUsage()). Building, differentiating, serializing and
 * creating a session are single-threaded, so their CPU time is what they cost on an idle machine, whatever else
 * the shared machine runs.
 */
function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** Best wall-clock time of `runs` runs after warm-up: the least disturbed by other load. */
async function bestMs(run: () => Promise<unknown>, runs: number): Promise<number> {
  for (let i = 0; i < 3; i++) await run();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await run();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

function randomFeeds(inputs: readonly Tensor[], batch: number, classes: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  let seed = 1;
  for (const t of inputs) {
    const dims = t.shape.map((d) => (typeof d === 'number' ? d : batch));
    const n = dims.reduce((a, b) => a * b, 1);
    if (t.dtype === 'int64') feeds[t.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % classes)), dims);
    else if (t.kind === 'param') feeds[t.name] = new ort.Tensor('float32', Float32Array.from(t.value as Float32Array), dims);
    else if (t.name === 'h0') feeds[t.name] = new ort.Tensor('float32', new Float32Array(n), dims);
    else {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        data[i] = seed / 2 ** 32 - 0.5;
      }
      feeds[t.name] = new ort.Tensor('float32', data, dims);
    }
  }
  return feeds;
}

/** Leaves (inputs and parameters) a set of outputs needs, data inputs first. */
function modelInputs(g: Graph, outputs: readonly Tensor[]): Tensor[] {
  const ids = new Set<number>();
  const stack = [...outputs];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const t = stack.pop() as Tensor;
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    if (t.producer) stack.push(...t.producer.inputs);
    else if (t.kind === 'input' || t.kind === 'param') ids.add(t.id);
  }
  return [...g.inputs, ...g.params].filter((t) => ids.has(t.id));
}

interface Measured {
  g: Graph;
  forward: Record<string, Tensor>;
  training: Record<string, Tensor>;
  build_ms: number;
  autodiff_ms: number;
  /** Model inputs, when loop bodies read parameters the enclosing graph does not otherwise use. */
  forwardInputs?: Tensor[];
  trainingInputs?: Tensor[];
  patch?: (m: ModelProto) => void;
}

/** A form compiled into sessions, with the CPU cost of each compile phase. */
interface Prepared {
  compile: Omit<FormResult, 'forward_ms' | 'forward_backward_ms'>;
  forward: Runner;
  training: Runner;
  forwardFeeds: Record<string, ort.Tensor>;
  trainingFeeds: Record<string, ort.Tensor>;
}

/**
 * Builds, differentiates, serializes and loads a form `repeats` times and keeps the best CPU time of each phase
 * (the first round pays for JIT warm-up), and the sessions of the last round.
 */
async function prepareForm(make: () => Measured, cfg: Required<RecurrenceBenchOptions>, repeats: number): Promise<Prepared> {
  let prepared: Prepared | null = null;
  for (let r = 0; r < repeats; r++) {
    const m = make();
    let t = process.cpuUsage();
    const trainModel = toModel(m.g, { outputs: m.training, paramsAs: 'inputs', inputs: m.trainingInputs });
    m.patch?.(trainModel);
    const trainBytes = encodeModel(trainModel);
    const serialize_ms = cpuMs(t);
    const fwdModel = toModel(m.g, { outputs: m.forward, paramsAs: 'inputs', inputs: m.forwardInputs });
    m.patch?.(fwdModel);
    const opts = { graphOptimizationLevel: cfg.level, intraOpNumThreads: cfg.threads };
    t = process.cpuUsage();
    const training = await Runner.create(trainBytes, opts);
    const session_ms = cpuMs(t);
    const forward = await Runner.create(encodeModel(fwdModel), opts);
    const compile = { nodes: trainModel.graph?.node.length ?? 0, build_ms: m.build_ms, autodiff_ms: m.autodiff_ms, serialize_ms, session_ms };
    if (prepared) {
      await prepared.forward.dispose();
      await prepared.training.dispose();
      for (const k of ['build_ms', 'autodiff_ms', 'serialize_ms', 'session_ms'] as const) compile[k] = Math.min(compile[k], prepared.compile[k]);
    }
    prepared = {
      compile,
      forward,
      training,
      forwardFeeds: randomFeeds(m.forwardInputs ?? modelInputs(m.g, Object.values(m.forward)), cfg.batch, cfg.classes),
      trainingFeeds: randomFeeds(m.trainingInputs ?? modelInputs(m.g, Object.values(m.training)), cfg.batch, cfg.classes),
    };
  }
  return prepared as Prepared;
}

/**
 * Times the forms' forward and training models in turns (one run of each per round), so load from other
 * processes falls on all of them alike; keeps the best of each.
 */
async function timeForms(forms: readonly Prepared[], runs: number): Promise<FormRun[]> {
  const sessions = forms.flatMap((f) => [
    () => f.forward.run(f.forwardFeeds),
    () => f.training.run(f.trainingFeeds),
  ]);
  for (let i = 0; i < 3; i++) for (const run of sessions) await run();
  const best = sessions.map(() => Infinity);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < sessions.length; k++) {
      const t = performance.now();
      await sessions[k]();
      best[k] = Math.min(best[k], performance.now() - t);
    }
  }
  const results: FormRun[] = [];
  for (let i = 0; i < forms.length; i++) {
    const f = forms[i];
    const out = await f.training.run(f.trainingFeeds);
    await f.forward.dispose();
    await f.training.dispose();
    results.push({
      result: { ...f.compile, forward_ms: best[2 * i], forward_backward_ms: best[2 * i + 1] },
      outputs: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array])),
    });
  }
  return results;
}

function maxRelativeDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let worst = 0;
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    if (!y || y.length !== x.length) return Infinity;
    let diff = 0;
    let scale = 1e-12;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

function unrolledForm(cfg: Required<RecurrenceBenchOptions>): Measured {
  let t = process.cpuUsage();
  const g = new Graph({ seed: 1 });
  const x = g.input('x', 'float32', ['batch', cfg.steps, cfg.features]);
  const y = g.input('y', 'int64', ['batch']);
  const { last } = recurrentSequence('gru', x, { hidden: cfg.hidden, returnSequence: false });
  const logits = linear('readout', last, cfg.classes);
  const loss = softmaxCrossEntropy(logits, y);
  const build_ms = cpuMs(t);
  t = process.cpuUsage();
  const grads = gradients(loss, g.params);
  const autodiff_ms = cpuMs(t);
  const training: Record<string, Tensor> = { loss };
  g.params.forEach((p, i) => (training[`${p.name}.grad`] = grads[i]));
  return { g, forward: { logits }, training, build_ms, autodiff_ms };
}

/** A node whose ONNX form is a Scan; its `body` attribute is attached after serialization. */
const ScanLoop = defineOp<{ outputs: OutputSpec[]; scanInputs: number; reverse: boolean; id: string }>({
  name: 'BenchScan',
  type: 'Scan',
  shape: (_inputs, a) => a.outputs,
  encode: (a) => ({
    attributes: [
      { name: 'num_scan_inputs', type: 'int', value: a.scanInputs },
      ...(a.reverse
        ? [
            { name: 'scan_input_directions', type: 'ints' as const, value: new Array<number>(a.scanInputs).fill(1) },
            { name: 'scan_output_directions', type: 'ints' as const, value: [1] },
          ]
        : []),
    ],
  }),
});

/**
 * Serializes a loop body. Parameters are left out so the body reads them from the enclosing graph by name;
 * every other name gets the body's prefix so it cannot collide with the enclosing graph's names.
 */
function bodyProto(g: Graph, inputs: Tensor[], outputs: Record<string, Tensor>, prefix: string): GraphProto {
  const graph = toModel(g, { outputs, inputs, paramsAs: 'initializers' }).graph as GraphProto;
  const params = new Set(g.params.map((p) => p.name));
  graph.initializer = graph.initializer.filter((t) => !params.has(t.name));
  const local = new Set<string>([...graph.input.map((v) => v.name), ...graph.initializer.map((t) => t.name), ...graph.node.flatMap((n) => n.output)]);
  const rename = (n: string): string => (local.has(n) ? `${prefix}${n}` : n);
  for (const v of [...graph.input, ...graph.output]) v.name = rename(v.name);
  for (const t of graph.initializer) t.name = rename(t.name);
  for (const n of graph.node) {
    n.input = n.input.map(rename);
    n.output = n.output.map(rename);
    n.name = `${prefix}${n.name}`;
  }
  return graph;
}

/** The GRU's recurrent weights in a body graph, named as in the enclosing graph. */
function bodyWeights(g: Graph, cfg: Required<RecurrenceBenchOptions>): RecurrentWeights {
  return g.scope('rnn', () => g.scope('layer0', () => recurrentWeights(g, 'gru', cfg.features, cfg.hidden)));
}

function scanForm(cfg: Required<RecurrenceBenchOptions>): Measured {
  const H = cfg.hidden;
  let t = process.cpuUsage();
  const fb = new Graph({ seed: 1 });
  const fh = fb.input('h', 'float32', ['batch', H]);
  const fxp = fb.input('xp', 'float32', ['batch', 3 * H]);
  const fnext = recurrentStep('gru', fxp, { h: fh }, bodyWeights(fb, cfg)).h;
  const forwardBody = bodyProto(fb, [fh, fxp], { h_next: fnext, h_out: identity(fnext) }, 'fwd/');

  const g = new Graph({ seed: 1 });
  const x = g.input('x', 'float32', ['batch', cfg.steps, cfg.features]);
  const y = g.input('y', 'int64', ['batch']);
  const h0 = g.input('h0', 'float32', ['batch', H]);
  const w = bodyWeights(g, cfg);
  const xp = add(matmul(transpose(x, [1, 0, 2]), w.wIh), w.bIh);
  const [hT, hs] = g.apply(
    ScanLoop,
    [h0, xp],
    {
      outputs: [
        { dtype: 'float32', shape: ['batch', H] },
        { dtype: 'float32', shape: [cfg.steps, 'batch', H] },
      ],
      scanInputs: 1,
      reverse: false,
      id: 'forward',
    },
  );
  const logits = linear('readout', hT, cfg.classes);
  const loss = softmaxCrossEntropy(logits, y);
  const build_ms = cpuMs(t);

  t = process.cpuUsage();
  const readout = g.params.filter((p) => p.name.startsWith('readout.'));
  const [dhT, ...dReadout] = gradients(loss, [hT, ...readout]);
  const bb = new Graph({ seed: 1 });
  const dh = bb.input('dh', 'float32', ['batch', H]);
  const dwAcc = bb.input('dw_acc', 'float32', [H, 3 * H]);
  const dbAcc = bb.input('db_acc', 'float32', [3 * H]);
  const hPrev = bb.input('h_prev', 'float32', ['batch', H]);
  const bxp = bb.input('xp', 'float32', ['batch', 3 * H]);
  const bw = bodyWeights(bb, cfg);
  const recomputed = recurrentStep('gru', bxp, { h: hPrev }, bw).h;
  const [dhPrev, dxp, dw, db] = gradients(recomputed, [hPrev, bxp, bw.wHh, bw.bHh], { gradOutput: dh });
  const backwardBody = bodyProto(
    bb,
    [dh, dwAcc, dbAcc, hPrev, bxp],
    { dh_prev: dhPrev, dw_next: add(dwAcc, dw), db_next: add(dbAcc, db), dxp_out: identity(dxp) },
    'bwd/',
  );
  const previous = concat([unsqueeze(h0, 0), slice(hs, [0], [cfg.steps - 1], [0])], 0);
  const [, dWhh, dbhh, dxpAll] = g.apply(
    ScanLoop,
    [dhT, zerosLike(w.wHh), zerosLike(w.bHh), previous, xp],
    {
      outputs: [
        { dtype: 'float32', shape: ['batch', H] },
        { dtype: 'float32', shape: [H, 3 * H] },
        { dtype: 'float32', shape: [3 * H] },
        { dtype: 'float32', shape: [cfg.steps, 'batch', 3 * H] },
      ],
      scanInputs: 2,
      reverse: true,
      id: 'backward',
    },
  );
  const [dWih, dbih] = gradients(xp, [w.wIh, w.bIh], { gradOutput: dxpAll });
  const autodiff_ms = cpuMs(t);

  const training: Record<string, Tensor> = {
    loss,
    'rnn.layer0.w_ih.grad': dWih,
    'rnn.layer0.b_ih.grad': dbih,
    'rnn.layer0.w_hh.grad': dWhh,
    'rnn.layer0.b_hh.grad': dbhh,
  };
  readout.forEach((p, i) => (training[`${p.name}.grad`] = dReadout[i]));
  const bodies = new Map([
    [hT.producer?.name as string, forwardBody],
    [dWhh.producer?.name as string, backwardBody],
  ]);
  const patch = (m: ModelProto): void => {
    for (const n of m.graph?.node ?? []) {
      const body = bodies.get(n.name);
      if (body) n.attribute.push(create(AttributeProtoSchema, { name: 'body', type: AttributeProto_AttributeType.GRAPH, g: body }));
    }
  };
  return {
    g,
    forward: { logits },
    training,
    build_ms,
    autodiff_ms,
    forwardInputs: [x, h0, ...g.params],
    trainingInputs: [x, y, h0, ...g.params],
    patch,
  };
}

/**
 * Weight gradient of a shared [H, 3H] matrix from T steps: per-step Gemms summed by one Sum node, or one Gemm
 * over the concatenated steps; timed in turns, best of `runs`.
 */
async function weightGradForms(cfg: Required<RecurrenceBenchOptions>): Promise<{ sum: number; concat: number }> {
  const H = cfg.hidden;
  const runners: { runner: Runner; feeds: Record<string, ort.Tensor> }[] = [];
  for (const form of ['sum', 'concat'] as const) {
    const g = new Graph();
    const hs: Tensor[] = [];
    const gs: Tensor[] = [];
    for (let t = 0; t < cfg.steps; t++) {
      hs.push(g.input(`h${t}`, 'float32', [cfg.batch, H]));
      gs.push(g.input(`g${t}`, 'float32', [cfg.batch, 3 * H]));
    }
    const dw = form === 'sum' ? sum(hs.map((h, t) => gemm(h, gs[t], null, { transA: true }))) : gemm(concat(hs, 0), concat(gs, 0), null, { transA: true });
    const runner = await Runner.create(encodeModel(toModel(g, { outputs: { dw } })), { graphOptimizationLevel: cfg.level, intraOpNumThreads: cfg.threads });
    runners.push({ runner, feeds: randomFeeds([...hs, ...gs], cfg.batch, cfg.classes) });
  }
  const best = [Infinity, Infinity];
  for (let r = 0; r < cfg.runs + 3; r++) {
    for (let k = 0; k < 2; k++) {
      const t = performance.now();
      await runners[k].runner.run(runners[k].feeds);
      if (r >= 3) best[k] = Math.min(best[k], performance.now() - t);
    }
  }
  for (const { runner } of runners) await runner.dispose();
  return { sum: best[0], concat: best[1] };
}

/** Measures both forms, the compiled training step, and the two ways to sum the recurrent weight gradient. */
export async function benchRecurrence(options: RecurrenceBenchOptions = {}): Promise<RecurrenceBenchResult> {
  const cfg: Required<RecurrenceBenchOptions> = {
    batch: options.batch ?? 64,
    steps: options.steps ?? 100,
    hidden: options.hidden ?? 128,
    features: options.features ?? 16,
    classes: options.classes ?? 2,
    threads: options.threads ?? 2,
    runs: options.runs ?? 15,
    repeats: options.repeats ?? 3,
    level: options.level ?? 'all',
  };
  const [unrolled, scan] = await timeForms(
    [await prepareForm(() => unrolledForm(cfg), cfg, cfg.repeats), await prepareForm(() => scanForm(cfg), cfg, cfg.repeats)],
    cfg.runs,
  );
  const forms_max_rel_diff = maxRelativeDiff(unrolled.outputs, scan.outputs);

  const t = process.cpuUsage();
  const wall = performance.now();
  const artifacts = compileTraining(
    {
      build(g) {
        const x = g.input('x', 'float32', ['batch', cfg.steps, cfg.features]);
        const y = g.input('y', 'int64', ['batch']);
        const { last } = recurrentSequence('gru', x, { hidden: cfg.hidden, returnSequence: false });
        const logits = linear('readout', last, cfg.classes);
        const loss = softmaxCrossEntropy(logits, y);
        return { loss, terms: { task: loss }, inference: { logits } };
      },
    },
    { optimizer: { kind: 'adam', lr: 1e-3 }, seed: 1 },
  );
  const session = await TrainSession.create(artifacts, { intraOpNumThreads: cfg.threads, graphOptimizationLevel: cfg.level });
  const compile_seconds = cpuMs(t) / 1000;
  const compile_wall_seconds = (performance.now() - wall) / 1000;
  const dims = [cfg.batch, cfg.steps, cfg.features];
  const batch = {
    x: new ort.Tensor('float32', Float32Array.from({ length: cfg.batch * cfg.steps * cfg.features }, (_, i) => Math.sin(i)), dims),
    y: new ort.Tensor('int64', BigInt64Array.from({ length: cfg.batch }, (_, i) => BigInt(i % cfg.classes)), [cfg.batch]),
  };
  const train_step_ms = await bestMs(() => session.step(batch), cfg.runs);
  await session.release();
  const wg = await weightGradForms(cfg);
  return {
    config: cfg,
    unrolled: unrolled.result,
    scan: scan.result,
    compile_seconds,
    compile_wall_seconds,
    train_step_ms,
    weight_grad_sum_ms: wg.sum,
    weight_grad_concat_ms: wg.concat,
    forms_max_rel_diff,
  };
}

function table(r: RecurrenceBenchResult): string {
  const c = r.config;
  const rows: [string, keyof FormResult, number][] = [
    ['nodes (forward + backward)', 'nodes', 0],
    ['build ms', 'build_ms', 1],
    ['autodiff ms', 'autodiff_ms', 1],
    ['serialize ms', 'serialize_ms', 1],
    ['session creation ms', 'session_ms', 1],
    ['forward ms', 'forward_ms', 2],
    ['forward + backward ms', 'forward_backward_ms', 2],
  ];
  const lines = [
    `GRU, ${c.steps} steps, batch ${c.batch}, hidden ${c.hidden}, ${c.features} features, ${c.classes} classes, ${c.threads} threads, optimization '${c.level}' (compile phases in CPU ms, runs best of ${c.runs})`,
    `${'measure'.padEnd(28)}${'unrolled'.padStart(12)}${'Scan'.padStart(12)}`,
    ...rows.map(([label, key, digits]) => `${label.padEnd(28)}${r.unrolled[key].toFixed(digits).padStart(12)}${r.scan[key].toFixed(digits).padStart(12)}`),
    `the two forms' loss and gradients agree to ${r.forms_max_rel_diff.toExponential(1)} (relative)`,
    `compile (compileTraining + session), unrolled GRU student: ${r.compile_seconds.toFixed(2)} s CPU, ${r.compile_wall_seconds.toFixed(2)} s wall`,
    `training step (forward, backward, Adam): ${r.train_step_ms.toFixed(2)} ms`,
    `w_hh gradient over ${c.steps} steps: Sum of Gemms ${r.weight_grad_sum_ms.toFixed(2)} ms, Concat + one Gemm ${r.weight_grad_concat_ms.toFixed(2)} ms`,
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--level');
  const r = await benchRecurrence(at > 0 ? { level: process.argv[at + 1] as RecurrenceBenchOptions['level'] } : {});
  console.log(table(r));
  const line = (bench: string, value: number, unit: string) => console.log(JSON.stringify({ bench, value, unit }));
  for (const form of ['unrolled', 'scan'] as const) {
    const f = r[form];
    line(`gru_${form}_nodes`, f.nodes, 'nodes');
    line(`gru_${form}_compile_ms`, f.build_ms + f.autodiff_ms + f.serialize_ms + f.session_ms, 'ms');
    line(`gru_${form}_forward_ms`, f.forward_ms, 'ms');
    line(`gru_${form}_forward_backward_ms`, f.forward_backward_ms, 'ms');
  }
  line('gru_compile_seconds', r.compile_seconds, 's');
  line('gru_train_step_ms', r.train_step_ms, 'ms');
}
