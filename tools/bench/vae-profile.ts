/**
 * @file Profile of the scene VAE's train step through onnxruntime's profiler: time by op type and by part of the
 * graph (forward, backward, optimizer). Runnable alone:
 * `npx tsx tools/bench/vae-profile.ts [--size 64] [--channels 32,64,128] [--batch 32] [--runs 10] [--threads 1] [--nodes N]`.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { type TrainingArtifacts, compileTraining, initialState } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import { stepFeedsVae, vaeOptions } from './graphs.js';

export interface ProfileOptions {
  size: number;
  channels: number[];
  batch: number;
  latent: number;
  runs: number;
  threads: number;
}

/** Milliseconds per step spent in kernels, grouped. */
export interface StepProfile {
  perStepMs: number;
  byOpType: [string, number, number][];
  byPart: [string, number, number][];
  /** Forward and backward nodes by what they do; the optimizer's on their own. */
  byKind: [string, number, number][];
  /** Each node's op type and milliseconds per step, slowest first. */
  byNode: [string, string, number][];
}

/**
 * Which part of the step a node belongs to, from its name: the builder's scope and autodiff's prefix. The
 * NCHWc transformer's ReorderOutput nodes carry no scope; in the step only the unfolds of the weight gradients
 * (Convs with constant one-hot kernels) are rewritten to NCHWc, so they are backward.
 */
function partOf(node: string): string {
  if (node.startsWith('opt')) return 'optimizer';
  if (node.includes('grad') || node.startsWith('ReorderOutput')) return 'backward';
  return 'forward';
}

/** What a node does, from its op type and name (the unfolds' one-hot Convs are the ones onnxruntime rewrote to NCHWc). */
function kindOf(node: string, op: string): string {
  if (node.startsWith('opt')) return 'optimizer (Adam, gradient norm)';
  if (op === 'ReorderOutput' || node.endsWith('_nchwc')) return 'unfolds for weight gradients (one-hot Conv, ReorderOutput)';
  if (['Conv', 'ConvTranspose', 'MatMul', 'FusedMatMul', 'Gemm', 'FusedConv'].includes(op)) return 'convolutions, MatMul, Gemm';
  if (['Transpose', 'Reshape', 'Expand', 'Shape', 'Size', 'Unsqueeze', 'Gather', 'Identity', 'Cast'].includes(op)) return 'layout (Transpose, Reshape, shapes)';
  if (['Relu', 'Where', 'Greater'].includes(op)) return 'ReLU and its gradient mask (Relu, Greater, Where)';
  if (op === 'ReduceSum') return 'bias and batch sums (ReduceSum)';
  return 'other elementwise (loss, reparameterization, sigmoid)';
}

/** Every input of the train step: parameters, zero optimizer state, step 0, knob defaults and a random batch. */
export function vaeStepFeeds(artifacts: TrainingArtifacts, o: Pick<ProfileOptions, 'size' | 'channels' | 'batch' | 'latent'>): Record<string, ort.Tensor> {
  const io = artifacts.io;
  const feeds: Record<string, ort.Tensor> = stepFeedsVae(o);
  for (const p of io.params) feeds[p.path] = new ort.Tensor('float32', Float32Array.from(artifacts.params.get(p.path) ?? []), p.shape);
  const state = initialState(io);
  for (const s of io.state) feeds[s.name] = new ort.Tensor('float32', Float32Array.from(state.get(s.name) ?? []), s.shape);
  feeds[io.step.name] = new ort.Tensor('int64', BigInt64Array.of(0n), []);
  for (const k of io.knobs) feeds[k.input] = new ort.Tensor('float32', Float32Array.of(k.default), []);
  return feeds;
}

export function vaeArtifacts(o: Pick<ProfileOptions, 'size' | 'channels' | 'batch' | 'latent'>): TrainingArtifacts {
  const spec = b2mTrainingSpec(vaeOptions(o));
  return compileTraining(spec, { ...spec.compile, optimizer: { kind: 'adam', lr: 1e-3 } });
}

/** Runs the step `runs` times after two warm-up runs with onnxruntime's profiler on, and sums its node events. */
export async function profileVaeStep(o: ProfileOptions): Promise<StepProfile> {
  const artifacts = vaeArtifacts(o);
  const feeds = vaeStepFeeds(artifacts, o);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vae-profile-'));
  try {
    const session = await ort.InferenceSession.create(artifacts.trainStep, {
      intraOpNumThreads: o.threads,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'step'),
    });
    for (let i = 0; i < 2; i++) await session.run(feeds);
    const marker = performance.now();
    for (let i = 0; i < o.runs; i++) await session.run(feeds);
    const perStepMs = (performance.now() - marker) / o.runs;
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (file === undefined) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    const timed = runs.slice(-o.runs);
    const since = timed.length > 0 ? (timed[0] as unknown as { ts: number }).ts : 0;
    const byOp = new Map<string, [number, number]>();
    const byPart = new Map<string, [number, number]>();
    const byNode = new Map<string, [string, number]>();
    const byKind = new Map<string, [number, number]>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || (e as unknown as { ts: number }).ts < since) continue;
      const node = e.name.slice(0, -'_kernel_time'.length);
      const op = e.args?.op_name ?? '?';
      const n = byNode.get(node) ?? [op, 0];
      n[1] += e.dur / 1000 / o.runs;
      byNode.set(node, n);
      for (const [map, key] of [
        [byOp, op],
        [byPart, partOf(node)],
        [byKind, kindOf(node, op)],
      ] as const) {
        const v = map.get(key) ?? [0, 0];
        v[0] += e.dur / 1000 / o.runs;
        v[1] += 1 / o.runs;
        map.set(key, v);
      }
    }
    const sorted = (m: Map<string, [number, number]>): [string, number, number][] =>
      [...m].map(([k, [ms, n]]): [string, number, number] => [k, ms, n]).sort((a, b) => b[1] - a[1]);
    const nodes = [...byNode].map(([k, [op, ms]]): [string, string, number] => [k, op, ms]).sort((a, b) => b[2] - a[2]);
    return { perStepMs, byOpType: sorted(byOp), byPart: sorted(byPart), byKind: sorted(byKind), byNode: nodes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const o: ProfileOptions = {
    size: Number(arg('size', '64')),
    channels: arg('channels', '32,64,128').split(',').map(Number),
    batch: Number(arg('batch', '32')),
    latent: Number(arg('latent', '16')),
    runs: Number(arg('runs', '10')),
    threads: Number(arg('threads', '1')),
  };
  const p = await profileVaeStep(o);
  const total = p.byPart.reduce((s, r) => s + r[1], 0);
  console.log(`step ${p.perStepMs.toFixed(1)} ms wall (profiling on), kernels ${total.toFixed(1)} ms; load average ${os.loadavg()[0].toFixed(1)}`);
  for (const [title, rows] of [
    ['part', p.byPart],
    ['kind of work', p.byKind],
    ['op type', p.byOpType],
  ] as const) {
    console.log(`\n| ${title} | ms per step | % | nodes |\n| --- | --- | --- | --- |`);
    for (const [k, ms, n] of rows) console.log(`| ${k} | ${ms.toFixed(1)} | ${((100 * ms) / total).toFixed(1)} | ${n.toFixed(0)} |`);
  }
  const top = Number(arg('nodes', '0'));
  if (top > 0) {
    console.log(`\n| node | op | ms per step |\n| --- | --- | --- |`);
    for (const [k, op, ms] of p.byNode.slice(0, top)) console.log(`| ${k} | ${op} | ${ms.toFixed(2)} |`);
  }
}
