/**
 * @file The students in headless Chromium against Node on the same graphs: scene VAE encode+decode of one frame,
 * and the VAE's train step, at the default driving experiment's sizes. Runnable alone:
 * `npx tsx tools/bench/browser.ts [--quick]` prints one JSON object per line.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { chromium } from 'playwright-core';
import type { TrainingIo } from '../../graphs/artifacts.js';
import { compileTraining } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import { TrainSession } from '../../graphs/train-session.js';
import { serveStatic } from '../../pipeline/commands/serve.js';
import { loadConfig } from '../../pipeline/config.js';
import { EXPORT_FILES, exportStudent } from '../../pipeline/export.js';
import { buildWeb } from '../build-web.js';
import { SceneBatches } from '../web/random.js';

export interface BrowserBench {
  /** Median ms to encode and decode one frame in Chromium (onnxruntime-web, wasm). */
  browser_infer_ms: number;
  /** Train steps per second of the VAE's train-step graph in Chromium (wasm). */
  browser_train_steps_per_s: number;
  /** The same encode+decode in onnxruntime-web's wasm backend under Node, and in onnxruntime-node (CPU). */
  node_wasm_infer_ms: number;
  node_infer_ms: number;
  /** The same train-step graph and batches in onnxruntime-node (CPU). */
  node_train_steps_per_s: number;
  /** What was measured: image size, channels, latent, batch, threads, machine load. */
  setting: string;
}

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Encode+decode of one frame in a runtime, median over `runs` after a warm-up run. */
async function inferMs(
  runtime: typeof ort | typeof ortWeb,
  encoder: Uint8Array,
  decoder: Uint8Array,
  frame: Float32Array,
  dims: number[],
  latent: number,
  runs: number,
): Promise<number> {
  const enc = await runtime.InferenceSession.create(encoder);
  const dec = await runtime.InferenceSession.create(decoder);
  const once = async (): Promise<void> => {
    const z = await enc.run({ images: new runtime.Tensor('float32', frame, dims) });
    await dec.run({ latent: new runtime.Tensor('float32', z.latent_mean.data as Float32Array, [1, latent]) });
  };
  await once();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  await enc.release();
  await dec.release();
  return median(times);
}

/**
 * Builds the page for an untrained scene VAE of the default driving experiment's size (speed does not depend on
 * the weights), and times it in Chromium and in Node.
 */
export async function benchBrowser(options: { quick?: boolean } = {}): Promise<BrowserBench> {
  const config = loadConfig('driving');
  if (config.experiment !== 'driving' || config.student.kind !== 'sceneVae') throw new Error('the driving config has no scene VAE student');
  const size = config.data.simulator.imageSize;
  const student = { kind: 'sceneVae' as const, imageSize: [size, size] as [number, number], channels: [...config.student.channels], latent: config.student.latent, reconstruction: config.student.reconstruction, beta: config.student.beta };
  const batchSize = config.train.batchSize;
  const steps = options.quick ? 10 : 40;
  const runs = options.quick ? 10 : 50;
  const root = await mkdtemp(path.join(os.tmpdir(), 'b2m-bench-browser-'));
  try {
    const spec = b2mTrainingSpec({ student, seed: 0, floatType: 'float32' });
    const artifacts = compileTraining(spec, { ...spec.compile, optimizer: { kind: 'adam', lr: 1e-3 } });
    const exported = path.join(root, 'export');
    await exportStudent(
      { options: spec.options, params: artifacts.params },
      { experiment: 'driving', strategy: 'isolated', seed: 0, configHash: artifacts.io.hash, data: 'none (untrained, for timing)', step: 0, metrics: {} },
      exported,
    );
    const site = path.join(root, 'site');
    const manifest = await buildWeb({ out: site, vae: exported, frames: 2, scenes: 2, trainScenes: 2 * batchSize, trainFrames: 8, batchSize });
    const server = await serveStatic(site, { port: 0 });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    let browserInfer: number;
    let browserTrain: number;
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}index.html`);
      await page.waitForSelector('body[data-ready]', { timeout: 300_000 });
      browserInfer = await page.evaluate((n) => window.b2m.vae!.timeFrame(n), runs);
      const trainer = await browser.newPage();
      await trainer.goto(`${server.url}train.html`);
      await trainer.waitForSelector('body[data-ready]', { timeout: 300_000 });
      await trainer.evaluate(() => window.b2mTrain.train(2));
      await trainer.evaluate((n) => window.b2mTrain.train(n), steps);
      browserTrain = await trainer.evaluate(() => window.b2mTrain.stepsPerSecond);
    } finally {
      await browser.close();
      await server.close();
    }

    const frames = await readFile(path.join(site, manifest.vae!.frames.pixels.file));
    const frame = new Float32Array(frames.buffer, frames.byteOffset, size * size * 3).slice();
    const encoder = new Uint8Array(await readFile(path.join(exported, EXPORT_FILES.encoder)));
    const decoder = new Uint8Array(await readFile(path.join(exported, EXPORT_FILES.decoder)));
    const dims = [1, size, size, 3];
    ortWeb.env.wasm.numThreads = 1;
    const nodeWasm = await inferMs(ortWeb, encoder, decoder, frame, dims, student.latent, runs);
    const nodeInfer = await inferMs(ort, encoder, decoder, frame, dims, student.latent, runs);

    const t = manifest.train!;
    const io = JSON.parse(await readFile(path.join(site, t.io), 'utf8')) as TrainingIo;
    const session = await TrainSession.create({ io, trainStep: artifacts.trainStep, params: artifacts.params });
    const images = await readFile(path.join(site, t.images.file));
    const batches = new SceneBatches(new Float32Array(images.buffer, images.byteOffset, images.byteLength / 4), t.images.shape[0], size * size * 3, batchSize, student.latent, t.seed);
    const step = async (): Promise<void> => {
      const b = batches.next();
      await session.step({ images: new ort.Tensor('float32', b.images, [batchSize, size, size, 3]), noise: new ort.Tensor('float32', b.noise, [batchSize, student.latent]) });
    };
    for (let i = 0; i < 2; i++) await step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    const nodeTrain = steps / ((performance.now() - t0) / 1000);
    await session.release();

    return {
      browser_infer_ms: browserInfer,
      browser_train_steps_per_s: browserTrain,
      node_wasm_infer_ms: nodeWasm,
      node_infer_ms: nodeInfer,
      node_train_steps_per_s: nodeTrain,
      setting:
        `${size}×${size} VAE, channels [${student.channels.join(', ')}], latent ${student.latent}, train batch ${batchSize}; ` +
        `Chromium wasm with up to 4 threads, Node CPU with default threads; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}`,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const r = await benchBrowser({ quick: process.argv.includes('--quick') });
  const rows = [
    { bench: 'browser_infer_ms', value: r.browser_infer_ms, unit: 'ms', note: 'VAE encode+decode of one frame in Chromium (onnxruntime-web wasm)' },
    { bench: 'browser_train_steps_per_s', value: r.browser_train_steps_per_s, unit: 'steps/s', note: 'VAE train-step graph in Chromium (wasm)' },
    { bench: 'node_wasm_infer_ms', value: r.node_wasm_infer_ms, unit: 'ms', note: 'same models, onnxruntime-web wasm in Node, 1 thread' },
    { bench: 'node_infer_ms', value: r.node_infer_ms, unit: 'ms', note: 'same models, onnxruntime-node CPU' },
    { bench: 'node_train_steps_per_s', value: r.node_train_steps_per_s, unit: 'steps/s', note: 'same train-step graph and batches, onnxruntime-node CPU' },
  ];
  for (const row of rows) console.log(JSON.stringify({ ...row, group: 'browser', setting: r.setting }));
}
