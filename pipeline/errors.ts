/** @file The error families for mistakes a user can fix: the CLI prints the message, no stack, and exits non-zero. */

/** An error whose message names what went wrong, where, and what to do. */
export class B2mError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  /** Marks errors the CLI prints as a paragraph without a stack trace (shared with graphs/ and datasets/ errors). */
  readonly userError = true;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** The command line itself was wrong: an unknown stage or option, a missing argument. */
export class UsageError extends B2mError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** An experiment config file or a `--set` override is unreadable or does not fit the schema. */
export class ConfigError extends B2mError {}

/** A run's summary.json is missing, unreadable, or does not fit the schema. */
export class SummaryError extends B2mError {}

/** A report could not be written: an image it names is missing, or the output folder is not writable. */
export class ReportError extends B2mError {}

/** True for errors meant for the person at the terminal: ours, and those of graphs/ and datasets/ (`userError`). */
export function isUserError(err: unknown): err is Error & { exitCode?: number } {
  return err instanceof Error && (err as { userError?: unknown }).userError === true;
}
