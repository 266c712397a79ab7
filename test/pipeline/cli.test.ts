import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { b2m } from './cli-capture.js';
import { SUMMARY_SCHEMA_VERSION, writeSummary } from '../../pipeline/summary.js';

const dir = mkdtempSync(path.join(tmpdir(), 'b2m-cli-'));

function expectNoStack(text: string): void {
  expect(text).not.toMatch(/\n\s+at /);
  expect(text.trim().split('\n')).toHaveLength(1);
}

describe('b2m cli', () => {
  it('rejects an unknown stage with exit code 2, the closest stage, and no stack trace', async () => {
    const unknown = await b2m('no-such-stage');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown stage "no-such-stage"\. The stages are: /);
    for (const stage of ['simulate', 'ingest', 'teacher', 'compile', 'train', 'eval', 'compare', 'run', 'config', 'report', 'inspect', 'export']) {
      expect(unknown.stderr).toMatch(new RegExp(`[ ,]${stage}[,.]`));
    }
    expect(unknown.stderr).toMatch(/b2m --help/);
    expectNoStack(unknown.stderr);
    const typo = await b2m('--scale', 'tiny', 'reprot', 'runs/x');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Unknown stage "reprot"; did you mean `report`\?/);
  });

  it('rejects an unknown option or a missing stage with exit code 2 and no stack trace', async () => {
    const option = await b2m('config', 'show', '--no-such-option');
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option --no-such-option\. /);
    expectNoStack(option.stderr);
    const extra = await b2m('report', 'runs/x', '--bogus=1', '--other');
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/Unknown options --bogus, --other\. /);
    const stray = await b2m('config', 'show', 'surplus');
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/Unexpected argument "surplus"\. /);
    const none = await b2m();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Name a stage/);
    const missingValue = await b2m('config', 'show', '--set');
    expect(missingValue.code).toBe(2);
    expectNoStack(missingValue.stderr);
  });

  it('prints help and the version with exit code 0', async () => {
    const help = await b2m('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Stages:[\s\S]*b2m config[\s\S]*b2m report <run-dir>[\s\S]*b2m inspect <file>/);
    expect(help.stdout).toMatch(/--set/);
    const version = await b2m('--version');
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')).version);
  });

  it('config validate: a bad file exits 1 naming the key path; a good one exits 0', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'experiment: memory-decision\ntrain:\n  batchSize: lots\n');
    const failed = await b2m('config', 'validate', bad);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/`train\.batchSize` \(line 3 of bad\.yaml\) must be a number, found "lots"/);
    expectNoStack(failed.stderr);
    expect(failed.stdout).toBe('');

    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ experiment: 'driving', train: { steps: 50 } }));
    const passed = await b2m('config', 'validate', good);
    expect(passed.code).toBe(0);
    expect(passed.stdout).toMatch(/good\.json: valid driving config "driving" \(scale default, hash [0-9a-f]{16}\)/);
  });

  it('config validate names the flag of a bad --set, and --json prints the error as a JSON line', async () => {
    const result = await b2m('--json', 'config', 'validate', 'configs/driving.yaml', '--set', 'student.latent=-3');
    expect(result.code).toBe(1);
    const error = JSON.parse(result.stderr.trim());
    expect(error).toMatchObject({ event: 'error', error: 'ConfigError', exitCode: 1 });
    expect(error.message).toMatch(/`student\.latent` \(from --set student\.latent=-3\) must be > 0/);
  });

  it('config show prints the resolved config with the scale and overrides applied', async () => {
    const yaml = await b2m('config', 'show', '--config', 'memory-decision', '--scale', 'tiny', '--set', 'student.cell=lstm');
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toMatch(/^experiment: memory-decision$/m);
    expect(yaml.stdout).toMatch(/^scale: tiny$/m);
    expect(yaml.stdout).toMatch(/^ {2}cell: lstm$/m);
    const json = await b2m('config', 'show', '--json', '--set', 'driving.train.steps=77');
    const result = JSON.parse(json.stdout.trim());
    expect(result.event).toBe('result');
    expect(result.configs.map((c: { experiment: string }) => c.experiment)).toEqual(['memory-decision', 'driving']);
    expect(result.configs[1].train.steps).toBe(77);
    expect(result.configs[0].train.steps).not.toBe(77);
  });

  it('report and inspect read a run directory; a missing summary exits 1 without writing a report', async () => {
    const missing = await b2m('report', dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/summary\.json does not exist/);
    expectNoStack(missing.stderr);
    expect(existsSync(path.join(dir, 'report.html'))).toBe(false);

    const metric = (values: number[], diff?: number) => ({
      values,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      ci95: [Math.min(...values), Math.max(...values)] as [number, number],
      ...(diff === undefined ? {} : { vsIsolated: { meanDiff: diff, pTTest: 0.004, pWilcoxon: 0.25, n: 3 } }),
    });
    writeSummary(path.join(dir, 'summary.json'), {
      schemaVersion: SUMMARY_SCHEMA_VERSION,
      createdAt: new Date(0).toISOString(),
      b2mVersion: '0.1.0',
      configHash: 'feedfacecafebeef',
      config: {},
      experiments: {
        'memory-decision': {
          task: 'memory-decision',
          primaryMetric: { name: 'accuracy', higherIsBetter: true },
          strategies: {
            isolated: { seeds: [1, 2, 3], metrics: { accuracy: metric([0.7, 0.72, 0.71]) } },
            latent: { seeds: [1, 2, 3], metrics: { accuracy: metric([0.8, 0.83, 0.81], 0.1033) } },
          },
          curves: {
            isolated: { metric: 'accuracy', steps: [0, 10, 20], mean: [0.5, 0.6, 0.71], lo: [0.45, 0.55, 0.7], hi: [0.55, 0.65, 0.72] },
            latent: { metric: 'accuracy', steps: [0, 10, 20], mean: [0.5, 0.7, 0.81], lo: [0.45, 0.65, 0.8], hi: [0.55, 0.75, 0.83] },
          },
        },
      },
      provenance: { data: {}, host: {}, durations: {} },
    });
    const written = await b2m('report', dir, '--quiet');
    expect(written.code).toBe(0);
    expect(written.stdout.trim()).toBe(`Report written to ${path.join(dir, 'report.html')}`);
    expect(written.stderr).toBe('');
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toMatch(/<svg[\s\S]*latent[\s\S]*<\/svg>/);

    const blocked = await b2m('report', dir, '--quiet', '--out', path.join(dir, 'summary.json', 'report.html'));
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/The report cannot be written to .*summary\.json\/report\.html \(a part of the path is a file, not a folder, E[A-Z]+\)/);
    expectNoStack(blocked.stderr);

    const inspected = await b2m('inspect', dir);
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toMatch(/memory-decision \(memory-decision\): accuracy, higher is better/);
    expect(inspected.stdout).toMatch(/latent +0\.813 \[0\.8, 0\.83\] +\(3 seeds\) +Δ \+0\.103 vs isolated, p = 0\.004 \(t\), p = 0\.25 \(Wilcoxon\)/);
  });

  it('inspect refuses a file it does not know, naming what it reads', async () => {
    const unknownKind = await b2m('inspect', path.resolve(import.meta.dirname, '../../package.json'));
    expect(unknownKind.code).toBe(1);
    expect(unknownKind.stderr).toMatch(/does not recognize .*package\.json\. It reads a run's summary\.json/);
  });
});
