/** @file `b2m export`: students trained at a tiny scale, exported, checked against the trainer's own eval graph in three runtimes and by the ONNX checker. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageFolder } from '../../datasets/ingest/images.js';
import type { MemoryDecisionData } from '../../datasets/simulators/index.js';
import { loadArtifacts, type TrainingArtifacts } from '../../graphs/artifacts.js';
import type { B2mModelOptions } from '../../graphs/b2m.js';
import { decodeModel } from '../../graphs/serialize.js';
import { main } from '../../pipeline/cli.js';
import { configHash, type ExperimentConfig } from '../../pipeline/config.js';
import { EXPORT_FILES, type ExportResult, type ModelCard, exportRun } from '../../pipeline/export.js';
import { latestCheckpoint, train } from '../../pipeline/train/index.js';
import { type FloatData, relativeError, trainerEval } from './export-checks.js';
import { drivingConfig, drivingDataset, memoryConfig, memoryDataset } from './train-fixtures.js';

const FRAMES = path.resolve(import.meta.dirname, '../../../shared/data/real/driving/frames');

let root: string;
let memoryData: MemoryDecisionData;
const runs: Record<'rnn' | 'vae', { dir: string; config: ExperimentConfig; exported: ExportResult; artifacts: TrainingArtifacts; model: B2mModelOptions }> = {} as never;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'b2m-export-'));
  memoryData = await memoryDataset(path.join(root, 'memory'));
  await drivingDataset(path.join(root, 'driving'));
  ortWeb.env.wasm.numThreads = 1;
  for (const [name, config, dataset] of [
    ['rnn', memoryConfig(), 'memory'],
    ['vae', drivingConfig(), 'driving'],
  ] as const) {
    const dir = path.join(root, `run-${name}`);
    await train({ config, dataset: path.join(root, dataset), strategy: 'both', runDir: dir });
    const run = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as { artifactHash: string; model: B2mModelOptions };
    const artifacts = await loadArtifacts(path.join(dir, 'artifacts', run.artifactHash));
    const exported = await exportRun(dir, path.join(root, `export-${name}`));
    runs[name] = { dir, config, exported, artifacts, model: run.model };
  }
}, 240_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs a model in onnxruntime-node and in onnxruntime-web's wasm backend (in Node). */
async function runBoth(file: string, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<{ node: Record<string, FloatData>; web: Record<string, FloatData> }> {
  const bytes = new Uint8Array(await readFile(file));
  const nodeSession = await ort.InferenceSession.create(bytes);
  const webSession = await ortWeb.InferenceSession.create(bytes);
  const nodeOut = await nodeSession.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
  const webOut = await webSession.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ortWeb.Tensor('float32', v.data, v.dims)])));
  await nodeSession.release();
  await webSession.release();
  const unwrap = (o: Record<string, { data: unknown }>) => Object.fromEntries(Object.entries(o).map(([k, t]) => [k, t.data as FloatData]));
  return { node: unwrap(nodeOut), web: unwrap(webOut) };
}

function valTrials(count: number): { inputs: Float32Array; mask: Float32Array; label: BigInt64Array; T: number; F: number } {
  const { task } = memoryData;
  const T = task.timeBins;
  const F = task.featureNames.length;
  const rows = Array.from(task.split.keys()).filter((i) => task.split[i] === 1).slice(0, count);
  const inputs = new Float32Array(rows.length * T * F);
  const mask = new Float32Array(rows.length * T);
  rows.forEach((i, b) => {
    inputs.set(task.inputs.subarray(i * T * F, (i + 1) * T * F), b * T * F);
    mask[b * T + task.events.decision[i]] = 1;
  });
  return { inputs, mask, label: BigInt64Array.from(rows, (i) => BigInt(task.label[i])), T, F };
}

describe('b2m export of a decision RNN', () => {
  it('writes one documented inference model with the student\'s weights inside and provenance in metadata_props', async () => {
    const { exported, config, dir, artifacts, model } = runs.rnn;
    expect((await readdir(exported.dir)).sort()).toEqual([EXPORT_FILES.cardJson, EXPORT_FILES.cardMarkdown, EXPORT_FILES.student].sort());
    const m = decodeModel(new Uint8Array(await readFile(path.join(exported.dir, EXPORT_FILES.student))));
    expect(m.opsetImport.find((o) => o.domain === '')?.version).toBe(17n);
    expect(m.irVersion).toBe(8n);
    expect(m.trainingInfo).toHaveLength(0);
    const g = m.graph!;
    expect(g.input.map((v) => v.name)).toEqual(['inputs', 'decision_mask']);
    expect(g.output.map((v) => v.name).sort()).toEqual(['choice_logits', 'choice_prob_over_time', 'hidden']);
    for (const v of [...g.input, ...g.output]) {
      expect(v.docString.length).toBeGreaterThan(40);
      const dims = v.type!.value.case === 'tensorType' ? v.type!.value.value.shape!.dim : [];
      expect(dims[0]!.value).toEqual({ case: 'dimParam', value: 'batch' });
    }
    const studentParams = artifacts.io.params.filter((p) => p.path.startsWith('student.')).map((p) => p.path).sort();
    const names = g.initializer.map((t) => t.name);
    expect(names.filter((n) => n.startsWith('student.')).sort()).toEqual(studentParams);
    expect(names.filter((n) => /^(contrastive|latent)\./.test(n))).toEqual([]);
    const checkpoint = await latestCheckpoint(dir);
    const w = g.initializer.find((t) => t.name === 'student.readout.weight')!;
    expect(Buffer.from(w.rawData).equals(Buffer.from((checkpoint!.bundle.params.get('student.readout.weight') as Float32Array).buffer))).toBe(true);

    const meta = Object.fromEntries(m.metadataProps.map((e) => [e.key, e.value]));
    const final = JSON.parse(await readFile(path.join(dir, 'final.json'), 'utf8')) as { steps: number; val: Record<string, number>; test: Record<string, number> };
    expect(meta['b2m.config_hash']).toBe(configHash(config));
    expect(meta['b2m.strategy']).toBe('both');
    expect(meta['b2m.seed']).toBe(String(config.seed));
    expect(meta['b2m.step']).toBe(String(final.steps));
    expect(meta['b2m.data']).toContain(path.join(root, 'memory'));
    expect(JSON.parse(meta['b2m.metrics'])['val.accuracy']).toBe(final.val.accuracy);
    expect(JSON.parse(meta['b2m.metrics'])['test.loss']).toBe(final.test.loss);
    expect(JSON.parse(meta['b2m.student'])).toEqual(model.student);
  });

  it('gives the trainer\'s eval activations in onnxruntime-node and onnxruntime-web within 1e-5', async () => {
    const { inputs, mask, label, T, F } = valTrials(24);
    const n = label.length;
    const reference = await trainerEval(runs.rnn.dir, { inputs: { data: inputs, dims: [n, T, F] }, decision_mask: { data: mask, dims: [n, T] }, label: { data: label, dims: [n] } }, n);
    const { node, web } = await runBoth(path.join(runs.rnn.exported.dir, EXPORT_FILES.student), { inputs: { data: inputs, dims: [n, T, F] }, decision_mask: { data: mask, dims: [n, T] } });
    for (const out of [node, web]) {
      expect(relativeError(out.hidden, reference['act.hidden'])).toBeLessThan(1e-5);
      const atDecision = Float32Array.from({ length: n }, (_, b) => out.choice_prob_over_time[b * T + mask.subarray(b * T, (b + 1) * T).indexOf(1)]);
      expect(relativeError(atDecision, reference['act.choice_prob'])).toBeLessThan(1e-5);
    }
    const hidden = node.hidden;
    expect(Math.max(...hidden.map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('exports at a newer opset with that release\'s IR version and the same outputs', async () => {
    const out = path.join(root, 'export-rnn-21');
    await exportRun(runs.rnn.dir, out, { opset: 21 });
    const m = decodeModel(new Uint8Array(await readFile(path.join(out, EXPORT_FILES.student))));
    expect(m.opsetImport.find((o) => o.domain === '')?.version).toBe(21n);
    expect(m.irVersion).toBe(10n);
    const { inputs, mask, T, F } = valTrials(8);
    const feeds = { inputs: { data: inputs, dims: [8, T, F] }, decision_mask: { data: mask, dims: [8, T] } };
    const a = await runBoth(path.join(out, EXPORT_FILES.student), feeds);
    const b = await runBoth(path.join(runs.rnn.exported.dir, EXPORT_FILES.student), feeds);
    expect(relativeError(a.node.choice_logits, b.node.choice_logits)).toBeLessThan(1e-6);
  });
});

describe('b2m export of a scene VAE', () => {
  it('writes the student, its encoder and its decoder, each documented, and a model card', async () => {
    const { exported, model } = runs.vae;
    expect((await readdir(exported.dir)).sort()).toEqual(Object.values(EXPORT_FILES).sort());
    const io = async (file: string) => {
      const g = decodeModel(new Uint8Array(await readFile(path.join(exported.dir, file)))).graph!;
      return { inputs: g.input.map((v) => v.name), outputs: g.output.map((v) => v.name).sort(), docs: [...g.input, ...g.output].map((v) => v.docString) };
    };
    const student = await io(EXPORT_FILES.student);
    const encoder = await io(EXPORT_FILES.encoder);
    const decoder = await io(EXPORT_FILES.decoder);
    expect(student).toMatchObject({ inputs: ['images'], outputs: ['latent_logvar', 'latent_mean', 'reconstruction'] });
    expect(encoder).toMatchObject({ inputs: ['images'], outputs: ['latent_logvar', 'latent_mean'] });
    expect(decoder).toMatchObject({ inputs: ['latent'], outputs: ['reconstruction'] });
    for (const d of [...student.docs, ...encoder.docs, ...decoder.docs]) expect(d).toMatch(/\[batch, /);
    expect(student.docs[0]).toMatch(/\[0, 1\]/);

    const card = JSON.parse(await readFile(path.join(exported.dir, EXPORT_FILES.cardJson), 'utf8')) as ModelCard;
    expect(card.student).toEqual(model.student);
    expect(card.models.map((m) => m.file)).toEqual([EXPORT_FILES.student, EXPORT_FILES.encoder, EXPORT_FILES.decoder]);
    const paramCount = runs.vae.artifacts.io.params.filter((p) => p.path.startsWith('student.')).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
    expect(card.parameters).toBe(paramCount);
    expect(card.training.strategy).toBe('both');
    expect(card.scores['val.recon_mse']).toBeGreaterThan(0);
    const md = await readFile(path.join(exported.dir, EXPORT_FILES.cardMarkdown), 'utf8');
    for (const name of ['images', 'latent', 'latent_mean', 'latent_logvar', 'reconstruction', 'Brain Contrastive', card.training.configHash]) expect(md).toContain(name);
  });

  it('encodes real dashcam frames as the trainer\'s eval does, and decoder(encoder) is the whole student, in both runtimes', async () => {
    const student = runs.vae.model.student;
    if (student.kind !== 'sceneVae') throw new Error('the VAE run trained another student');
    const [h, w] = student.imageSize;
    const frames = await readImageFolder(FRAMES, { height: h, width: w });
    const n = 16;
    const images = frames.pixels.slice(0, n * h * w * 3);
    const latent = student.latent;
    const reference = await trainerEval(runs.vae.dir, { images: { data: images, dims: [n, h, w, 3] }, noise: { data: new Float32Array(n * latent), dims: [n, latent] } }, n);
    const dir = runs.vae.exported.dir;
    const full = await runBoth(path.join(dir, EXPORT_FILES.student), { images: { data: images, dims: [n, h, w, 3] } });
    const enc = await runBoth(path.join(dir, EXPORT_FILES.encoder), { images: { data: images, dims: [n, h, w, 3] } });
    for (const out of [full.node, full.web, enc.node, enc.web]) expect(relativeError(out.latent_mean, reference['act.latent_mean'])).toBeLessThan(1e-5);
    for (const out of [full.node, full.web]) expect(relativeError(out.reconstruction, reference['act.reconstruction'])).toBeLessThan(1e-5);
    const dec = await runBoth(path.join(dir, EXPORT_FILES.decoder), { latent: { data: enc.node.latent_mean as Float32Array, dims: [n, latent] } });
    for (const out of [dec.node, dec.web]) expect(relativeError(out.reconstruction, reference['act.reconstruction'])).toBeLessThan(1e-5);
    expect(relativeError(enc.node.latent_logvar, full.node.latent_logvar)).toBe(0);
  });
});

/** A Python with the `onnx` package (Debian's python3-onnx), or null. */
function pythonWithOnnx(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

/** The checks a reader makes without running anything: every node input defined before use, outputs produced, opset and IR set. */
function checkStructure(bytes: Uint8Array): string[] {
  const m = decodeModel(bytes);
  const problems: string[] = [];
  if (!m.opsetImport.some((o) => o.domain === '' && o.version >= 17n)) problems.push('no default-domain opset >= 17');
  if (m.irVersion < 8n) problems.push(`IR ${m.irVersion}`);
  const g = m.graph!;
  const defined = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
  for (const node of g.node) {
    for (const i of node.input) if (i !== '' && !defined.has(i)) problems.push(`node ${node.name} reads ${i} before it is defined`);
    for (const o of node.output) {
      if (defined.has(o)) problems.push(`${o} is assigned twice`);
      defined.add(o);
    }
  }
  for (const o of g.output) if (!defined.has(o.name)) problems.push(`output ${o.name} is never produced`);
  for (const t of g.initializer) {
    const n = t.dims.reduce((a, d) => a * Number(d), 1);
    if (t.rawData.length !== n * (t.dataType === 7 ? 8 : 4)) problems.push(`initializer ${t.name} holds ${t.rawData.length} bytes for ${n} values`);
  }
  return problems;
}

describe('exported models pass outside checks', () => {
  it('onnx.checker with full shape inference accepts every exported model (python3-onnx; the structural check in TypeScript always runs)', async () => {
    const files = [runs.rnn, runs.vae].flatMap((r) => r.exported.files.filter((f) => f.endsWith('.onnx')));
    expect(files).toHaveLength(4);
    for (const f of files) expect(checkStructure(new Uint8Array(await readFile(f)))).toEqual([]);
    const py = pythonWithOnnx();
    if (py !== null) {
      const script = 'import sys, onnx\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\n    print("ok", f)\n';
      const out = execFileSync(py, ['-c', script, ...files], { encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(files.map((f) => `ok ${f}`));
    }
  });
});

/** Runs the CLI in-process, capturing what it writes to standard output and standard error. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const writes = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  const text = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    process[stream].write = ((chunk: string | Uint8Array) => {
      text[stream] += String(chunk);
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    return { code: await main(args), ...text };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}

describe('b2m export on the command line', () => {
  it('exports a run into --out', async () => {
    const out = path.join(root, 'cli-out');
    const { code, stdout } = await cli(['export', runs.rnn.dir, '--out', out, '--quiet']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Exported step 12 of b2m decision RNN student (both, seed 11) to ${out}: student.onnx (inputs, decision_mask → choice_logits, choice_prob_over_time, hidden)`);
    expect(await readFile(path.join(out, EXPORT_FILES.student))).toEqual(await readFile(path.join(runs.rnn.exported.dir, EXPORT_FILES.student)));
  });

  it('refuses a run with no checkpoint, naming it, and writes nothing', async () => {
    const run = path.join(root, 'no-checkpoint');
    await mkdir(path.join(run, 'checkpoints'), { recursive: true });
    await cp(path.join(runs.rnn.dir, 'run.json'), path.join(run, 'run.json'));
    const out = path.join(root, 'no-checkpoint-out');
    const { code, stderr } = await cli(['export', run, '--out', out]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/no-checkpoint has no checkpoint to export: .*holds no checkpoint yet\. Train the run/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a run whose only checkpoint is corrupt, and a folder that is not a run', async () => {
    const run = path.join(root, 'corrupt');
    await cp(runs.rnn.dir, run, { recursive: true });
    const checkpoints = path.join(run, 'checkpoints');
    const [newest, ...older] = (await readdir(checkpoints)).sort().reverse();
    for (const o of older) await rm(path.join(checkpoints, o), { recursive: true });
    await writeFile(path.join(checkpoints, newest, 'bundle.onnx'), 'not a model');
    const out = path.join(root, 'corrupt-out');
    const corrupt = await cli(['export', run, '--out', out]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/its checkpoints cannot be read .*bundle|not an ONNX model/);
    expect(existsSync(out)).toBe(false);
    const notRun = await cli(['export', root, '--out', out]);
    expect(notRun.code).toBe(1);
    expect(notRun.stderr).toContain('is not a b2m run folder (no run.json)');
  });

  it('refuses an opset it cannot write', async () => {
    const out = path.join(root, 'opset-out');
    const { code, stderr } = await cli(['export', runs.rnn.dir, '--out', out, '--opset', '12']);
    expect(code).toBe(1);
    expect(stderr).toContain('--opset 12 is not supported; b2m writes opsets 17 to 26');
    expect(existsSync(out)).toBe(false);
  });
});
