/** @file What a command tells the person running it: progress bars on a terminal, periodic lines in logs, JSON lines for machines, nothing when quiet. */
import cliProgress from 'cli-progress';

/** How progress is shown: `bars` on a terminal, `lines` when output is a file or pipe, `json` lines, or `quiet`. */
export type ProgressMode = 'bars' | 'lines' | 'json' | 'quiet';

/** A stream progress can write to; `isTTY` decides between bars and lines. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Show no progress or messages (results are still printed). */
  readonly quiet?: boolean;
  /** Print JSON lines on `out` instead of bars or lines. */
  readonly json?: boolean;
  /** Where bars, lines and messages go (default: standard error). */
  readonly stream?: OutputStream;
  /** Where results and JSON lines go (default: standard output). */
  readonly out?: OutputStream;
  /** Milliseconds clock (default: `performance.now`). */
  readonly now?: () => number;
  /** Least time between two plain progress lines of a stage (default 10 s). */
  readonly lineIntervalMs?: number;
  /** Least time between two JSON progress events of a stage (default 1 s). */
  readonly jsonIntervalMs?: number;
}

/** Extra numbers or words shown with a stage's progress, such as the current loss. */
export type ProgressFields = Readonly<Record<string, number | string>>;

const RATE_WINDOW_MS = 5_000;
const SAMPLE_SPACING_MS = 100;

/** The reporter a command uses for progress, messages and results. */
export class Progress {
  readonly mode: ProgressMode;
  private readonly stream: OutputStream;
  private readonly out: OutputStream;
  readonly now: () => number;
  readonly lineIntervalMs: number;
  readonly jsonIntervalMs: number;
  private bars: cliProgress.MultiBar | undefined;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.out = options.out ?? process.stdout;
    this.now = options.now ?? (() => performance.now());
    this.lineIntervalMs = options.lineIntervalMs ?? 10_000;
    this.jsonIntervalMs = options.jsonIntervalMs ?? 1_000;
    this.mode = options.json ? 'json' : options.quiet ? 'quiet' : this.stream.isTTY ? 'bars' : 'lines';
  }

  /** Starts following a stage of `total` steps; call `update` as it advances and `done` at its end. */
  stage(name: string, total: number): StageProgress {
    return new StageProgress(this, name, total);
  }

  /** A message for the person (above the bars on a terminal); a `log` event in JSON mode; nothing when quiet. */
  info(message: string): void {
    if (this.mode === 'json') this.event('log', { message });
    else if (this.mode !== 'quiet') this.human(message);
  }

  /** A warning: shown in every mode but quiet; a `warning` event in JSON mode. */
  warn(message: string): void {
    if (this.mode === 'json') this.event('warning', { message });
    else if (this.mode !== 'quiet') this.human(`warning: ${message}`);
  }

  /** A JSON line `{"event": name, ...fields}` in JSON mode; nothing otherwise. */
  event(name: string, fields: Readonly<Record<string, unknown>> = {}): void {
    if (this.mode === 'json') this.out.write(`${JSON.stringify({ event: name, ...fields })}\n`);
  }

  /** The command's answer, printed even when quiet: `text` for people, `{"event":"result", ...data}` in JSON mode. */
  result(text: string, data: Readonly<Record<string, unknown>>): void {
    if (this.mode === 'json') this.event('result', data);
    else this.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Stops any bars still drawn. */
  close(): void {
    this.bars?.stop();
    this.bars = undefined;
  }

  /** Writes one human line, above the bars when they are drawn. */
  human(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  /** The shared multi-bar container, created on first use. */
  barContainer(): cliProgress.MultiBar {
    this.bars ??= new cliProgress.MultiBar({
      stream: this.stream as NodeJS.WritableStream,
      format: '{stage} {bar} {value}/{total} · {rate} steps/s · {eta} left{fields}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      barsize: 24,
      hideCursor: false,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      fps: 8,
      forceRedraw: true,
    });
    return this.bars;
  }
}

/** One stage's progress: steps done, a windowed steps/s, and the time left. */
export class StageProgress {
  private readonly samples: { t: number; step: number }[] = [];
  private readonly startedAt: number;
  private step = 0;
  private lastEmit = -Infinity;
  private bar: cliProgress.SingleBar | undefined;
  private finished = false;

  constructor(private readonly progress: Progress, readonly name: string, readonly total: number) {
    this.startedAt = progress.now();
    this.samples.push({ t: this.startedAt, step: 0 });
    if (progress.mode === 'bars') {
      this.bar = progress.barContainer().create(total, 0, { stage: name, rate: '–', eta: '–', fields: '' });
    }
  }

  /** Steps per second over the last few seconds (0 before two samples). */
  get stepsPerSec(): number {
    const first = this.samples[0] as { t: number; step: number };
    const last = this.samples[this.samples.length - 1] as { t: number; step: number };
    const elapsed = last.t - first.t;
    return elapsed > 0 ? ((last.step - first.step) * 1000) / elapsed : 0;
  }

  /** Seconds left at the current rate, or undefined while the rate is unknown. */
  get etaSec(): number | undefined {
    const rate = this.stepsPerSec;
    return rate > 0 ? Math.max(0, this.total - this.step) / rate : undefined;
  }

  /** Records that `step` steps of the stage are done. */
  update(step: number, fields: ProgressFields = {}): void {
    if (this.finished) return;
    this.step = step;
    const t = this.progress.now();
    this.sample(t);
    const mode = this.progress.mode;
    if (mode === 'bars') {
      this.bar?.update(step, { rate: formatRate(this.stepsPerSec), eta: formatDuration(this.etaSec), fields: formatFields(fields) });
    } else if (mode === 'lines' || mode === 'json') {
      const interval = mode === 'lines' ? this.progress.lineIntervalMs : this.progress.jsonIntervalMs;
      if (t - this.lastEmit >= interval) this.emit(t, fields);
    }
  }

  /** Advances by `by` steps. */
  increment(by = 1, fields: ProgressFields = {}): void {
    this.update(this.step + by, fields);
  }

  /** Marks the stage finished; the final line or event reports the whole stage's steps/s. */
  done(fields: ProgressFields = {}): void {
    if (this.finished) return;
    const t = this.progress.now();
    const seconds = (t - this.startedAt) / 1000;
    const rate = seconds > 0 ? this.step / seconds : 0;
    this.finished = true;
    switch (this.progress.mode) {
      case 'bars':
        this.bar?.update(this.step, { rate: formatRate(rate), eta: '0s', fields: formatFields(fields) });
        this.bar?.stop();
        break;
      case 'lines':
        this.progress.human(`${this.name}: done, ${this.step} steps in ${formatDuration(seconds)} (${formatRate(rate)} steps/s)${formatFields(fields)}`);
        break;
      case 'json':
        this.progress.event('progress', { stage: this.name, step: this.step, total: this.total, stepsPerSec: round(rate), seconds: round(seconds), done: true, ...fields });
        break;
      case 'quiet':
        break;
    }
  }

  private sample(t: number): void {
    const last = this.samples[this.samples.length - 1] as { t: number; step: number };
    if (t - last.t < SAMPLE_SPACING_MS && this.samples.length > 1) last.step = this.step;
    else this.samples.push({ t, step: this.step });
    while (this.samples.length > 2 && t - (this.samples[1] as { t: number }).t >= RATE_WINDOW_MS) this.samples.shift();
  }

  private emit(t: number, fields: ProgressFields): void {
    this.lastEmit = t;
    const rate = this.stepsPerSec;
    if (this.progress.mode === 'json') {
      const eta = this.etaSec;
      this.progress.event('progress', { stage: this.name, step: this.step, total: this.total, stepsPerSec: round(rate), ...(eta === undefined ? {} : { etaSec: round(eta) }), done: false, ...fields });
    } else {
      const percent = this.total > 0 ? Math.floor((100 * this.step) / this.total) : 100;
      this.progress.human(`${this.name}: ${this.step}/${this.total} (${percent}%) · ${formatRate(rate)} steps/s · ${formatDuration(this.etaSec)} left${formatFields(fields)}`);
    }
  }
}

/** Progress for a command's global flags (`--quiet`, `--json`). */
export function progressFor(flags: { quiet?: boolean; json?: boolean }): Progress {
  return new Progress({ quiet: flags.quiet, json: flags.json });
}

/** "42s", "3m05s", "1h02m"; "–" when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(rate: number): string {
  if (!(rate > 0)) return '–';
  return rate >= 100 ? rate.toFixed(0) : rate >= 10 ? rate.toFixed(1) : rate.toFixed(2);
}

function formatFields(fields: ProgressFields): string {
  const entries = Object.entries(fields);
  if (entries.length === 0) return '';
  return ` · ${entries.map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join(' · ')}`;
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
