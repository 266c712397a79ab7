import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../pipeline/cli.js';
import { STRATEGIES } from '../../pipeline/config.js';
import { readSummary } from '../../pipeline/summary.js';

const out = path.join(mkdtempSync(path.join(tmpdir(), 'b2m-e2e-')), 'run');

describe('b2m run --scale tiny', () => {
  it('runs both simulated experiments end to end into a clean directory', async () => {
    expect(await main(['run', '--out', out, '--scale', 'tiny', '--quiet', '--set', 'train.steps=6', '--set', 'train.evalEvery=3'])).toBe(0);
    for (const file of ['report.html', 'summary.json', 'grid.json']) expect(existsSync(path.join(out, file))).toBe(true);
    const summary = readSummary(path.join(out, 'summary.json'));
    expect(Object.keys(summary.experiments).sort()).toEqual(['driving', 'memory-decision']);
    for (const [name, experiment] of Object.entries(summary.experiments)) {
      expect(Object.keys(experiment.strategies).sort()).toEqual([...STRATEGIES].sort());
      for (const strategy of STRATEGIES) {
        for (const seed of experiment.strategies[strategy]!.seeds) {
          const cell = path.join(out, name, strategy, `seed-${seed}`);
          expect(existsSync(path.join(cell, 'metrics.csv'))).toBe(true);
          expect(existsSync(path.join(cell, 'final.json'))).toBe(true);
        }
        const primary = experiment.strategies[strategy]!.metrics[experiment.primaryMetric.name]!;
        expect(primary.values.every((v) => v !== null && Number.isFinite(v))).toBe(true);
        if (strategy !== 'isolated') expect(primary.vsIsolated?.n).toBe(2);
        const nullTests = Object.keys(primary.vsNullControls ?? {}).sort();
        expect(nullTests).toEqual(['contrastive', 'latent', 'both'].includes(strategy) ? ['noise-brain', 'shuffled-brain'] : []);
      }
    }
    expect(summary.experiments.driving!.images!.length).toBeGreaterThan(0);
    const students = readdirSync(path.join(out, 'students'));
    expect(students).toContain('memory-decision-isolated');
    expect(students).toContain('driving-isolated');
    expect(students.length).toBe(4);
  }, 900_000);
});
