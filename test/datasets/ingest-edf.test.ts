/** @file EDF/EDF+/BDF reading: the real sEEG sample's published facts, synthetic files of each variant, and every bad header. */
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { ingestEdf, readEdf, readEdfHeader } from '../../datasets/ingest/index.js';

const REAL = path.resolve(import.meta.dirname, '../../../shared/data/real/seeg');
const SEEG = path.join(REAL, 'sample_seeg.edf');
const ELECTRODES = path.join(REAL, 'sample_seeg_electrodes.tsv');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'b2m-edf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface FixtureSignal {
  label: string;
  unit?: string;
  physMin?: number;
  physMax?: number;
  digMin?: number;
  digMax?: number;
  samples: number;
  /** Digital values for every record, concatenated; or annotation bytes per record. */
  digital?: Int32Array;
  annotations?: string[];
}

/** Writes an EDF/BDF byte by byte from the spec, independently of the reader. */
function buildEdf(opts: {
  signals: FixtureSignal[];
  records: number;
  duration: number;
  reserved?: string;
  bdf?: boolean;
  headerRecords?: string;
  fieldOverride?: (header: string[]) => void;
}): Buffer {
  const pad = (s: string, n: number) => s.padEnd(n, ' ').slice(0, n);
  const ns = opts.signals.length;
  const fields = [
    opts.bdf ? '\u00ffBIOSEMI' : pad('0', 8),
    pad('MCH-0234567 F 02-MAY-1951 Haagse_Harry', 80),
    pad('Startdate 02-MAR-2002 EMG561 BK/JOP Sony. MNC R Median Nerve.', 80),
    '02.03.02',
    '16.15.00',
    pad(String(256 + 256 * ns), 8),
    pad(opts.reserved ?? '', 44),
    pad(opts.headerRecords ?? String(opts.records), 8),
    pad(String(opts.duration), 8),
    pad(String(ns), 4),
  ];
  const per = (f: (s: FixtureSignal) => string, n: number) => opts.signals.map((s) => pad(f(s), n)).join('');
  const signalFields = [
    per((s) => s.label, 16),
    per(() => '', 80),
    per((s) => s.unit ?? '', 8),
    per((s) => String(s.physMin ?? -1), 8),
    per((s) => String(s.physMax ?? 1), 8),
    per((s) => String(s.digMin ?? (opts.bdf ? -8388608 : -32768)), 8),
    per((s) => String(s.digMax ?? (opts.bdf ? 8388607 : 32767)), 8),
    per(() => '', 80),
    per((s) => String(s.samples), 8),
    per(() => '', 32),
  ];
  const all = [...fields, ...signalFields];
  opts.fieldOverride?.(all);
  const header = Buffer.from(all.join(''), 'latin1');
  const width = opts.bdf ? 3 : 2;
  const recordBytes = opts.signals.reduce((a, s) => a + s.samples * width, 0);
  const body = Buffer.alloc(recordBytes * opts.records);
  let at = 0;
  for (let r = 0; r < opts.records; r++) {
    for (const s of opts.signals) {
      if (s.annotations) {
        const bytes = Buffer.from(s.annotations[r] ?? '', 'utf8');
        bytes.copy(body, at, 0, Math.min(bytes.length, s.samples * width));
        at += s.samples * width;
        continue;
      }
      for (let k = 0; k < s.samples; k++) {
        const v = s.digital ? s.digital[r * s.samples + k] : 0;
        if (width === 2) body.writeInt16LE(v, at);
        else body.writeIntLE(v, at, 3);
        at += width;
      }
    }
  }
  return Buffer.concat([header, body]);
}

async function expectDatasetError(run: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<DatasetError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  for (const f of fragments) expect((err as Error).message).toMatch(f);
  return err as DatasetError;
}

describe('the real sEEG sample (MNE misc data)', () => {
  it('reproduces the published facts: 98 channels at 1000 Hz, 20,000 samples, L\'1 first, uV everywhere', async () => {
    const rec = await readEdf(SEEG, { defaultType: 'SEEG' });
    expect(rec.format).toBe('EDF+C');
    expect(rec.channels).toHaveLength(98);
    expect(rec.channels[0].name).toBe("L'1");
    for (const [i, c] of rec.channels.entries()) {
      expect(c.rate).toBe(1000);
      expect(c.unit).toBe('uV');
      expect(rec.data[i]).toHaveLength(20_000);
    }
    expect(rec.duration).toBe(20);
    expect(rec.channels.filter((c) => c.type === 'ECG').map((c) => c.name)).toEqual(['EKG1', 'EKG2']);
    expect(rec.startTime).toBe('2000-01-01T12:01:01.000');
  });

  it('peaks near 11,000 uV after scaling, and the DC inputs stored in mV are the ones that reach it', async () => {
    const rec = await readEdf(SEEG);
    let peak = 0;
    let where = -1;
    for (const [i, d] of rec.data.entries()) {
      for (const v of d) {
        if (Math.abs(v) > peak) {
          peak = Math.abs(v);
          where = i;
        }
      }
    }
    expect(peak).toBeGreaterThan(10_000);
    expect(peak).toBeLessThan(12_000);
    expect(rec.channels[where].storedUnit).toBe('mV');
  });

  it('decodes raw samples exactly as the bytes say (checked by hand against the header)', async () => {
    const rec = await readEdf(SEEG);
    const bytes = await readFile(SEEG);
    const ns = Number(bytes.toString('latin1', 252, 256));
    const field = (offset: number, width: number, i: number) => bytes.toString('latin1', 256 + offset * ns + i * width, 256 + offset * ns + (i + 1) * width).trim();
    // per-signal field offsets in units of ns: label 16, transducer 80, dimension 8, pmin 8, pmax 8, dmin 8, dmax 8, prefilter 80, samples 8
    const pmin = (i: number) => Number(field(104, 8, i));
    const pmax = (i: number) => Number(field(112, 8, i));
    const dmin = (i: number) => Number(field(120, 8, i));
    const dmax = (i: number) => Number(field(128, 8, i));
    const spr = (i: number) => Number(field(216, 8, i));
    const recordBytes = Array.from({ length: ns }, (_, i) => spr(i) * 2).reduce((a, b) => a + b, 0);
    const headerBytes = 256 * (ns + 1);
    const physical = (signal: number, record: number, k: number) => {
      let offset = headerBytes + record * recordBytes;
      for (let s = 0; s < signal; s++) offset += spr(s) * 2;
      const d = bytes.readInt16LE(offset + 2 * k);
      return ((d - dmin(signal)) * (pmax(signal) - pmin(signal))) / (dmax(signal) - dmin(signal)) + pmin(signal);
    };
    expect(field(0, 16, 0)).toBe("L'1");
    expect(rec.data[0][7]).toBeCloseTo(physical(0, 0, 7), 3);
    expect(rec.data[0][123 * 100 + 45]).toBeCloseTo(physical(0, 123, 45), 3);
    const dc = rec.channels.findIndex((c) => c.name === 'DC03');
    expect(field(96, 8, dc)).toBe('mV');
    expect(rec.data[dc][57 * 100 + 3]).toBeCloseTo(physical(dc, 57, 3) * 1000, 0);
  });

  it('reads the three annotations with their onsets', async () => {
    const rec = await readEdf(SEEG);
    const texts = rec.annotations.map((a) => a.text);
    expect(texts.filter((t) => t === 'test annotation')).toHaveLength(2);
    expect(texts.filter((t) => t === 'test mark')).toHaveLength(1);
    expect(rec.annotations).toHaveLength(3);
    for (const a of rec.annotations) expect(a.onset).toBeGreaterThanOrEqual(0);
    expect(rec.annotations.map((a) => a.onset)).toEqual([...rec.annotations.map((a) => a.onset)].sort((a, b) => a - b));
  });

  it('reads in well under a second', async () => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await readEdf(SEEG);
      best = Math.min(best, performance.now() - t0);
    }
    expect(best).toBeLessThan(1000);
  });

  it('ingests to a channel table with the electrodes file merged and a brain table of annotation epochs', async () => {
    const out = path.join(dir, 'seeg-out');
    const result = await ingestEdf(SEEG, out, { version: 'test', electrodes: ELECTRODES, defaultType: 'SEEG', window: { pre: 0.1, post: 0.4 } });
    const channels = await result.read('channels');
    expect(channels.numRows).toBe(98);
    const tsv = (await readFile(ELECTRODES, 'utf8')).trim().split('\n').map((l) => l.split('\t'));
    const l1 = tsv.find((r) => r[0] === "L'1")!;
    const row = channels.get(0)!.toJSON();
    expect(row.name).toBe("L'1");
    expect(row.x).toBeCloseTo(Number(l1[1]), 4);
    expect(row.z).toBeCloseTo(Number(l1[3]), 4);
    expect(row.location).toBe(l1[5]);
    const placed = new Set(tsv.slice(1).filter((r) => r[1] !== 'n/a').map((r) => r[0]));
    expect(placed.size).toBeGreaterThan(80);
    const xs = channels.getChild('x')!;
    const names = channels.getChild('name')!.toArray() as string[];
    names.forEach((n, i) => expect(xs.get(i) !== null).toBe(placed.has(n)));
    const brain = await result.read('brain');
    expect(brain.numRows).toBe(3);
    expect(brain.getChild('condition')!.toArray()).toEqual(['test annotation', 'test mark', 'test annotation']);
    const features = brain.getChild('features')!.get(1)!.toArray() as Float32Array;
    const rec = await readEdf(SEEG);
    const onset = rec.annotations[1].onset;
    const first = Math.round(onset * 1000) - 100;
    expect(features.length).toBe(500 * 98);
    expect(features[0]).toBe(rec.data[0][first]);
    expect(features[10 * 98 + 5]).toBe(rec.data[5][first + 10]);
  });
});

describe('synthetic EDF variants', () => {
  it('scales digital to physical per channel and reads EDF+D gaps, durations and UTF-8 texts', async () => {
    const digital = Int32Array.from({ length: 3 * 4 }, (_, i) => i * 1000 - 6000);
    const file = path.join(dir, 'plus-d.edf');
    await writeFile(
      file,
      buildEdf({
        reserved: 'EDF+D',
        records: 3,
        duration: 0.5,
        signals: [
          { label: 'EEG Fpz-Cz', unit: 'mV', physMin: -2, physMax: 2, digMin: -8000, digMax: 8000, samples: 4, digital },
          {
            label: 'EDF Annotations',
            samples: 30,
            annotations: ['+0\x14\x14\x00', '+0.5\x14\x14\x00+0.6\x151.25\x14Ström\x14\x00', '+3\x14\x14\x00+3.1\x14a\x14b\x14\x00'],
          },
        ],
      }),
    );
    const rec = await readEdf(file);
    expect(rec.format).toBe('EDF+D');
    expect(rec.channels).toHaveLength(1);
    expect(rec.channels[0].type).toBe('EEG');
    expect(rec.channels[0].rate).toBe(8);
    for (let i = 0; i < digital.length; i++) expect(rec.data[0][i]).toBeCloseTo((((digital[i] + 8000) * 4) / 16000 - 2) * 1000, 3);
    expect(rec.segments).toEqual([
      { onset: 0, offset: 0, duration: 1 },
      { onset: 3, offset: 1, duration: 0.5 },
    ]);
    expect(rec.annotations).toEqual([
      { onset: 0.6, duration: 1.25, text: 'Ström' },
      { onset: 3.1, duration: 0, text: 'a' },
      { onset: 3.1, duration: 0, text: 'b' },
    ]);
  });

  it('reads 24-bit BDF samples', async () => {
    const digital = Int32Array.of(-8388608, -1, 0, 8388607, 123456, -654321);
    const file = path.join(dir, 'plain.bdf');
    await writeFile(file, buildEdf({ bdf: true, records: 2, duration: 1, signals: [{ label: 'A1', unit: 'uV', physMin: -262144, physMax: 262143, samples: 3, digital }] }));
    const rec = await readEdf(file);
    expect(rec.format).toBe('BDF');
    const gain = (262143 + 262144) / (8388607 + 8388608);
    digital.forEach((d, i) => expect(rec.data[0][i]).toBeCloseTo((d + 8388608) * gain - 262144, 2));
  });

  it('infers the record count when the header says -1', async () => {
    const file = path.join(dir, 'minus-one.edf');
    await writeFile(file, buildEdf({ records: 5, headerRecords: '-1', duration: 1, signals: [{ label: 'C3', samples: 10 }] }));
    expect((await readEdfHeader(file)).recordCount).toBe(5);
  });
});

describe('bad EDF input', () => {
  const good = () => buildEdf({ records: 4, duration: 1, signals: [{ label: 'C3', samples: 10 }, { label: 'C4', samples: 10 }] });

  it('a truncated file names the file and the record count it holds', async () => {
    const file = path.join(dir, 'truncated.edf');
    const bytes = good();
    await writeFile(file, bytes.subarray(0, bytes.length - 7));
    await expectDatasetError(readEdf(file), 'truncated.edf', /declares 4 data records/, /3 whole records/, /truncated/);
  });

  it('a file cut inside its header says so', async () => {
    const file = path.join(dir, 'short-header.edf');
    await writeFile(file, good().subarray(0, 600));
    await expectDatasetError(readEdf(file), 'short-header.edf', /2 signals/, /truncated/);
  });

  it('records × record size ≠ data size is an inconsistent header', async () => {
    const file = path.join(dir, 'too-long.edf');
    await writeFile(file, Buffer.concat([good(), Buffer.alloc(40)]));
    await expectDatasetError(readEdf(file), 'too-long.edf', /declares 4 data records of 40 bytes/, /do not match/);
  });

  it('a non-numeric field names the signal and the field', async () => {
    const file = path.join(dir, 'bad-field.edf');
    await writeFile(
      file,
      buildEdf({
        records: 1,
        duration: 1,
        signals: [{ label: 'C3', samples: 10 }, { label: 'C4', samples: 10 }],
        fieldOverride: (h) => {
          h[14] = h[14].slice(0, 8) + 'abc'.padEnd(8, ' ');
        },
      }),
    );
    await expectDatasetError(readEdf(file), 'bad-field.edf', "signal 2 ('C4')", "'physical maximum'", "'abc'");
  });

  it('a header byte count that disagrees with the signal count', async () => {
    const file = path.join(dir, 'bad-count.edf');
    await writeFile(file, buildEdf({ records: 1, duration: 1, signals: [{ label: 'C3', samples: 10 }], fieldOverride: (h) => (h[5] = '999     ') }));
    await expectDatasetError(readEdf(file), 'bad-count.edf', "'number of bytes in header record' is 999", /512/);
  });

  it('an empty digital range names the channel', async () => {
    const file = path.join(dir, 'bad-range.edf');
    await writeFile(file, buildEdf({ records: 1, duration: 1, signals: [{ label: 'O1', samples: 2, digMin: 10, digMax: 10 }] }));
    await expectDatasetError(readEdf(file), 'bad-range.edf', "'O1'", /digital range \[10, 10\]/);
  });

  it('a malformed annotation names the data record', async () => {
    const file = path.join(dir, 'bad-tal.edf');
    await writeFile(
      file,
      buildEdf({
        reserved: 'EDF+C',
        records: 2,
        duration: 1,
        signals: [
          { label: 'C3', samples: 4 },
          { label: 'EDF Annotations', samples: 20, annotations: ['+0\x14\x14\x00', '+1\x14\x14\x00+x2\x14oops\x14\x00'] },
        ],
      }),
    );
    await expectDatasetError(readEdf(file), 'bad-tal.edf', /data record 2/, /onset '\+x2'/);
  });

  it('a gap in an EDF+C file names the record', async () => {
    const file = path.join(dir, 'gap.edf');
    await writeFile(
      file,
      buildEdf({
        reserved: 'EDF+C',
        records: 2,
        duration: 1,
        signals: [
          { label: 'C3', samples: 4 },
          { label: 'EDF Annotations', samples: 10, annotations: ['+0\x14\x14\x00', '+5\x14\x14\x00'] },
        ],
      }),
    );
    await expectDatasetError(readEdf(file), 'gap.edf', /data record 2 starts at 5 s/, /EDF\+D/);
  });

  it('a failed ingest leaves no output folder behind', async () => {
    const file = path.join(dir, 'truncated-ingest.edf');
    const bytes = good();
    await writeFile(file, bytes.subarray(0, bytes.length - 1));
    const out = path.join(dir, 'never-written');
    await expectDatasetError(ingestEdf(file, out, { version: 'test' }), 'truncated-ingest.edf');
    expect((await readdir(dir)).filter((n) => n.startsWith('never-written'))).toEqual([]);
  });
});
