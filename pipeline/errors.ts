/** @file The base error family for mistakes a user can fix: the CLI prints the message, no stack, and exits non-zero. */

/** An error whose message names what went wrong, where, and what to do. */
export class B2mError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}
