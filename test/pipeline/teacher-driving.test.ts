/** @file The driving teacher on simulated EEG: the evoked reduction carries the scene factors where PCA keeps the background; baseline, band and config errors. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, tensorRows } from '../../datasets/index.js';
import { loadConfig } from '../../pipeline/config.js';
import { simulateDataset } from '../../pipeline/experiments/datasets.js';
import { writeTeacherTables } from '../../pipeline/experiments/teacher-tables.js';
import { teacherFactorR2 } from '../../tools/experiments/teacher-factors.js';
import { b2m } from './cli-capture.js';

/** Mean held-out R² over scene factors and subjects of a ridge decoder from the teacher latents. */
async function factorR2(dir: string): Promise<number> {
  const all = Object.values(await teacherFactorR2(dir)).flatMap((r2) => Object.values(r2));
  return all.reduce((a, b) => a + b, 0) / all.length;
}

describe('driving teacher', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'b2m-teacher-driving-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps the scene factors with the evoked reduction at the default EEG noise, where PCA keeps the background', async () => {
    const sets = ['data.simulator.scenes=1000', 'data.simulator.imageSize=16', 'student.channels=[8]'];
    const dir = path.join(root, 'default-noise');
    const evoked = loadConfig('driving', sets);
    expect(evoked.teacher.reduction).toBe('evoked');
    await simulateDataset(evoked, dir);
    await writeTeacherTables(dir, evoked, ['latent']);
    const evokedR2 = await factorR2(dir);
    const pca = loadConfig('driving', [...sets, 'teacher.reduction=pca']);
    await writeTeacherTables(dir, pca, ['latent']);
    const pcaR2 = await factorR2(dir);
    expect(pcaR2).toBeLessThan(0.05);
    expect(evokedR2).toBeGreaterThan(0.08);
    expect(evokedR2 - pcaR2).toBeGreaterThan(0.08);
  }, 120_000);

  it('says how to re-ingest when the epochs have no baseline, and reduces them by PCA when asked', async () => {
    const dir = path.join(root, 'no-baseline');
    expect((await b2m('simulate', 'driving', '--out', dir, '--scale', 'tiny', '--set', 'data.simulator.eegBaseline=0', '--quiet')).code).toBe(0);
    const refused = await b2m('teacher', dir, '--scale', 'tiny');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--pre 0\.125 or more/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect((await openDataset(dir)).tables.teacher).toBeUndefined();
    const pca = await b2m('teacher', dir, '--scale', 'tiny', '--set', 'teacher.reduction=pca');
    expect(pca.code).toBe(0);
    expect((await openDataset(dir)).tables.teacher!.rows).toBe(96);
  }, 60_000);

  it('reduces log band power per window with teacher.band, and checks the band against the sampling rate', async () => {
    const dir = path.join(root, 'band');
    expect((await b2m('simulate', 'driving', '--out', dir, '--scale', 'tiny', '--quiet')).code).toBe(0);
    const ok = await b2m('teacher', dir, '--scale', 'tiny', '--set', 'teacher.band=[8,30]');
    expect(ok.code).toBe(0);
    const dataset = await openDataset(dir);
    expect(dataset.manifest.tables.teacher!.description).toMatch(/log 8–30 Hz power/);
    const latents = tensorRows((await dataset.read('teacher')).getChild('latents') as never);
    expect(latents.every(Number.isFinite)).toBe(true);
    const tooHigh = await b2m('teacher', dir, '--scale', 'tiny', '--set', 'teacher.band=[8,200]');
    expect(tooHigh.code).not.toBe(0);
    expect(tooHigh.stderr).toMatch(/below 128 Hz \(Nyquist\)/);
  }, 60_000);

  it('rejects the evoked reduction and band power for the memory-decision teacher', () => {
    expect(() => loadConfig('memory-decision', ['teacher.reduction=evoked'])).toThrow(/teacher\.reduction.*evoked needs EEG epochs/s);
    expect(() => loadConfig('memory-decision', ['teacher.band=[70,150]'])).toThrow(/teacher\.band.*applies to EEG epochs/s);
  });
});
