/**
 * @file How much of each scene factor a driving dataset's teacher latents carry: per subject, a ridge regression
 * from the teacher table's latents to the scene factors, fit on the training rows and scored (R²) on the
 * validation rows. Run it on the default simulated dataset with both teacher reductions:
 *
 *   npx tsx tools/experiments/teacher-factors.ts [--dir DIR] [--set key=value ...]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDataset, tensorRows } from '../../datasets/index.js';
import { SCENE_FACTORS } from '../../datasets/simulators/index.js';
import { loadConfig } from '../../pipeline/config.js';
import { simulateDataset } from '../../pipeline/experiments/datasets.js';
import { ridgeR2 } from '../../pipeline/experiments/probe.js';
import { writeTeacherTables } from '../../pipeline/experiments/teacher-tables.js';

/** Held-out R² of each scene factor from the `teacher` table's latents, per subject. */
export async function teacherFactorR2(dir: string): Promise<Record<string, Record<string, number>>> {
  const dataset = await openDataset(dir);
  const teacher = await dataset.read('teacher');
  const scenes = await dataset.read('scenes');
  const sceneIds = scenes.getChild('scene_id')!.toArray() as Int32Array;
  const row = new Map(Array.from(sceneIds, (id, i) => [id, i] as const));
  const factors = SCENE_FACTORS.map((f) => scenes.getChild(f)!.toArray() as Float32Array);
  const latents = tensorRows(teacher.getChild('latents') as never);
  const k = latents.length / teacher.numRows;
  const ids = teacher.getChild('trial_id')!.toArray() as Int32Array;
  const text = (name: string) => Array.from({ length: teacher.numRows }, (_, i) => String(teacher.getChild(name)!.get(i)));
  const [splits, subjects] = [text('split'), text('subject')];
  const out: Record<string, Record<string, number>> = {};
  for (const subject of new Set(subjects)) {
    const pick = (split: string) => subjects.flatMap((s, i) => (s === subject && splits[i] === split ? [i] : []));
    const [fit, score] = [pick('train'), pick('val')];
    const x = (rows: number[]) => rows.flatMap((i) => Array.from(latents.subarray(i * k, (i + 1) * k)));
    const y = (rows: number[]) => rows.flatMap((i) => factors.map((f) => f[row.get(ids[i]!)!]!));
    const r2 = ridgeR2(x(fit), y(fit), x(score), y(score), fit.length, score.length, k, SCENE_FACTORS.length, 1);
    out[subject] = Object.fromEntries(SCENE_FACTORS.map((f, j) => [f, r2[j]!]));
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, set: { type: 'string', multiple: true, default: [] } } });
  const scratch = values.dir ? null : await mkdtemp(path.join(os.tmpdir(), 'b2m-teacher-factors-'));
  const dir = values.dir ?? path.join(scratch!, 'data');
  try {
    const lines = [`| reduction | subject | ${SCENE_FACTORS.join(' | ')} | mean |`, `| --- | --- |${' --- |'.repeat(SCENE_FACTORS.length + 1)}`];
    for (const reduction of ['evoked', 'pca']) {
      const config = loadConfig('driving', [...values.set!, `teacher.reduction=${reduction}`]);
      if (scratch && reduction === 'evoked') await simulateDataset(config, dir);
      await writeTeacherTables(dir, config, ['latent']);
      for (const [subject, r2] of Object.entries(await teacherFactorR2(dir))) {
        const all = Object.values(r2);
        lines.push(`| ${reduction} | ${subject} | ${all.map((v) => v.toFixed(2)).join(' | ')} | ${(all.reduce((a, b) => a + b, 0) / all.length).toFixed(3)} |`);
      }
    }
    console.log(lines.join('\n'));
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
