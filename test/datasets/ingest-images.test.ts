/** @file Image folders to scenes: the 221 real dashcam frames, the JPEG stills, grey and alpha images, and a corrupt file. */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/errors.js';
import { ingestImages, readImageFolder } from '../../datasets/ingest/index.js';

const DRIVING = path.resolve(import.meta.dirname, '../../../shared/data/real/driving');
const FRAMES = path.join(DRIVING, 'frames');
const STILLS = path.join(DRIVING, 'stills');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'b2m-img-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Mean of each RGB channel of a PNG, decoded from its raw bytes at full size. */
async function sourceMeans(file: string): Promise<number[]> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sums[c] += data[i + c];
  return sums.map((s) => s / (data.length / info.channels) / 255);
}

function meansOf(pixels: Float32Array, frame: number, size: number): number[] {
  const sums = [0, 0, 0];
  for (let p = 0; p < size; p++) for (let c = 0; c < 3; c++) sums[c] += pixels[(frame * size + p) * 3 + c];
  return sums.map((s) => s / size);
}

describe('image folders', () => {
  it('the 221 dashcam frames become a scenes table of [64, 64, 3] in frame order', async () => {
    const out = path.join(dir, 'frames-out');
    const result = await ingestImages(FRAMES, out, { version: 'test' });
    expect(result.tables.scenes!.rows).toBe(221);
    const scenes = await result.read('scenes');
    expect(scenes.numRows).toBe(221);
    const field = scenes.schema.fields.find((f) => f.name === 'image')!;
    expect(field.metadata.get('ARROW:extension:name')).toBe('arrow.fixed_shape_tensor');
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!).shape).toEqual([64, 64, 3]);
    const files = scenes.getChild('file')!.toArray() as string[];
    expect(files[0]).toBe('frame_001.png');
    expect(files[9]).toBe('frame_010.png');
    expect(files[220]).toBe('frame_221.png');
    expect(Array.from(scenes.getChild('frame')!.toArray() as Int32Array)).toEqual(Array.from({ length: 221 }, (_, i) => i));
    expect(scenes.getChild('source_width')!.get(0)).toBe(160);
    expect(scenes.getChild('source_height')!.get(0)).toBe(90);
    const image = scenes.getChild('image')!.get(100)!.toArray() as Float32Array;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of image) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(0.5);
    const means = meansOf(image, 0, 64 * 64);
    const expected = await sourceMeans(path.join(FRAMES, files[100]));
    means.forEach((m, c) => expect(Math.abs(m - expected[c])).toBeLessThan(0.02));
  });

  it('the JPEG stills resize to a requested size; cover crops the centre and keeps the aspect', async () => {
    const stills = await readImageFolder(STILLS, { height: 32, width: 48, fit: 'cover' });
    expect(stills.files.map((f) => path.basename(f))).toEqual((await readdir(STILLS)).filter((f) => f.endsWith('.jpg')).sort());
    expect(stills.pixels).toHaveLength(6 * 32 * 48 * 3);
    expect(stills.sourceSizes.every((s) => s.width === 960 && s.height === 540)).toBe(true);
    const expected = await sourceMeans(stills.files[0]);
    const filled = await readImageFolder(stills.files[0], { height: 32, width: 48, fit: 'fill' });
    meansOf(filled.pixels, 0, 32 * 48).forEach((m, c) => expect(Math.abs(m - expected[c])).toBeLessThan(0.02));
  });

  it('grey images become RGB with equal channels; alpha is dropped; other files are ignored', async () => {
    const mixed = path.join(dir, 'mixed');
    await mkdir(mixed);
    const grey = Buffer.alloc(20 * 10);
    for (let i = 0; i < grey.length; i++) grey[i] = (i * 13) % 256;
    await sharp(grey, { raw: { width: 20, height: 10, channels: 1 } }).png().toFile(path.join(mixed, 'a-grey.png'));
    await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toFile(path.join(mixed, 'b-alpha.png'));
    await writeFile(path.join(mixed, 'notes.txt'), 'not an image');
    const set = await readImageFolder(mixed, { height: 10, width: 20 });
    expect(set.files.map((f) => path.basename(f))).toEqual(['a-grey.png', 'b-alpha.png']);
    for (let p = 0; p < 200; p++) {
      const [r, g, b] = [0, 1, 2].map((c) => set.pixels[p * 3 + c]);
      expect(r).toBe(g);
      expect(g).toBe(b);
      expect(Math.abs(r - grey[p] / 255)).toBeLessThan(1e-6);
    }
    expect(set.pixels[200 * 3]).toBeGreaterThan(0.9);
    expect(set.pixels[200 * 3 + 1]).toBeLessThan(0.1);
  });

  it('a corrupt image in the folder names the file and leaves no output', async () => {
    const folder = path.join(dir, 'corrupt');
    await mkdir(folder);
    for (const f of ['frame_001.png', 'frame_002.png', 'frame_003.png']) await copyFile(path.join(FRAMES, f), path.join(folder, f));
    const bytes = await readFile(path.join(FRAMES, 'frame_004.png'));
    await writeFile(path.join(folder, 'frame_004.png'), bytes.subarray(0, Math.floor(bytes.length / 3)));
    const out = path.join(dir, 'corrupt-out');
    const err = await ingestImages(folder, out, { version: 'test' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toContain(path.join(folder, 'frame_004.png'));
    expect((await readdir(dir)).filter((n) => n.startsWith('corrupt-out'))).toEqual([]);
  });

  it('an empty folder is an error naming it', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    await expect(readImageFolder(empty)).rejects.toThrow(/no image files/);
  });
});
