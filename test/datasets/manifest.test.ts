/** @file Dataset directories: manifest validation, atomic directory writes, opening checks, trial pairing. */

import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RecordBatch } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, writeDataset, type ManifestInput } from '../../datasets/dataset.js';
import { DatasetError } from '../../datasets/errors.js';
import { MANIFEST_FILE, parseManifest, readManifest } from '../../datasets/manifest.js';
import { recordBatchFromColumns } from '../../datasets/record-batch.js';
import { brainSchema, trialsSchema } from '../../datasets/schemas.js';
import { writeTable } from '../../datasets/table-io.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'b2m-manifest-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const T = 5;
const F = 2;

function trials(ids: number[], subjects: string[]): RecordBatch {
  const n = ids.length;
  return recordBatchFromColumns(trialsSchema({ inputs: [T, F] }), {
    trial_id: Int32Array.from(ids),
    subject: subjects,
    session: subjects.map(() => 'ses-1'),
    split: ids.map((i) => (i % 5 === 4 ? 'val' : 'train')),
    condition: ids.map((i) => `o1=${i % 3}`),
    inputs: new Float32Array(n * T * F).map((_, i) => i / 7),
    label: Int32Array.from(ids, (i) => i % 2),
    decision_bin: Int32Array.from(ids, () => T - 1),
  });
}

function brain(ids: (number | null)[], subjects: string[]): RecordBatch {
  return recordBatchFromColumns(brainSchema({ features: [T, 3] }), {
    trial_id: ids,
    condition: ids.map(() => 'c'),
    subject: subjects,
    split: ids.map(() => 'train'),
    features: new Float32Array(ids.length * T * 3).map((_, i) => Math.sin(i)),
  });
}

const manifest: ManifestInput = {
  kind: 'memory-decision',
  name: 'tiny',
  samplingRates: { trials: 20, brain: 20 },
  provenance: { generator: 'test', version: '0.1.0' },
  seed: 7,
};

describe('manifest schema', () => {
  const valid = {
    schemaVersion: 1,
    kind: 'ingest',
    tables: { brain: { kind: 'brain', files: ['brain.arrow'], rows: 3, shapes: { features: [10, 4] } } },
    provenance: { version: '0.1.0', source: ['sub-01_ieeg.edf'] },
  };

  it('accepts a valid manifest', () => {
    expect(parseManifest(valid, 'm.json').tables.brain!.shapes.features).toEqual([10, 4]);
  });

  it('lists each problem with its path', () => {
    const bad = {
      ...valid,
      schemaVersion: 2,
      tables: { brain: { kind: 'eeg', files: ['../brain.arrow'], rows: -1, shapes: {} } },
      colour: 'red',
    };
    const err = (() => {
      try {
        parseManifest(bad, 'data/manifest.json');
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(DatasetError);
    expect(err!.message).toMatch(/^data\/manifest\.json: invalid dataset manifest/);
    expect(err!.message).toMatch(/schemaVersion:/);
    expect(err!.message).toMatch(/tables\.brain\.kind:/);
    expect(err!.message).toMatch(/tables\.brain\.files\.0: must be a path inside the dataset directory/);
    expect(err!.message).toMatch(/tables\.brain\.rows:/);
    expect(err!.message).toMatch(/colour/);
  });

  it('checks split fractions add up to 1', () => {
    const withSplits = {
      ...valid,
      splits: {
        by: 'trial',
        seed: 1,
        fractions: { train: 0.5, val: 0.2, test: 0.2 },
        counts: { train: 1, val: 1, test: 1 },
        unitCounts: { train: 1, val: 1, test: 1 },
      },
    };
    expect(() => parseManifest(withSplits, 'm.json')).toThrow(/splits\.fractions: train \+ val \+ test must add up to 1/);
  });
});

describe('writeDataset and openDataset', () => {
  it('writes tables and manifest, then opens them with shapes, rows and files recorded', async () => {
    const dir = path.join(root, 'ds1');
    const ids = Array.from({ length: 12 }, (_, i) => i);
    const subjects = ids.map((i) => `s${i % 2}`);
    const ds = await writeDataset(dir, {
      tables: {
        trials: { kind: 'trials', source: trials(ids, subjects), maxRowsPerShard: 5, units: { inputs: 'a.u.' } },
        brain: { kind: 'brain', source: brain([0, 1, null], ['s0', 's1', 's0']) },
      },
      manifest,
    });
    expect((await readdir(dir)).sort()).toEqual(['brain.arrow', MANIFEST_FILE, 'trials-00000.arrow', 'trials-00001.arrow', 'trials-00002.arrow']);
    expect((await readdir(root)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const m = await readManifest(dir);
    expect(m.tables.trials).toEqual({
      kind: 'trials',
      files: ['trials-00000.arrow', 'trials-00001.arrow', 'trials-00002.arrow'],
      rows: 12,
      shapes: { inputs: [T, F] },
      units: { inputs: 'a.u.' },
    });
    expect(m.tables.brain!.shapes).toEqual({ features: [T, 3] });
    expect(m.seed).toBe(7);
    expect(ds.table('trials').rows).toBe(12);
    const reopened = await openDataset(dir, { validateRows: true });
    expect((await reopened.read('trials')).numRows).toBe(12);
    await reopened.checkPairing('trials', 'brain');
    expect(() => reopened.table('scenes')).toThrow(/no table "scenes" \(tables: trials, brain\)/);
  });

  it('refuses an existing directory unless asked to overwrite, and replaces it whole when asked', async () => {
    const dir = path.join(root, 'ds2');
    await writeDataset(dir, { tables: { trials: { kind: 'trials', source: trials([1, 2, 3], ['a', 'a', 'a']) } }, manifest });
    await expect(
      writeDataset(dir, { tables: { trials: { kind: 'trials', source: trials([4], ['a']) } }, manifest }),
    ).rejects.toThrow(/ds2: already exists; choose another output directory or pass overwrite/);
    const ds = await writeDataset(dir, { tables: { other: { kind: 'trials', source: trials([4], ['a']) } }, manifest }, { overwrite: true });
    expect(Object.keys(ds.tables)).toEqual(['other']);
    expect((await readdir(dir)).sort()).toEqual(['manifest.json', 'other.arrow']);
    expect((await readdir(root)).filter((f) => f.startsWith('ds2.'))).toEqual([]);
  });

  it('a failing table leaves neither the dataset nor its temporary directory, and keeps an old dataset', async () => {
    const dir = path.join(root, 'ds3');
    await writeDataset(dir, { tables: { trials: { kind: 'trials', source: trials([1], ['a']) } }, manifest });
    const before = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
    await expect(
      writeDataset(
        dir,
        { tables: { trials: { kind: 'trials', source: trials([1, 2, 2], ['a', 'a', 'a']) } }, manifest },
        { overwrite: true },
      ),
    ).rejects.toThrow(/trials\.arrow: duplicate trial_id 2 in rows 1 and 2/);
    expect(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')).toBe(before);
    expect((await readdir(root)).filter((f) => f.startsWith('ds3.'))).toEqual([]);
    await expect(
      writeDataset(path.join(root, 'ds4'), { tables: { trials: { kind: 'trials', source: trials([1], ['a']) } }, manifest: { ...manifest, kind: 'robot' as never } }),
    ).rejects.toThrow(/manifest\.json: invalid dataset manifest:\n\s+kind:/);
    expect((await readdir(root)).filter((f) => f.startsWith('ds4'))).toEqual([]);
  });

  it('opening names the file when the manifest and the tables disagree', async () => {
    const dir = path.join(root, 'ds5');
    await writeDataset(dir, { tables: { trials: { kind: 'trials', source: trials([1, 2], ['a', 'a']) } }, manifest });
    const m = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
    m.tables.trials.shapes.inputs = [T + 1, F];
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(m));
    await expect(openDataset(dir)).rejects.toThrow(/manifest\.json: table "trials" column "inputs" has shape \[6,2\] in the manifest but \[5,2\] in .*trials\.arrow/);
    m.tables.trials.shapes.inputs = [T, F];
    m.tables.trials.rows = 3;
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(m));
    await expect(openDataset(dir)).resolves.toBeDefined();
    await expect(openDataset(dir, { validateRows: true })).rejects.toThrow(/table "trials" has 3 rows in the manifest but 2 in its files/);
    m.tables.trials.kind = 'brain';
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(m));
    await expect(openDataset(dir)).rejects.toThrow(/trials\.arrow: the brain table has no column "features"/);
    await rm(path.join(dir, MANIFEST_FILE));
    await expect(openDataset(dir)).rejects.toThrow(/ds5: not a b2m dataset \(no manifest\.json\)/);
  });

  it('a brain table whose trial ids or subjects do not match the trials table', async () => {
    const dir = path.join(root, 'ds6');
    await writeDataset(dir, {
      tables: {
        trials: { kind: 'trials', source: trials([1, 2, 3], ['a', 'a', 'b']) },
        wrongId: { kind: 'brain', source: brain([1, 9], ['a', 'a']) },
        wrongSubject: { kind: 'brain', source: brain([1, 3], ['a', 'a']) },
        unknownSubject: { kind: 'brain', source: brain([null], ['zz']) },
      },
      manifest,
    });
    const ds = await openDataset(dir);
    await expect(ds.checkPairing('trials', 'wrongId')).rejects.toThrow(/wrongId\.arrow: row 1, trial_id 9 is not in table "trials"/);
    await expect(ds.checkPairing('trials', 'wrongSubject')).rejects.toThrow(/row 1, trial_id 3 belongs to subject "b" in table "trials", not "a"/);
    await expect(ds.checkPairing('trials', 'unknownSubject')).rejects.toThrow(/row 0, subject "zz" has no trials in table "trials"/);
  });

  it('a table file replaced by one of another schema is caught on open', async () => {
    const dir = path.join(root, 'ds7');
    await writeDataset(dir, { tables: { brain: { kind: 'brain', source: brain([1], ['a']) } }, manifest });
    await writeTable(path.join(dir, 'brain.arrow'), trials([1], ['a']));
    await expect(openDataset(dir)).rejects.toThrow(/brain\.arrow: the brain table has no column "features"/);
  });
});
