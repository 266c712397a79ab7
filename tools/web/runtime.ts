/** @file onnxruntime-web in the page: where its wasm lives, which backends run, and opening a student with a check of what it is. */
import * as ort from 'onnxruntime-web';
import type { SiteManifest, TensorFile } from './site.js';

/** A problem the person can act on, shown on the page as it is. */
export class PageError extends Error {
  override readonly name = 'PageError';
}

export type Backend = 'wasm' | 'webgpu';

/**
 * Points onnxruntime-web at the site's copy of its wasm runtime. Threads need a cross-origin isolated page; the
 * page's `?threads=N` sets their number (default: up to 4, one per core).
 */
export function configureOrt(manifest: SiteManifest, siteUrl: string): void {
  ort.env.wasm.wasmPaths = new URL(manifest.ortDir, siteUrl).href;
  const asked = Number(new URLSearchParams(location.search).get('threads'));
  const threads = Number.isInteger(asked) && asked > 0 ? asked : Math.min(4, navigator.hardwareConcurrency || 1);
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.max(1, threads) : 1;
  ort.env.logLevel = 'error';
}

/** Null when the browser can run WebGPU, else why not. */
export async function webgpuUnavailable(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu is missing; it needs a secure context and a recent Chrome, Edge or Safari)';
  try {
    return (await gpu.requestAdapter()) ? null : 'WebGPU found no GPU adapter here';
  } catch (err) {
    return `WebGPU failed to start (${(err as Error).message})`;
  }
}

/** The kinds of exported model the page understands, told apart by their input and output names. */
export type ModelRole = 'vae-student' | 'vae-encoder' | 'vae-decoder' | 'rnn-student';

const SIGNATURES: Record<ModelRole, { inputs: string[]; outputs: string[] }> = {
  'vae-student': { inputs: ['images'], outputs: ['reconstruction', 'latent_mean', 'latent_logvar'] },
  'vae-encoder': { inputs: ['images'], outputs: ['latent_mean', 'latent_logvar'] },
  'vae-decoder': { inputs: ['latent'], outputs: ['reconstruction'] },
  'rnn-student': { inputs: ['inputs', 'decision_mask'], outputs: ['choice_logits', 'choice_prob_over_time', 'hidden'] },
};

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/** Which kind of b2m model a session is, or null for a foreign one. */
export function roleOf(inputs: readonly string[], outputs: readonly string[]): ModelRole | null {
  for (const [role, sig] of Object.entries(SIGNATURES) as [ModelRole, { inputs: string[]; outputs: string[] }][]) {
    if (sameSet(inputs, sig.inputs) && sameSet(outputs, sig.outputs)) return role;
  }
  return null;
}

export interface OpenModel {
  session: ort.InferenceSession;
  role: ModelRole;
}

/**
 * Opens model bytes as a session and names what it is. Bytes that are not ONNX, or an ONNX model that is not a
 * b2m student, are a PageError naming the file and what to choose instead.
 */
export async function openModel(bytes: Uint8Array, source: string, backend: Backend = 'wasm'): Promise<OpenModel> {
  if (bytes.byteLength === 0) throw new PageError(`${source} is empty. Choose a student exported by \`b2m export\` (student.onnx, encoder.onnx or decoder.onnx).`);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  } catch (err) {
    throw new PageError(
      `${source} is not an ONNX model that onnxruntime-web can load (${firstLine(err)}). Choose a student exported by \`b2m export\` (student.onnx, encoder.onnx or decoder.onnx).`,
    );
  }
  const role = roleOf(session.inputNames, session.outputNames);
  if (role === null) {
    const found = `it takes ${list(session.inputNames)} and gives ${list(session.outputNames)}`;
    await session.release();
    throw new PageError(
      `${source} is an ONNX model but not a b2m student: ${found}. A scene VAE's encoder takes images and gives latent_mean and latent_logvar, ` +
        'its decoder takes latent and gives reconstruction, and a decision RNN takes inputs and decision_mask. Export one with `b2m export RUN --out DIR`.',
    );
  }
  return { session, role };
}

/** A static dim of a session's input or output (null when symbolic or unknown). */
export function staticDims(session: ort.InferenceSession, name: string): (number | null)[] | null {
  const meta = [...session.inputMetadata, ...session.outputMetadata].find((m) => m.name === name);
  if (!meta || !meta.isTensor) return null;
  return meta.shape.map((d) => (typeof d === 'number' ? d : null));
}

/** Bytes of a site file; a missing file is a PageError naming it. */
export async function fetchBytes(siteUrl: string, file: string): Promise<Uint8Array> {
  const url = new URL(file, siteUrl).href;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new PageError(`could not fetch ${file} (${firstLine(err)}); serve the site with \`b2m serve DIR\` rather than opening the file directly`);
  }
  if (!res.ok) throw new PageError(`could not fetch ${file}: HTTP ${res.status}. Rebuild the site with tools/build-web.ts.`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A float32 tensor file of the site, checked against its declared shape. */
export async function fetchTensor(siteUrl: string, t: TensorFile): Promise<Float32Array> {
  const bytes = await fetchBytes(siteUrl, t.file);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== n * 4) throw new PageError(`${t.file} holds ${bytes.byteLength} bytes; its shape [${t.shape.join(', ')}] needs ${n * 4}. Rebuild the site.`);
  return new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

export async function fetchJson<T>(siteUrl: string, file: string): Promise<T> {
  const bytes = await fetchBytes(siteUrl, file);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    throw new PageError(`${file} is not valid JSON (${firstLine(err)}). Rebuild the site.`);
  }
}

export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim();
}

function list(names: readonly string[]): string {
  return names.length === 0 ? 'nothing' : names.map((n) => `'${n}'`).join(', ');
}

export { ort };
