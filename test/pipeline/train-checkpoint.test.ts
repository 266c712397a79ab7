import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileTraining, initialState } from '../../graphs/artifacts.js';
import { b2mTrainingSpec } from '../../graphs/b2m.js';
import { CHECKPOINT_FORMAT, type CheckpointState, latestCheckpoint, listCheckpoints, readCheckpoint, saveCheckpoint } from '../../pipeline/train/checkpoint.js';

const spec = b2mTrainingSpec({ seed: 2, student: { kind: 'decisionRnn', cell: 'gru', inputSize: 2, timeBins: 4, hidden: 3, layers: 1, readout: 'decision' } });
const artifacts = compileTraining(spec, { ...spec.compile, optimizer: { kind: 'adam', lr: 0.01 } });
const dirs: string[] = [];

async function runDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'b2m-ckpt-'));
  dirs.push(dir);
  return dir;
}

function stateAt(step: number): CheckpointState {
  return {
    format: CHECKPOINT_FORMAT,
    step,
    artifactHash: artifacts.io.hash,
    seed: 2,
    taskStream: { epoch: 1, batch: step, seed: 3, rngState: [1, 2, 3, step] },
    paired: { epoch: 0, cursor: step },
    noise: null,
    metricsRows: step * 2,
    elapsedSeconds: step / 10,
  };
}

/** Parameters shifted by the step, so each checkpoint holds distinct values. */
function paramsAt(step: number): Map<string, Float32Array> {
  return new Map([...artifacts.params].map(([k, v]) => [k, Float32Array.from(v, (x) => x + step)]));
}

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('checkpoints', () => {
  it('round-trip parameters, optimizer state, step and the JSON state, byte for byte', async () => {
    const dir = await runDir();
    const state = initialState(artifacts.io);
    for (const v of state.values()) v.fill(0.25);
    const written = await saveCheckpoint(dir, artifacts, { params: paramsAt(5), state }, stateAt(5));
    const back = await readCheckpoint(written);
    expect(back.state).toEqual(stateAt(5));
    expect(back.bundle.step).toBe(5);
    for (const [name, v] of paramsAt(5)) expect(Buffer.from((back.bundle.params.get(name) as Float32Array).buffer).equals(Buffer.from(v.buffer))).toBe(true);
    for (const [name, v] of state) expect(Array.from(back.bundle.state.get(name)!)).toEqual(Array.from(v));
  });

  it('keeps the newest two, and falls back to the older one when the newest is damaged', async () => {
    const dir = await runDir();
    for (const step of [2, 4, 6]) await saveCheckpoint(dir, artifacts, { params: paramsAt(step), state: initialState(artifacts.io) }, stateAt(step));
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([4, 6]);
    expect(await readdir(path.join(dir, 'checkpoints'))).toEqual(['step-000000004', 'step-000000006']);
    await writeFile(path.join(dir, 'checkpoints', 'step-000000006', 'bundle.onnx'), new Uint8Array([1, 2, 3]));
    const skipped: string[] = [];
    const latest = await latestCheckpoint(dir, (d) => skipped.push(path.basename(d)));
    expect(latest?.state.step).toBe(4);
    expect(skipped).toEqual(['step-000000006']);
    expect(Array.from(latest!.bundle.params.get(artifacts.io.params[0]!.path)!)).toEqual(Array.from(paramsAt(4).get(artifacts.io.params[0]!.path)!));
  });

  it('ignores a half-written temporary folder and reports none for a fresh run', async () => {
    const dir = await runDir();
    expect(await latestCheckpoint(dir)).toBeNull();
    await saveCheckpoint(dir, artifacts, { params: paramsAt(1), state: initialState(artifacts.io) }, stateAt(1));
    await mkdir(path.join(dir, 'checkpoints', '.tmp-step-000000002-1-1'));
    expect((await latestCheckpoint(dir))?.state.step).toBe(1);
    await saveCheckpoint(dir, artifacts, { params: paramsAt(3), state: initialState(artifacts.io) }, stateAt(3));
    expect((await readdir(path.join(dir, 'checkpoints'))).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
  });

  it('refuses a checkpoint whose JSON and bundle disagree on the step', async () => {
    const dir = await runDir();
    const written = await saveCheckpoint(dir, artifacts, { params: paramsAt(2), state: initialState(artifacts.io) }, stateAt(2));
    await writeFile(path.join(written, 'checkpoint.json'), JSON.stringify(stateAt(3)));
    await expect(readCheckpoint(written)).rejects.toThrow(/says step 3 but its bundle holds step 2/);
  });
});
