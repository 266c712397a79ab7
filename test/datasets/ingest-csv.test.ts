/** @file CSV and TSV: header, numeric and text columns, quoting, missing cells, ragged rows, and CSV channels to epochs. */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { ingestCsv, numberColumn, numericMatrix, readCsv, readTsv, textColumn } from '../../datasets/ingest/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'b2m-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectDatasetError(run: Promise<unknown> | (() => unknown), ...fragments: (string | RegExp)[]): Promise<void> {
  const err = await (typeof run === 'function' ? Promise.resolve().then(run) : run).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  for (const f of fragments) expect((err as Error).message).toMatch(f);
}

describe('CSV and TSV reading', () => {
  it('types columns: numbers (with missing as NaN, exponents, infinities) and text, quotes honoured', async () => {
    const file = path.join(dir, 'mixed.csv');
    await writeFile(file, '\ufefftime,lfp,label,gain\n0,1.5,"a, quoted",1e3\n0.01,-2,plain,NA\n0.02,,"say ""hi""",-inf\n');
    const table = await readCsv(file);
    expect(table.rowCount).toBe(3);
    expect(table.columns.map((c) => [c.name, c.kind])).toEqual([
      ['time', 'number'],
      ['lfp', 'number'],
      ['label', 'text'],
      ['gain', 'number'],
    ]);
    expect(Array.from(numberColumn(table, 'lfp'))).toEqual([1.5, -2, Number.NaN]);
    expect(Array.from(numberColumn(table, 'gain'))).toEqual([1000, Number.NaN, -Infinity]);
    expect(textColumn(table, 'label')).toEqual(['a, quoted', 'plain', 'say "hi"']);
  });

  it('reads BIDS-style TSV with n/a', async () => {
    const file = path.join(dir, 'events.tsv');
    await writeFile(file, 'onset\tduration\ttrial_type\n1.0\tn/a\tgo\n2.5\t0.5\tstop\n');
    const table = await readTsv(file);
    expect(Array.from(numberColumn(table, 'duration'))).toEqual([Number.NaN, 0.5]);
    expect(textColumn(table, 'trial_type')).toEqual(['go', 'stop']);
  });

  it('a ragged row names the file, the row and its line', async () => {
    const file = path.join(dir, 'ragged.csv');
    await writeFile(file, 'a,b,c\n1,2,3\n\n4,5,6\n7,8\n9,10,11\n');
    await expectDatasetError(readCsv(file), 'ragged.csv', /row 3 \(line 5\)/, /2 fields/, /3 \(a, b, c\)/);
  });

  it('duplicate or empty header names and text in a numeric request are errors naming the column', async () => {
    const dup = path.join(dir, 'dup.csv');
    await writeFile(dup, 'a,b,a\n1,2,3\n');
    await expectDatasetError(readCsv(dup), 'dup.csv', /'a' twice/);
    const text = path.join(dir, 'text.csv');
    await writeFile(text, 'a,b\n1,2\n3,x\n');
    const table = await readCsv(text);
    await expectDatasetError(() => numberColumn(table, 'b'), 'text.csv', /'b'/, /row 2 \(line 3\)/, /'x'/);
    await expectDatasetError(() => numberColumn(table, 'c'), 'text.csv', /no column 'c'/, /a, b/);
  });

  it('a numeric matrix refuses holes, naming row and column', async () => {
    const file = path.join(dir, 'holes.csv');
    await writeFile(file, 'x,y\n1,2\n3,\n');
    const table = await readCsv(file);
    expect(() => numericMatrix(table)).toThrow(/row 2 \(line 3\), column 'y'/);
  });
});

describe('CSV ingest', () => {
  it('numeric columns become channels, the time column is left out, events cut epochs', async () => {
    const rows = 60;
    const lines = ['time,c1,c2,c3'];
    for (let s = 0; s < rows; s++) lines.push([s / 20, s, -s * 2, s % 7].join(','));
    const file = path.join(dir, 'signal.csv');
    await writeFile(file, lines.join('\n') + '\n');
    const events = path.join(dir, 'signal_events.tsv');
    await writeFile(events, 'onset\tduration\ttrial_type\n1.0\t0\tcue\n2.0\t0\tprobe\n');
    const out = path.join(dir, 'csv-out');
    const result = await ingestCsv(file, out, { version: 'test', rate: 20, events, window: { pre: 0.25, post: 0.5 }, unit: 'mV' });
    const channels = await result.read('channels');
    expect(channels.getChild('name')!.toArray()).toEqual(['c1', 'c2', 'c3']);
    expect(channels.getChild('unit')!.toArray()).toEqual(['uV', 'uV', 'uV']);
    const brain = await result.read('brain');
    expect(brain.getChild('condition')!.toArray()).toEqual(['cue', 'probe']);
    const probe = brain.getChild('features')!.get(1)!.toArray() as Float32Array;
    const first = 2 * 20 - 5;
    expect(probe).toHaveLength(15 * 3);
    expect(probe[0]).toBe(first * 1000);
    expect(probe[4 * 3 + 1]).toBe(-(first + 4) * 2 * 1000);
    expect(probe[14 * 3 + 2]).toBe(((first + 14) % 7) * 1000);
  });

  it('a ragged CSV leaves no output behind', async () => {
    const file = path.join(dir, 'bad-signal.csv');
    await writeFile(file, 'c1,c2\n1,2\n3,4,5\n');
    const out = path.join(dir, 'bad-out');
    await expectDatasetError(ingestCsv(file, out, { version: 'test', rate: 10 }), 'bad-signal.csv', /row 2 \(line 3\)/);
    expect((await readdir(dir)).filter((n) => n.startsWith('bad-out'))).toEqual([]);
  });
});
