/** @file The error family of the data layer: bad files, bad rows, bad fields, each named so a person can fix them. */

/**
 * A mistake in data or in a data-layer call that a user can act on. The message names the file and the row,
 * field or channel involved, and what to do. `userError` lets the CLI print it without a stack trace.
 */
export class DatasetError extends Error {
  readonly userError = true;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
