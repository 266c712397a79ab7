/**
 * @file The model's feeds from task rows joined with their brain rows: inputs, labels, decision and label masks,
 * VAE noise from a seeded generator, brain latents and features with their masks, and the positive-pair matrix.
 * Buffers are allocated once at the largest batch; tensors are views into them, one set per batch size.
 */
import * as ort from 'onnxruntime-node';
import type { Rng } from '../../datasets/index.js';
import type { B2mModelOptions, TapTimes } from '../../graphs/b2m.js';
import type { TaskRows } from './task-data.js';
import { type TeacherData, teacherEntry, TrainDataError } from './teacher-data.js';

/** How rows pair for the contrastive term: the same trial, or the same condition. */
export type Pairing = 'trial' | 'condition';

/** Everything the feed builder needs to know about the model and the data. */
export interface FeedSpec {
  model: B2mModelOptions;
  /** Row shape of the task tensor: [T, F] or [H, W, 3]. */
  xShape: readonly number[];
  /** The brain data joined to task rows; null when the model takes none. */
  teacher: TeacherData | null;
  pairing: Pairing;
  /** Data inputs the model takes (its io's data names). */
  inputs: readonly string[];
  /** Most rows a batch will have. */
  capacity: number;
}

/** What the latent term's target looks like per row. */
type LatentTarget =
  | { kind: 'sequence'; bins: Int32Array | null }
  | { kind: 'decision' }
  | { kind: 'flat' };

const KNOWN_INPUTS = new Set([
  'inputs', 'label', 'decision_mask', 'label_mask', 'images', 'noise',
  'brain_latents', 'brain_latent_mask', 'brain_features', 'positives', 'contrastive_mask',
]);

/** The sizes of brain inputs a model needs, checked against the teacher table (names the fix on a mismatch). */
export function checkTeacherFits(model: B2mModelOptions, teacher: TeacherData | null): void {
  if (!model.contrastive && !model.latent) return;
  if (!teacher) throw new TrainDataError('this strategy uses brain data, but no teacher table was given');
  const flat = teacher.times * teacher.k;
  if (model.contrastive && model.contrastive.brainDim !== flat) {
    throw new TrainDataError(`the contrastive head expects ${model.contrastive.brainDim} brain features per row, teacher table "${teacher.table}" has ${teacher.times} × ${teacher.k} = ${flat}; compile the model from this teacher table`);
  }
  if (model.latent) {
    const s = model.student;
    const want = s.kind === 'decisionRnn' ? teacher.k : flat;
    if (model.latent.latentDim !== want) {
      throw new TrainDataError(`the latent readout expects ${model.latent.latentDim} latents, teacher table "${teacher.table}" gives ${want}; compile the model from this teacher table`);
    }
    if (s.kind === 'decisionRnn' && teacher.times !== s.timeBins) {
      throw new TrainDataError(
        `teacher table "${teacher.table}" has ${teacher.times} time bins but the student's trials have ${s.timeBins}; ` +
          'the latent term needs the brain latents aligned to the student\'s time grid (b2m teacher aligns them to the task events)',
      );
    }
  }
}

function latentTarget(model: B2mModelOptions): LatentTarget | null {
  if (!model.latent) return null;
  if (model.student.kind === 'sceneVae') return { kind: 'flat' };
  const times: TapTimes = model.latent.tap.times ?? 'all';
  if (times === 'decision') return { kind: 'decision' };
  if (times === 'all') return { kind: 'sequence', bins: null };
  return { kind: 'sequence', bins: Int32Array.from(times) };
}

/** Fills the model's feeds from task rows. */
export class FeedBuilder {
  private readonly buffers = new Map<string, Float32Array | BigInt64Array>();
  private readonly shapes = new Map<string, (n: number) => number[]>();
  private readonly tensors = new Map<number, Record<string, ort.Tensor>>();
  private readonly entries: Int32Array;
  private readonly keys: Int32Array;
  private readonly bins: Int32Array;
  private readonly conditionIds = new Map<string, number>();
  private readonly latent: LatentTarget | null;
  private readonly rowSize: number;
  private readonly timeBins: number;
  private readonly noiseSize: number;

  constructor(private readonly spec: FeedSpec) {
    for (const name of spec.inputs) {
      if (!KNOWN_INPUTS.has(name)) throw new TrainDataError(`the model takes an input "${name}" that the trainer does not know how to fill`);
    }
    checkTeacherFits(spec.model, spec.teacher);
    const s = spec.model.student;
    this.rowSize = spec.xShape.reduce((a, b) => a * b, 1);
    this.timeBins = s.kind === 'decisionRnn' ? s.timeBins : 0;
    this.noiseSize = s.kind === 'sceneVae' ? s.latent : 0;
    this.latent = latentTarget(spec.model);
    const cap = spec.capacity;
    this.entries = new Int32Array(cap);
    this.keys = new Int32Array(cap);
    this.bins = new Int32Array(cap);
    const T = this.timeBins;
    const teacher = spec.teacher;
    const flat = teacher ? teacher.times * teacher.k : 0;
    const k = teacher?.k ?? 0;
    const tapped = this.latent?.kind === 'sequence' ? (this.latent.bins?.length ?? T) : 0;
    const sizes: Record<string, [number, (n: number) => number[]]> = {
      inputs: [this.rowSize, (n) => [n, ...spec.xShape]],
      images: [this.rowSize, (n) => [n, ...spec.xShape]],
      label: [1, (n) => [n]],
      decision_mask: [T, (n) => [n, T]],
      label_mask: [T, (n) => [n, T]],
      noise: [this.noiseSize, (n) => [n, this.noiseSize]],
      brain_features: [flat, (n) => [n, flat]],
      contrastive_mask: [1, (n) => [n]],
      positives: [cap, (n) => [n, n]],
    };
    if (this.latent) {
      const l = this.latent;
      sizes.brain_latents =
        l.kind === 'flat' ? [flat, (n) => [n, flat]] : l.kind === 'decision' ? [k, (n) => [n, k]] : [tapped * k, (n) => [n, tapped, k]];
      sizes.brain_latent_mask = l.kind === 'sequence' ? [tapped, (n) => [n, tapped]] : [1, (n) => [n]];
    }
    for (const name of spec.inputs) {
      const [size, shape] = sizes[name]!;
      this.buffers.set(name, name === 'label' ? new BigInt64Array(cap) : new Float32Array(cap * size));
      this.shapes.set(name, shape);
    }
  }

  /**
   * The feeds for the rows of `parts`, in order. `noise` (VAE) is drawn from `rng`, or zero when `rng` is null
   * (evaluation reads the latent mean). The returned tensors are reused by the next call with the same row count.
   */
  build(parts: readonly TaskRows[], rng: Rng | null): Record<string, ort.Tensor> {
    let n = 0;
    for (const p of parts) n += p.rows;
    if (n > this.spec.capacity) throw new TrainDataError(`a batch of ${n} rows exceeds the ${this.spec.capacity} the feeds were sized for`);
    let at = 0;
    for (const p of parts) {
      this.fillTask(p, at);
      at += p.rows;
    }
    const noise = this.buffers.get('noise') as Float32Array | undefined;
    if (noise) {
      const view = noise.subarray(0, n * this.noiseSize);
      if (rng) rng.fillNormal(view);
      else view.fill(0);
    }
    if (this.spec.teacher) this.fillBrain(n);
    return this.tensorsFor(n);
  }

  /** How many of the last built batch's first `n` rows have brain data. */
  brainRows(n: number): number {
    let count = 0;
    for (let r = 0; r < n; r++) if (this.entries[r]! >= 0) count++;
    return count;
  }

  private tensorsFor(n: number): Record<string, ort.Tensor> {
    let set = this.tensors.get(n);
    if (!set) {
      set = {};
      for (const [name, buffer] of this.buffers) {
        const shape = this.shapes.get(name)!(n);
        const count = shape.reduce((a, b) => a * b, 1);
        set[name] = buffer instanceof BigInt64Array
          ? new ort.Tensor('int64', buffer.subarray(0, count), shape)
          : new ort.Tensor('float32', buffer.subarray(0, count), shape);
      }
      this.tensors.set(n, set);
    }
    return set;
  }

  private fillTask(p: TaskRows, at: number): void {
    const x = (this.buffers.get('inputs') ?? this.buffers.get('images')) as Float32Array | undefined;
    x?.set(p.x.subarray(0, p.rows * this.rowSize), at * this.rowSize);
    const T = this.timeBins;
    const label = this.buffers.get('label') as BigInt64Array | undefined;
    const decision = this.buffers.get('decision_mask') as Float32Array | undefined;
    const labelMask = this.buffers.get('label_mask') as Float32Array | undefined;
    const classes = this.spec.model.student.kind === 'decisionRnn' ? (this.spec.model.student.classes ?? 2) : 0;
    for (let i = 0; i < p.rows; i++) {
      const r = at + i;
      if (label) {
        const l = p.label![i]!;
        if (!(l >= 0 && l < classes)) throw new TrainDataError(`trial ${p.id[i]}: label ${l} is not a choice 0..${classes - 1}`);
        label[r] = BigInt(l);
      }
      if (decision || labelMask) {
        const bin = p.decisionBin![i]!;
        if (!(bin >= 0 && bin < T)) throw new TrainDataError(`trial ${p.id[i]}: decision_bin ${bin} is outside the trial's ${T} time bins`);
        this.bins[r] = bin;
        if (decision) {
          decision.fill(0, r * T, (r + 1) * T);
          decision[r * T + bin] = 1;
        }
        if (labelMask) {
          labelMask.fill(0, r * T, r * T + bin);
          labelMask.fill(1, r * T + bin, (r + 1) * T);
        }
      }
      this.entries[r] = this.spec.teacher ? teacherEntry(this.spec.teacher, p.id[i]!, p.condition?.[i]) : -1;
      this.keys[r] = this.spec.pairing === 'trial' ? p.id[i]! : this.conditionId(p, i);
    }
  }

  private conditionId(p: TaskRows, i: number): number {
    const c = p.condition?.[i];
    if (c === undefined) throw new TrainDataError('pairing by condition needs the task table\'s condition column');
    let id = this.conditionIds.get(c);
    if (id === undefined) this.conditionIds.set(c, (id = this.conditionIds.size));
    return id;
  }

  private fillBrain(n: number): void {
    const t = this.spec.teacher!;
    const flat = t.times * t.k;
    const features = this.buffers.get('brain_features') as Float32Array | undefined;
    const cmask = this.buffers.get('contrastive_mask') as Float32Array | undefined;
    const positives = this.buffers.get('positives') as Float32Array | undefined;
    const { entries, keys } = this;
    for (let r = 0; r < n; r++) {
      const e = entries[r]!;
      if (features) {
        if (e >= 0) features.set(t.latents.subarray(e * flat, (e + 1) * flat), r * flat);
        else features.fill(0, r * flat, (r + 1) * flat);
      }
      if (cmask) cmask[r] = e >= 0 ? 1 : 0;
      if (positives) {
        for (let j = 0; j < n; j++) positives[r * n + j] = e >= 0 && entries[j]! >= 0 && keys[r] === keys[j] ? 1 : 0;
      }
    }
    if (this.latent) this.fillLatents(n);
  }

  private fillLatents(n: number): void {
    const t = this.spec.teacher!;
    const { k, times } = t;
    const flat = times * k;
    const src = t.latents;
    const target = this.buffers.get('brain_latents') as Float32Array;
    const mask = this.buffers.get('brain_latent_mask') as Float32Array;
    const l = this.latent!;
    const covered = t.covered;
    const bins = l.kind === 'sequence' ? l.bins : null;
    const count = l.kind === 'sequence' ? (bins?.length ?? times) : 1;
    for (let r = 0; r < n; r++) {
      const e = this.entries[r]!;
      if (l.kind === 'flat' || (l.kind === 'sequence' && bins === null)) {
        const size = l.kind === 'flat' ? flat : count * k;
        if (e >= 0) target.set(src.subarray(e * flat, (e + 1) * flat), r * size);
        else target.fill(0, r * size, (r + 1) * size);
        if (l.kind === 'flat') mask[r] = e >= 0 ? 1 : 0;
        else if (e < 0) mask.fill(0, r * times, (r + 1) * times);
        else if (covered) mask.set(covered.subarray(e * times, (e + 1) * times), r * times);
        else mask.fill(1, r * times, (r + 1) * times);
        continue;
      }
      for (let j = 0; j < count; j++) {
        const bin = l.kind === 'decision' ? this.bins[r]! : bins![j]!;
        const dst = (r * count + j) * k;
        if (e < 0) {
          target.fill(0, dst, dst + k);
          mask[r * count + j] = 0;
          continue;
        }
        const from = (e * times + bin) * k;
        for (let m = 0; m < k; m++) target[dst + m] = src[from + m]!;
        mask[r * count + j] = covered ? covered[e * times + bin]! : 1;
      }
    }
  }
}
