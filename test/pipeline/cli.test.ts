import { describe, expect, it } from 'vitest';
import { main } from '../../pipeline/cli.js';

describe('b2m cli', () => {
  it('rejects an unknown stage with exit code 2 and no stack trace', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => { errors.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      expect(await main(['no-such-stage'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    const text = errors.join('');
    expect(text).toMatch(/b2m --help/);
    expect(text).not.toMatch(/\n\s+at /);
  });
});
