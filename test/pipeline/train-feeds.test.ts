import { describe, expect, it } from 'vitest';
import { Rng } from '../../datasets/index.js';
import type { B2mModelOptions, TapTimes } from '../../graphs/b2m.js';
import { FeedBuilder } from '../../pipeline/train/feeds.js';
import type { TaskRows } from '../../pipeline/train/task-data.js';
import { type TeacherData, TrainDataError } from '../../pipeline/train/teacher-data.js';

const T = 3;
const F = 2;
const K = 2;

/** Two teacher entries: trial 10 -> entry 0, trial 12 -> entry 1; values encode (entry, time, latent). */
function teacher(covered: boolean): TeacherData {
  const latents = Float32Array.from({ length: 2 * T * K }, (_, i) => 100 * Math.floor(i / (T * K)) + i);
  return {
    table: 'teacher',
    times: T,
    k: K,
    rows: 2,
    latents,
    covered: covered ? Float32Array.of(1, 1, 0, 0, 1, 1) : null,
    byTrial: new Map([[10, 0], [12, 1]]),
    byCondition: new Map(),
  };
}

function rnnModel(latentTimes: TapTimes | null, contrastive: boolean, readout: 'decision' | 'every-step' = 'decision'): B2mModelOptions {
  return {
    seed: 1,
    student: { kind: 'decisionRnn', cell: 'gru', inputSize: F, timeBins: T, hidden: 4, layers: 1, classes: 2, readout },
    ...(contrastive
      ? { contrastive: { brainDim: T * K, projectionDim: 4, brainHead: 'linear', temperature: { init: 0.1, min: 0.01, max: 1 }, tap: {} } }
      : {}),
    ...(latentTimes !== null ? { latent: { latentDim: K, tap: { times: latentTimes } } } : {}),
  } as B2mModelOptions;
}

function rows(ids: number[], bins: number[], labels: number[], conditions?: string[]): TaskRows {
  return {
    rows: ids.length,
    x: Float32Array.from({ length: ids.length * T * F }, (_, i) => i + 0.5),
    label: Int32Array.from(labels),
    decisionBin: Int32Array.from(bins),
    id: Int32Array.from(ids),
    condition: conditions ?? null,
  };
}

const RNN_INPUTS = ['inputs', 'label', 'decision_mask', 'brain_features', 'positives', 'contrastive_mask', 'brain_latents', 'brain_latent_mask'];

describe('FeedBuilder for the decision RNN', () => {
  it('joins task rows with teacher rows by trial id: features, masks, positives and time-aligned latents', () => {
    const t = teacher(true);
    const b = new FeedBuilder({ model: rnnModel('all', true), xShape: [T, F], teacher: t, pairing: 'trial', inputs: RNN_INPUTS, capacity: 6 });
    const task = rows([10, 11, 12], [2, 1, 0], [1, 0, 1]);
    const paired = rows([10], [1], [0]);
    const feeds = b.build([task, paired], null);
    expect(feeds.inputs!.dims).toEqual([4, T, F]);
    expect(Array.from(feeds.inputs!.data as Float32Array)).toEqual([...task.x, ...paired.x]);
    expect(Array.from(feeds.label!.data as BigInt64Array)).toEqual([1n, 0n, 1n, 0n]);
    expect(Array.from(feeds.decision_mask!.data as Float32Array)).toEqual([0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
    const flat = T * K;
    const entryRow = (e: number) => Array.from(t.latents.subarray(e * flat, (e + 1) * flat));
    const zeros = new Array(flat).fill(0);
    expect(Array.from(feeds.brain_features!.data as Float32Array)).toEqual([...entryRow(0), ...zeros, ...entryRow(1), ...entryRow(0)]);
    expect(Array.from(feeds.contrastive_mask!.data as Float32Array)).toEqual([1, 0, 1, 1]);
    expect(feeds.positives!.dims).toEqual([4, 4]);
    const expected: number[] = [];
    const ids = [10, 11, 12, 10];
    const has = [true, false, true, true];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expected.push(has[i] && has[j] && ids[i] === ids[j] ? 1 : 0);
    expect(Array.from(feeds.positives!.data as Float32Array)).toEqual(expected);
    expect(feeds.brain_latents!.dims).toEqual([4, T, K]);
    expect(Array.from(feeds.brain_latents!.data as Float32Array)).toEqual([...entryRow(0), ...zeros, ...entryRow(1), ...entryRow(0)]);
    expect(Array.from(feeds.brain_latent_mask!.data as Float32Array)).toEqual([1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]);
  });

  it('reads the latents at each trial\'s decision bin, or at listed bins', () => {
    const t = teacher(true);
    const inputs = ['inputs', 'label', 'decision_mask', 'brain_latents', 'brain_latent_mask'];
    const decision = new FeedBuilder({ model: rnnModel('decision', false), xShape: [T, F], teacher: t, pairing: 'trial', inputs, capacity: 2 });
    let feeds = decision.build([rows([12, 10], [1, 2], [0, 1])], null);
    expect(feeds.brain_latents!.dims).toEqual([2, K]);
    const at = (e: number, bin: number) => Array.from(t.latents.subarray((e * T + bin) * K, (e * T + bin + 1) * K));
    expect(Array.from(feeds.brain_latents!.data as Float32Array)).toEqual([...at(1, 1), ...at(0, 2)]);
    expect(Array.from(feeds.brain_latent_mask!.data as Float32Array)).toEqual([1, 0]);
    const listed = new FeedBuilder({ model: rnnModel([2, 0], false), xShape: [T, F], teacher: t, pairing: 'trial', inputs, capacity: 2 });
    feeds = listed.build([rows([12], [1], [0])], null);
    expect(feeds.brain_latents!.dims).toEqual([1, 2, K]);
    expect(Array.from(feeds.brain_latents!.data as Float32Array)).toEqual([...at(1, 2), ...at(1, 0)]);
    expect(Array.from(feeds.brain_latent_mask!.data as Float32Array)).toEqual([1, 0]);
  });

  it('pairs by condition: condition-averaged teacher rows for every trial of a condition, positives within a condition', () => {
    const t: TeacherData = { ...teacher(false), byTrial: new Map(), byCondition: new Map([['a', 0], ['b', 1]]) };
    const inputs = ['inputs', 'label', 'decision_mask', 'brain_features', 'positives', 'contrastive_mask'];
    const b = new FeedBuilder({ model: rnnModel(null, true), xShape: [T, F], teacher: t, pairing: 'condition', inputs, capacity: 4 });
    const feeds = b.build([rows([1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0], ['a', 'b', 'a', 'c'])], null);
    expect(Array.from(feeds.contrastive_mask!.data as Float32Array)).toEqual([1, 1, 1, 0]);
    expect(Array.from(feeds.positives!.data as Float32Array)).toEqual([1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    expect(Array.from((feeds.brain_features!.data as Float32Array).subarray(2 * T * K, 3 * T * K))).toEqual(Array.from(t.latents.subarray(0, T * K)));
  });

  it('marks the label mask from the decision bin on for the every-step readout', () => {
    const b = new FeedBuilder({ model: rnnModel(null, false, 'every-step'), xShape: [T, F], teacher: null, pairing: 'trial', inputs: ['inputs', 'label', 'decision_mask', 'label_mask'], capacity: 2 });
    const feeds = b.build([rows([1, 2], [1, 2], [0, 1])], null);
    expect(Array.from(feeds.label_mask!.data as Float32Array)).toEqual([0, 1, 1, 0, 0, 1]);
  });

  it('sizes tensors by the rows of each batch and reuses them for the same size', () => {
    const b = new FeedBuilder({ model: rnnModel(null, false), xShape: [T, F], teacher: null, pairing: 'trial', inputs: ['inputs', 'label', 'decision_mask'], capacity: 4 });
    const first = b.build([rows([1, 2, 3], [0, 0, 0], [0, 0, 0])], null);
    expect(first.inputs!.dims).toEqual([3, T, F]);
    const short = b.build([rows([1], [0], [1])], null);
    expect(short.label!.dims).toEqual([1]);
    expect(b.build([rows([4, 5, 6], [0, 0, 0], [1, 1, 1])], null)).toBe(first);
  });

  it('names the trial of a decision bin or label out of range, and a teacher that does not fit the model', () => {
    const b = new FeedBuilder({ model: rnnModel(null, false), xShape: [T, F], teacher: null, pairing: 'trial', inputs: ['inputs', 'label', 'decision_mask'], capacity: 2 });
    expect(() => b.build([rows([7, 8], [0, 3], [0, 0])], null)).toThrow(/trial 8: decision_bin 3 is outside the trial's 3 time bins/);
    expect(() => b.build([rows([7, 8], [0, 0], [0, 2])], null)).toThrow(/trial 8: label 2 is not a choice 0..1/);
    const wrong: TeacherData = { ...teacher(false), times: 4, latents: new Float32Array(2 * 4 * K) };
    expect(() => new FeedBuilder({ model: rnnModel('all', true), xShape: [T, F], teacher: wrong, pairing: 'trial', inputs: RNN_INPUTS, capacity: 2 })).toThrow(TrainDataError);
  });
});

describe('FeedBuilder for the scene VAE', () => {
  const model = {
    seed: 1,
    student: { kind: 'sceneVae', imageSize: [2, 2], channels: [4], latent: 3, reconstruction: 'mse' },
    latent: { latentDim: T * K, tap: {} },
  } as B2mModelOptions;
  const scenes = (ids: number[]): TaskRows => ({
    rows: ids.length,
    x: Float32Array.from({ length: ids.length * 12 }, (_, i) => i / 100),
    label: null,
    decisionBin: null,
    id: Int32Array.from(ids),
    condition: null,
  });
  const inputs = ['images', 'noise', 'brain_latents', 'brain_latent_mask'];

  it('draws the reparameterization noise from the seeded generator, and zeros for evaluation', () => {
    const b = new FeedBuilder({ model, xShape: [2, 2, 3], teacher: teacher(false), pairing: 'trial', inputs, capacity: 2 });
    const noise = Array.from(b.build([scenes([12, 5])], Rng.derive(9, 'vae-noise')).noise!.data as Float32Array);
    const expected = new Float32Array(6);
    Rng.derive(9, 'vae-noise').fillNormal(expected);
    expect(noise).toEqual(Array.from(expected));
    expect(Array.from(b.build([scenes([12, 5])], null).noise!.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('feeds the flattened teacher row as the latent target of each scene', () => {
    const t = teacher(false);
    const b = new FeedBuilder({ model, xShape: [2, 2, 3], teacher: t, pairing: 'trial', inputs, capacity: 2 });
    const feeds = b.build([scenes([5, 12])], null);
    expect(feeds.images!.dims).toEqual([2, 2, 2, 3]);
    expect(feeds.brain_latents!.dims).toEqual([2, T * K]);
    expect(Array.from(feeds.brain_latents!.data as Float32Array)).toEqual([...new Array(T * K).fill(0), ...t.latents.subarray(T * K)]);
    expect(Array.from(feeds.brain_latent_mask!.data as Float32Array)).toEqual([0, 1]);
  });
});
