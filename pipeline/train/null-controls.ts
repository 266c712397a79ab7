/**
 * @file The null controls: brain data that keeps its statistics but loses its meaning, made before teacher
 * features are extracted. `shuffled-brain` permutes brain trials against their stimuli; `noise-brain` replaces
 * them by Gaussian noise with the data's mean and covariance.
 */
import { type Data, makeData, RecordBatch, Struct, Table, vectorFromArray, type FixedSizeList, type Utf8 } from 'apache-arrow';
import { Rng, tensorColumnFromArray, tensorRows, tensorShape } from '../../datasets/index.js';
import { symmetricEigen } from '../../datasets/teacher/index.js';
import { B2mError } from '../errors.js';

/** The strategies whose brain data is a null control. */
export const NULL_CONTROLS = ['shuffled-brain', 'noise-brain'] as const;
export type NullControl = (typeof NULL_CONTROLS)[number];

/** Brain trials `[rows, times, channels]`, row-major, and the group of each row (controls act within a group). */
export interface BrainTrials {
  features: Float32Array;
  rows: number;
  times: number;
  channels: number;
  /** Group per row: rows are only ever exchanged with, or modelled on, rows of their own group. */
  groups: ArrayLike<number>;
}

/** A brain table cannot be turned into a null control. */
export class NullControlError extends B2mError {}

export function isNullControl(strategy: string): strategy is NullControl {
  return (NULL_CONTROLS as readonly string[]).includes(strategy);
}

function rowsByGroup(groups: ArrayLike<number>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    let list = out.get(g);
    if (!list) out.set(g, (list = []));
    list.push(i);
  }
  return out;
}

function check(b: BrainTrials): void {
  if (b.features.length !== b.rows * b.times * b.channels || b.groups.length !== b.rows) {
    throw new NullControlError(
      `null control: ${b.features.length} values and ${b.groups.length} groups do not fit ${b.rows} trials of ${b.times} × ${b.channels}`,
    );
  }
}

/**
 * The `shuffled-brain` permutation: `perm[dst]` is the trial whose recording row `dst` receives. Trials are only
 * exchanged within their group, seeded by `seed` and the group.
 */
export function shufflePermutation(groups: ArrayLike<number>, seed: number): Int32Array {
  const out = new Int32Array(groups.length);
  for (const [group, rows] of rowsByGroup(groups)) {
    const perm = Rng.derive(seed, 'shuffled-brain', group).permutation(rows.length);
    rows.forEach((dst, i) => (out[dst] = rows[perm[i]!]!));
  }
  return out;
}

/**
 * `shuffled-brain`: the trials of each group are permuted (seeded by `seed` and the group), so every recorded
 * trial is kept whole (each channel's time course, every marginal statistic) but is paired with another trial's
 * stimulus, condition and events.
 */
export function shuffleBrainTrials(b: BrainTrials, seed: number): Float32Array {
  check(b);
  const size = b.times * b.channels;
  const out = new Float32Array(b.features.length);
  shufflePermutation(b.groups, seed).forEach((src, dst) => out.set(b.features.subarray(src * size, (src + 1) * size), dst * size));
  return out;
}

/**
 * `noise-brain`: Gaussian trials with each group's statistics: the mean per time bin and channel, and one
 * channel × channel covariance pooled over time bins (the covariance of the residuals around the per-bin mean,
 * with n·T − T degrees of freedom). Draws are independent across time bins, so the noise keeps the evoked mean
 * time course and the spatial correlations but no trial-specific dynamics. A group of one trial gets its own
 * trial as the mean and no noise.
 */
export function gaussianBrainTrials(b: BrainTrials, seed: number): Float32Array {
  check(b);
  const { times: T, channels: C } = b;
  const size = T * C;
  const out = new Float32Array(b.features.length);
  for (const [group, rows] of rowsByGroup(b.groups)) {
    const mean = new Float64Array(size);
    for (const r of rows) for (let k = 0; k < size; k++) mean[k] = mean[k]! + b.features[r * size + k]!;
    for (let k = 0; k < size; k++) mean[k] = mean[k]! / rows.length;
    const cov = new Float64Array(C * C);
    const resid = new Float64Array(C);
    for (const r of rows) {
      for (let t = 0; t < T; t++) {
        const base = r * size + t * C;
        for (let c = 0; c < C; c++) resid[c] = b.features[base + c]! - mean[t * C + c]!;
        for (let i = 0; i < C; i++) {
          const ri = resid[i]!;
          if (ri === 0) continue;
          for (let j = i; j < C; j++) cov[i * C + j] = cov[i * C + j]! + ri * resid[j]!;
        }
      }
    }
    const dof = Math.max(1, rows.length * T - T);
    for (let i = 0; i < C; i++) {
      for (let j = i; j < C; j++) {
        const v = cov[i * C + j]! / dof;
        cov[i * C + j] = v;
        cov[j * C + i] = v;
      }
    }
    const factor = covarianceRoot(cov, C);
    const rng = Rng.derive(seed, 'noise-brain', group);
    const z = new Float64Array(C);
    for (const r of rows) {
      for (let t = 0; t < T; t++) {
        rng.fillNormal(z);
        const base = r * size + t * C;
        for (let i = 0; i < C; i++) {
          let v = mean[t * C + i]!;
          const row = i * C;
          for (let j = 0; j < C; j++) v += factor[row + j]! * z[j]!;
          out[base + i] = v;
        }
      }
    }
  }
  return out;
}

/** A square root R (R Rᵀ = cov) from the eigendecomposition: V diag(√λ) with negative round-off eigenvalues at 0. */
function covarianceRoot(cov: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(cov, n);
  const root = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) root[i * n + k] = vectors[k * n + i]! * s;
  }
  return root;
}

/** Applies a null control to brain trials. */
export function nullControlTrials(control: NullControl, b: BrainTrials, seed: number): Float32Array {
  return control === 'shuffled-brain' ? shuffleBrainTrials(b, seed) : gaussianBrainTrials(b, seed);
}

const decoder = new TextDecoder();

function textColumn(table: Table, name: string): string[] {
  const out: string[] = [];
  const column = table.getChild(name);
  if (!column) throw new NullControlError(`null control: the brain table has no "${name}" column`);
  for (const chunk of column.data as Data<Utf8>[]) {
    const offsets = chunk.valueOffsets as Int32Array;
    for (let i = 0; i < chunk.length; i++) out.push(decoder.decode(chunk.values.subarray(offsets[i]!, offsets[i + 1]!)));
  }
  return out;
}

/** Columns that say which task trial a brain row is paired with; a null control never moves them. */
export const PAIRING_COLUMNS = ['trial_id', 'condition', 'subject', 'split'] as const;

/**
 * A brain table (kind `brain`) made into a null control. `noise-brain` replaces the `features` and keeps every
 * other column. `shuffled-brain` moves each recording whole to another row of its group: the features together
 * with every column that describes the recording (its own event timing, delay, stimulus values, behaviour), so
 * teacher features are still aligned by the recording's own events; only the pairing columns (`trial_id`,
 * `condition`, `subject`, `split`) stay. Groups are subject × split, so a control never mixes subjects nor moves
 * data between training and held-out trials. Teacher features are then extracted from the result as from the
 * real table.
 */
export function nullControlBrainTable(table: Table, control: NullControl, seed: number): Table {
  const column = table.getChild('features');
  const field = table.schema.fields.find((f) => f.name === 'features');
  if (!column || !field) throw new NullControlError('null control: the brain table has no "features" column');
  const features = tensorRows(column as never);
  const rows = table.numRows;
  const shape = (field.type as FixedSizeList).listSize;
  const [times, channels] = tensorShape(field, 'brain table');
  if (times === undefined || channels === undefined || times * channels !== shape) {
    throw new NullControlError(`null control: the brain table's features must be [time, channels] tensors, found ${String(field.type)}`);
  }
  const subjects = textColumn(table, 'subject');
  const splits = textColumn(table, 'split');
  const keys = new Map<string, number>();
  const groups = Int32Array.from(subjects, (s, i) => {
    const key = `${s}\u0000${splits[i]}`;
    if (!keys.has(key)) keys.set(key, keys.size);
    return keys.get(key)!;
  });
  const perm = control === 'shuffled-brain' ? shufflePermutation(groups, seed) : null;
  const replaced = perm ? shuffleBrainTrials({ features, rows, times, channels, groups }, seed) : gaussianBrainTrials({ features, rows, times, channels, groups }, seed);
  const children = table.schema.fields.map((f): Data => {
    if (f === field) {
      const child = tensorColumnFromArray(replaced, rows, [times, channels], 'features').data[0]!.children[0]!;
      return makeData({ type: field.type, length: rows, nullCount: 0, child } as never);
    }
    const source = table.getChild(f.name)!;
    const moves = perm !== null && !(PAIRING_COLUMNS as readonly string[]).includes(f.name);
    if (!moves && source.data.length === 1) return source.data[0]!;
    const values = Array.from({ length: rows }, (_, i) => source.get(moves ? perm[i]! : i));
    return vectorFromArray(values, f.type).data[0]!;
  });
  const batch = new RecordBatch(table.schema, makeData({ type: new Struct(table.schema.fields), length: rows, nullCount: 0, children }));
  return new Table(table.schema, [batch]);
}
