/** @file The site build's refusals, the page's seeded batches, and rewriting a model's parameters as the page does for downloads. */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTraining } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import { decodeModel } from '../../graphs/serialize.js';
import { EXPORT_FILES, exportStudent } from '../../pipeline/export.js';
import { BuildWebError, buildWeb } from '../../tools/build-web.js';
import { withParameters } from '../../tools/web/model-bytes.js';
import { PageRandom, SceneBatches } from '../../tools/web/random.js';

let root: string;
let vaeExport: string;
let params: Map<string, Float32Array>;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'b2m-build-web-'));
  const spec = b2mTrainingSpec({ student: { kind: 'sceneVae', imageSize: [8, 8], channels: [2], latent: 2, reconstruction: 'mse' }, seed: 1 });
  const artifacts = compileTraining(spec, { ...spec.compile, optimizer: { kind: 'sgd', lr: 0.1 } });
  params = artifacts.params as Map<string, Float32Array>;
  vaeExport = path.join(root, 'vae');
  await exportStudent({ options: spec.options, params }, { experiment: 'driving', strategy: 'isolated', seed: 1, configHash: 'h', data: 'none', step: 0, metrics: {} }, vaeExport);
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('buildWeb refuses what it cannot build', () => {
  it('needs at least one exported student', async () => {
    await expect(buildWeb({ out: path.join(root, 'site') })).rejects.toThrow('give at least one exported student: --vae EXPORT_DIR and/or --rnn EXPORT_DIR');
  });

  it('names a folder without a model card, and an export of the other kind of student', async () => {
    await expect(buildWeb({ out: path.join(root, 'site'), vae: root })).rejects.toThrow(BuildWebError);
    await expect(buildWeb({ out: path.join(root, 'site'), vae: root })).rejects.toThrow(`${root}: no readable model-card.json`);
    await expect(buildWeb({ out: path.join(root, 'site'), rnn: vaeExport })).rejects.toThrow(`${vaeExport} holds a sceneVae student; the --rnn option takes a decisionRnn export`);
  });

  it('names an export folder that lost a model', async () => {
    const broken = path.join(root, 'broken');
    await rm(broken, { recursive: true, force: true });
    await cp(vaeExport, broken, { recursive: true });
    await rm(path.join(broken, EXPORT_FILES.decoder));
    await expect(buildWeb({ out: path.join(root, 'site-broken'), vae: broken, frames: 1, scenes: 1, trainScenes: 2, trainFrames: 1 })).rejects.toThrow(
      `${broken}: cannot copy decoder.onnx (ENOENT); re-run \`b2m export\` into that folder`,
    );
  });
});

describe('the page\'s seeded batches', () => {
  it('give the same batches for the same seed, visit every image once per epoch, and draw standard normal noise', () => {
    const count = 5;
    const frame = 3;
    const images = Float32Array.from({ length: count * frame }, (_, i) => Math.floor(i / frame));
    const a = new SceneBatches(images, count, frame, 2, 4, 9);
    const b = new SceneBatches(images, count, frame, 2, 4, 9);
    const seen: number[] = [];
    for (let s = 0; s < 5; s++) {
      const x = a.next();
      const y = b.next();
      expect(Array.from(x.images)).toEqual(Array.from(y.images));
      expect(Array.from(x.noise)).toEqual(Array.from(y.noise));
      seen.push(x.images[0], x.images[frame]);
    }
    expect(seen.slice(0, 5).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(seen.slice(5).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(seen.slice(0, 5)).not.toEqual(seen.slice(5));

    const rng = new PageRandom(3);
    const n = 20_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = rng.normal();
      sum += v;
      sq += v * v;
    }
    expect(Math.abs(sum / n)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });
});

describe('withParameters', () => {
  it('puts new parameter values and metadata into an inference model, which then computes with them', async () => {
    const bytes = new Uint8Array(await readFile(path.join(vaeExport, EXPORT_FILES.student)));
    const zeroed = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
    const out = withParameters(bytes, zeroed, [...params.keys()], { 'b2m.trained_in': 'test', 'b2m.step': '7' });
    const meta = Object.fromEntries(decodeModel(out).metadataProps.map((e) => [e.key, e.value]));
    expect(meta['b2m.trained_in']).toBe('test');
    expect(meta['b2m.step']).toBe('7');
    const session = await ort.InferenceSession.create(out);
    const r = await session.run({ images: new ort.Tensor('float32', new Float32Array(8 * 8 * 3).fill(0.7), [1, 8, 8, 3]) });
    await session.release();
    expect(Array.from(r.latent_mean.data as Float32Array)).toEqual([0, 0]);
    expect(Array.from(r.reconstruction.data as Float32Array).every((v) => v === 0.5)).toBe(true);
  });

  it('refuses a missing parameter and a value count that does not fit', async () => {
    const bytes = new Uint8Array(await readFile(path.join(vaeExport, EXPORT_FILES.student)));
    const [first] = [...params.keys()].filter((k) => k.startsWith('student.'));
    const partial = new Map([...params].filter(([k]) => k !== first));
    expect(() => withParameters(bytes, partial, [...params.keys()])).toThrow(`no trained value for parameter "${first}"`);
    const wrong = new Map(params);
    wrong.set(first, new Float32Array(1));
    expect(() => withParameters(bytes, wrong, [])).toThrow(/parameter ".+" holds \d+ values in the model and 1 were trained/);
  });
});
