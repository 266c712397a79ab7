import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { b2m } from './cli-capture.js';

const dir = mkdtempSync(path.join(tmpdir(), 'b2m-cli-errors-'));

/** One paragraph on stderr, no stack trace, nothing on stdout. */
function expectParagraph(result: { stdout: string; stderr: string }): void {
  expect(result.stderr).toMatch(/^b2m: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stdout).toBe('');
}

describe('b2m stages reject bad input with one paragraph, a non-zero exit and no partial output', () => {
  it('an unknown stage or option', async () => {
    const stage = await b2m('simulat', 'memory-decision');
    expect(stage.code).toBe(2);
    expect(stage.stderr).toMatch(/did you mean `simulate`/);
    expectParagraph(stage);
    const out = path.join(dir, 'unknown-option');
    const option = await b2m('simulate', 'memory-decision', '--out', out, '--bogus');
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option --bogus/);
    expectParagraph(option);
    expect(existsSync(out)).toBe(false);
    const experiment = await b2m('simulate', 'weather', '--out', out);
    expect(experiment.code).toBe(2);
    expect(experiment.stderr).toMatch(/memory-decision/);
    expect(existsSync(out)).toBe(false);
  });

  it('a config with a wrong type or an unknown key', async () => {
    const wrongType = path.join(dir, 'wrong-type.yaml');
    writeFileSync(wrongType, 'experiment: memory-decision\ntrain:\n  steps: many\n');
    const out = path.join(dir, 'from-bad-config');
    const typed = await b2m('simulate', 'memory-decision', '--config', wrongType, '--out', out);
    expect(typed.code).toBe(1);
    expect(typed.stderr).toMatch(/train\.steps/);
    expect(typed.stderr).toContain(wrongType);
    expectParagraph(typed);
    const unknownKey = path.join(dir, 'unknown-key.yaml');
    writeFileSync(unknownKey, 'experiment: memory-decision\ntrian:\n  steps: 10\n');
    const unknown = await b2m('simulate', 'memory-decision', '--config', unknownKey, '--out', out);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/trian/);
    expect(unknown.stderr).toMatch(/train/);
    expectParagraph(unknown);
    const override = await b2m('compare', '--config', 'memory-decision', '--set', 'compare.seeds=zero', '--out', out);
    expect(override.code).toBe(1);
    expect(override.stderr).toMatch(/compare\.seeds/);
    expect(existsSync(out)).toBe(false);
  });

  it('a missing or unreadable input file', async () => {
    const out = path.join(dir, 'from-missing');
    const missing = await b2m('ingest', 'edf', path.join(dir, 'no-such.edf'), '--out', out, '--quiet');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no-such\.edf does not exist/);
    expectParagraph(missing);
    const garbage = path.join(dir, 'garbage.edf');
    writeFileSync(garbage, 'this is not an EDF header');
    const unreadable = await b2m('ingest', 'edf', garbage, '--out', out, '--quiet');
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain('garbage.edf');
    expectParagraph(unreadable);
    const notDataset = await b2m('teacher', dir);
    expect(notDataset.code).toBe(1);
    expect(notDataset.stderr).toMatch(/not a dataset directory/);
    expect(existsSync(out)).toBe(false);
    const noGrid = await b2m('cell', '--index', '0', dir);
    expect(noGrid.code).toBe(1);
    expect(noGrid.stderr).toMatch(/no grid\.json/);
  });

  it('an output directory that cannot be written', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const out = path.join(file, 'dataset');
    const result = await b2m('simulate', 'driving', '--scale', 'tiny', '--out', out);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is a file, not a folder/);
    expectParagraph(result);
    expect(existsSync(out)).toBe(false);
  });

  it('a dataset whose shapes do not fit the student', async () => {
    const data = path.join(dir, 'scenes-30');
    const images = path.resolve(import.meta.dirname, '../../../shared/data/real/driving/frames');
    const ingest = await b2m('ingest', 'images', images, '--out', data, '--size', '30', '--quiet');
    expect(ingest.code).toBe(0);
    const run = path.join(dir, 'vae-run');
    const result = await b2m('train', '--config', 'driving', '--scale', 'tiny', '--data', data, '--strategy', 'isolated', '--out', run, '--quiet');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/30/);
    expect(result.stderr).toMatch(/student\.channels/);
    expectParagraph(result);
    expect(existsSync(run)).toBe(false);
  }, 60_000);
});
