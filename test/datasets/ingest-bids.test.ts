/** @file BIDS-iEEG: a small dataset built around the real sEEG file, sidecars found by inheritance, bad channels, events to epochs. */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { findBidsIeegRuns, ingestBidsIeeg, parseBidsName, readBidsIeeg, readEdf } from '../../datasets/ingest/index.js';

const REAL = path.resolve(import.meta.dirname, '../../../shared/data/real/seeg');
const PREFIX = 'sub-01_ses-01_task-x_run-01';
const BAD = ["L'1", "N'3", 'DC01', 'DC02', 'DC03', 'DC04', 'DC05', 'DC06', 'DC07', 'DC08'];
const EVENTS: [number, number, string][] = [
  [2, 0.5, 'left'],
  [4.25, 0.5, 'right'],
  [6, 0.5, 'left'],
  [9.5, 0.5, 'right'],
  [13.001, 0.5, 'left'],
  [17, 0.5, 'right'],
];

let tmp: string;
let root: string;
let ieeg: string;
let labels: string[];

async function buildDataset(at: string, tweak: { channelsExtra?: string; events?: [number, number, string][]; rate?: number } = {}): Promise<string> {
  const dir = path.join(at, 'sub-01', 'ses-01', 'ieeg');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(at, 'dataset_description.json'), JSON.stringify({ Name: 'b2m test', BIDSVersion: '1.9.0' }));
  await writeFile(path.join(at, 'task-x_ieeg.json'), JSON.stringify({ PowerLineFrequency: 60, Manufacturer: 'Nihon Kohden' }));
  await copyFile(path.join(REAL, 'sample_seeg.edf'), path.join(dir, `${PREFIX}_ieeg.edf`));
  await writeFile(path.join(dir, `${PREFIX}_ieeg.json`), JSON.stringify({ TaskName: 'x', SamplingFrequency: tweak.rate ?? 1000, PowerLineFrequency: 50 }));
  const channelLines = labels.map((name) => {
    const type = name.startsWith('EKG') ? 'ECG' : name.startsWith('DC') ? 'ADC' : 'SEEG';
    const status = BAD.includes(name) ? 'bad' : 'good';
    return [name, type, name.startsWith('DC') ? 'mV' : 'uV', status, status === 'bad' ? 'noisy' : 'n/a'].join('\t');
  });
  if (tweak.channelsExtra) channelLines.push(tweak.channelsExtra);
  await writeFile(path.join(dir, `${PREFIX}_channels.tsv`), ['name\ttype\tunits\tstatus\tstatus_description', ...channelLines].join('\n') + '\n');
  const events = (tweak.events ?? EVENTS).map(([onset, duration, type]) => `${onset}\t${duration}\t${type}`);
  await writeFile(path.join(dir, `${PREFIX}_events.tsv`), ['onset\tduration\ttrial_type', ...events].join('\n') + '\n');
  await copyFile(path.join(REAL, 'sample_seeg_electrodes.tsv'), path.join(dir, 'sub-01_ses-01_space-ACPC_electrodes.tsv'));
  return path.join(dir, `${PREFIX}_ieeg.edf`);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'b2m-bids-'));
  labels = (await readEdf(path.join(REAL, 'sample_seeg.edf'))).channels.map((c) => c.name);
  root = path.join(tmp, 'ds');
  ieeg = await buildDataset(root);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function expectDatasetError(run: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<void> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  for (const f of fragments) expect((err as Error).message).toMatch(f);
}

describe('BIDS-iEEG', () => {
  it('splits file names into entities', () => {
    expect(parseBidsName(`${PREFIX}_ieeg.edf`)).toEqual({
      entities: [
        ['sub', '01'],
        ['ses', '01'],
        ['task', 'x'],
        ['run', '01'],
      ],
      suffix: 'ieeg',
      extension: '.edf',
    });
  });

  it('finds the run under the dataset root', async () => {
    expect(await findBidsIeegRuns(root)).toEqual([ieeg]);
  });

  it('merges sidecars by inheritance, takes channel types and bad channels from _channels.tsv', async () => {
    const run = await readBidsIeeg(ieeg);
    expect(run.subject).toBe('01');
    expect(run.session).toBe('01');
    expect(run.sidecar).toMatchObject({ PowerLineFrequency: 50, Manufacturer: 'Nihon Kohden', SamplingFrequency: 1000 });
    expect(run.channels).toHaveLength(98);
    expect(run.channels.filter((c) => c.status === 'bad').map((c) => c.name).sort()).toEqual([...BAD].sort());
    expect(run.channels.find((c) => c.name === 'EKG1')!.type).toBe('ECG');
    expect(run.channels.find((c) => c.name === "X'3")!.type).toBe('SEEG');
    const tsv = (await readFile(path.join(REAL, 'sample_seeg_electrodes.tsv'), 'utf8')).trim().split('\n').map((l) => l.split('\t'));
    const g5 = tsv.find((r) => r[0] === "G'5")!;
    const row = run.channels.find((c) => c.name === "G'5")!;
    expect(row.x).toBeCloseTo(Number(g5[1]), 6);
    expect(row.y).toBeCloseTo(Number(g5[2]), 6);
    expect(row.location).toBe(g5[5]);
    expect(run.events.map((e) => e.condition)).toEqual(EVENTS.map((e) => e[2]));
  });

  it('ingests: bad channels dropped from the epochs, events become trials, electrodes fill the channel table', async () => {
    const out = path.join(tmp, 'bids-out');
    const result = await ingestBidsIeeg(ieeg, out, { version: 'test', window: { pre: 0.1, post: 0.3 }, splits: { test: 0.34, seed: 3 } });
    expect(result.manifest.kind).toBe('ingest');
    expect(result.manifest.provenance.generator).toBe('bids-ieeg');
    expect(result.manifest.provenance.source).toContain(ieeg);
    expect(result.manifest.provenance.source!.some((f) => f.endsWith('_channels.tsv'))).toBe(true);
    expect(result.manifest.samplingRates).toEqual({ brain: 1000 });
    expect(result.manifest.splits!.counts).toEqual({ train: 4, val: 0, test: 2 });
    expect(result.manifest.tables.brain.units).toEqual({ features: 'uV' });
    const channels = await result.read('channels');
    expect(channels.numRows).toBe(98);
    const status = channels.getChild('status')!.toArray() as string[];
    expect(status.filter((s) => s === 'bad')).toHaveLength(BAD.length);
    const brain = await result.read('brain');
    expect(brain.numRows).toBe(EVENTS.length);
    expect(new Set(brain.getChild('subject')!.toArray() as string[])).toEqual(new Set(['01']));
    const field = brain.schema.fields.find((f) => f.name === 'features')!;
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!).shape).toEqual([400, 98 - BAD.length]);
    expect(brain.getChild('condition')!.toArray()).toEqual(EVENTS.map((e) => e[2]));
    expect(Array.from(brain.getChild('trial_id')!.toArray() as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
    const splits = brain.getChild('split')!.toArray() as string[];
    expect(splits.filter((s) => s === 'test')).toHaveLength(2);
    const rec = await readEdf(ieeg);
    const good = labels.filter((n) => !BAD.includes(n));
    const trial = 4;
    const first = Math.round(EVENTS[trial][0] * 1000) - 100;
    const features = brain.getChild('features')!.get(trial)!.toArray() as Float32Array;
    for (const [c, name] of [[0, good[0]], [17, good[17]], [good.length - 1, good.at(-1)!]] as const) {
      const src = rec.data[labels.indexOf(name)];
      expect(features[c]).toBe(src[first]);
      expect(features[250 * good.length + c]).toBe(src[first + 250]);
    }
  });

  it('a _channels.tsv row naming a channel the recording lacks is an error naming the file and row', async () => {
    const at = path.join(tmp, 'ds-extra');
    const file = await buildDataset(at, { channelsExtra: 'Z9\tSEEG\tuV\tgood\tn/a' });
    await expectDatasetError(readBidsIeeg(file), `${PREFIX}_channels.tsv`, /row 99/, /'Z9'/);
  });

  it('a sidecar sampling rate that disagrees with the data file is an error', async () => {
    const at = path.join(tmp, 'ds-rate');
    const file = await buildDataset(at, { rate: 512 });
    await expectDatasetError(readBidsIeeg(file), `${PREFIX}_ieeg.json`, /512 Hz/, /1000 Hz/);
  });

  it('an event whose epoch leaves the recording names the events row, and leaves no output', async () => {
    const at = path.join(tmp, 'ds-late');
    const file = await buildDataset(at, { events: [...EVENTS, [19.9, 0.5, 'left']] });
    const out = path.join(tmp, 'late-out');
    await expectDatasetError(ingestBidsIeeg(file, out, { version: 'test' }), `${PREFIX}_events.tsv: row 7`, /not inside the recorded signal/);
    expect((await readdir(tmp)).filter((n) => n.startsWith('late-out'))).toEqual([]);
  });
});
