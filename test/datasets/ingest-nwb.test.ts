/** @file NWB through h5wasm: the two real conformance files, and an NWB file with electrodes, units and trials written here. */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import {
  ingestNwb,
  inspectNwb,
  nwbSeriesToRecording,
  readNwbSeries,
  readNwbTrials,
  readNwbUnits,
  unitSpikeTimes,
} from '../../datasets/ingest/index.js';

const REAL = path.resolve(import.meta.dirname, '../../../shared/data/real/nwb');
const NO_UNIT = path.join(REAL, '1.5.1_timeseries_no_unit.nwb');
const EXTENSION = path.join(REAL, '2.1.0_nwbfile_with_extension.nwb');

const T = 200;
const C = 3;
const RATE = 100;
const START = 1.0;
const RAW = Int16Array.from({ length: T * C }, (_, i) => ((i * 37) % 401) - 200);
const SPIKES = [0.1, 0.5, 0.9, 0.2, 1.7];

let dir: string;
let synthetic: string;

function writeSynthetic(file: string, timestamps: Float64Array): void {
  const f = new h5wasm.File(file, 'w');
  f.create_attribute('nwb_version', '2.7.0');
  f.create_attribute('neurodata_type', 'NWBFile');
  f.create_dataset({ name: 'identifier', data: 'mouse-7' });
  f.create_dataset({ name: 'session_start_time', data: '2024-05-01T10:00:00+00:00' });
  f.create_dataset({ name: 'session_description', data: 'b2m synthetic' });
  const electrodes = f.create_group('general').create_group('extracellular_ephys').create_group('electrodes');
  electrodes.create_attribute('neurodata_type', 'DynamicTable');
  electrodes.create_attribute('colnames', ['location', 'label']);
  electrodes.create_dataset({ name: 'id', data: Int32Array.of(10, 11, 12) });
  electrodes.create_dataset({ name: 'location', data: ['CA1', 'CA1', 'DG'] });
  electrodes.create_dataset({ name: 'label', data: ['shank0-a', 'shank0-b', 'shank1-a'] });
  const lfp = f.create_group('acquisition').create_group('lfp');
  lfp.create_attribute('neurodata_type', 'ElectricalSeries');
  lfp.create_attribute('namespace', 'core');
  const data = lfp.create_dataset({ name: 'data', data: RAW, shape: [T, C] });
  data.create_attribute('unit', 'volts');
  data.create_attribute('conversion', 2e-6);
  data.create_attribute('offset', 0);
  lfp.create_dataset({ name: 'timestamps', data: timestamps });
  const region = lfp.create_dataset({ name: 'electrodes', data: Int32Array.of(0, 1, 2) });
  region.create_attribute('table', electrodes.create_reference());
  const behavior = f.create_group('processing').create_group('behavior');
  const position = behavior.create_group('position');
  position.create_attribute('neurodata_type', 'SpatialSeries');
  const pos = position.create_dataset({ name: 'data', data: Float32Array.of(0, 0.5, 1, 1.5), shape: [4] });
  pos.create_attribute('unit', 'meters');
  pos.create_attribute('conversion', 0.01);
  const st = position.create_dataset({ name: 'starting_time', data: 0.25 });
  st.create_attribute('rate', 30);
  const units = f.create_group('units');
  units.create_attribute('colnames', ['spike_times', 'quality']);
  units.create_dataset({ name: 'id', data: Int32Array.of(0, 1) });
  units.create_dataset({ name: 'spike_times', data: Float64Array.from(SPIKES) });
  units.create_dataset({ name: 'spike_times_index', data: Uint32Array.of(3, 5) });
  units.create_dataset({ name: 'quality', data: ['good', 'mua'] });
  const trials = f.create_group('intervals').create_group('trials');
  trials.create_attribute('colnames', ['start_time', 'stop_time', 'condition']);
  trials.create_dataset({ name: 'id', data: Int32Array.of(0, 1, 2) });
  trials.create_dataset({ name: 'start_time', data: Float64Array.of(1.5, 2.0, 2.5) });
  trials.create_dataset({ name: 'stop_time', data: Float64Array.of(1.8, 2.3, 2.8) });
  trials.create_dataset({ name: 'condition', data: ['a', 'b', 'a'] });
  f.close();
}

beforeAll(async () => {
  await h5wasm.ready;
  dir = await mkdtemp(path.join(tmpdir(), 'b2m-nwb-'));
  synthetic = path.join(dir, 'synthetic.nwb');
  writeSynthetic(synthetic, Float64Array.from({ length: T }, (_, i) => START + i / RATE));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectDatasetError(run: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<void> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  for (const f of fragments) expect((err as Error).message).toMatch(f);
}

describe('the real pynwb conformance files', () => {
  it('1.5.1_timeseries_no_unit: one int64 TimeSeries at 1 Hz whose data has no unit attribute', async () => {
    const contents = await inspectNwb(NO_UNIT);
    expect(contents.nwbVersion).toBe('2.3.0');
    expect(contents.sessionStartTime).toMatch(/^2022-09-01T03:43:29/);
    expect(contents.series).toHaveLength(1);
    expect(contents.series[0]).toMatchObject({
      name: 'test_timeseries',
      path: '/acquisition/test_timeseries',
      neurodataType: 'TimeSeries',
      namespace: 'core',
      dtype: 'int64',
      shape: [1],
      unit: '',
      conversion: 1,
      rate: 1,
      startingTime: 0,
    });
    expect(contents.units).toBeUndefined();
    expect(contents.trials).toBeUndefined();
    const series = await readNwbSeries(NO_UNIT, 'test_timeseries');
    expect(Array.from(series.data)).toEqual([0]);
  });

  it('2.1.0_nwbfile_with_extension: an extension type derived from TimeSeries is still listed and read', async () => {
    const contents = await inspectNwb(EXTENSION);
    expect(contents.nwbVersion).toBe('2.5.0');
    expect(contents.series.map((s) => [s.path, s.neurodataType, s.namespace])).toEqual([['/acquisition/test_ts', 'TimeSeriesWithID', 'ndx-testextension']]);
    const series = await readNwbSeries(EXTENSION, '/acquisition/test_ts');
    expect(series.unit).toBe('ADDME');
    expect(series.dtype).toBe('float64');
    expect(series.rate).toBe(1);
    expect(Array.from(series.data)).toEqual([1, 2, 3]);
  });

  it('a missing series names the file and the series and lists what exists', async () => {
    await expectDatasetError(readNwbSeries(NO_UNIT, 'ElectricalSeries'), '1.5.1_timeseries_no_unit.nwb', "'ElectricalSeries'", '/acquisition/test_timeseries (TimeSeries)');
    await expectDatasetError(readNwbSeries(EXTENSION, 'test_timeseries'), '2.1.0_nwbfile_with_extension.nwb', '/acquisition/test_ts (TimeSeriesWithID)');
  });

  it('a file that is not HDF5 is named as such', async () => {
    const file = path.join(dir, 'fake.nwb');
    await writeFile(file, 'this is not an HDF5 file at all, just text padding it out');
    await expectDatasetError(inspectNwb(file), 'fake.nwb', /not an HDF5 file/);
  });
});

describe('an NWB file with electrodes, units and trials', () => {
  it('lists both series, the units and the trials', async () => {
    const contents = await inspectNwb(synthetic);
    expect(contents.identifier).toBe('mouse-7');
    const lfp = contents.series.find((s) => s.name === 'lfp')!;
    expect(lfp).toMatchObject({ neurodataType: 'ElectricalSeries', shape: [T, C], dtype: 'int16', unit: 'volts', conversion: 2e-6, timestampCount: T, electrodeCount: C });
    expect(lfp.rate).toBeUndefined();
    const position = contents.series.find((s) => s.name === 'position')!;
    expect(position).toMatchObject({ path: '/processing/behavior/position', rate: 30, startingTime: 0.25, unit: 'meters' });
    expect(contents.units).toEqual({ path: '/units', count: 2, spikeCount: SPIKES.length, columns: ['spike_times', 'quality'] });
    expect(contents.trials).toEqual({ path: '/intervals/trials', count: 3, columns: ['start_time', 'stop_time', 'condition'] });
  });

  it('applies conversion to the data and keeps the timestamps', async () => {
    const lfp = await readNwbSeries(synthetic, 'lfp');
    expect(lfp.data).toHaveLength(T * C);
    for (const i of [0, 7, 301, T * C - 1]) expect(lfp.data[i]).toBeCloseTo(RAW[i] * 2e-6, 10);
    expect(lfp.timestamps![0]).toBe(START);
    const position = await readNwbSeries(synthetic, 'position');
    expect(Array.from(position.data, (v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0.005, 0.01, 0.015]);
  });

  it('reads spike times per unit and the trials table', async () => {
    const units = await readNwbUnits(synthetic);
    expect(Array.from(unitSpikeTimes(units, 0))).toEqual(SPIKES.slice(0, 3));
    expect(Array.from(unitSpikeTimes(units, 1))).toEqual(SPIKES.slice(3));
    expect(units.columns.find((c) => c.name === 'quality')).toEqual({ name: 'quality', kind: 'text', values: ['good', 'mua'] });
    const trials = await readNwbTrials(synthetic);
    expect(trials.columns.find((c) => c.name === 'condition')!.values).toEqual(['a', 'b', 'a']);
  });

  it('becomes a recording in µV named by electrode labels, and ingests trials to epochs', async () => {
    const rec = await nwbSeriesToRecording(synthetic, 'lfp', { channelType: 'SEEG' });
    expect(rec.channels.map((c) => c.name)).toEqual(['shank0-a', 'shank0-b', 'shank1-a']);
    expect(rec.channels[0].unit).toBe('uV');
    expect(rec.channels[0].rate).toBeCloseTo(RATE, 6);
    expect(rec.timeOffset).toBe(START);
    expect(rec.data[2][50]).toBeCloseTo(RAW[50 * C + 2] * 2, 3);
    const out = path.join(dir, 'nwb-out');
    const result = await ingestNwb(synthetic, out, { version: 'test', series: 'lfp', channelType: 'SEEG', window: { pre: 0.1, post: 0.2 } });
    const brain = await result.read('brain');
    expect(brain.numRows).toBe(3);
    expect(brain.getChild('condition')!.toArray()).toEqual(['a', 'b', 'a']);
    const first = Math.round((2.0 - START) * RATE) - 10;
    const features = brain.getChild('features')!.get(1)!.toArray() as Float32Array;
    expect(features).toHaveLength(30 * C);
    expect(features[0]).toBeCloseTo(RAW[first * C] * 2, 3);
    expect(features[5 * C + 1]).toBeCloseTo(RAW[(first + 5) * C + 1] * 2, 3);
    const channels = await result.read('channels');
    expect(channels.getChild('name')!.toArray()).toEqual(['shank0-a', 'shank0-b', 'shank1-a']);
  });

  it('uneven timestamps cannot become a recording; a missing series leaves no output', async () => {
    const uneven = path.join(dir, 'uneven.nwb');
    writeSynthetic(uneven, Float64Array.from({ length: T }, (_, i) => START + i / RATE + (i === 120 ? 0.004 : 0)));
    await expectDatasetError(nwbSeriesToRecording(uneven, 'lfp'), 'uneven.nwb', /uneven timestamps/, /sample 120/);
    const out = path.join(dir, 'missing-out');
    await expectDatasetError(ingestNwb(synthetic, out, { version: 'test', series: 'ecog' }), 'synthetic.nwb', "'ecog'", '/acquisition/lfp (ElectricalSeries)', '/processing/behavior/position (SpatialSeries)');
    expect((await readdir(dir)).filter((n) => n.startsWith('missing-out'))).toEqual([]);
  });
});
