import { describe, expect, it } from 'vitest';
import { brainSchema, recordBatchFromColumns, Rng, tensorRows } from '../../datasets/index.js';
import { Table } from 'apache-arrow';
import { gaussianBrainTrials, nullControlBrainTable, shuffleBrainTrials } from '../../pipeline/train/null-controls.js';

/** Trials with a per-group evoked time course and correlated channels: x[t] = mean_g[t] + A_g z. */
function structured(rows: number, times: number, channels: number, groups: number, seed: number) {
  const rng = Rng.derive(seed, 'test');
  const features = new Float32Array(rows * times * channels);
  const group = Int32Array.from({ length: rows }, (_, i) => i % groups);
  const means = Array.from({ length: groups }, () => Float64Array.from({ length: times * channels }, () => rng.normal(0, 3)));
  const mix = Array.from({ length: groups }, () => Float64Array.from({ length: channels * channels }, () => rng.normal(0, 1)));
  for (let r = 0; r < rows; r++) {
    const g = group[r]!;
    for (let t = 0; t < times; t++) {
      const z = Array.from({ length: channels }, () => rng.normal());
      for (let c = 0; c < channels; c++) {
        let v = means[g]![t * channels + c]!;
        for (let j = 0; j < channels; j++) v += mix[g]![c * channels + j]! * z[j]!;
        features[(r * times + t) * channels + c] = v;
      }
    }
  }
  return { features, rows, times, channels, groups: group };
}

/** Mean per (time, channel) and channel covariance pooled over time around it, by plain loops over one group's rows. */
function stats(x: Float32Array, rows: number[], times: number, channels: number) {
  const mean = new Float64Array(times * channels);
  for (const r of rows) for (let k = 0; k < times * channels; k++) mean[k] += x[r * times * channels + k]!;
  for (let k = 0; k < mean.length; k++) mean[k] /= rows.length;
  const cov = new Float64Array(channels * channels);
  for (const r of rows) {
    for (let t = 0; t < times; t++) {
      for (let i = 0; i < channels; i++) {
        for (let j = 0; j < channels; j++) {
          const a = x[(r * times + t) * channels + i]! - mean[t * channels + i]!;
          const b = x[(r * times + t) * channels + j]! - mean[t * channels + j]!;
          cov[i * channels + j] += a * b;
        }
      }
    }
  }
  for (let k = 0; k < cov.length; k++) cov[k] /= rows.length * times - times;
  return { mean, cov };
}

const rowsOf = (groups: Int32Array, g: number) => Array.from(groups.keys()).filter((i) => groups[i] === g);

describe('shuffled-brain', () => {
  const b = structured(60, 5, 3, 2, 1);
  const size = b.times * b.channels;
  const rowKey = (x: Float32Array, r: number) => Array.from(x.subarray(r * size, (r + 1) * size)).join(',');

  it('permutes whole trials within each group, so every marginal statistic is kept exactly', () => {
    const out = shuffleBrainTrials(b, 7);
    for (const g of [0, 1]) {
      const rows = rowsOf(b.groups, g);
      const before = rows.map((r) => rowKey(b.features, r)).sort();
      const after = rows.map((r) => rowKey(out, r)).sort();
      expect(after).toEqual(before);
      const s0 = stats(b.features, rows, b.times, b.channels);
      const s1 = stats(out, rows, b.times, b.channels);
      for (let k = 0; k < s0.mean.length; k++) expect(s1.mean[k]).toBeCloseTo(s0.mean[k]!, 9);
    }
    const moved = Array.from({ length: b.rows }, (_, r) => rowKey(out, r) !== rowKey(b.features, r)).filter(Boolean).length;
    expect(moved).toBeGreaterThan(b.rows / 2);
  });

  it('is reproducible for a seed and differs between seeds', () => {
    expect(shuffleBrainTrials(b, 7)).toEqual(shuffleBrainTrials(b, 7));
    expect(shuffleBrainTrials(b, 8)).not.toEqual(shuffleBrainTrials(b, 7));
  });
});

describe('noise-brain', () => {
  const b = structured(800, 4, 3, 2, 2);

  it('matches each group\'s mean per time bin and pooled channel covariance within sampling error', () => {
    const out = gaussianBrainTrials(b, 3);
    for (const g of [0, 1]) {
      const rows = rowsOf(b.groups, g);
      const s0 = stats(b.features, rows, b.times, b.channels);
      const s1 = stats(out, rows, b.times, b.channels);
      for (let t = 0; t < b.times; t++) {
        for (let c = 0; c < b.channels; c++) {
          const se = Math.sqrt(s0.cov[c * b.channels + c]! / rows.length);
          expect(Math.abs(s1.mean[t * b.channels + c]! - s0.mean[t * b.channels + c]!)).toBeLessThan(5 * se);
        }
      }
      const n = rows.length * b.times;
      for (let i = 0; i < b.channels; i++) {
        for (let j = 0; j < b.channels; j++) {
          const sd = Math.sqrt((s0.cov[i * b.channels + i]! * s0.cov[j * b.channels + j]! + s0.cov[i * b.channels + j]! ** 2) / n);
          expect(Math.abs(s1.cov[i * b.channels + j]! - s0.cov[i * b.channels + j]!)).toBeLessThan(5 * sd);
        }
      }
    }
  });

  it('keeps no trial of the original data and is reproducible for a seed', () => {
    const out = gaussianBrainTrials(b, 3);
    let same = 0;
    for (let i = 0; i < out.length; i++) if (out[i] === b.features[i]) same++;
    expect(same).toBe(0);
    expect(gaussianBrainTrials(b, 3)).toEqual(out);
  });
});

describe('nullControlBrainTable', () => {
  it('replaces only the features, with controls made per subject and split', () => {
    const schema = brainSchema({ features: [2, 2] });
    const subjects = ['a', 'a', 'a', 'b', 'b', 'b'];
    const splits = ['train', 'train', 'val', 'train', 'train', 'val'];
    const features = Float32Array.from({ length: 24 }, (_, i) => (i < 12 ? 1 : 100) + Math.floor(i / 4));
    const batch = (lo: number, hi: number) =>
      recordBatchFromColumns(schema, {
        trial_id: [1, 2, 3, 4, 5, 6].slice(lo, hi),
        condition: ['x', 'y', 'x', 'y', 'x', 'y'].slice(lo, hi),
        subject: subjects.slice(lo, hi),
        split: splits.slice(lo, hi),
        features: features.slice(lo * 4, hi * 4),
      });
    const table = new Table([batch(0, 4), batch(4, 6)]);
    const out = nullControlBrainTable(table, 'shuffled-brain', 9);
    expect(out.numRows).toBe(6);
    expect(out.getChild('trial_id')!.toArray()).toEqual(table.getChild('trial_id')!.toArray());
    expect(out.getChild('subject')!.toArray()).toEqual(subjects);
    const shuffled = tensorRows(out.getChild('features') as never);
    const row = (x: Float32Array, r: number) => Array.from(x.subarray(r * 4, r * 4 + 4));
    expect(row(shuffled, 2)).toEqual(row(features, 2));
    expect(row(shuffled, 5)).toEqual(row(features, 5));
    expect([row(shuffled, 0), row(shuffled, 1)].sort()).toEqual([row(features, 0), row(features, 1)].sort());
    expect([row(shuffled, 3), row(shuffled, 4)].sort()).toEqual([row(features, 3), row(features, 4)].sort());
  });
  it('moves a shuffled recording whole (features with its own events), keeping only the pairing columns', () => {
    const schema = brainSchema({ features: [1, 1] }, { offer1_on: 'int32', delay_bins: 'int32' });
    const n = 8;
    const ids = Array.from({ length: n }, (_, i) => (i === 3 ? null : 10 + i));
    const table = new Table([recordBatchFromColumns(schema, {
      trial_id: ids,
      condition: Array.from({ length: n }, (_, i) => `c${i}`),
      subject: Array(n).fill('a'),
      split: Array(n).fill('train'),
      features: Float32Array.from({ length: n }, (_, i) => i),
      offer1_on: Array.from({ length: n }, (_, i) => 100 + i),
      delay_bins: Array.from({ length: n }, (_, i) => 200 + i),
    })]);
    const out = nullControlBrainTable(table, 'shuffled-brain', 4);
    const moved = tensorRows(out.getChild('features') as never);
    expect(Array.from(moved).sort()).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(Array.from(moved)).not.toEqual(Array.from({ length: n }, (_, i) => i));
    for (let r = 0; r < n; r++) {
      const src = moved[r]!;
      expect(out.getChild('offer1_on')!.get(r)).toBe(100 + src);
      expect(out.getChild('delay_bins')!.get(r)).toBe(200 + src);
      expect(out.getChild('trial_id')!.get(r)).toBe(ids[r]);
      expect(out.getChild('condition')!.get(r)).toBe(`c${r}`);
    }
    const noise = nullControlBrainTable(table, 'noise-brain', 4);
    for (let r = 0; r < n; r++) expect(noise.getChild('offer1_on')!.get(r)).toBe(100 + r);
  });
});

