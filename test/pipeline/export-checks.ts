/** @file What exported students are compared with: the trainer's own eval graph on a run's newest checkpoint, and the error measure. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadArtifacts } from '../../graphs/artifacts.js';
import { latestCheckpoint } from '../../pipeline/train/index.js';

export type FloatData = Float32Array | Float64Array;

/** Largest absolute difference relative to the reference's largest magnitude (the outputs' scale). */
export function relativeError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length) throw new Error(`relativeError: ${actual.length} values against ${reference.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return diff / scale;
}

/**
 * Runs the eval model the trainer compiled for a run (from the run's artifact cache) with its newest checkpoint's
 * parameters on the given data inputs. Inputs not given (brain features, masks, labels) are zeros: the
 * activations compared here do not read them. Knobs take their defaults.
 */
export async function trainerEval(
  runDir: string,
  data: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }>,
  batch: number,
): Promise<Record<string, FloatData>> {
  const run = JSON.parse(await readFile(path.join(runDir, 'run.json'), 'utf8')) as { artifactHash: string };
  const artifacts = await loadArtifacts(path.join(runDir, 'artifacts', run.artifactHash));
  const io = artifacts.io;
  const checkpoint = await latestCheckpoint(runDir);
  if (!checkpoint) throw new Error(`${runDir} has no checkpoint`);
  const feeds: Record<string, ort.Tensor> = {};
  for (const p of io.params) feeds[p.path] = new ort.Tensor('float32', checkpoint.bundle.params.get(p.path) as Float32Array, p.shape);
  for (const k of io.knobs) if (io.eval.inputs.includes(k.input)) feeds[k.input] = new ort.Tensor('float32', Float32Array.of(k.default), []);
  for (const d of io.data) {
    if (!io.eval.inputs.includes(d.name)) continue;
    const dims = d.shape.map((s) => (typeof s === 'number' ? s : batch));
    const n = dims.reduce((a, b) => a * b, 1);
    const given = data[d.name];
    if (given) feeds[d.name] = given.data instanceof BigInt64Array ? new ort.Tensor('int64', given.data, dims) : new ort.Tensor('float32', given.data, dims);
    else feeds[d.name] = d.dtype === 'int64' ? new ort.Tensor('int64', new BigInt64Array(n), dims) : new ort.Tensor('float32', new Float32Array(n), dims);
  }
  const session = await ort.InferenceSession.create(artifacts.eval);
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as FloatData]));
  } finally {
    await session.release();
  }
}
