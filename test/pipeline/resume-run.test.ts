import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../pipeline/cli.js';
import { readGrid } from '../../pipeline/experiments/grid.js';
import { readSummary } from '../../pipeline/summary.js';

const root = path.resolve(import.meta.dirname, '../..');
const out = path.join(mkdtempSync(path.join(tmpdir(), 'b2m-resume-')), 'run');
const ARGS = [
  'run', '--out', out, '--config', 'memory-decision', '--scale', 'tiny', '--quiet',
  '--set', 'compare.strategies=[isolated, both]', '--set', 'train.steps=40', '--set', 'train.evalEvery=5',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('b2m run, killed midway, continues on the next run', () => {
  it('keeps finished cells, resumes the rest, and finishes with a complete summary', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { main } from './pipeline/cli.ts'; process.exitCode = await main(process.argv.slice(1));", '--', ...ARGS], { cwd: root, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let finished: string[] = [];
    for (let waited = 0; waited < 400_000; waited += 250) {
      if (existsSync(path.join(out, 'grid.json'))) {
        const cells = readGrid(out).cells.map((c) => path.join(out, c.dir));
        finished = cells.filter((c) => existsSync(path.join(c, 'final.json')));
        const started = cells.filter((c) => existsSync(path.join(c, 'run.json')) && !existsSync(path.join(c, 'final.json')));
        if (finished.length >= 1 && started.length >= 1) break;
      }
      await sleep(250);
    }
    child.kill('SIGKILL');
    await exited;
    expect(finished.length).toBeGreaterThanOrEqual(1);
    expect(existsSync(path.join(out, 'summary.json'))).toBe(false);
    const mtimes = new Map(finished.map((c) => [c, statSync(path.join(c, 'final.json')).mtimeMs]));

    expect(await main(ARGS)).toBe(0);
    for (const [cell, mtime] of mtimes) expect(statSync(path.join(cell, 'final.json')).mtimeMs).toBe(mtime);
    const summary = readSummary(path.join(out, 'summary.json'));
    const experiment = summary.experiments['memory-decision']!;
    expect(Object.keys(experiment.strategies)).toEqual(['isolated', 'both']);
    for (const result of Object.values(experiment.strategies)) {
      expect(result.metrics.test_accuracy!.values.every((v) => v !== null)).toBe(true);
    }
    expect(experiment.notes ?? []).not.toContainEqual(expect.stringMatching(/have not finished/));
    expect(existsSync(path.join(out, 'report.html'))).toBe(true);
  }, 900_000);
});
