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

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'it does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  ENOSPC: 'the disk is full',
  EROFS: 'the file system is read-only',
};

/** A few words for a file-system error a person can act on ("permission denied"), with its code. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  return FS_REASONS[code] ? `${FS_REASONS[code]}, ${code}` : code;
}
