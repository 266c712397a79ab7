/** @file The training page: b2m's own train-step graph of the scene VAE, stepped by onnxruntime-web, with a live loss curve and a download of the result. */
import type { TrainingIo } from '../../graphs/artifacts.js';
import { withParameters } from './model-bytes.js';
import { lineChart } from './plot.js';
import { SceneBatches } from './random.js';
import { type Backend, PageError, configureOrt, fetchBytes, fetchJson, fetchTensor, firstLine, openModel, ort, webgpuUnavailable } from './runtime.js';
import { SITE_FILE, type SiteManifest, type TrainSite, type VaeSite } from './site.js';
import { byId, catchStrays, clearMessage, drawPixels, figure, guarded, showMessage } from './ui.js';

/** The training run's progress, for a person at the console and for automated checks. */
export interface TrainHandle {
  ready: boolean;
  state: 'idle' | 'training' | 'done' | 'stopped';
  backend: Backend;
  losses: number[];
  stepsPerSecond: number;
  /** The trained student as an inference model (set when a run ends). */
  model: Uint8Array | null;
  /** Runs `steps` train steps on the chosen backend and resolves when they are done. */
  train(steps: number, backend?: Backend): Promise<void>;
}

declare global {
  interface Window {
    b2mTrain: TrainHandle;
  }
}

const siteUrl = new URL('.', location.href).href;
const PREVIEW = 6;

interface Loaded {
  site: TrainSite;
  vae: VaeSite;
  io: TrainingIo;
  trainStep: Uint8Array;
  inference: Uint8Array;
  params: Map<string, Float32Array>;
  images: Float32Array;
}

let loaded: Loaded | null = null;
let stopRequested = false;

const handle: TrainHandle = { ready: false, state: 'idle', backend: 'wasm', losses: [], stepsPerSecond: 0, model: null, train: runTraining };
window.b2mTrain = handle;

async function main(): Promise<void> {
  catchStrays();
  const manifest = await fetchJson<SiteManifest>(siteUrl, SITE_FILE);
  configureOrt(manifest, siteUrl);
  if (!manifest.train || !manifest.vae) throw new PageError('This build has no training graph; build the site with --vae EXPORT_DIR to train a scene VAE here.');
  const site = manifest.train;
  const [io, trainStep, inference, raw, images] = await Promise.all([
    fetchJson<TrainingIo>(siteUrl, site.io),
    fetchBytes(siteUrl, site.trainStep),
    fetchBytes(siteUrl, site.inference),
    fetchBytes(siteUrl, site.params),
    fetchTensor(siteUrl, site.images),
  ]);
  loaded = { site, vae: manifest.vae, io, trainStep, inference, params: splitParams(io, raw), images };
  byId<HTMLInputElement>('steps').value = String(site.steps);
  byId<HTMLInputElement>('lr').value = String(io.knobs.find((k) => k.name === 'lr')?.default ?? 0.001);
  byId('train-info').textContent =
    `${io.params.length} parameter tensors (${io.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0).toLocaleString('en')} values), ` +
    `optimizer ${io.optimizer.kind}, batches of ${site.batchSize} from ${site.images.shape[0]} bundled images (simulated scenes and dashcam frames), ` +
    `${io.opset === 17 ? 'ONNX opset 17' : `ONNX opset ${io.opset}`}.`;
  const gpu = await webgpuUnavailable();
  const option = byId<HTMLOptionElement>('backend-webgpu');
  option.disabled = gpu !== null;
  if (gpu !== null) option.textContent = `WebGPU (unavailable: ${gpu})`;
  await preview(byId('before'), loaded.inference);
  byId('start').addEventListener('click', () => {
    const steps = Number(byId<HTMLInputElement>('steps').value);
    const backend = byId<HTMLSelectElement>('backend').value as Backend;
    void guarded('train-message', () => runTraining(steps, backend));
  });
  byId('stop').addEventListener('click', () => {
    stopRequested = true;
  });
  handle.ready = true;
  byId('status').textContent = 'Ready to train.';
  document.body.dataset.ready = 'true';
}

/** params.bin holds every parameter, float32, concatenated in the io's order. */
function splitParams(io: TrainingIo, raw: Uint8Array): Map<string, Float32Array> {
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const params = new Map<string, Float32Array>();
  let offset = 0;
  for (const p of io.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (offset + n > all.length) throw new PageError(`params.bin ends before parameter "${p.path}"; rebuild the site`);
    params.set(p.path, all.slice(offset, offset + n));
    offset += n;
  }
  return params;
}

async function runTraining(steps: number, backend: Backend = 'wasm'): Promise<void> {
  const l = loaded;
  if (!l) throw new PageError('the training page has not finished loading');
  if (handle.state === 'training') throw new PageError('a training run is already going; stop it first');
  if (!Number.isInteger(steps) || steps < 1 || steps > 100_000) throw new PageError(`steps must be a whole number from 1 to 100000, got ${steps}`);
  const lr = Number(byId<HTMLInputElement>('lr').value);
  if (!Number.isFinite(lr) || lr <= 0) throw new PageError(`the learning rate must be a positive number, got ${byId<HTMLInputElement>('lr').value}`);
  if (backend === 'webgpu') {
    const why = await webgpuUnavailable();
    if (why !== null) throw new PageError(`WebGPU was chosen but ${why}; choose wasm`);
  }
  clearMessage('train-message');
  handle.state = 'training';
  handle.backend = backend;
  handle.losses = [];
  handle.model = null;
  stopRequested = false;
  byId('status').textContent = `Training on ${backend}…`;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(l.trainStep, { executionProviders: [backend], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  } catch (err) {
    handle.state = 'idle';
    throw new PageError(`onnxruntime-web could not open the train-step graph on ${backend} (${firstLine(err)})`);
  }
  try {
    const io = l.io;
    const carried: Record<string, ort.Tensor> = {};
    for (const p of io.params) carried[p.path] = new ort.Tensor('float32', (l.params.get(p.path) as Float32Array).slice(), p.shape);
    for (const s of io.state) carried[s.name] = new ort.Tensor('float32', new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.shape);
    carried[io.step.name] = new ort.Tensor('int64', BigInt64Array.of(0n), []);
    const inputs = new Set(io.trainStep.inputs);
    const knobs: Record<string, ort.Tensor> = {};
    for (const k of io.knobs) if (inputs.has(k.input)) knobs[k.input] = new ort.Tensor('float32', Float32Array.of(k.name === 'lr' ? lr : k.default), []);
    const [h, w] = l.vae.imageSize;
    const count = l.site.images.shape[0];
    const batches = new SceneBatches(l.images, count, h * w * 3, l.site.batchSize, l.vae.latent, l.site.seed);
    const binding = Object.entries(io.trainStep.binding);
    const chart = byId<HTMLCanvasElement>('loss-chart');
    const started = performance.now();
    let lastDraw = started;
    for (let s = 0; s < steps && !stopRequested; s++) {
      const batch = batches.next();
      const out = await session.run({
        ...carried,
        ...knobs,
        images: new ort.Tensor('float32', batch.images, [l.site.batchSize, h, w, 3]),
        noise: new ort.Tensor('float32', batch.noise, [l.site.batchSize, l.vae.latent]),
      });
      for (const [o, i] of binding) carried[i] = out[o];
      const loss = Number((out.loss.data as Float32Array)[0]);
      if (!Number.isFinite(loss)) throw new PageError(`the loss became ${loss} at step ${s + 1}; lower the learning rate and start again`);
      handle.losses.push(loss);
      const now = performance.now();
      if (now - lastDraw > 100 || s === steps - 1) {
        lastDraw = now;
        handle.stepsPerSecond = (s + 1) / ((now - started) / 1000);
        lineChart(chart, [{ values: handle.losses, label: 'training loss (per batch)', color: '#2563eb' }], { xLabel: 'step', xCount: steps });
        byId('progress').textContent = `step ${s + 1} of ${steps}: loss ${loss.toFixed(4)}, ${handle.stepsPerSecond.toFixed(1)} steps/s on ${backend}`;
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    handle.stepsPerSecond = handle.losses.length / ((performance.now() - started) / 1000);
    const trained = new Map(io.params.map((p) => [p.path, carried[p.path].data as Float32Array]));
    handle.model = withParameters(l.inference, trained, io.params.map((p) => p.path), {
      'b2m.trained_in': `browser (onnxruntime-web ${backend})`,
      'b2m.browser_steps': String(handle.losses.length),
      'b2m.browser_final_loss': String(handle.losses[handle.losses.length - 1]),
    });
    offerDownload(handle.model);
    await preview(byId('after'), handle.model);
    handle.state = stopRequested ? 'stopped' : 'done';
    byId('status').textContent = `${stopRequested ? 'Stopped' : 'Done'} after ${handle.losses.length} steps on ${backend}.`;
    document.body.dataset.trained = String(handle.losses.length);
  } catch (err) {
    handle.state = 'idle';
    throw err;
  } finally {
    await session.release();
  }
}

function offerDownload(model: Uint8Array): void {
  const link = byId<HTMLAnchorElement>('download');
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([model.slice().buffer as ArrayBuffer], { type: 'application/octet-stream' }));
  link.hidden = false;
  link.textContent = `Download the trained student (student.onnx, ${(model.byteLength / 1024).toFixed(0)} KiB)`;
}

/** Reconstructions of the first bundled images by an inference model. */
async function preview(box: HTMLElement, model: Uint8Array): Promise<void> {
  const l = loaded as Loaded;
  const { session, role } = await openModel(model, 'the inference model');
  try {
    if (role !== 'vae-student') throw new PageError(`the page's inference model is a ${role}, not a scene VAE student; rebuild the site`);
    const [h, w] = l.vae.imageSize;
    const n = Math.min(PREVIEW, l.site.images.shape[0]);
    const out = await session.run({ images: new ort.Tensor('float32', l.images.subarray(0, n * h * w * 3), [n, h, w, 3]) });
    const recon = out.reconstruction.data as Float32Array;
    box.replaceChildren();
    for (let i = 0; i < n; i++) {
      const pair = document.createElement('div');
      pair.className = 'pair';
      box.append(pair);
      drawPixels(figure(pair, `image ${i + 1}`), l.images, i, h, w);
      drawPixels(figure(pair, 'reconstruction'), recon, i, h, w);
    }
  } finally {
    await session.release();
  }
}

void main().catch((err: unknown) => {
  showMessage(err instanceof PageError ? err.message : `The page could not start: ${(err as Error).message ?? String(err)}`, 'error', 'train-message');
  byId('status').textContent = 'The page could not start; see the message above.';
});
