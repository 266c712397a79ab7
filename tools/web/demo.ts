/** @file The demo page: the scene VAE (reconstructions, a latent explorer, your own frame) and the decision RNN (a trial played bin by bin). */
import type { ModelCard } from '../../pipeline/export.js';
import { type PcaModel, fitPca, projectPca } from '../../datasets/teacher/pca.js';
import { type Mark, lineChart, trajectoryChart } from './plot.js';
import { type ModelRole, PageError, configureOrt, fetchJson, fetchBytes, fetchTensor, openModel, ort, staticDims } from './runtime.js';
import { type RnnSite, SITE_FILE, type SiteManifest, type TrialInfo, type VaeSite } from './site.js';
import { byId, catchStrays, clearMessage, decodeImageFile, drawPixels, figure, guarded, showMessage } from './ui.js';

/** What the page computed, for a person at the console and for automated checks. */
export interface DemoHandle {
  ready: boolean;
  vae?: {
    frameLatents: Float32Array;
    frameReconstructions: Float32Array;
    sceneLatents: Float32Array;
    sceneReconstructions: Float32Array;
    /** The point of the latent space the explorer shows. */
    latent: Float32Array;
    /** The explorer's decoded image, `[1, H, W, 3]`. */
    decoded: Float32Array;
    /** Median milliseconds to encode and decode one frame, over `runs` runs. */
    timeFrame(runs: number): Promise<number>;
  };
  rnn?: { choiceProb: Float32Array; hidden: Float32Array; choiceLogits: Float32Array };
}

declare global {
  interface Window {
    b2m: DemoHandle;
  }
}

const SLIDER_RANGE = 3;
const handle: DemoHandle = { ready: false };
window.b2m = handle;
const siteUrl = new URL('.', location.href).href;

interface Vae {
  site: VaeSite;
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
  frames: Float32Array;
  scenes: Float32Array;
  latent: Float32Array;
}

interface Rnn {
  site: RnnSite;
  session: ort.InferenceSession;
  inputs: Float32Array;
  decisionMask: Float32Array;
  brain: Float32Array;
  choiceProb: Float32Array;
  studentPath: Float64Array;
  studentPca: PcaModel | null;
  trial: number;
  time: number;
  timer: number | null;
}

let vae: Vae | null = null;
let rnn: Rnn | null = null;

async function main(): Promise<void> {
  catchStrays();
  const manifest = await fetchJson<SiteManifest>(siteUrl, SITE_FILE);
  configureOrt(manifest, siteUrl);
  if (manifest.vae) await guarded('vae-message', () => startVae(manifest.vae as VaeSite));
  else showMessage('This build has no scene VAE; build the site with --vae EXPORT_DIR.', 'info', 'vae-message');
  if (manifest.rnn) await guarded('rnn-message', () => startRnn(manifest.rnn as RnnSite));
  else showMessage('This build has no decision RNN; build the site with --rnn EXPORT_DIR.', 'info', 'rnn-message');
  byId<HTMLInputElement>('frame-file').addEventListener('change', (e) => void guarded('frame-message', () => encodeOwnFrame(e.target as HTMLInputElement)));
  byId<HTMLInputElement>('model-file').addEventListener('change', (e) => void guarded('model-message', () => loadModels(e.target as HTMLInputElement)));
  handle.ready = true;
  byId('status').textContent = 'Ready: the students run in this page with onnxruntime-web (wasm).';
  document.body.dataset.ready = 'true';
}

// ---------------------------------------------------------------- scene VAE

async function startVae(site: VaeSite): Promise<void> {
  const [enc, dec, frames, scenes] = await Promise.all([
    fetchBytes(siteUrl, site.encoder).then((b) => openModel(b, site.encoder)),
    fetchBytes(siteUrl, site.decoder).then((b) => openModel(b, site.decoder)),
    fetchTensor(siteUrl, site.frames.pixels),
    fetchTensor(siteUrl, site.scenes.pixels),
  ]);
  expectRole(enc.role, ['vae-encoder', 'vae-student'], site.encoder);
  expectRole(dec.role, ['vae-decoder'], site.decoder);
  byId('latent-size').textContent = String(site.latent);
  byId('vae-card').textContent = describeCard(await fetchJson<ModelCard>(siteUrl, site.card));
  vae = { site, encoder: enc.session, decoder: dec.session, frames, scenes, latent: new Float32Array(site.latent) };
  buildSliders(site.latent);
  await refreshVae();
}

/** One line on where a student came from: its strategy, seed, steps and held-out scores. */
function describeCard(card: ModelCard): string {
  const t = card.training;
  const scores = Object.entries(card.scores)
    .filter(([k]) => /^(val|test)\.(accuracy|recon_mse|loss)$/.test(k))
    .map(([k, v]) => `${k} ${v.toPrecision(3)}`);
  return `${card.name}: ${card.parameters.toLocaleString('en')} parameters, ${t.step.toLocaleString('en')} training steps${scores.length ? `; ${scores.join(', ')}` : ''}.`;
}

function expectRole(role: ModelRole, allowed: ModelRole[], source: string): void {
  if (!allowed.includes(role)) throw new PageError(`${source} is a ${role.replace('-', ' ')}, but the page expected a ${allowed.map((r) => r.replace('-', ' ')).join(' or ')}`);
}

async function encode(pixels: Float32Array, count: number): Promise<Float32Array> {
  const v = vae as Vae;
  const [h, w] = v.site.imageSize;
  const out = await v.encoder.run({ images: new ort.Tensor('float32', pixels, [count, h, w, 3]) });
  return out.latent_mean.data as Float32Array;
}

async function decode(latents: Float32Array, count: number): Promise<Float32Array> {
  const v = vae as Vae;
  const out = await v.decoder.run({ latent: new ort.Tensor('float32', latents, [count, v.site.latent]) });
  return out.reconstruction.data as Float32Array;
}

/** Encodes and decodes every bundled image and redraws the galleries and the explorer. */
async function refreshVae(): Promise<void> {
  const v = vae as Vae;
  const [h, w] = v.site.imageSize;
  const sets = [
    { id: 'frames', pixels: v.frames, labels: v.site.frames.labels },
    { id: 'scenes', pixels: v.scenes, labels: v.site.scenes.labels },
  ];
  const results: { latents: Float32Array; recon: Float32Array }[] = [];
  for (const set of sets) {
    const n = set.labels.length;
    const latents = await encode(set.pixels, n);
    const recon = await decode(latents, n);
    results.push({ latents, recon });
    const gallery = byId(set.id);
    gallery.replaceChildren();
    for (let i = 0; i < n; i++) {
      const pair = document.createElement('div');
      pair.className = 'pair';
      gallery.append(pair);
      const original = figure(pair, set.labels[i]);
      drawPixels(original, set.pixels, i, h, w);
      drawPixels(figure(pair, 'reconstruction'), recon, i, h, w);
      original.title = 'Explore the latent space from this image';
      original.addEventListener('click', () => void guarded('vae-message', () => setLatent(latents.slice(i * v.site.latent, (i + 1) * v.site.latent))));
    }
  }
  handle.vae = {
    frameLatents: results[0].latents,
    frameReconstructions: results[0].recon,
    sceneLatents: results[1].latents,
    sceneReconstructions: results[1].recon,
    latent: v.latent,
    decoded: new Float32Array(0),
    timeFrame,
  };
  await setLatent(results[0].latents.slice(0, v.site.latent));
  const ms = await timeFrame(5);
  byId('vae-speed').textContent = `Here one frame encodes and decodes in ${ms.toFixed(1)} ms (median of 5, onnxruntime-web wasm).`;
}

async function timeFrame(runs: number): Promise<number> {
  const v = vae as Vae;
  const [h, w] = v.site.imageSize;
  const frame = v.frames.slice(0, h * w * 3);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await decode(await encode(frame, 1), 1);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function buildSliders(count: number): void {
  const box = byId('sliders');
  box.replaceChildren();
  for (let k = 0; k < count; k++) {
    const label = document.createElement('label');
    label.className = 'slider';
    const name = document.createElement('span');
    name.textContent = `z${k}`;
    const input = document.createElement('input');
    input.type = 'range';
    input.min = String(-SLIDER_RANGE);
    input.max = String(SLIDER_RANGE);
    input.step = '0.01';
    input.value = '0';
    input.id = `latent-${k}`;
    input.setAttribute('aria-label', `latent dimension ${k}`);
    const value = document.createElement('output');
    value.id = `latent-${k}-value`;
    input.addEventListener('input', () => {
      const v = vae as Vae;
      v.latent[k] = Number(input.value);
      value.textContent = v.latent[k].toFixed(2);
      scheduleDecode();
    });
    label.append(name, input, value);
    box.append(label);
  }
}

let decoding: Promise<void> | null = null;
let decodeAgain = false;

/** Decodes the explorer's point; slider moves during a decode are folded into one more decode. */
function scheduleDecode(): void {
  if (decoding) {
    decodeAgain = true;
    return;
  }
  decoding = guarded('vae-message', drawExplorer).then(() => {
    decoding = null;
    if (decodeAgain) {
      decodeAgain = false;
      scheduleDecode();
    }
  });
}

async function drawExplorer(): Promise<void> {
  const v = vae as Vae;
  const [h, w] = v.site.imageSize;
  const image = await decode(v.latent.slice(), 1);
  drawPixels(byId<HTMLCanvasElement>('decoded'), image, 0, h, w);
  if (handle.vae) handle.vae.decoded = image;
  byId('decoded').dataset.version = String(Number(byId('decoded').dataset.version ?? 0) + 1);
}

async function setLatent(values: Float32Array): Promise<void> {
  const v = vae as Vae;
  v.latent.set(values);
  for (let k = 0; k < values.length; k++) {
    byId<HTMLInputElement>(`latent-${k}`).value = String(Math.max(-SLIDER_RANGE, Math.min(SLIDER_RANGE, values[k])));
    byId(`latent-${k}-value`).textContent = values[k].toFixed(2);
  }
  await drawExplorer();
}

async function encodeOwnFrame(input: HTMLInputElement): Promise<void> {
  clearMessage('frame-message');
  const file = input.files?.[0];
  if (!file) return;
  if (!vae) throw new PageError('there is no scene VAE loaded to encode the frame with');
  const [h, w] = vae.site.imageSize;
  const frame = await decodeImageFile(file);
  if (frame.width !== w || frame.height !== h) {
    throw new PageError(
      `${file.name} is ${frame.width}×${frame.height} pixels; this scene VAE reads ${w}×${h} frames. Resize the frame to ${w}×${h} (as \`b2m ingest images\` does) and choose it again.`,
    );
  }
  const latent = await encode(frame.pixels, 1);
  const recon = await decode(latent, 1);
  const box = byId('own-frame');
  box.replaceChildren();
  const pair = document.createElement('div');
  pair.className = 'pair';
  box.append(pair);
  drawPixels(figure(pair, file.name), frame.pixels, 0, h, w);
  drawPixels(figure(pair, 'reconstruction'), recon, 0, h, w);
  await setLatent(latent);
}

// ---------------------------------------------------------------- decision RNN

async function startRnn(site: RnnSite): Promise<void> {
  const [model, inputs, decisionMask, brain] = await Promise.all([
    fetchBytes(siteUrl, site.student).then((b) => openModel(b, site.student)),
    fetchTensor(siteUrl, site.inputs),
    fetchTensor(siteUrl, site.decisionMask),
    fetchTensor(siteUrl, site.brainTrajectories),
  ]);
  expectRole(model.role, ['rnn-student'], site.student);
  byId('rnn-card').textContent = describeCard(await fetchJson<ModelCard>(siteUrl, site.card));
  rnn = {
    site,
    session: model.session,
    inputs,
    decisionMask,
    brain,
    choiceProb: new Float32Array(0),
    studentPath: new Float64Array(0),
    studentPca: null,
    trial: 0,
    time: site.timeBins - 1,
    timer: null,
  };
  const select = byId<HTMLSelectElement>('trial');
  select.replaceChildren(
    ...site.trials.map((t, i) => {
      const o = document.createElement('option');
      o.value = String(i);
      o.textContent = `Trial ${t.trialId}: offer ${t.offer1} then ${t.offer2} (${t.label === 1 ? 'second' : 'first'} is larger)`;
      return o;
    }),
  );
  select.addEventListener('change', () => {
    const r = rnn as Rnn;
    r.trial = Number(select.value);
    r.time = 0;
    drawTrial();
  });
  const slider = byId<HTMLInputElement>('time');
  slider.max = String(site.timeBins - 1);
  slider.addEventListener('input', () => {
    (rnn as Rnn).time = Number(slider.value);
    drawTrial();
  });
  byId('play').addEventListener('click', togglePlay);
  byId('step').addEventListener('click', () => {
    const r = rnn as Rnn;
    r.time = Math.min(r.site.timeBins - 1, r.time + 1);
    drawTrial();
  });
  await runRnn();
}

/** Runs the student on every bundled trial at once and fits the PCA of its hidden states. */
async function runRnn(): Promise<void> {
  const r = rnn as Rnn;
  const n = r.site.trials.length;
  const { timeBins: T, inputSize: F } = r.site;
  const out = await r.session.run({
    inputs: new ort.Tensor('float32', r.inputs, [n, T, F]),
    decision_mask: new ort.Tensor('float32', r.decisionMask, [n, T]),
  });
  const hidden = out.hidden.data as Float32Array;
  const H = hidden.length / (n * T);
  r.choiceProb = out.choice_prob_over_time.data as Float32Array;
  const states = { data: hidden, trials: n, times: T, features: H };
  r.studentPca = fitPca(states, Array.from({ length: n }, (_, i) => i), 2);
  r.studentPath = projectPca(r.studentPca, states).data;
  handle.rnn = { choiceProb: r.choiceProb, hidden, choiceLogits: out.choice_logits.data as Float32Array };
  drawTrial();
}

function togglePlay(): void {
  const r = rnn as Rnn;
  const button = byId('play');
  if (r.timer !== null) {
    clearInterval(r.timer);
    r.timer = null;
    button.textContent = 'Play';
    return;
  }
  if (r.time >= r.site.timeBins - 1) r.time = 0;
  button.textContent = 'Pause';
  r.timer = window.setInterval(() => {
    r.time += 1;
    if (r.time >= r.site.timeBins - 1) {
      r.time = r.site.timeBins - 1;
      togglePlay();
    }
    drawTrial();
  }, 120);
}

/** Student time bin → brain time bin, piecewise linear between the task events both grids share. */
function brainTime(trial: TrialInfo, t: number, T: number, Tb: number): number {
  const e = trial.events;
  const b = trial.brainEvents;
  const from = [0, e.offer1On, e.offer2On, e.go, e.decision, T - 1];
  const to = [0, b.offer1On, b.offer2On, b.go, b.decision, Tb - 1];
  for (let k = 1; k < from.length; k++) {
    if (t <= from[k]) {
      const span = from[k] - from[k - 1];
      const f = span > 0 ? (t - from[k - 1]) / span : 1;
      return Math.round(to[k - 1] + f * (to[k] - to[k - 1]));
    }
  }
  return Tb - 1;
}

function eventMarks(events: TrialInfo['events']): Mark[] {
  return [
    { at: events.offer1On, label: 'offer 1' },
    { at: events.offer2On, label: 'offer 2' },
    { at: events.decision, label: 'choice' },
  ];
}

function drawTrial(): void {
  const r = rnn as Rnn;
  const { timeBins: T, inputSize: F } = r.site;
  const trial = r.site.trials[r.trial];
  const t = r.time;
  byId<HTMLInputElement>('time').value = String(t);
  byId('time-value').textContent = `bin ${t} of ${T - 1}`;
  const features = r.site.featureNames.map((name, f) => {
    const values = new Float32Array(T);
    for (let i = 0; i < T; i++) values[i] = r.inputs[(r.trial * T + i) * F + f];
    return { values, label: name, color: ['#6b7280', '#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c'][f % 6], upto: t + 1 };
  });
  lineChart(byId<HTMLCanvasElement>('inputs-chart'), features, { xLabel: 'time bin', xCount: T, marks: eventMarks(trial.events) });
  const prob = r.choiceProb.subarray(r.trial * T, (r.trial + 1) * T);
  lineChart(byId<HTMLCanvasElement>('prob-chart'), [{ values: prob, label: 'P(second offer larger)', color: '#2563eb', upto: t + 1 }], {
    xLabel: 'time bin',
    xCount: T,
    yRange: [0, 1],
    marks: eventMarks(trial.events),
  });
  const student = r.studentPath.subarray(r.trial * T * 2, (r.trial + 1) * T * 2);
  const [e1, e2] = Array.from((r.studentPca as PcaModel).explainedVarianceRatio, (x) => `${(x * 100).toFixed(0)}%`);
  trajectoryChart(byId<HTMLCanvasElement>('student-chart'), student, t, { color: '#2563eb', marks: eventMarks(trial.events), axes: [`PC1 (${e1})`, `PC2 (${e2})`] });
  const Tb = r.brain.length / (r.site.trials.length * 2);
  const brain = r.brain.subarray(r.trial * Tb * 2, (r.trial + 1) * Tb * 2);
  const [b1, b2] = r.site.brainExplained.map((x) => `${(x * 100).toFixed(0)}%`);
  trajectoryChart(byId<HTMLCanvasElement>('brain-chart'), brain, brainTime(trial, t, T, Tb), {
    color: '#dc2626',
    marks: eventMarks(trial.brainEvents),
    axes: [`PC1 (${b1})`, `PC2 (${b2})`],
  });
  const p = prob[trial.events.decision];
  const said = p >= 0.5 ? 'second' : 'first';
  const truth = trial.label === 1 ? 'second' : 'first';
  byId('verdict').textContent =
    t >= trial.events.decision
      ? `At the decision bin the student picks the ${said} offer (P = ${p.toFixed(3)}); the ${truth} offer was larger${said === truth ? ' ✓' : ' ✗'}.`
      : 'The student has not reached the decision bin yet.';
}

// ---------------------------------------------------------------- other students from disk

/** Loads exported students chosen by the person; each replaces the page's model of the same kind and size. */
async function loadModels(input: HTMLInputElement): Promise<void> {
  clearMessage('model-message');
  const loaded: string[] = [];
  for (const file of Array.from(input.files ?? [])) {
    const { session, role } = await openModel(new Uint8Array(await file.arrayBuffer()), file.name);
    try {
      if (role === 'rnn-student') await useRnn(session, file.name);
      else await useVaePart(session, role, file.name);
    } catch (err) {
      await session.release();
      throw err;
    }
    loaded.push(`${file.name} (${role.replace('-', ' ')})`);
  }
  if (loaded.length > 0) showMessage(`Loaded ${loaded.join(', ')}.`, 'info', 'model-message');
}

async function useVaePart(session: ort.InferenceSession, role: ModelRole, name: string): Promise<void> {
  if (!vae) throw new PageError(`${name}: this build has no scene VAE section to load it into; build the site with --vae`);
  const [h, w] = vae.site.imageSize;
  const L = vae.site.latent;
  if (role === 'vae-decoder') {
    const dims = staticDims(session, 'latent');
    if (dims?.[1] !== L) throw new PageError(`${name} decodes ${String(dims?.[1])} latent dimensions; this page's scene VAE has ${L}. Load a decoder exported with the same student settings.`);
    vae.decoder = session;
  } else {
    const dims = staticDims(session, 'images');
    if (dims?.[1] !== h || dims?.[2] !== w) {
      throw new PageError(`${name} reads ${String(dims?.[2])}×${String(dims?.[1])} frames; this page's frames are ${w}×${h}. Build a site for that student with tools/build-web.ts.`);
    }
    vae.encoder = session;
  }
  await refreshVae();
}

async function useRnn(session: ort.InferenceSession, name: string): Promise<void> {
  if (!rnn) throw new PageError(`${name}: this build has no decision RNN section to load it into; build the site with --rnn`);
  const dims = staticDims(session, 'inputs');
  if (dims?.[1] !== rnn.site.timeBins || dims?.[2] !== rnn.site.inputSize) {
    throw new PageError(
      `${name} reads trials of ${String(dims?.[1])} bins × ${String(dims?.[2])} features; the bundled trials have ${rnn.site.timeBins} × ${rnn.site.inputSize}. Build a site for that student with tools/build-web.ts.`,
    );
  }
  rnn.session = session;
  await runRnn();
}

void main().catch((err: unknown) => {
  showMessage(err instanceof PageError ? err.message : `The page could not start: ${(err as Error).message ?? String(err)}`);
  byId('status').textContent = 'The page could not start; see the message above.';
});
