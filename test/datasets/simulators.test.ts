import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/dataset.js';
import { DatasetError } from '../../datasets/errors.js';
import { Rng } from '../../datasets/random.js';
import {
  drivingSceneSimulator,
  fillGaussian,
  allocMemoryBrainArrays,
  memoryDecisionSimulator,
  renderScene,
  resolveMemoryDecisionConfig,
  simulateMemoryBrain,
  simulateMemoryBrainParallel,
  simulateMemoryBrainRange,
  simulateMemoryTask,
  SCENE_FACTORS,
  type SceneDescription,
  writeDrivingSceneDataset,
  writeMemoryDecisionDataset,
} from '../../datasets/simulators/index.js';
import { tensorRows } from '../../datasets/tensor-column.js';

/** Ridge regression with an unpenalized intercept, solved by Cholesky; returns a predictor. */
function fitRidge(X: Float64Array[], y: ArrayLike<number>, lambda: number): (x: Float64Array) => number {
  const p = X[0]!.length + 1;
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  for (let i = 0; i < X.length; i++) {
    const x = X[i]!;
    for (let a = 0; a < p; a++) {
      const xa = a < p - 1 ? x[a]! : 1;
      b[a]! += xa * y[i]!;
      for (let c = 0; c <= a; c++) A[a * p + c]! += xa * (c < p - 1 ? x[c]! : 1);
    }
  }
  for (let a = 0; a < p - 1; a++) A[a * p + a]! += lambda;
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * p + j]!;
      for (let k = 0; k < j; k++) s -= L[i * p + k]! * L[j * p + k]!;
      L[i * p + j] = i === j ? Math.sqrt(s) : s / L[j * p + j]!;
    }
  }
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * p + k]! * z[k]!;
    z[i] = s / L[i * p + i]!;
  }
  const w = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < p; k++) s -= L[k * p + i]! * w[k]!;
    w[i] = s / L[i * p + i]!;
  }
  return (x) => {
    let s = w[p - 1]!;
    for (let k = 0; k < p - 1; k++) s += w[k]! * x[k]!;
    return s;
  };
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Held-out predictions of `y` from `X`: fit on the first half of `rows`, predict the second half. */
function heldOut(X: Float64Array[], y: ArrayLike<number>, rows: number[], lambda: number): { predicted: number[]; actual: number[] } {
  const half = Math.floor(rows.length / 2);
  const fit = fitRidge(rows.slice(0, half).map((i) => X[i]!), rows.slice(0, half).map((i) => y[i]!), lambda);
  const test = rows.slice(half);
  return { predicted: test.map((i) => fit(X[i]!)), actual: test.map((i) => y[i]!) };
}

function allFinite(values: Float32Array): boolean {
  for (const v of values) if (!Number.isFinite(v)) return false;
  return true;
}

function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'b2m-sim-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('memoryDecisionSimulator', () => {
  const data = memoryDecisionSimulator({ task: { trials: { train: 3000, val: 600, test: 300 } } }, 11);
  const { task, brain } = data;
  const F = task.featureNames.length;
  const T = task.timeBins;

  it('balances labels, excludes ties, and labels the larger offer', () => {
    let ones = 0;
    let wrong = 0;
    for (let i = 0; i < task.count; i++) {
      if (task.offer1[i] === task.offer2[i] || task.label[i] !== (task.offer2[i]! > task.offer1[i]! ? 1 : 0)) wrong++;
      ones += task.label[i]!;
    }
    expect(wrong).toBe(0);
    expect(Math.abs(ones / task.count - 0.5)).toBeLessThan(0.03);
  });

  it('varies the delay over tens of bins and places every event inside the trial', () => {
    const delays = new Set(task.delayBins);
    expect(Math.min(...delays)).toBeLessThanOrEqual(12);
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(38);
    expect(delays.size).toBeGreaterThanOrEqual(25);
    const e = task.events;
    let bad = 0;
    for (let i = 0; i < task.count; i++) {
      const ordered =
        e.fixationOn[i]! <= e.offer1On[i]! &&
        e.offer1On[i]! < e.offer1Off[i]! &&
        e.offer2On[i]! - e.offer1Off[i]! === task.delayBins[i] &&
        e.offer2On[i]! < e.offer2Off[i]! &&
        e.offer2Off[i]! <= e.go[i]! &&
        e.go[i]! <= e.decision[i]! &&
        e.decision[i]! < T;
      if (!ordered) bad++;
    }
    expect(bad).toBe(0);
  });

  it('shows each offer on the offer channel only while it is on', () => {
    const levels = data.config.task.offerLevels;
    let worst = 0;
    let outside = 0;
    const e = task.events;
    for (let i = 0; i < task.count; i++) {
      const mean = (from: number, to: number) => {
        let s = 0;
        for (let t = from; t < to; t++) s += task.inputs[(i * T + t) * F + 1]!;
        return s / (to - from);
      };
      worst = Math.max(
        worst,
        Math.abs(mean(e.offer1On[i]!, e.offer1Off[i]!) - task.offer1[i]! / levels),
        Math.abs(mean(e.offer2On[i]!, e.offer2Off[i]!) - task.offer2[i]! / levels),
      );
      outside += mean(e.offer1Off[i]!, e.offer2On[i]!);
    }
    expect(worst).toBeLessThan(0.25);
    expect(Math.abs(outside / task.count)).toBeLessThan(0.02);
  });

  it('produces finite inputs, latents and non-negative integer spike counts', () => {
    expect(allFinite(task.inputs)).toBe(true);
    expect(allFinite(brain.latents)).toBe(true);
    let bad = 0;
    for (const v of brain.features) if (!(Number.isInteger(v) && v >= 0)) bad++;
    expect(bad).toBe(0);
    expect(brain.features.length).toBe(brain.count * brain.timeBins * brain.neurons);
  });

  it('pairs each brain trial with a task trial of the same subject, split and offers', () => {
    expect(brain.count).toBe(3 * 300);
    let mismatched = 0;
    for (let i = 0; i < brain.count; i++) {
      const id = brain.trialId[i]!;
      const same =
        task.subjectNames[task.subject[id]!] === brain.subjectNames[brain.subject[i]!] &&
        task.split[id] === brain.split[i] &&
        task.offer1[id] === brain.offer1[i] &&
        task.offer2[id] === brain.offer2[i];
      if (!same) mismatched++;
    }
    expect(mismatched).toBe(0);
    expect(Array.from(brain.split).filter((c) => c === 1).length).toBe(3 * 60);
    expect(new Set(brain.trialId).size).toBe(brain.count);
  });

  it('records the brain on its own grid with its own delay statistics', () => {
    expect(brain.timeBins).not.toBe(task.timeBins);
    const brainDelays = Array.from(brain.delayBins);
    expect(Math.min(...brainDelays)).toBeGreaterThanOrEqual(data.config.brain.timing.delayBins[0]);
    expect(Math.max(...brainDelays)).toBeGreaterThan(Math.max(...task.delayBins));
  });

  /** Mean square-root counts of each neuron over bins [from(i), to(i)) of each brain trial. */
  function windowRates(from: (i: number) => number, to: (i: number) => number): Float64Array[] {
    const N = brain.neurons;
    const TB = brain.timeBins;
    return Array.from({ length: brain.count }, (_, i) => {
      const x = new Float64Array(N);
      const a = from(i);
      const b = to(i);
      for (let t = a; t < b; t++) for (let n = 0; n < N; n++) x[n]! += brain.features[(i * TB + t) * N + n]!;
      for (let n = 0; n < N; n++) x[n] = Math.sqrt(x[n]! / (b - a));
      return x;
    });
  }
  const subjectRows = (s: number) => Array.from({ length: brain.count }, (_, i) => i).filter((i) => brain.subject[i] === s);
  const delayEnd = windowRates((i) => brain.events.offer2On[i]! - 5, (i) => brain.events.offer2On[i]!);
  const decisionWindow = windowRates((i) => brain.events.go[i]!, (i) => brain.events.decision[i]! + 1);

  it('holds the remembered offer at the end of the delay, linearly decodable well above chance', () => {
    for (let s = 0; s < brain.subjectNames.length; s++) {
      const { predicted, actual } = heldOut(delayEnd, brain.offer1, subjectRows(s), 5);
      expect(pearson(predicted, actual)).toBeGreaterThan(0.5);
    }
  });

  it('loses the remembered offer when trials are shuffled against the offers', () => {
    const shuffled = Int32Array.from(brain.offer1);
    Rng.derive(99).shuffle(shuffled);
    for (let s = 0; s < brain.subjectNames.length; s++) {
      const real = heldOut(delayEnd, brain.offer1, subjectRows(s), 5);
      const fake = heldOut(delayEnd, shuffled, subjectRows(s), 5);
      expect(Math.abs(pearson(fake.predicted, fake.actual))).toBeLessThan(0.25);
      expect(pearson(real.predicted, real.actual) - Math.abs(pearson(fake.predicted, fake.actual))).toBeGreaterThan(0.4);
    }
  });

  it('carries the choice, decodable well above chance but not as a clean copy of the label', () => {
    const signed = Float64Array.from(brain.choice, (c) => 2 * c - 1);
    for (let s = 0; s < brain.subjectNames.length; s++) {
      const { predicted, actual } = heldOut(decisionWindow, signed, subjectRows(s), 5);
      const accuracy = predicted.filter((p, k) => Math.sign(p) === actual[k]).length / predicted.length;
      expect(accuracy).toBeGreaterThan(0.75);
    }
    const label = Float64Array.from(brain.offer1, (o1, i) => (brain.offer2[i]! > o1 ? 1 : 0));
    for (let n = 0; n < brain.neurons; n++) {
      const single = decisionWindow.map((x) => x[n]!);
      expect(Math.abs(pearson(single, label))).toBeLessThan(0.8);
    }
    let agree = 0;
    for (let i = 0; i < brain.count; i++) agree += brain.choice[i] === label[i] ? 1 : 0;
    expect(agree / brain.count).toBeGreaterThan(0.8);
    expect(agree / brain.count).toBeLessThan(1);
  });

  it('makes the brain less informative as noise grows', () => {
    const noisy = memoryDecisionSimulator(
      { task: { trials: { train: 3000, val: 600, test: 300 } }, brain: { noiseScale: 4 } },
      11,
    ).brain;
    const rates = (b: typeof brain) =>
      Array.from({ length: b.count }, (_, i) => {
        const x = new Float64Array(b.neurons);
        for (let t = b.events.offer2On[i]! - 5; t < b.events.offer2On[i]!; t++) {
          for (let n = 0; n < b.neurons; n++) x[n]! += b.features[(i * b.timeBins + t) * b.neurons + n]!;
        }
        return x.map(Math.sqrt);
      });
    const score = (b: typeof brain) => {
      const X = rates(b);
      let total = 0;
      for (let s = 0; s < b.subjectNames.length; s++) {
        const rows = Array.from({ length: b.count }, (_, i) => i).filter((i) => b.subject[i] === s);
        const { predicted, actual } = heldOut(X, b.offer1, rows, 5);
        total += pearson(predicted, actual);
      }
      return total / b.subjectNames.length;
    };
    expect(score(noisy)).toBeLessThan(score(brain) - 0.15);
  });

  it('gives each subject its own neurons and sites', () => {
    const first = brain.channels.filter((c) => c.subject === 'sub-01');
    const second = brain.channels.filter((c) => c.subject === 'sub-02');
    expect(first.length).toBe(brain.neurons);
    expect(first.map((c) => c.x).join()).not.toBe(second.map((c) => c.x).join());
  });

  it('is deterministic per seed and differs across seeds', () => {
    const small = { task: { trials: { train: 200, val: 40, test: 20 } }, brain: { subjects: 2, trialsPerSubject: 30 } };
    const a = memoryDecisionSimulator(small, 5);
    const b = memoryDecisionSimulator(small, 5);
    const c = memoryDecisionSimulator(small, 6);
    expect(sameBytes(a.task.inputs, b.task.inputs)).toBe(true);
    expect(sameBytes(a.brain.features, b.brain.features)).toBe(true);
    expect(sameBytes(a.task.inputs, c.task.inputs)).toBe(false);
    expect(sameBytes(a.brain.features, c.brain.features)).toBe(false);
  });

  it('gives the same brain trials from worker threads and from any split of the trials into ranges', async () => {
    const small = resolveMemoryDecisionConfig({
      task: { trials: { train: 200, val: 40, test: 20 } },
      brain: { subjects: 2, trialsPerSubject: 30 },
    });
    const task = simulateMemoryTask(small, 5);
    const one = simulateMemoryBrain(small, task, 5);
    const parallel = await simulateMemoryBrainParallel(small, task, 5, { threads: 3 });
    expect(sameBytes(one.features, parallel.features)).toBe(true);
    expect(sameBytes(one.latents, parallel.latents)).toBe(true);
    expect(Array.from(parallel.choice)).toEqual(Array.from(one.choice));
    expect(Array.from(parallel.trialId)).toEqual(Array.from(one.trialId));
    const backwards = allocMemoryBrainArrays(small);
    for (const [from, to] of [[41, 60], [7, 41], [0, 7]] as const) simulateMemoryBrainRange(small, task, 5, backwards, from, to);
    expect(sameBytes(one.features, backwards.features)).toBe(true);
    expect(Array.from(backwards.delayBins)).toEqual(Array.from(one.delayBins));
  });

  it('keeps the task trials unchanged when only brain settings change', () => {
    const a = memoryDecisionSimulator({ task: { trials: { train: 200, val: 40, test: 20 } }, brain: { subjects: 2, trialsPerSubject: 30 } }, 5);
    const b = memoryDecisionSimulator({ task: { trials: { train: 200, val: 40, test: 20 } }, brain: { subjects: 2, trialsPerSubject: 30, noiseScale: 3 } }, 5);
    expect(sameBytes(a.task.inputs, b.task.inputs)).toBe(true);
    expect(sameBytes(a.brain.features, b.brain.features)).toBe(false);
  });

  it('draws offers independently and leaves trial ids empty when pairing by condition', () => {
    const d = memoryDecisionSimulator(
      { task: { trials: { train: 200, val: 40, test: 20 } }, brain: { subjects: 2, trialsPerSubject: 30, pairing: 'condition', observation: 'gaussian' } },
      5,
    );
    expect(Array.from(d.brain.trialId).every((id) => id === -1)).toBe(true);
    expect(allFinite(d.brain.features)).toBe(true);
    expect(Array.from(d.brain.features).some((v) => !Number.isInteger(v))).toBe(true);
  });

  it('rejects bad settings with messages that name the setting', () => {
    expect(() => memoryDecisionSimulator({ brain: { neuron: 3 } } as never, 1)).toThrow(/memoryDecision\.brain\.neuron is not a setting/);
    expect(() => memoryDecisionSimulator({ brain: { neurons: 0 } }, 1)).toThrow(DatasetError);
    expect(() => memoryDecisionSimulator({ task: { timing: { timeBins: 45 } } }, 1)).toThrow(/memoryDecision\.task\.timing: the longest trial's decision bin is 52 but timeBins is 45/);
    expect(() => memoryDecisionSimulator({ task: { trials: { train: 100 } } }, 1)).toThrow(/pairing is 'trial'/);
    expect(() => memoryDecisionSimulator({ brain: { pairing: 'nearest' as 'trial' } }, 1)).toThrow(/memoryDecision\.brain\.pairing must be one of trial, condition/);
  });
});

describe('renderScene', () => {
  const H = 64;
  const W = 64;
  const base: SceneDescription = { curvature: 0, offset: 0, brightness: 0.9, fog: 0, dashed: true, dashPhase: 0, vehicles: [] };
  function render(scene: SceneDescription): Float32Array {
    const out = new Float32Array(H * W * 3);
    renderScene(scene, H, W, out, 0);
    return out;
  }
  const luminance = (img: Float32Array) => Float64Array.from({ length: H * W }, (_, p) => (img[p * 3]! + img[p * 3 + 1]! + img[p * 3 + 2]!) / 3);
  const mean = (x: ArrayLike<number>) => Array.from(x).reduce((a, b) => a + b, 0) / x.length;
  const sd = (x: ArrayLike<number>) => {
    const m = mean(x);
    return Math.sqrt(Array.from(x).reduce((a, b) => a + (b - m) ** 2, 0) / x.length);
  };
  /** Column centroid of road pixels (grey: green not above red) in row `y`. */
  function roadCentre(img: Float32Array, y: number): number {
    let sum = 0;
    let n = 0;
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3;
      if (img[o + 1]! - img[o]! < 0.08) {
        sum += x;
        n++;
      }
    }
    return sum / n;
  }

  it('keeps every pixel in [0, 1]', () => {
    const img = render({ ...base, brightness: 1, vehicles: [{ depth: 2.5, lane: 1, color: [1, 1, 1] }] });
    expect(Array.from(img).filter((v) => !(v >= 0 && v <= 1)).length).toBe(0);
  });

  it('darkens the scene at night and flattens its contrast in fog', () => {
    expect(mean(luminance(render({ ...base, brightness: 0.05 })))).toBeLessThan(0.5 * mean(luminance(render(base))));
    expect(sd(luminance(render({ ...base, fog: 1 })))).toBeLessThan(0.5 * sd(luminance(render(base))));
  });

  it('bends the far road with curvature and shifts the near road against the lane offset', () => {
    const farRow = 30;
    const right = roadCentre(render({ ...base, curvature: 1 }), farRow);
    const straight = roadCentre(render(base), farRow);
    const left = roadCentre(render({ ...base, curvature: -1 }), farRow);
    expect(right).toBeGreaterThan(straight + 1);
    expect(left).toBeLessThan(straight - 1);
    const nearRow = 60;
    expect(roadCentre(render({ ...base, offset: 1 }), nearRow)).toBeLessThan(roadCentre(render({ ...base, offset: -1 }), nearRow) - 3);
  });

  it('draws nearer vehicles larger', () => {
    const empty = render(base);
    const changed = (img: Float32Array) => {
      let n = 0;
      for (let p = 0; p < H * W; p++) if (Math.abs(img[p * 3]! - empty[p * 3]!) + Math.abs(img[p * 3 + 2]! - empty[p * 3 + 2]!) > 0.1) n++;
      return n;
    };
    const near = changed(render({ ...base, vehicles: [{ depth: 3, lane: 1, color: [0.7, 0.1, 0.1] }] }));
    const far = changed(render({ ...base, vehicles: [{ depth: 12, lane: 1, color: [0.7, 0.1, 0.1] }] }));
    expect(far).toBeGreaterThan(0);
    expect(near).toBeGreaterThan(4 * far);
  });

  it('changes the centre line between solid and dashed', () => {
    expect(sameBytes(render(base), render({ ...base, dashed: false }))).toBe(false);
  });
});

describe('drivingSceneSimulator', () => {
  const data = drivingSceneSimulator(
    { images: { scenes: { train: 800, val: 200, test: 50 } }, eeg: { subjects: 2, scenesPerSubject: 700, valFraction: 0.25 } },
    4,
  );
  const { scenes, eeg } = data;

  it('renders finite images in [0, 1] whose brightness and contrast follow the factors', () => {
    const size = scenes.height * scenes.width * 3;
    expect(scenes.images.length).toBe(scenes.count * size);
    const means = new Float64Array(scenes.count);
    const sds = new Float64Array(scenes.count);
    let outOfRange = 0;
    for (let i = 0; i < scenes.count; i++) {
      const img = scenes.images.subarray(i * size, (i + 1) * size);
      let s = 0;
      let s2 = 0;
      for (const v of img) {
        if (!(v >= 0 && v <= 1)) outOfRange++;
        s += v;
        s2 += v * v;
      }
      means[i] = s / size;
      sds[i] = Math.sqrt(s2 / size - (s / size) ** 2);
    }
    expect(outOfRange).toBe(0);
    expect(pearson(means, scenes.factors.brightness)).toBeGreaterThan(0.6);
    expect(pearson(sds, scenes.factors.fog)).toBeLessThan(-0.3);
  });

  it('draws factors over their ranges with consistent lead-vehicle columns', () => {
    const f = scenes.factors;
    let inconsistent = 0;
    for (let i = 0; i < scenes.count; i++) {
      const ok =
        f.lead_present[i] === (f.lead_count[i]! > 0 ? 1 : 0) &&
        (f.lead_present[i] === 1 || f.lead_distance[i] === 1) &&
        f.lead_distance[i]! >= 0 &&
        f.lead_distance[i]! <= 1 &&
        Math.abs(f.curvature[i]!) <= 1 &&
        Math.abs(f.offset[i]!) <= 1;
      if (!ok) inconsistent++;
    }
    expect(inconsistent).toBe(0);
    const counts = new Set(f.lead_count);
    expect([...counts].sort()).toEqual([0, 1, 2]);
    expect(Math.abs(pearson(f.curvature, f.offset))).toBeLessThan(0.1);
  });

  it('records finite EEG epochs of every subject for the scenes it viewed', () => {
    expect(eeg.count).toBe(2 * 700);
    expect(eeg.features.length).toBe(eeg.count * eeg.samples * eeg.channels);
    expect(allFinite(eeg.features)).toBe(true);
    expect(eeg.channelInfo.slice(0, 32).map((c) => c.name)).toContain('Oz');
    expect(Array.from(eeg.sceneId).filter((id, i) => scenes.split[id] !== eeg.split[i]).length).toBe(0);
  });

  /** Channel × window means (8 windows) of each epoch. */
  const windows = 8;
  const X = Array.from({ length: eeg.count }, (_, i) => {
    const C = eeg.channels;
    const T = eeg.samples;
    const x = new Float64Array(C * windows);
    for (let t = 0; t < T; t++) {
      const w = Math.floor((t * windows) / T);
      for (let c = 0; c < C; c++) x[w * C + c]! += eeg.features[(i * T + t) * C + c]! / (T / windows);
    }
    return x;
  });

  it('carries every scene factor: a linear decoder on held-out scenes predicts each above chance', () => {
    for (const factor of SCENE_FACTORS) {
      const y = Float64Array.from(eeg.sceneId, (id) => scenes.factors[factor][id]!);
      const predicted: number[] = [];
      const actual: number[] = [];
      for (let s = 0; s < eeg.subjectNames.length; s++) {
        const rows = Array.from({ length: eeg.count }, (_, i) => i).filter((i) => eeg.subject[i] === s);
        const fold = heldOut(X, y, rows, 100);
        predicted.push(...fold.predicted);
        actual.push(...fold.actual);
      }
      expect(pearson(predicted, actual), factor).toBeGreaterThan(0.25);
    }
  });

  it('loses the factors when epochs are shuffled against scenes', () => {
    const y = Float64Array.from(eeg.sceneId, (id) => scenes.factors.lead_distance[id]!);
    Rng.derive(3).shuffle(y);
    const rows = Array.from({ length: eeg.count }, (_, i) => i).filter((i) => eeg.subject[i] === 0);
    const { predicted, actual } = heldOut(X, y, rows, 100);
    expect(Math.abs(pearson(predicted, actual))).toBeLessThan(0.2);
  });

  it('has a 1/f background that is stronger at low frequencies and correlated between neighbouring channels', () => {
    const quiet = drivingSceneSimulator(
      {
        images: { scenes: { train: 60, val: 10, test: 0 } },
        eeg: { subjects: 1, scenesPerSubject: 60, valFraction: 0, evokedGain: 0, alphaUv: 0, sensorNoiseUv: 0 },
      },
      2,
    ).eeg;
    const T = quiet.samples;
    const C = quiet.channels;
    let low = 0;
    let high = 0;
    for (let i = 0; i < quiet.count; i++) {
      for (let c = 0; c < C; c++) {
        for (let k = 1; k < T / 2; k++) {
          let re = 0;
          let im = 0;
          for (let t = 0; t < T; t++) {
            const v = quiet.features[(i * T + t) * C + c]!;
            re += v * Math.cos((2 * Math.PI * k * t) / T);
            im -= v * Math.sin((2 * Math.PI * k * t) / T);
          }
          const hz = (k * quiet.sampleRate) / T;
          if (hz >= 2 && hz <= 6) low += (re * re + im * im) / 3;
          if (hz >= 40 && hz <= 60) high += (re * re + im * im) / 11;
        }
      }
    }
    expect(low / high).toBeGreaterThan(5);
    const names = quiet.channelInfo.map((ch) => ch.name);
    const series = (name: string) => {
      const c = names.indexOf(name);
      return Float64Array.from({ length: quiet.count * T }, (_, k) => quiet.features[k * C + c]!);
    };
    expect(pearson(series('O1'), series('Oz'))).toBeGreaterThan(Math.abs(pearson(series('O1'), series('Fp2'))) + 0.2);
  });

  it('gives subjects different scalp patterns', () => {
    const C = eeg.channels;
    const T = eeg.samples;
    const average = (s: number) => {
      const avg = new Float64Array(T * C);
      let n = 0;
      for (let i = 0; i < eeg.count; i++) {
        if (eeg.subject[i] !== s || scenes.factors.lead_present[eeg.sceneId[i]!] !== 1) continue;
        for (let k = 0; k < T * C; k++) avg[k]! += eeg.features[i * T * C + k]!;
        n++;
      }
      return avg.map((v) => v / n);
    };
    const r = pearson(average(0), average(1));
    expect(r).toBeGreaterThan(0.3);
    expect(r).toBeLessThan(0.97);
  });

  it('is deterministic per seed and differs across seeds', () => {
    const small = { images: { scenes: { train: 20, val: 5, test: 0 } }, eeg: { subjects: 1, scenesPerSubject: 10 } };
    const a = drivingSceneSimulator(small, 8);
    const b = drivingSceneSimulator(small, 8);
    const c = drivingSceneSimulator(small, 9);
    expect(sameBytes(a.scenes.images, b.scenes.images)).toBe(true);
    expect(sameBytes(a.eeg.features, b.eeg.features)).toBe(true);
    expect(sameBytes(a.scenes.images, c.scenes.images)).toBe(false);
    expect(sameBytes(a.eeg.features, c.eeg.features)).toBe(false);
  });

  it('rejects bad settings with messages that name the setting', () => {
    expect(() => drivingSceneSimulator({ eeg: { channels: 1 } }, 1)).toThrow(/drivingScenes\.eeg\.channels must be an integer/);
    expect(() => drivingSceneSimulator({ images: { scenes: { train: 10 } } }, 1)).toThrow(/raise images\.scenes/);
    expect(() => drivingSceneSimulator({ images: { size: 32 } } as never, 1)).toThrow(/drivingScenes\.images\.size is not a setting/);
  });
});

describe('fillGaussian', () => {
  it('draws standard normals: mean, variance, kurtosis and tail mass', () => {
    const n = 400_000;
    const x = new Float64Array(n);
    fillGaussian(Rng.derive(21), x);
    let m = 0;
    for (const v of x) m += v;
    m /= n;
    let v2 = 0;
    let v4 = 0;
    let tail = 0;
    for (const v of x) {
      v2 += (v - m) ** 2;
      v4 += (v - m) ** 4;
      if (Math.abs(v) > 2) tail++;
    }
    v2 /= n;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v2 - 1)).toBeLessThan(0.01);
    expect(Math.abs(v4 / n / (v2 * v2) - 3)).toBeLessThan(0.05);
    // P(|Z| > 2) = 0.0455003
    expect(Math.abs(tail / n - 0.0455003)).toBeLessThan(0.0015);
  });
});

describe('simulated datasets on disk', () => {
  it('round-trips the memory-decision experiment through the Arrow layer', async () => {
    const data = memoryDecisionSimulator(
      { task: { trials: { train: 120, val: 30, test: 10 } }, brain: { subjects: 2, trialsPerSubject: 20, neurons: 8 } },
      3,
    );
    const dir = path.join(await tempDir(), 'md');
    const ds = await writeMemoryDecisionDataset(dir, data, { version: '0.0.0-test' });
    expect(ds.manifest.kind).toBe('memory-decision');
    expect(ds.manifest.seed).toBe(3);
    const reopened = await openDataset(dir, { validateRows: true });
    await reopened.checkPairing('trials', 'brain');
    const trials = await reopened.read('trials');
    expect(trials.numRows).toBe(data.task.count);
    expect(sameBytes(tensorRows(trials.getChild('inputs')!), data.task.inputs)).toBe(true);
    expect(Array.from(trials.getChild('label')!.toArray() as Int32Array)).toEqual(Array.from(data.task.label));
    expect(trials.getChild('condition')!.get(0)).toBe(`o1=${data.task.offer1[0]}|o2=${data.task.offer2[0]}`);
    expect(Array.from(trials.getChild('delay_bins')!.toArray() as Int32Array)).toEqual(Array.from(data.task.delayBins));
    const brain = await reopened.read('brain');
    expect(sameBytes(tensorRows(brain.getChild('features')!), data.brain.features)).toBe(true);
    expect(brain.getChild('trial_id')!.get(5)).toBe(data.brain.trialId[5]);
    expect(brain.getChild('subject')!.get(data.brain.count - 1)).toBe('sub-02');
    const channels = await reopened.read('channels');
    expect(channels.numRows).toBe(2 * 8);
    expect(channels.getChild('type')!.get(0)).toBe('spikes');
    expect((await readdir(path.dirname(dir))).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('writes null trial ids when brain trials pair by condition only', async () => {
    const data = memoryDecisionSimulator(
      { task: { trials: { train: 60, val: 10, test: 10 } }, brain: { subjects: 1, trialsPerSubject: 12, neurons: 4, pairing: 'condition' } },
      3,
    );
    const ds = await writeMemoryDecisionDataset(path.join(await tempDir(), 'md'), data, { version: '0.0.0-test' });
    const brain = await ds.read('brain');
    expect(brain.getChild('trial_id')!.nullCount).toBe(12);
  });

  it('round-trips the driving experiment through the Arrow layer', async () => {
    const data = drivingSceneSimulator(
      { images: { scenes: { train: 30, val: 8, test: 4 }, height: 32, width: 48 }, eeg: { subjects: 2, scenesPerSubject: 10, channels: 16, samples: 32 } },
      6,
    );
    const dir = path.join(await tempDir(), 'drv');
    const ds = await writeDrivingSceneDataset(dir, data, { version: '0.0.0-test' });
    expect(ds.table('scenes').entry.shapes.image).toEqual([32, 48, 3]);
    const scenes = await ds.read('scenes');
    expect(sameBytes(tensorRows(scenes.getChild('image')!), data.scenes.images)).toBe(true);
    for (const f of SCENE_FACTORS) {
      expect(sameBytes(scenes.getChild(f)!.toArray() as Float32Array, data.scenes.factors[f])).toBe(true);
    }
    const brain = await ds.read('brain');
    expect(ds.table('brain').entry.shapes.features).toEqual([32, 16]);
    expect(sameBytes(tensorRows(brain.getChild('features')!), data.eeg.features)).toBe(true);
    expect(brain.getChild('trial_id')!.get(3)).toBe(data.eeg.sceneId[3]);
    const channels = await ds.read('channels');
    expect(channels.getChild('name')!.get(0)).toBe('E001');
    await expect(writeDrivingSceneDataset(dir, data, { version: '0.0.0-test' })).rejects.toThrow(/already exists/);
  });
});
