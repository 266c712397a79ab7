import { describe, expect, it } from 'vitest';
import { Progress, formatDuration } from '../../pipeline/progress.js';

class Sink {
  readonly chunks: string[] = [];
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** A clock the test moves by hand. */
function manualClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

function run(progress: Progress, clock: ReturnType<typeof manualClock>, steps: number, msPerStep: number) {
  const stage = progress.stage('train memory-decision/both/seed 1', steps);
  for (let step = 1; step <= steps; step++) {
    clock.advance(msPerStep);
    stage.update(step, { loss: 1 / step });
  }
  stage.done({ loss: 1 / steps });
  return stage;
}

describe('progress', () => {
  it('prints JSON lines with steps/s measured on the clock, throttled, with a final event', () => {
    const clock = manualClock();
    const out = new Sink();
    const stream = new Sink();
    const progress = new Progress({ json: true, out, stream, now: clock.now, jsonIntervalMs: 1_000 });
    expect(progress.mode).toBe('json');
    run(progress, clock, 100, 50);
    progress.info('hello');
    const events = out.text.trim().split('\n').map((line) => JSON.parse(line));
    const updates = events.filter((e) => e.event === 'progress' && !e.done);
    expect(updates.length).toBeGreaterThanOrEqual(5);
    expect(updates.length).toBeLessThanOrEqual(6);
    for (const e of updates) {
      expect(e.stage).toBe('train memory-decision/both/seed 1');
      expect(e.total).toBe(100);
    }
    expect(updates[updates.length - 1].stepsPerSec).toBeCloseTo(20, 5);
    expect(updates[updates.length - 1].etaSec).toBeCloseTo((100 - updates[updates.length - 1].step) / 20, 3);
    const final = events.find((e) => e.done);
    expect(final).toMatchObject({ event: 'progress', step: 100, total: 100, stepsPerSec: 20, seconds: 5 });
    expect(events[events.length - 1]).toEqual({ event: 'log', message: 'hello' });
    expect(stream.text).toBe('');
  });

  it('prints plain periodic lines when the output is not a terminal', () => {
    const clock = manualClock();
    const stream = new Sink(false);
    const progress = new Progress({ stream, out: new Sink(), now: clock.now, lineIntervalMs: 2_000 });
    expect(progress.mode).toBe('lines');
    run(progress, clock, 100, 100);
    const lines = stream.text.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.length).toBeLessThanOrEqual(7);
    expect(lines[1]).toMatch(/^train memory-decision\/both\/seed 1: \d+\/100 \(\d+%\) · 10\.0 steps\/s · \d+s left · loss /);
    expect(lines[lines.length - 1]).toMatch(/done, 100 steps in 10s \(10\.0 steps\/s\)/);
    expect(stream.text).not.toMatch(/\u001b\[/);
  });

  it('draws bars with steps/s and time left on a terminal', () => {
    const clock = manualClock();
    const stream = Object.assign(new Sink(true), { columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    const progress = new Progress({ stream, out: new Sink(), now: clock.now });
    expect(progress.mode).toBe('bars');
    run(progress, clock, 40, 250);
    progress.close();
    expect(stream.text).toMatch(/train memory-decision\/both\/seed 1 .*40\/40 · 4\.00 steps\/s/);
  });

  it('prints nothing when quiet except the result', () => {
    const clock = manualClock();
    const stream = new Sink();
    const out = new Sink();
    const progress = new Progress({ quiet: true, stream, out, now: clock.now });
    run(progress, clock, 20, 100);
    progress.info('not shown');
    progress.warn('not shown either');
    progress.result('the answer', { answer: 42 });
    expect(stream.text).toBe('');
    expect(out.text).toBe('the answer\n');
  });

  it('formats durations for people', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(undefined)).toBe('–');
  });
});
