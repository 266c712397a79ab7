import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../pipeline/cli.js';
import { readSummary } from '../../pipeline/summary.js';

const root = mkdtempSync(path.join(tmpdir(), 'b2m-slurm-'));
const GRID = [
  '--config', 'memory-decision', '--scale', 'tiny', '--quiet',
  '--set', 'compare.strategies=[isolated, both]', '--set', 'compare.seeds=2',
  '--set', 'train.steps=6', '--set', 'train.evalEvery=3',
];

describe('b2m compare --emit slurm', () => {
  it('writes an array script that passes bash -n, and its cells run one by one give the summary of a direct compare, merged by b2m report or compare --merge', async () => {
    const cluster = path.join(root, 'cluster');
    expect(await main(['compare', '--emit', 'slurm', cluster, ...GRID])).toBe(0);
    const script = path.join(cluster, 'slurm', 'b2m-array.sh');
    execFileSync('bash', ['-n', script]);
    const text = readFileSync(script, 'utf8');
    expect(text).toMatch(/^#SBATCH --array=0-3$/m);
    expect(text).toMatch(/ cell --index "\$SLURM_ARRAY_TASK_ID" /);
    for (let i = 0; i < 4; i++) expect(await main(['cell', '--index', String(i), '--quiet', cluster])).toBe(0);
    expect(await main(['report', '--quiet', cluster])).toBe(0);
    expect(existsSync(path.join(cluster, 'report.html'))).toBe(true);
    const reported = readSummary(path.join(cluster, 'summary.json'));
    rmSync(path.join(cluster, 'summary.json'));
    expect(await main(['compare', '--merge', '--quiet', cluster])).toBe(0);

    const direct = path.join(root, 'direct');
    expect(await main(['compare', '--out', direct, ...GRID])).toBe(0);
    const merged = readSummary(path.join(cluster, 'summary.json'));
    const local = readSummary(path.join(direct, 'summary.json'));
    const experiment = merged.experiments['memory-decision']!;
    expect(Object.keys(experiment.strategies)).toEqual(['isolated', 'both']);
    expect(experiment.strategies.both!.metrics.test_accuracy!.values.every((v) => v !== null)).toBe(true);
    expect(merged.experiments).toEqual(local.experiments);
    expect(reported.experiments).toEqual(local.experiments);
  }, 600_000);
});
