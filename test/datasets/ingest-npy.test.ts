/** @file NumPy .npy: files written byte by byte here in every header version, byte order, dtype and memory order. */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { ingestNpy, npyToFloat32, readNpy } from '../../datasets/ingest/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'b2m-npy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const WRITERS: Record<string, { size: number; put: (b: Buffer, v: number, at: number, big: boolean) => void }> = {
  f4: { size: 4, put: (b, v, at, big) => (big ? b.writeFloatBE(v, at) : b.writeFloatLE(v, at)) },
  f8: { size: 8, put: (b, v, at, big) => (big ? b.writeDoubleBE(v, at) : b.writeDoubleLE(v, at)) },
  i2: { size: 2, put: (b, v, at, big) => (big ? b.writeInt16BE(v, at) : b.writeInt16LE(v, at)) },
  i4: { size: 4, put: (b, v, at, big) => (big ? b.writeInt32BE(v, at) : b.writeInt32LE(v, at)) },
  i8: { size: 8, put: (b, v, at, big) => (big ? b.writeBigInt64BE(BigInt(v), at) : b.writeBigInt64LE(BigInt(v), at)) },
  u1: { size: 1, put: (b, v, at) => b.writeUInt8(v, at) },
  b1: { size: 1, put: (b, v, at) => b.writeUInt8(v ? 1 : 0, at) },
};

/** The value at row-major index `i` of the test arrays: distinct, signed, fits every dtype above. */
const value = (i: number) => ((i * 7) % 23) - 11;

/** An .npy file from the format spec: magic, version, header length, padded dict, then the data in `order`. */
function npyBytes(descr: string, shape: number[], opts: { version?: 1 | 2 | 3; fortran?: boolean; dataBytes?: number; header?: string } = {}): Buffer {
  const version = opts.version ?? 1;
  const fortran = opts.fortran ?? false;
  const dict = opts.header ?? `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const lengthBytes = version === 1 ? 2 : 4;
  const unpadded = 6 + 2 + lengthBytes + dict.length + 1;
  const headerText = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(6 + 2 + lengthBytes);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(prefix);
  if (version === 1) prefix.writeUInt16LE(headerText.length, 8);
  else prefix.writeUInt32LE(headerText.length, 8);
  const code = descr.replace(/^[<>|=]/, '');
  const writer = WRITERS[code];
  const count = shape.reduce((a, b) => a * b, 1);
  const data = Buffer.alloc(opts.dataBytes ?? count * (writer?.size ?? 4));
  if (writer) {
    const big = descr.startsWith('>');
    for (let c = 0; c < count && (c + 1) * writer.size <= data.length; c++) {
      // position of row-major element c in the file's memory order
      let rest = c;
      const idx = shape.map(() => 0);
      for (let a = shape.length - 1; a >= 0; a--) {
        idx[a] = rest % shape[a];
        rest = Math.floor(rest / shape[a]);
      }
      let at = 0;
      if (fortran) for (let a = shape.length - 1; a >= 0; a--) at = at * shape[a] + idx[a];
      else for (let a = 0; a < shape.length; a++) at = at * shape[a] + idx[a];
      writer.put(data, code === 'u1' ? Math.abs(value(c)) : code === 'b1' ? value(c) % 2 : value(c), at * writer.size, big);
    }
  }
  return Buffer.concat([prefix, Buffer.from(headerText, 'latin1'), data]);
}

async function expectDatasetError(run: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<void> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  for (const f of fragments) expect((err as Error).message).toMatch(f);
}

describe('.npy reading', () => {
  const cases: [string, string, number[], 1 | 2 | 3, boolean][] = [
    ['little-endian float32, v1, C order', '<f4', [3, 4], 1, false],
    ['big-endian float64, v2, Fortran order', '>f8', [2, 3, 4], 2, true],
    ['little-endian int16, v3, Fortran order', '<i2', [5, 3], 3, true],
    ['big-endian int32, v1, C order', '>i4', [7], 1, false],
    ['little-endian int64, v1, Fortran order', '<i8', [4, 2], 1, true],
  ];
  for (const [title, descr, shape, version, fortran] of cases) {
    it(title, async () => {
      const file = path.join(dir, `${descr.replace(/[<>|]/, '')}-${version}-${fortran}.npy`);
      await writeFile(file, npyBytes(descr, shape, { version, fortran }));
      const array = await readNpy(file);
      expect(array.shape).toEqual(shape);
      expect(array.fortranOrder).toBe(fortran);
      const values = npyToFloat32(array);
      expect(values).toHaveLength(shape.reduce((a, b) => a * b, 1));
      values.forEach((v, i) => expect(v).toBe(value(i)));
    });
  }

  it('uint8 and bool', async () => {
    const u1 = path.join(dir, 'u1.npy');
    await writeFile(u1, npyBytes('|u1', [2, 5]));
    expect(Array.from((await readNpy(u1)).data as Uint8Array)).toEqual(Array.from({ length: 10 }, (_, i) => Math.abs(value(i))));
    const b1 = path.join(dir, 'b1.npy');
    await writeFile(b1, npyBytes('|b1', [6]));
    const bools = await readNpy(b1);
    expect(bools.dtype).toBe('bool');
    expect(Array.from(bools.data as Uint8Array)).toEqual(Array.from({ length: 6 }, (_, i) => (value(i) % 2 ? 1 : 0)));
  });

  it('truncated data names the file, the shape and the bytes missing', async () => {
    const file = path.join(dir, 'short.npy');
    await writeFile(file, npyBytes('<f4', [10, 10], { dataBytes: 396 }));
    await expectDatasetError(readNpy(file), 'short.npy', /\(10, 10\)/, /400 data bytes/, /holds 396/, /truncated/);
  });

  it('structured, float16 and non-npy files are rejected with what to do', async () => {
    const structured = path.join(dir, 'structured.npy');
    await writeFile(structured, npyBytes('<f4', [2], { header: "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }" }));
    await expectDatasetError(readNpy(structured), 'structured.npy', /structured/, /astype/);
    const half = path.join(dir, 'half.npy');
    await writeFile(half, npyBytes('<f2', [4], { dataBytes: 8 }));
    await expectDatasetError(readNpy(half), 'half.npy', "'<f2'", /float32/);
    const text = path.join(dir, 'text.npy');
    await writeFile(text, 'just text, no magic');
    await expectDatasetError(readNpy(text), 'text.npy', /magic/);
  });
});

describe('.npy ingest', () => {
  it('a [trials, time, channels] array becomes a brain table row per trial', async () => {
    const file = path.join(dir, 'trials.npy');
    await writeFile(file, npyBytes('<f4', [4, 5, 3], { fortran: true }));
    const out = path.join(dir, 'npy-trials');
    const result = await ingestNpy(file, out, { version: 'test', trialConditions: ['a', 'b', 'a', 'b'], subject: 'S1' });
    const brain = await result.read('brain');
    expect(brain.numRows).toBe(4);
    expect(brain.getChild('condition')!.toArray()).toEqual(['a', 'b', 'a', 'b']);
    const row2 = brain.getChild('features')!.get(2)!.toArray() as Float32Array;
    row2.forEach((v, k) => expect(v).toBe(value(2 * 15 + k)));
  });

  it('a NaN in the array is caught while writing, named by row, and no dataset is left', async () => {
    const bytes = npyBytes('<f4', [3, 4, 2]);
    const header = bytes.length - 3 * 4 * 2 * 4;
    bytes.writeFloatLE(Number.NaN, header + (1 * 8 + 5) * 4);
    const file = path.join(dir, 'nan.npy');
    await writeFile(file, bytes);
    const out = path.join(dir, 'nan-out');
    await expectDatasetError(ingestNpy(file, out, { version: 'test' }), /row 1/, /features/, /NaN/);
    expect((await readdir(dir)).filter((n) => n.startsWith('nan-out'))).toEqual([]);
  });

  it('a [time, channels] array is cut at the events file onsets; without a rate it is an error and writes nothing', async () => {
    const file = path.join(dir, 'continuous.npy');
    await writeFile(file, npyBytes('<f8', [100, 2]));
    const events = path.join(dir, 'events.csv');
    await writeFile(events, 'onset,trial_type\n0.2,go\n0.6,stop\n');
    const missing = path.join(dir, 'no-rate');
    await expectDatasetError(ingestNpy(file, missing, { version: 'test', events }), 'continuous.npy', /sampling rate/);
    expect((await readdir(dir)).filter((n) => n.startsWith('no-rate'))).toEqual([]);
    const out = path.join(dir, 'npy-cont');
    const result = await ingestNpy(file, out, { version: 'test', events, rate: 50, window: { pre: 0.1, post: 0.1 } });
    const brain = await result.read('brain');
    expect(brain.getChild('condition')!.toArray()).toEqual(['go', 'stop']);
    const stop = brain.getChild('features')!.get(1)!.toArray() as Float32Array;
    const first = Math.round(0.6 * 50) - 5;
    expect(stop).toHaveLength(10 * 2);
    expect(stop[0]).toBe(value(first * 2));
    expect(stop[3 * 2 + 1]).toBe(value((first + 3) * 2 + 1));
  });
});
