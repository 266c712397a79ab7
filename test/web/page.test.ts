/** @file The web page in headless Chromium: exported students load and match Node, the latent explorer and trial player work, bad input shows messages, and the browser trains the VAE. */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { type Browser, type Page, chromium } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, encodeModel, relu, toModel } from '../../graphs/index.js';
import type { TrainingIo } from '../../graphs/artifacts.js';
import { TrainSession } from '../../graphs/train-session.js';
import { type StaticServer, serveStatic } from '../../pipeline/commands/serve.js';
import { EXPORT_FILES, exportRun } from '../../pipeline/export.js';
import { train } from '../../pipeline/train/index.js';
import { buildWeb } from '../../tools/build-web.js';
import { SceneBatches } from '../../tools/web/random.js';
import type { SiteManifest, TensorFile } from '../../tools/web/site.js';
import { relativeError, trainerEval } from '../pipeline/export-checks.js';
import { drivingConfig, drivingDataset, memoryConfig, memoryDataset } from '../pipeline/train-fixtures.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');
const FRAME = path.resolve(import.meta.dirname, '../../../shared/data/real/driving/frames/frame_050.png');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
const TRAIN_STEPS = 200;

let root: string;
let site: string;
let manifest: SiteManifest;
let server: StaticServer;
let browser: Browser;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'b2m-web-'));
  await memoryDataset(path.join(root, 'memory'));
  await drivingDataset(path.join(root, 'driving'));
  for (const [name, config, dataset] of [
    ['rnn', memoryConfig(), 'memory'],
    ['vae', drivingConfig(), 'driving'],
  ] as const) {
    await train({ config, dataset: path.join(root, dataset), strategy: 'isolated', runDir: path.join(root, `run-${name}`) });
    await exportRun(path.join(root, `run-${name}`), path.join(root, `export-${name}`));
  }
  site = path.join(root, 'site');
  manifest = await buildWeb({
    out: site,
    vae: path.join(root, 'export-vae'),
    rnn: path.join(root, 'export-rnn'),
    frames: 4,
    scenes: 4,
    trials: 6,
    trainScenes: 24,
    trainFrames: 8,
    batchSize: 8,
    trainSteps: TRAIN_STEPS,
    seed: 7,
  });
  server = await serveStatic(site, { port: 0 });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  await mkdir(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

/** A page of the site with every console error and uncaught exception collected. */
async function open(file: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url + file);
  await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
  return { page, errors };
}

async function tensor(t: TensorFile): Promise<Float32Array> {
  const b = await readFile(path.join(site, t.file));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

async function nodeRun(file: string, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(path.join(site, file));
  const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
}

const visibleText = (page: Page, id: string) => page.evaluate((i) => {
  const el = document.getElementById(i) as HTMLElement;
  return el.hidden ? '' : (el.textContent ?? '');
}, id);

describe('the students page', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    ({ page, errors } = await open('index.html'));
  }, 180_000);

  it('loads with no console errors and draws both students', async () => {
    expect(errors).toEqual([]);
    for (const box of ['banner', 'vae-message', 'rnn-message']) expect(await visibleText(page, box)).toBe('');
    expect(await page.locator('#frames canvas').count()).toBe(2 * 4);
    expect(await page.locator('#scenes canvas').count()).toBe(2 * 4);
    expect(await page.locator('#sliders input[type=range]').count()).toBe(manifest.vae!.latent);
    expect(await page.textContent('#vae-card')).toMatch(/scene VAE student \(isolated, seed 4\)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-students.png'), fullPage: true });
  });

  it('computes what onnxruntime-node and the trainer\'s own eval compute on the same inputs, within 1e-5', async () => {
    const vae = manifest.vae!;
    const got = await page.evaluate(() => ({
      frameLatents: Array.from(window.b2m.vae!.frameLatents),
      frameReconstructions: Array.from(window.b2m.vae!.frameReconstructions),
      sceneLatents: Array.from(window.b2m.vae!.sceneLatents),
      choiceProb: Array.from(window.b2m.rnn!.choiceProb),
      hidden: Array.from(window.b2m.rnn!.hidden),
    }));
    const [h, w] = vae.imageSize;
    const frames = await tensor(vae.frames.pixels);
    const full = await nodeRun(vae.student, { images: { data: frames, dims: [4, h, w, 3] } });
    expect(relativeError(got.frameLatents, full.latent_mean)).toBeLessThan(1e-5);
    expect(relativeError(got.frameReconstructions, full.reconstruction)).toBeLessThan(1e-5);
    const scenes = await nodeRun(vae.encoder, { images: { data: await tensor(vae.scenes.pixels), dims: [4, h, w, 3] } });
    expect(relativeError(got.sceneLatents, scenes.latent_mean)).toBeLessThan(1e-5);

    const rnn = manifest.rnn!;
    const out = await nodeRun(rnn.student, {
      inputs: { data: await tensor(rnn.inputs), dims: rnn.inputs.shape },
      decision_mask: { data: await tensor(rnn.decisionMask), dims: rnn.decisionMask.shape },
    });
    expect(relativeError(got.choiceProb, out.choice_prob_over_time)).toBeLessThan(1e-5);
    expect(relativeError(got.hidden, out.hidden)).toBeLessThan(1e-5);

    const vaeEval = await trainerEval(path.join(root, 'run-vae'), { images: { data: frames, dims: [4, h, w, 3] }, noise: { data: new Float32Array(4 * vae.latent), dims: [4, vae.latent] } }, 4);
    expect(relativeError(got.frameLatents, vaeEval['act.latent_mean'])).toBeLessThan(1e-5);
    expect(relativeError(got.frameReconstructions, vaeEval['act.reconstruction'])).toBeLessThan(1e-5);
    const [n, T] = rnn.decisionMask.shape;
    const mask = await tensor(rnn.decisionMask);
    const rnnEval = await trainerEval(path.join(root, 'run-rnn'), { inputs: { data: await tensor(rnn.inputs), dims: rnn.inputs.shape }, decision_mask: { data: mask, dims: [n, T] } }, n);
    expect(relativeError(got.hidden, rnnEval['act.hidden'])).toBeLessThan(1e-5);
    const atDecision = Array.from({ length: n }, (_, b) => got.choiceProb[b * T + manifest.rnn!.trials[b].events.decision]);
    expect(relativeError(atDecision, rnnEval['act.choice_prob'])).toBeLessThan(1e-5);
  });

  it('redraws the decoded scene when a latent slider moves, as the decoder computes it', async () => {
    const before = await page.evaluate(() => ({ latent: Array.from(window.b2m.vae!.latent), pixels: (document.getElementById('decoded') as HTMLCanvasElement).toDataURL() }));
    const version = Number(await page.getAttribute('#decoded', 'data-version'));
    const target = before.latent[0] > 0 ? -2.5 : 2.5;
    await page.locator('#latent-0').fill(String(target));
    await page.waitForFunction((v) => Number(document.getElementById('decoded')!.dataset.version) > v, version);
    await page.waitForFunction(() => window.b2m.vae!.latent[0] !== 0 && !document.getElementById('vae-message')!.textContent);
    const after = await page.evaluate(() => ({
      latent: Array.from(window.b2m.vae!.latent),
      decoded: Array.from(window.b2m.vae!.decoded),
      pixels: (document.getElementById('decoded') as HTMLCanvasElement).toDataURL(),
    }));
    expect(after.latent[0]).toBeCloseTo(target, 6);
    expect(after.latent.slice(1)).toEqual(before.latent.slice(1));
    expect(after.pixels).not.toBe(before.pixels);
    expect(await page.textContent('#latent-0-value')).toBe(target.toFixed(2));
    const vae = manifest.vae!;
    const reference = await nodeRun(vae.decoder, { latent: { data: Float32Array.from(after.latent), dims: [1, vae.latent] } });
    expect(relativeError(after.decoded, reference.reconstruction)).toBeLessThan(1e-5);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-latent-slider.png') });
  });

  it('plays a trial bin by bin with the choice probability and both trajectories', async () => {
    await page.selectOption('#trial', '2');
    expect(await page.textContent('#time-value')).toBe(`bin 0 of ${manifest.rnn!.timeBins - 1}`);
    expect(await page.textContent('#verdict')).toContain('has not reached the decision bin');
    await page.click('#step');
    await page.click('#step');
    expect(await page.textContent('#time-value')).toBe(`bin 2 of ${manifest.rnn!.timeBins - 1}`);
    await page.click('#play');
    await page.waitForFunction(() => document.getElementById('play')!.textContent === 'Play', undefined, { timeout: 30_000 });
    const trial = manifest.rnn!.trials[2];
    const verdict = await page.textContent('#verdict');
    expect(verdict).toMatch(new RegExp(`the ${trial.label === 1 ? 'second' : 'first'} offer was larger`));
    const blank = await page.evaluate(() =>
      ['prob-chart', 'student-chart', 'brain-chart'].map((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
        return painted;
      }),
    );
    for (const painted of blank) expect(painted).toBeGreaterThan(500);
    await page.locator('#rnn').screenshot({ path: path.join(ARTIFACTS, 'web-decision-trial.png') });
  });

  it('shows clear messages for a corrupt ONNX file, a foreign ONNX model and a frame of the wrong size, and keeps working', async () => {
    await page.setInputFiles('#model-file', { name: 'corrupt.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a protobuf at all, just text') });
    await page.waitForFunction(() => !document.getElementById('model-message')!.hidden);
    expect(await visibleText(page, 'model-message')).toMatch(/^corrupt\.onnx is not an ONNX model that onnxruntime-web can load \(.+\)\. Choose a student exported by `b2m export`/);

    const g = new Graph({ name: 'foreign' });
    const x = g.input('x', 'float32', ['n', 3]);
    const foreign = encodeModel(toModel(g, { outputs: { y: relu(x) } }));
    await page.setInputFiles('#model-file', { name: 'other.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(foreign) });
    await page.waitForFunction(() => document.getElementById('model-message')!.textContent!.startsWith('other.onnx'));
    expect(await visibleText(page, 'model-message')).toContain("other.onnx is an ONNX model but not a b2m student: it takes 'x' and gives 'y'");

    await page.setInputFiles('#frame-file', FRAME);
    await page.waitForFunction(() => !document.getElementById('frame-message')!.hidden);
    const [h, w] = manifest.vae!.imageSize;
    expect(await visibleText(page, 'frame-message')).toBe(
      `frame_050.png is 160×90 pixels; this scene VAE reads ${w}×${h} frames. Resize the frame to ${w}×${h} (as \`b2m ingest images\` does) and choose it again.`,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-bad-input.png'), fullPage: true });

    const fitting = await sharp(FRAME).resize(w, h, { fit: 'fill' }).png().toBuffer();
    await page.setInputFiles('#frame-file', { name: 'fits.png', mimeType: 'image/png', buffer: fitting });
    await page.waitForFunction(() => document.querySelectorAll('#own-frame canvas').length === 2);
    expect(await visibleText(page, 'frame-message')).toBe('');

    await page.setInputFiles('#model-file', path.join(root, 'export-vae', EXPORT_FILES.decoder));
    await page.waitForFunction(() => document.getElementById('model-message')!.textContent!.startsWith('Loaded'));
    expect(await visibleText(page, 'model-message')).toBe('Loaded decoder.onnx (vae decoder).');
    expect(await page.locator('#frames canvas').count()).toBe(8);
    expect(errors).toEqual([]);
  });
});

describe('the training page', () => {
  it('trains the scene VAE with the train-step graph Node runs, lowers the loss over 200 steps, and offers the trained student', async () => {
    const { page, errors } = await open('train.html');
    await page.fill('#steps', String(TRAIN_STEPS));
    await page.click('#start');
    await page.waitForSelector(`body[data-trained="${TRAIN_STEPS}"]`, { timeout: 240_000 });
    expect(await visibleText(page, 'train-message')).toBe('');
    const run = await page.evaluate(() => ({ losses: window.b2mTrain.losses, model: Array.from(window.b2mTrain.model!), state: window.b2mTrain.state }));
    expect(run.state).toBe('done');
    expect(run.losses).toHaveLength(TRAIN_STEPS);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(run.losses.slice(0, 20));
    const last = mean(run.losses.slice(-20));
    expect(last).toBeLessThan(0.8 * first);
    expect(await page.isVisible('#download')).toBe(true);
    expect(await page.getAttribute('#download', 'href')).toMatch(/^blob:/);
    expect(await page.locator('#after canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-training.png'), fullPage: true });
    expect(errors).toEqual([]);

    const t = manifest.train!;
    const io = JSON.parse(await readFile(path.join(site, t.io), 'utf8')) as TrainingIo;
    const raw = await readFile(path.join(site, t.params));
    const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const params = new Map<string, Float32Array>();
    let offset = 0;
    for (const p of io.params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      params.set(p.path, all.slice(offset, offset + n));
      offset += n;
    }
    const session = await TrainSession.create({ io, trainStep: new Uint8Array(await readFile(path.join(site, t.trainStep))), params }, { intraOpNumThreads: 1 });
    const [h, w] = manifest.vae!.imageSize;
    const batches = new SceneBatches(await tensor(t.images), t.images.shape[0], h * w * 3, t.batchSize, manifest.vae!.latent, t.seed);
    for (let s = 0; s < 5; s++) {
      const b = batches.next();
      const result = await session.step({
        images: new ort.Tensor('float32', b.images.slice(), [t.batchSize, h, w, 3]),
        noise: new ort.Tensor('float32', b.noise.slice(), [t.batchSize, manifest.vae!.latent]),
      });
      expect(Math.abs(result.loss - run.losses[s]) / Math.abs(result.loss)).toBeLessThan(1e-4);
    }
    await session.release();

    const trained = Uint8Array.from(run.model);
    const images = await tensor(t.images);
    const n = t.images.shape[0];
    const sse = async (model: Uint8Array): Promise<number> => {
      const s = await ort.InferenceSession.create(model);
      const out = await s.run({ images: new ort.Tensor('float32', images, [n, h, w, 3]) });
      await s.release();
      const r = out.reconstruction.data as Float32Array;
      let e = 0;
      for (let i = 0; i < r.length; i++) e += (r[i] - images[i]) ** 2;
      return e;
    };
    expect(await sse(trained)).toBeLessThan(0.8 * (await sse(new Uint8Array(await readFile(path.join(site, t.inference))))));
  }, 300_000);
});
