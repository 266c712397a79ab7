/**
 * @file Benchmark: formulations of a convolution's weight gradient and of the unfold (im2col) it reads, on the
 * scene VAE's encoder layers, each as its own onnxruntime graph. Runnable alone:
 * `npx tsx tools/bench/conv-grad.ts [--threads N] [--runs N]` prints one row per formulation and layer.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../graphs/graph.js';
import { Rng } from '../../graphs/init.js';
import { conv } from '../../graphs/ops/conv.js';
import { gemm, matmul } from '../../graphs/ops/matmul.js';
import { reduceSum } from '../../graphs/ops/reduce.js';
import { concat, gather, pad, reshape, slice, transpose, unsqueeze } from '../../graphs/ops/shape.js';
import { encodeModel, toModel } from '../../graphs/serialize.js';
import type { Tensor } from '../../graphs/tensor.js';

/** One encoder layer: input channels, output channels, input side; kernel 4, stride 2, pads 1 as in the VAE. */
interface Layer {
  cin: number;
  cout: number;
  side: number;
}

const LAYERS: Layer[] = [
  { cin: 3, cout: 32, side: 64 },
  { cin: 32, cout: 64, side: 32 },
  { cin: 64, cout: 128, side: 16 },
];
const BATCH = 32;
const K = 4;
const S = 2;
const P = 1;

/** Sizes every formulation derives from a layer. */
interface Dims {
  n: number;
  cin: number;
  cout: number;
  side: number;
  out: number;
  positions: number;
  rows: number;
}

const dimsOf = (l: Layer): Dims => {
  const out = l.side / S;
  return { n: BATCH, cin: l.cin, cout: l.cout, side: l.side, out, positions: out * out, rows: l.cin * K * K };
};

function oneHot(kernels: number, taps: number, perKernel: number): number[] {
  const eye = new Array<number>(kernels * taps).fill(0);
  for (let k = 0; k < kernels; k++) eye[k * taps + (k % perKernel)] = 1;
  return eye;
}

/** Unfold as one Conv over every channel as its own image: [N, C, H, W] -> [N, C*16, positions]. */
function unfoldPerChannel(x: Tensor, d: Dims): Tensor {
  const kernels = x.graph.constant(oneHot(K * K, K * K, K * K), { dtype: 'float32', shape: [K * K, 1, K, K] });
  return reshape(conv(reshape(x, [-1, 1, d.side, d.side]), kernels, null, { stride: S, pads: P }), [d.n, d.rows, d.positions]);
}

/** Unfold as a depthwise Conv with 16 one-hot kernels per channel. */
function unfoldDepthwise(x: Tensor, d: Dims): Tensor {
  const kernels = x.graph.constant(oneHot(d.cin * K * K, K * K, K * K), { dtype: 'float32', shape: [d.cin * K * K, 1, K, K] });
  return reshape(conv(x, kernels, null, { stride: S, pads: P, groups: d.cin }), [d.n, d.rows, d.positions]);
}

/** Unfold by rows then by columns, two depthwise Convs with 4 one-hot kernels per channel. */
function unfoldTwoPass(x: Tensor, d: Dims): Tensor {
  const g = x.graph;
  const rows = conv(x, g.constant(oneHot(d.cin * K, K, K), { dtype: 'float32', shape: [d.cin * K, 1, K, 1] }), null, {
    stride: [S, 1],
    pads: [P, 0, P, 0],
    groups: d.cin,
  });
  const cols = conv(rows, g.constant(oneHot(d.cin * K * K, K, K), { dtype: 'float32', shape: [d.cin * K * K, 1, 1, K] }), null, {
    stride: [1, S],
    pads: [0, P, 0, P],
    groups: d.cin * K,
  });
  return reshape(cols, [d.n, d.rows, d.positions]);
}

/** Unfold as 16 strided Slices of the padded input, stacked by Concat. */
function unfoldSlices(x: Tensor, d: Dims): Tensor {
  const padded = pad(x, [0, 0, P, P, 0, 0, P, P]);
  const taps: Tensor[] = [];
  const end = (d.out - 1) * S + 1;
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) taps.push(unsqueeze(slice(padded, [i, j], [i + end, j + end], [2, 3], [S, S]), 2));
  return reshape(concat(taps, 2), [d.n, d.rows, d.positions]);
}

/** Weight gradient [cout, cin, 4, 4] from the unfolded patches [N, cin*16, positions]. */
const fromPatches = {
  transposeBoth: (cols: Tensor, gy: Tensor, d: Dims) => {
    const patches = transpose(reshape(cols, [d.n, 1, d.rows, d.positions]), [1, 0, 3, 2]);
    const grads = transpose(reshape(gy, [d.n, 1, d.cout, d.positions]), [1, 2, 0, 3]);
    return reshape(matmul(reshape(grads, [1, d.cout, -1]), reshape(patches, [1, -1, d.rows])), [d.cout, d.cin, K, K]);
  },
  moveAxis: (cols: Tensor, gy: Tensor, d: Dims) => {
    const patches = reshape(transpose(cols, [1, 0, 2]), [d.rows, -1]);
    const grads = reshape(transpose(reshape(gy, [d.n, d.cout, d.positions]), [0, 2, 1]), [-1, d.cout]);
    return reshape(transpose(matmul(patches, grads), [1, 0]), [d.cout, d.cin, K, K]);
  },
  perSample: (cols: Tensor, gy: Tensor, d: Dims) => {
    const grads = transpose(reshape(gy, [d.n, d.cout, d.positions]), [0, 2, 1]);
    return reshape(transpose(reduceSum(matmul(cols, grads), [0]), [1, 0]), [d.cout, d.cin, K, K]);
  },
};

type Build = (x: Tensor, gy: Tensor, d: Dims) => Tensor;

const WEIGHT_GRADS: [string, Build][] = [
  ['unfold, patches transposed to [positions*N, K] (two-axis swap), MatMul', (x, gy, d) => fromPatches.transposeBoth(unfoldDepthwise(x, d), gy, d)],
  ['unfold, patches moved to [K, N*positions] (one-axis move), MatMul', (x, gy, d) => fromPatches.moveAxis(unfoldPerChannel(x, d), gy, d)],
  ['unfold, per-sample patches times gy transposed, ReduceSum over N', (x, gy, d) => fromPatches.perSample(unfoldPerChannel(x, d), gy, d)],
  [
    'Conv over swapped axes (gy as the kernel, dilation 2)',
    (x, gy, d) => {
      const out = conv(transpose(x, [1, 0, 2, 3]), transpose(gy, [1, 0, 2, 3]), null, { pads: P, dilation: S });
      return transpose(slice(out, [0, 0], [K, K], [2, 3]), [1, 0, 2, 3]);
    },
  ],
  [
    'NHWC: 16 strided Slices, Concat, Gemm transA',
    (x, gy, d) => {
      const padded = pad(transpose(x, [0, 2, 3, 1]), [0, P, P, 0, 0, P, P, 0]);
      const taps: Tensor[] = [];
      const end = (d.out - 1) * S + 1;
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) taps.push(slice(padded, [i, j], [i + end, j + end], [1, 2], [S, S]));
      const cols = reshape(concat(taps, 3), [-1, d.rows]);
      const dw = gemm(cols, reshape(transpose(gy, [0, 2, 3, 1]), [-1, d.cout]), null, { transA: true });
      return transpose(reshape(dw, [K, K, d.cin, d.cout]), [3, 2, 0, 1]);
    },
  ],
  [
    'Gather of [H*W, N*C] rows by tap and position, MatMul over taps',
    (x, gy, d) => {
      const hp = d.side + 2 * P;
      const rows = transpose(reshape(pad(x, [0, 0, P, P, 0, 0, P, P]), [d.n * d.cin, hp * hp]), [1, 0]);
      const idx: number[] = [];
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let a = 0; a < d.out; a++) for (let b = 0; b < d.out; b++) idx.push((a * S + i) * hp + b * S + j);
      const patches = reshape(gather(rows, idx, 0), [K * K, -1, d.cin]);
      const grads = reshape(transpose(reshape(gy, [d.n, d.cout * d.positions]), [1, 0]), [1, d.cout, -1]);
      return transpose(reshape(matmul(grads, patches), [K, K, d.cout, d.cin]), [2, 3, 0, 1]);
    },
  ],
];

const UNFOLDS: [string, (x: Tensor, d: Dims) => Tensor][] = [
  ['one Conv over [N*C, 1, H, W] with 16 one-hot kernels', unfoldPerChannel],
  ['depthwise Conv, 16 one-hot kernels per channel', unfoldDepthwise],
  ['rows then columns, two depthwise Convs', unfoldTwoPass],
  ['16 strided Slices + Concat', unfoldSlices],
];

function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Median process CPU milliseconds of a one-output graph over `runs` runs, and its output. */
async function timeGraph(g: Graph, out: Tensor, feeds: Record<string, ort.Tensor>, threads: number, runs: number): Promise<{ ms: number; value: Float32Array }> {
  const session = await ort.InferenceSession.create(encodeModel(toModel(g, { outputs: { out } })), { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  let value: Float32Array = new Float32Array(0);
  for (let i = 0; i < 2; i++) value = (await session.run(feeds)).out.data as Float32Array;
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    await session.run(feeds);
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1000);
  }
  await session.release();
  cpu.sort((a, b) => a - b);
  return { ms: cpu[cpu.length >> 1], value };
}

function maxRelativeError(a: Float32Array, ref: Float32Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return err / scale;
}

export interface ConvGradRow {
  kind: 'weight-grad' | 'unfold';
  formulation: string;
  layer: string;
  ms: number;
  /** Largest difference from the first formulation's result over its largest magnitude (weight gradients only). */
  relError?: number;
}

/** Times every formulation on every layer; the unfolds' outputs are summed so that no copy out is timed. */
export async function benchConvGrad(options: { threads?: number; runs?: number } = {}): Promise<ConvGradRow[]> {
  const threads = options.threads ?? 1;
  const runs = options.runs ?? 15;
  const rows: ConvGradRow[] = [];
  for (const layer of LAYERS) {
    const d = dimsOf(layer);
    const name = `${d.cin}->${d.cout} @${d.side}`;
    const xShape = [d.n, d.cin, d.side, d.side];
    const gyShape = [d.n, d.cout, d.out, d.out];
    const feeds = { x: new ort.Tensor('float32', normals(xShape.reduce((a, b) => a * b), 1), xShape), gy: new ort.Tensor('float32', normals(gyShape.reduce((a, b) => a * b), 2), gyShape) };
    let reference: Float32Array | null = null;
    for (const [formulation, build] of WEIGHT_GRADS) {
      const g = new Graph({ floatType: 'float32' });
      const out = build(g.input('x', 'float32', xShape), g.input('gy', 'float32', gyShape), d);
      const r = await timeGraph(g, out, feeds, threads, runs);
      reference ??= r.value;
      rows.push({ kind: 'weight-grad', formulation, layer: name, ms: r.ms, relError: maxRelativeError(r.value, reference) });
    }
    for (const [formulation, build] of UNFOLDS) {
      const g = new Graph({ floatType: 'float32' });
      const out = reduceSum(build(g.input('x', 'float32', xShape), d));
      rows.push({ kind: 'unfold', formulation, layer: name, ms: (await timeGraph(g, out, { x: feeds.x }, threads, runs)).ms });
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (flag: string) => {
    const i = process.argv.indexOf(flag);
    return i < 0 ? undefined : Number(process.argv[i + 1]);
  };
  const rows = await benchConvGrad({ threads: arg('--threads'), runs: arg('--runs') });
  for (const r of rows) {
    const err = r.relError === undefined ? '' : `  rel. diff ${r.relError.toExponential(1)}`;
    console.log(`${r.kind.padEnd(12)} ${r.layer.padEnd(14)} ${r.ms.toFixed(1).padStart(7)} CPU ms  ${r.formulation}${err}`);
  }
}
