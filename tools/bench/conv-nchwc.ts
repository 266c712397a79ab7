/**
 * @file Benchmark: the scene VAE's convolutions with their weights as graph inputs (as in a train step) against
 * the same with constant weights (as in the inference model), and onnxruntime's NCHWc convolution
 * (com.microsoft.nchwc Conv) fed a filter reordered inside the graph. Runnable alone:
 * `npx tsx tools/bench/conv-nchwc.ts [--runs N]`; one thread, process CPU ms per run, medians in turns.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { type OutputSpec, defineOp } from '../../graphs/op.js';
import { conv, convTranspose } from '../../graphs/ops/conv.js';
import { relu, sigmoid } from '../../graphs/ops/elementwise.js';
import { gemm } from '../../graphs/ops/matmul.js';
import { reshape, transpose } from '../../graphs/ops/shape.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';
import { median } from '../../pipeline/stats.js';

const NCHWC = 'com.microsoft.nchwc';
const BATCH = 32;

/** NCHW -> NCHWc: the channel axis padded to the block and moved innermost per block; the shape keeps 4 dims. */
const ReorderInput = defineOp<{ block: number }>({
  name: 'bench.ReorderInput',
  type: 'ReorderInput',
  domain: NCHWC,
  shape: ([x], a): OutputSpec[] => [{ dtype: x.dtype, shape: [x.shape[0], Math.ceil((x.shape[1] as number) / a.block) * a.block, x.shape[2], x.shape[3]] }],
});

const ReorderOutput = defineOp<{ channels: number }>({
  name: 'bench.ReorderOutput',
  type: 'ReorderOutput',
  domain: NCHWC,
  shape: ([x], a): OutputSpec[] => [{ dtype: x.dtype, shape: [x.shape[0], a.channels, x.shape[2], x.shape[3]] }],
  encode: (a) => ({ attributes: [{ name: 'channels', type: 'int', value: a.channels }] }),
});

const NchwcConv = defineOp<{ out: number; activation: string | null }>({
  name: 'bench.NchwcConv',
  type: 'Conv',
  domain: NCHWC,
  shape: ([x], a): OutputSpec[] => [{ dtype: x.dtype, shape: [x.shape[0], a.out, (x.shape[2] as number) / 2, (x.shape[3] as number) / 2] }],
  encode: (a) => ({
    attributes: [
      { name: 'kernel_shape', type: 'ints', value: [4, 4] },
      { name: 'strides', type: 'ints', value: [2, 2] },
      { name: 'pads', type: 'ints', value: [1, 1, 1, 1] },
      ...(a.activation === null ? [] : [{ name: 'activation', type: 'string' as const, value: a.activation }]),
    ],
  }),
});

/**
 * The filter in the layout MlasNchwcConv reads: OIHWBiBo ([O/B, I/B, kh, kw, Bi, Bo]) when the input is NCHWc,
 * OIHWBo ([O/B, I, kh, kw, Bo]) when the input stays NCHW (fewer input channels than the block).
 */
function nchwcFilter(w: Tensor, block: number): Tensor {
  const [o, i, kh, kw] = w.shape as number[];
  if (i < block) return reshape(transpose(reshape(w, [o / block, block, i, kh, kw]), [0, 2, 3, 4, 1]), [o, i, kh, kw]);
  return reshape(transpose(reshape(w, [o / block, block, i / block, block, kh, kw]), [0, 2, 4, 5, 3, 1]), [o, i, kh, kw]);
}

function nchwcConvRelu(x: Tensor, w: Tensor, b: Tensor, block: number): Tensor {
  const [o, i] = w.shape as number[];
  const input = i < block ? x : x.graph.apply(ReorderInput, [x], { block })[0];
  const y = x.graph.apply(NchwcConv, [input, nchwcFilter(w, block), b], { out: o, activation: 'Relu' })[0];
  return x.graph.apply(ReorderOutput, [y], { channels: o })[0];
}

function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * 0.1);
}

interface Case {
  name: string;
  session: ort.InferenceSession;
  feeds: Record<string, ort.Tensor>;
}

async function makeCase(name: string, build: (g: Graph, w: Float32Array, b: Float32Array) => Tensor, x: number[], wShape: number[], bLen: number): Promise<Case> {
  const g = new Graph();
  const wv = normals(wShape.reduce((p, q) => p * q, 1), 2);
  const bv = normals(bLen, 3);
  g.input('x', 'float32', x);
  const y = build(g, wv, bv);
  const model = encodeModel(toModel(g, { outputs: { y } }));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const all: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', normals(x.reduce((p, q) => p * q, 1), 1), x),
    w: new ort.Tensor('float32', wv, wShape),
    b: new ort.Tensor('float32', bv, [bLen]),
  };
  return { name, session, feeds: Object.fromEntries(session.inputNames.map((n) => [n, all[n]])) };
}

/** Runs the cases in turns; returns median CPU ms and the largest difference of each output from the first case's. */
async function timeCases(cases: Case[], runs: number): Promise<{ cpu: number; diff: number }[]> {
  const outs = await Promise.all(cases.map(async (c) => (await c.session.run(c.feeds)).y.data as Float32Array));
  const cpu = cases.map((): number[] => []);
  for (let r = 0; r < runs + 2; r++) {
    for (let k = 0; k < cases.length; k++) {
      const u0 = process.cpuUsage();
      await cases[k].session.run(cases[k].feeds);
      const u = process.cpuUsage(u0);
      if (r >= 2) cpu[k].push((u.user + u.system) / 1000);
    }
  }
  return cases.map((_, k) => ({ cpu: median(cpu[k]), diff: outs[k].reduce((m, v, i) => Math.max(m, Math.abs(v - outs[0][i])), 0) }));
}

/** onnxruntime's NCHWc block: the channel count ReorderInput pads 4 channels to. */
async function blockSize(): Promise<number> {
  const g = new Graph();
  const x = g.input('x', 'float32', [1, 4, 1, 1]);
  const session = await ort.InferenceSession.create(encodeModel(toModel(g, { outputs: { y: g.apply(ReorderInput, [x], { block: 1 })[0] } })));
  const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
  return out.y.dims[1];
}

export async function benchNchwc(runs = 15): Promise<string[]> {
  const block = await blockSize();
  const lines = [`NCHWc block ${block}; one thread, CPU ms per run, median of ${runs} in turns; max |difference| from the first row`];
  const layers = [
    { cin: 3, cout: 32, side: 64 },
    { cin: 32, cout: 64, side: 32 },
    { cin: 64, cout: 128, side: 16 },
  ];
  for (const l of layers) {
    const x = [BATCH, l.cin, l.side, l.side];
    const ws = [l.cout, l.cin, 4, 4];
    const cases = await Promise.all([
      makeCase('Conv+Relu, weight input', (g) => relu(conv(g.inputs[0], g.input('w', 'float32', ws), g.input('b', 'float32', [l.cout]), { stride: 2, pads: 1 })), x, ws, l.cout),
      makeCase('Conv+Relu, constant weight (NCHWc by the transformer)', (g, w, b) =>
        relu(conv(g.inputs[0], g.constant(Array.from(w), { shape: ws }), g.constant(Array.from(b), { shape: [l.cout] }), { stride: 2, pads: 1 })), x, ws, l.cout),
      makeCase('NCHWc Conv+Relu, filter reordered in the graph', (g) => nchwcConvRelu(g.inputs[0], g.input('w', 'float32', ws), g.input('b', 'float32', [l.cout]), block), x, ws, l.cout),
    ]);
    const t = await timeCases(cases, runs);
    lines.push(`conv ${l.cin}->${l.cout} @${l.side}:`);
    cases.forEach((c, k) => lines.push(`  ${c.name}: ${t[k].cpu.toFixed(2)} ms (diff ${t[k].diff.toExponential(1)})`));
  }
  for (const l of [
    { cin: 128, cout: 64, side: 8 },
    { cin: 64, cout: 32, side: 16 },
    { cin: 32, cout: 3, side: 32 },
  ]) {
    const x = [BATCH, l.cin, l.side, l.side];
    const ws = [l.cin, l.cout, 4, 4];
    const cases = await Promise.all([
      makeCase('ConvTranspose, weight input', (g) => convTranspose(g.inputs[0], g.input('w', 'float32', ws), g.input('b', 'float32', [l.cout]), { stride: 2, pads: 1 }), x, ws, l.cout),
      makeCase('ConvTranspose, constant weight (pre-transposed)', (g, w, b) =>
        convTranspose(g.inputs[0], g.constant(Array.from(w), { shape: ws }), g.constant(Array.from(b), { shape: [l.cout] }), { stride: 2, pads: 1 }), x, ws, l.cout),
    ]);
    const t = await timeCases(cases, runs);
    lines.push(`convTranspose ${l.cin}->${l.cout} @${l.side}:`);
    cases.forEach((c, k) => lines.push(`  ${c.name}: ${t[k].cpu.toFixed(2)} ms (diff ${t[k].diff.toExponential(1)})`));
  }
  return lines;
}

/**
 * The scene VAE's forward (64x64, 32/64/128, latent 16, the mean as the latent) with every weight a graph input:
 * the encoder's Conv+Relu either as standard Conv nodes or as NCHWc convolutions with in-graph filter reorders.
 */
async function vaeForward(nchwc: boolean, block: number): Promise<Case> {
  const g = new Graph();
  const feeds: Record<string, ort.Tensor> = {};
  let seed = 10;
  const param = (name: string, shape: number[]): Tensor => {
    feeds[name] = new ort.Tensor('float32', normals(shape.reduce((p, q) => p * q, 1), seed++), shape);
    return g.input(name, 'float32', shape);
  };
  const images = g.input('images', 'float32', [BATCH, 64, 64, 3]);
  feeds.images = new ort.Tensor('float32', normals(BATCH * 64 * 64 * 3, 1), [BATCH, 64, 64, 3]);
  let h = transpose(images, [0, 3, 1, 2]);
  let cin = 3;
  for (const [k, c] of [32, 64, 128].entries()) {
    const w = param(`enc${k}.w`, [c, cin, 4, 4]);
    const b = param(`enc${k}.b`, [c]);
    h = nchwc ? nchwcConvRelu(h, w, b, block) : relu(conv(h, w, b, { stride: 2, pads: 1 }));
    cin = c;
  }
  const mean = gemm(reshape(h, [BATCH, 128 * 64]), param('mean.w', [128 * 64, 16]), param('mean.b', [16]));
  h = reshape(gemm(mean, param('fc.w', [16, 128 * 64]), param('fc.b', [128 * 64])), [BATCH, 128, 8, 8]);
  for (const [k, c] of [64, 32, 3].entries()) {
    h = convTranspose(relu(h), param(`dec${k}.w`, [cin, c, 4, 4]), param(`dec${k}.b`, [c]), { stride: 2, pads: 1 });
    cin = c;
  }
  const y = transpose(sigmoid(h), [0, 2, 3, 1]);
  const session = await ort.InferenceSession.create(encodeModel(toModel(g, { outputs: { y } })), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  return { name: nchwc ? 'VAE forward, NCHWc encoder (filters reordered in the graph)' : 'VAE forward, standard Conv', session, feeds };
}

export async function benchVaeForward(runs = 15): Promise<string[]> {
  const block = await blockSize();
  const cases = [await vaeForward(false, block), await vaeForward(true, block)];
  const t = await timeCases(cases, runs);
  return cases.map((c, k) => `${c.name}: ${t[k].cpu.toFixed(2)} ms (diff ${t[k].diff.toExponential(1)})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 15;
  for (const line of [...(await benchNchwc(runs)), ...(await benchVaeForward(runs))]) console.log(line);
}
