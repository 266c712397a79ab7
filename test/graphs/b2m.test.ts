/** @file The composed B2M model: every strategy compiles and trains, students start identical across strategies, terms add up, and inference parts agree. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileTraining, exportInference } from '../../graphs/artifacts.js';
import { type B2mModelOptions, b2mInferenceModel, b2mTrainingSpec } from '../../graphs/b2m.js';
import { Rng } from '../../graphs/init.js';
import { TrainSession } from '../../graphs/train-session.js';
import { f32, i64 } from './gradcheck.js';

const T = 10;
const F = 2;
const B = 32;
const rnnStudent = { kind: 'decisionRnn', cell: 'gru', inputSize: F, timeBins: T, hidden: 16, layers: 1, readout: 'decision' } as const;
const contrastive = {
  brainDim: 6,
  projectionDim: 4,
  brainHead: 'linear',
  temperature: { init: 0.2, min: 0.05, max: 1, learnable: true },
  tap: { layer: 'rnn.hidden', times: 'decision' },
} as const;
const latent = { latentDim: 3, tap: { times: 'all' } } as const;
const optimizer = { kind: 'adam', lr: 0.02 } as const;

function compile(options: B2mModelOptions) {
  const spec = b2mTrainingSpec(options);
  return { spec, artifacts: compileTraining(spec, { ...spec.compile, optimizer }) };
}

/**
 * A delayed-cue decision task: feature 0 carries a +-1 cue at bin 1, feature 1 a go signal at the decision bin
 * (6 to 9); the label is the cue's sign. Brain data: features and latents that encode the cue, on 2 of 3 rows.
 */
function decisionBatch(seed: number) {
  const rng = new Rng(seed);
  const inputs = new Float32Array(B * T * F);
  const decision = new Float32Array(B * T);
  const labels: number[] = [];
  const brain = new Float32Array(B * 6);
  const latents = new Float32Array(B * T * 3);
  for (let b = 0; b < B; b++) {
    const label = rng.uniform() < 0.5 ? 0 : 1;
    const at = 6 + Math.floor(rng.uniform() * 4);
    labels.push(label);
    inputs[(b * T + 1) * F] = label === 1 ? 1 : -1;
    inputs[(b * T + at) * F + 1] = 1;
    decision[b * T + at] = 1;
    for (let k = 0; k < 6; k++) brain[b * 6 + k] = (label === 1 ? 1 : -1) * (k + 1) * 0.2 + 0.1 * rng.normal();
    for (let t = 0; t < T * 3; t++) latents[b * T * 3 + t] = t >= 3 ? (label === 1 ? 0.5 : -0.5) : 0;
  }
  const positives = new Float32Array(B * B);
  for (let i = 0; i < B; i++) positives[i * B + i] = 1;
  const mask = Float32Array.from({ length: B }, (_, i) => (i % 3 === 2 ? 0 : 1));
  const latentMask = Float32Array.from({ length: B * T }, (_, i) => mask[Math.floor(i / T)]);
  return {
    inputs: f32(inputs, [B, T, F]),
    label: i64(labels, [B]),
    decision_mask: f32(decision, [B, T]),
    brain_features: f32(brain, [B, 6]),
    positives: f32(positives, [B, B]),
    contrastive_mask: f32(mask, [B]),
    brain_latents: f32(latents, [B, T, 3]),
    brain_latent_mask: f32(latentMask, [B, T]),
  };
}

type Feeds = Record<string, ort.Tensor>;

function only(batch: Feeds, names: readonly { name: string }[]): Feeds {
  return Object.fromEntries(names.filter((d) => d.name in batch).map((d) => [d.name, batch[d.name]]));
}

describe('b2mTrainingSpec with the decision RNN', () => {
  const strategies = {
    isolated: { seed: 11, student: rnnStudent },
    contrastive: { seed: 11, student: rnnStudent, contrastive },
    latent: { seed: 11, student: rnnStudent, latent },
    both: { seed: 11, student: rnnStudent, contrastive, latent },
  } satisfies Record<string, B2mModelOptions>;

  it('every strategy compiles and trains a few steps; the student starts from identical values in all of them', async () => {
    const batch = decisionBatch(1);
    let reference: Map<string, Float32Array | Float64Array> | null = null;
    for (const [name, options] of Object.entries(strategies)) {
      const { spec, artifacts } = compile(options);
      expect(spec.strategy).toBe(name);
      const student = new Map([...artifacts.params].filter(([k]) => k.startsWith('student.')));
      expect(student.size).toBe(6);
      if (reference === null) reference = student;
      else {
        expect([...student.keys()]).toEqual([...reference.keys()]);
        for (const [k, v] of student) expect(Array.from(v)).toEqual(Array.from(reference.get(k) as Float32Array));
      }
      const heads = [...artifacts.params.keys()].filter((k) => !k.startsWith('student.'));
      expect(heads.some((k) => k.startsWith('contrastive.'))).toBe(name === 'contrastive' || name === 'both');
      expect(heads.some((k) => k.startsWith('latent.'))).toBe(name === 'latent' || name === 'both');
      const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
      for (let i = 0; i < 3; i++) {
        const r = await session.step(only(batch, artifacts.io.data));
        expect(Number.isFinite(r.loss)).toBe(true);
        expect(r.metrics.count).toBe(B);
      }
      await session.release();
    }
    const other = compile({ ...strategies.isolated, seed: 12 }).artifacts.params.get('student.rnn.layer0.w_ih') as Float32Array;
    expect(Array.from(other)).not.toEqual(Array.from((reference as Map<string, Float32Array>).get('student.rnn.layer0.w_ih') as Float32Array));
  });

  it('the total is the task plus each brain term times its knob, and the knobs change it without recompiling', async () => {
    const { artifacts } = compile(strategies.both);
    expect(artifacts.io.terms).toEqual(['task', 'contrastive', 'latent']);
    expect(artifacts.io.metrics).toEqual(['correct', 'count']);
    expect(artifacts.io.activations).toEqual(['hidden', 'choice_prob']);
    expect(artifacts.io.inference).toEqual(['choice_logits', 'choice_prob_over_time', 'hidden']);
    const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
    const batch = decisionBatch(2);
    const r = await session.step(batch, { lambda_contrastive: 0.3, lambda_latent: 2 });
    expect(r.loss).toBeCloseTo(r.terms.task + 0.3 * r.terms.contrastive + 2 * r.terms.latent, 5);
    expect(r.terms.contrastive).toBeGreaterThan(0);
    expect(r.terms.latent).toBeGreaterThan(0);
    const noBrain = { ...batch, contrastive_mask: f32(new Float32Array(B), [B]), brain_latent_mask: f32(new Float32Array(B * T), [B, T]) };
    const empty = await session.step(noBrain);
    expect(empty.terms.contrastive).toBe(0);
    expect(empty.terms.latent).toBe(0);
    expect(empty.loss).toBeCloseTo(empty.terms.task, 6);
    await session.release();
  });

  it('learns a tiny delayed-cue decision task, alone and with both brain terms', async () => {
    for (const options of [strategies.isolated, strategies.both]) {
      const { artifacts } = compile(options);
      const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
      const first = await session.step(only(decisionBatch(100), artifacts.io.data));
      let last = first;
      for (let i = 1; i < 80; i++) last = await session.step(only(decisionBatch(100 + (i % 8)), artifacts.io.data));
      expect(last.terms.task).toBeLessThan(0.5 * first.terms.task);
      expect(last.metrics.correct).toBeGreaterThan(0.8 * B);
      await session.release();
    }
  }, 60_000);

  it('every-step readout trains on label_mask and reports the choice probability at every bin', async () => {
    const { artifacts } = compile({ seed: 11, student: { ...rnnStudent, readout: 'every-step' } });
    expect(artifacts.io.data.map((d) => d.name)).toContain('label_mask');
    const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
    const batch = decisionBatch(3);
    const r = await session.step({ ...only(batch, artifacts.io.data), label_mask: batch.decision_mask });
    expect(r.terms.task).toBeGreaterThan(0);
    await session.release();
  });

  it('the exported inference model is the compiled one with the given parameters', async () => {
    const { artifacts } = compile(strategies.both);
    const batch = decisionBatch(4);
    const feeds = { inputs: batch.inputs, decision_mask: batch.decision_mask };
    const compiled = await (await ort.InferenceSession.create(exportInference(artifacts, artifacts.params))).run(feeds);
    const built = await (await ort.InferenceSession.create(b2mInferenceModel(strategies.both, artifacts.params))).run(feeds);
    for (const name of ['choice_logits', 'choice_prob_over_time', 'hidden']) expect(Array.from(built[name].data as Float32Array)).toEqual(Array.from(compiled[name].data as Float32Array));
    expect(compiled.choice_prob_over_time.dims).toEqual([B, T]);
  });

  it('names the mistake: graph float type, tap layer, tap bins', () => {
    const spec = b2mTrainingSpec(strategies.both);
    expect(() => compileTraining(spec, { floatType: 'float64', optimizer })).toThrow(/compile with compileTraining\(spec, \{ \.\.\.spec\.compile, optimizer \}\)/);
    const badLayer = b2mTrainingSpec({ ...strategies.contrastive, contrastive: { ...contrastive, tap: { layer: 'encoder.mean' } } });
    expect(() => compileTraining(badLayer, { ...badLayer.compile, optimizer })).toThrow(/contrastive\.tap\.layer is 'encoder\.mean'; this student offers rnn\.hidden/);
    const badBins = b2mTrainingSpec({ ...strategies.latent, latent: { latentDim: 3, tap: { times: [2, 10] } } });
    expect(() => compileTraining(badBins, { ...badBins.compile, optimizer })).toThrow(/latent\.tap\.times lists bin 10; bins are distinct integers from 0 to 9/);
  });

  it('listed tap bins read the brain latents at those bins only', () => {
    const { artifacts } = compile({ ...strategies.latent, latent: { latentDim: 3, tap: { times: [2, 5, 9] } } });
    const data = Object.fromEntries(artifacts.io.data.map((d) => [d.name, d.shape]));
    expect(data.brain_latents).toEqual(['batch', 3, 3]);
    expect(data.brain_latent_mask).toEqual(['batch', 3]);
  });
});

describe('b2mTrainingSpec with the scene VAE', () => {
  const S = 16;
  const L = 4;
  const N = 8;
  const vae = { kind: 'sceneVae', imageSize: [S, S], channels: [4, 8], latent: L, reconstruction: 'mse' } as const;
  const options: B2mModelOptions = {
    seed: 5,
    student: vae,
    contrastive: { ...contrastive, tap: { layer: 'encoder.mean' } },
    latent: { latentDim: 3, tap: { layer: 'encoder.features' } },
  };

  function sceneBatch(seed: number) {
    const rng = new Rng(seed);
    const images = Float32Array.from({ length: N * S * S * 3 }, () => rng.uniform());
    return {
      images: f32(images, [N, S, S, 3]),
      noise: f32(Array.from({ length: N * L }, () => rng.normal()), [N, L]),
      brain_features: f32(Array.from({ length: N * 6 }, () => rng.normal()), [N, 6]),
      positives: f32(Array.from({ length: N * N }, (_, i) => (Math.floor(i / N) === i % N ? 1 : 0)), [N, N]),
      contrastive_mask: f32(new Float32Array(N).fill(1), [N]),
      brain_latents: f32(Array.from({ length: N * 3 }, () => rng.normal()), [N, 3]),
      brain_latent_mask: f32(new Float32Array(N).fill(1), [N]),
    };
  }

  it('trains with both brain terms; the task is reconstruction plus beta times KL', async () => {
    const { artifacts } = compile(options);
    expect(artifacts.io.terms).toEqual(['task', 'reconstruction', 'kl', 'contrastive', 'latent']);
    expect(artifacts.io.metrics).toEqual(['recon_sse', 'count']);
    const session = await TrainSession.create(artifacts, { intraOpNumThreads: 1 });
    const batch = sceneBatch(1);
    const first = await session.step(batch, { beta: 0.5 });
    expect(first.terms.task).toBeCloseTo(first.terms.reconstruction + 0.5 * first.terms.kl, 3);
    expect(first.metrics.recon_sse / N).toBeCloseTo(first.terms.reconstruction, 3);
    let last = first;
    for (let i = 0; i < 15; i++) last = await session.step(batch, { beta: 0.5 });
    expect(last.terms.reconstruction).toBeLessThan(first.terms.reconstruction);
    expect(last.metrics.count).toBe(N);
    await session.release();
  }, 60_000);

  it('the encoder and decoder parts compose to the full model, which is the compiled inference model', async () => {
    const { artifacts } = compile(options);
    const images = sceneBatch(2).images;
    const run = async (bytes: Uint8Array, feeds: Record<string, ort.Tensor>) => (await ort.InferenceSession.create(bytes)).run(feeds);
    const compiled = await run(exportInference(artifacts, artifacts.params), { images });
    const full = await run(b2mInferenceModel(options, artifacts.params, 'full'), { images });
    const encoded = await run(b2mInferenceModel(options, artifacts.params, 'encoder'), { images });
    const decoded = await run(b2mInferenceModel(options, artifacts.params, 'decoder'), { latent: encoded.latent_mean });
    expect(Object.keys(encoded).sort()).toEqual(['latent_logvar', 'latent_mean']);
    expect(Array.from(full.reconstruction.data as Float32Array)).toEqual(Array.from(compiled.reconstruction.data as Float32Array));
    expect(Array.from(decoded.reconstruction.data as Float32Array)).toEqual(Array.from(full.reconstruction.data as Float32Array));
    expect(decoded.reconstruction.dims).toEqual([N, S, S, 3]);
    const p = decoded.reconstruction.data as Float32Array;
    expect(p.every((v) => v > 0 && v < 1)).toBe(true);
  });

  it('refuses tap bins on the VAE, which has no time axis', () => {
    const spec = b2mTrainingSpec({ ...options, latent: { latentDim: 3, tap: { times: 'all' } } });
    expect(() => compileTraining(spec, { ...spec.compile, optimizer })).toThrow(/latent\.tap\.times applies to the decision RNN only/);
  });
});
