/** @file The error family of graphs/: mistakes in building, differentiating or serializing a graph. */

/** A graph-building mistake a user can fix; the message names the op, the scope or parameter path and the shapes. */
export class GraphError extends Error {
  /** Marks the error as the user's to fix, so the CLI prints the message without a stack trace. */
  readonly userError = true;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
