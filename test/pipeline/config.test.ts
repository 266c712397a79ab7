import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { BUILTIN_SCALES, EXPERIMENTS, STRATEGIES, builtinConfigPath, configHash, experimentConfigSchema, loadConfig } from '../../pipeline/config.js';
import { ConfigError } from '../../pipeline/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'b2m-config-'));

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('experiment configs', () => {
  it('fills every default from a minimal config', () => {
    const file = writeConfig('minimal.yaml', 'experiment: memory-decision\n');
    const config = loadConfig(file);
    expect(config.experiment).toBe('memory-decision');
    expect(config.name).toBe('memory-decision');
    if (config.experiment !== 'memory-decision') throw new Error('narrowing');
    expect(config.student.kind).toBe('decisionRnn');
    expect(config.student.cell).toBe('gru');
    expect(config.data.simulator.timeBins).toBe(100);
    expect(config.losses.latent.tap.times).toBe('all');
    expect(config.compare.strategies).toEqual([...STRATEGIES]);
    expect(config.train.optimizer.betas).toEqual([0.9, 0.999]);
  });

  it('ships both default configs, each equal to the schema defaults of its experiment', () => {
    for (const experiment of EXPERIMENTS) {
      const shipped = loadConfig(experiment);
      expect(shipped.experiment).toBe(experiment);
      expect(isDeepStrictEqual(shipped, experimentConfigSchema.parse({ experiment }))).toBe(true);
      expect(shipped.scales).toEqual(BUILTIN_SCALES[experiment]);
      expect(loadConfig(builtinConfigPath(experiment))).toEqual(shipped);
    }
  });

  it('validates every scale preset of the shipped configs', () => {
    for (const experiment of EXPERIMENTS) {
      for (const scale of Object.keys(BUILTIN_SCALES[experiment])) {
        expect(loadConfig(experiment, [], { scale }).scale).toBe(scale);
      }
      expect(loadConfig(experiment, [], { scale: 'full' }).compare.seeds).toBe(10);
      expect(loadConfig(experiment, [], { scale: 'tiny' }).train.steps).toBeLessThan(loadConfig(experiment).train.steps);
    }
  });

  it('names the key path, the line, what was found and the allowed values for a wrong type or value', () => {
    const file = writeConfig('wrong.yaml', [
      'experiment: memory-decision',
      'losses:',
      '  latent:',
      '    weight: heavy',
      'student:',
      '  cell: grue',
      '',
    ].join('\n'));
    const { message } = configError(() => loadConfig(file));
    expect(message).toContain(file);
    expect(message).toMatch(/`losses\.latent\.weight` \(line 4 of wrong\.yaml\) must be a number, found "heavy"/);
    expect(message).toMatch(/`student\.cell` \(line 6 of wrong\.yaml\) must be one of: gru, lstm, rnn/);
    expect(message).toMatch(/did you mean gru\?/);
    expect(message).not.toContain('\n');
  });

  it('suggests the nearest valid key for an unknown key and lists the allowed keys', () => {
    const file = writeConfig('unknown.json', JSON.stringify({ experiment: 'driving', train: { batchsize: 8 }, studnet: {} }));
    const { message } = configError(() => loadConfig(file));
    expect(message).toMatch(/`train\.batchsize` \(line 1 of unknown\.json\) is not a known key; did you mean `batchSize`\?/);
    expect(message).toMatch(/The keys allowed under `train` are: steps, batchSize, evalEvery/);
    expect(message).toMatch(/`studnet` .*did you mean `student`\?/);
  });

  it('applies --set overrides parsed as YAML scalars, and limits experiment-prefixed ones to that experiment', () => {
    const config = loadConfig('driving', ['train.steps=123', 'student.channels=[16, 32]', 'losses.contrastive.temperature.learnable=false', 'memory-decision.train.steps=7', 'driving.seed=9']);
    if (config.experiment !== 'driving') throw new Error('narrowing');
    expect(config.train.steps).toBe(123);
    expect(config.student.channels).toEqual([16, 32]);
    expect(config.losses.contrastive.temperature.learnable).toBe(false);
    expect(config.seed).toBe(9);
    expect(loadConfig('driving', ['student.channels.1=48']).student).toMatchObject({ channels: [16, 48, 64] });
  });

  it('applies --set after the scale preset, and --scale over the file', () => {
    const file = writeConfig('scaled.yaml', 'experiment: memory-decision\nscale: tiny\n');
    expect(loadConfig(file).train.steps).toBe(20);
    expect(loadConfig(file, ['train.steps=33']).train.steps).toBe(33);
    expect(loadConfig(file, [], { scale: 'default' }).train.steps).toBe(400);
    const { message } = configError(() => loadConfig(file, [], { scale: 'huge' }));
    expect(message).toMatch(/no scale named "huge".*default, tiny, full/);
  });

  it('validates overrides and names the flag', () => {
    const wrongType = configError(() => loadConfig('memory-decision', ['train.steps=many']));
    expect(wrongType.message).toMatch(/`train\.steps` \(from --set train\.steps=many\) must be a number, found "many"/);
    const unknownKey = configError(() => loadConfig('memory-decision', ['train.stpes=10']));
    expect(unknownKey.message).toMatch(/`train\.stpes` \(from --set train\.stpes=10\) is not a known key; did you mean `steps`\?/);
    const malformed = configError(() => loadConfig('memory-decision', ['train.steps']));
    expect(malformed.message).toMatch(/--set "train\.steps" is not of the form KEY=VALUE/);
    const union = configError(() => loadConfig('memory-decision', ['losses.latent.tap.times=decisio', 'losses.contrastive.tap.times=[1, x]']));
    expect(union.message).toMatch(/`losses\.latent\.tap\.times` \(from --set [^)]*\) must be decision, all or a list, found "decisio" \(text\); did you mean decision\?/);
    expect(union.message).toMatch(/`losses\.contrastive\.tap\.times\[1\]` \(from --set [^)]*\) must be a number, found "x"/);
    const tooSmall = configError(() => loadConfig('memory-decision', ['data.split.val=0.6', 'data.split.test=0.5']));
    expect(tooSmall.message).toMatch(/`data\.split\.val` .*must leave some rows for training/);
  });

  it('attributes a bad value to the scale preset that set it', () => {
    const file = writeConfig('badscale.yaml', 'experiment: driving\nscales:\n  quick:\n    train: { steps: -1 }\n');
    const { message } = configError(() => loadConfig(file, [], { scale: 'quick' }));
    expect(message).toMatch(/`train\.steps` \(set by scale "quick" in badscale\.yaml\) must be > 0, found -1/);
  });

  it('checks cross-key constraints: the student must fit the experiment, the image size the encoder', () => {
    const wrongStudent = configError(() => loadConfig(writeConfig('student.yaml', 'experiment: driving\nstudent: { kind: decisionRnn }\n')));
    expect(wrongStudent.message).toMatch(/`student\.kind` \(line 2 of student\.yaml\) must be sceneVae, found "decisionRnn"/);
    const badSize = configError(() => loadConfig('driving', ['data.simulator.imageSize=36']));
    expect(badSize.message).toMatch(/`data\.simulator\.imageSize` .*use a multiple of 8/);
    const noDataset = configError(() => loadConfig('memory-decision', ['data.source=dataset']));
    expect(noDataset.message).toMatch(/`data\.dataset` \(in `data` at line \d+ of memory-decision\.yaml\) is required when `data\.source` is dataset/);
  });

  it('reports missing files, syntax errors and a missing experiment in one paragraph', () => {
    expect(configError(() => loadConfig(path.join(dir, 'nope.yaml'))).message).toMatch(/does not exist.*memory-decision, driving/);
    const syntax = configError(() => loadConfig(writeConfig('syntax.yaml', 'experiment: driving\ntrain: [1\n  steps: 2\n')));
    expect(syntax.message).toMatch(/is not valid YAML at line \d+, column \d+/);
    const none = configError(() => loadConfig(writeConfig('none.yaml', 'seed: 3\n')));
    expect(none.message).toMatch(/`experiment` is missing|`experiment` must be one of: memory-decision, driving, found nothing/);
  });

  it('resolves a relative dataset path against the config file', () => {
    const file = writeConfig('data.yaml', YAML.stringify({ experiment: 'memory-decision', data: { source: 'dataset', dataset: 'sets/md' } }));
    expect(loadConfig(file).data.dataset).toBe(path.join(dir, 'sets/md'));
    expect(loadConfig(file, ['data.dataset=elsewhere'], { cwd: '/srv' }).data.dataset).toBe('/srv/elsewhere');
  });

  it('hashes configs stably and distinguishes different ones', () => {
    const a = loadConfig('memory-decision');
    expect(configHash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(configHash(loadConfig('memory-decision'))).toBe(configHash(a));
    expect(configHash(loadConfig('memory-decision', ['seed=2']))).not.toBe(configHash(a));
  });
});
