/** @file Seeded train/val/test assignment by trial or by subject, with a summary for the manifest. */

import { DatasetError } from './errors.js';
import type { SplitSummary } from './manifest.js';
import { Rng } from './random.js';
import { SPLITS, type Split } from './schemas.js';

export interface SplitOptions {
  /** 'trial': each key is one trial (keys must be unique); 'subject': every row of a subject gets one split. */
  by: 'trial' | 'subject';
  fractions: { train: number; val: number; test: number };
  seed: number;
}

export interface SplitAssignment {
  /** The split of each row, in the order of the keys given. */
  split: Split[];
  summary: SplitSummary;
}

/** Units per split by largest remainder, giving each split with a positive fraction at least one unit. */
function unitsPerSplit(n: number, fractions: SplitOptions['fractions']): number[] {
  const f = SPLITS.map((s) => fractions[s]);
  const exact = f.map((x) => x * n);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = [0, 1, 2].sort((a, b) => exact[b]! - counts[b]! - (exact[a]! - counts[a]!) || a - b);
  for (const i of order) {
    if (left === 0) break;
    counts[i]!++;
    left--;
  }
  for (let i = 0; i < 3; i++) {
    if (f[i]! > 0 && counts[i] === 0) {
      const donor = counts.indexOf(Math.max(...counts));
      counts[donor]!--;
      counts[i] = 1;
    }
  }
  return counts;
}

/**
 * Assigns each row to train, val or test. Rows are grouped by key (trial id or subject name); distinct keys are
 * sorted, shuffled with `seed`, and cut by `fractions`, so the result depends only on the set of keys and the seed.
 * With `by: 'subject'` no subject appears in two splits.
 */
export function assignSplits(keys: ArrayLike<string | number>, options: SplitOptions): SplitAssignment {
  const { by, fractions, seed } = options;
  const f = [fractions.train, fractions.val, fractions.test];
  if (f.some((x) => !(x >= 0 && x <= 1)) || Math.abs(f[0]! + f[1]! + f[2]! - 1) > 1e-6) {
    throw new DatasetError(
      `split fractions must be between 0 and 1 and add up to 1 (got train ${fractions.train}, val ${fractions.val}, test ${fractions.test})`,
    );
  }
  const rowsOfKey = new Map<string | number, number>();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const seen = rowsOfKey.get(k);
    if (seen !== undefined && by === 'trial') {
      throw new DatasetError(`splitting by trial: trial id ${JSON.stringify(k)} appears in rows ${seen} and ${i}; trial ids must be unique`);
    }
    if (seen === undefined) rowsOfKey.set(k, i);
  }
  const unique = [...rowsOfKey.keys()].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0,
  );
  const needed = f.filter((x) => x > 0).length;
  if (unique.length < needed) {
    throw new DatasetError(
      `splitting by ${by}: ${unique.length} distinct ${by === 'subject' ? 'subjects' : 'trials'} cannot fill ${needed} non-empty splits; add ${by === 'subject' ? 'subjects' : 'trials'} or set a fraction to 0`,
    );
  }
  Rng.derive(seed, 'splits', by).shuffle(unique);
  const perSplit = unitsPerSplit(unique.length, fractions);
  const splitOfKey = new Map<string | number, Split>();
  const units: Record<Split, (string | number)[]> = { train: [], val: [], test: [] };
  let at = 0;
  SPLITS.forEach((s, i) => {
    for (let k = 0; k < perSplit[i]!; k++, at++) {
      splitOfKey.set(unique[at]!, s);
      units[s].push(unique[at]!);
    }
  });
  const split = new Array<Split>(keys.length);
  const counts = { train: 0, val: 0, test: 0 };
  for (let i = 0; i < keys.length; i++) {
    const s = splitOfKey.get(keys[i]!)!;
    split[i] = s;
    counts[s]++;
  }
  const summary: SplitSummary = {
    by,
    seed,
    fractions: { ...fractions },
    counts,
    unitCounts: { train: units.train.length, val: units.val.length, test: units.test.length },
  };
  if (by === 'subject') {
    const names = (s: Split) => units[s].map(String).sort();
    summary.subjects = { train: names('train'), val: names('val'), test: names('test') };
  }
  return { split, summary };
}
