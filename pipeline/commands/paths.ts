/** @file Checks of the paths a stage is given, before it starts: inputs that must exist and be readable, outputs that must be writable. */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { B2mError, describeFsError } from '../errors.js';

/** A path given to a stage does not exist, cannot be read, or cannot be written. */
export class PathError extends B2mError {}

/** Checks that `file` exists and can be read; `what` says what it should be ("the EDF recording"). */
export function requireReadable(file: string, what: string): void {
  if (!existsSync(file)) throw new PathError(`${file} does not exist. Give the path of ${what}.`);
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new PathError(`${file} cannot be read (${describeFsError(err)}). Give the path of ${what} that you can read, or fix its permissions.`);
  }
}

/** Checks that a folder is a dataset directory (it holds manifest.json). */
export function requireDataset(dir: string, stage: string): void {
  requireReadable(dir, 'a dataset directory (written by `b2m simulate` or `b2m ingest`)');
  if (!statSync(dir).isDirectory() || !existsSync(path.join(dir, 'manifest.json'))) {
    throw new PathError(`${dir} is not a dataset directory (it has no manifest.json). Give \`b2m ${stage}\` a folder written by \`b2m simulate\` or \`b2m ingest\`.`);
  }
}

/**
 * Checks that `out` can be created or written: its nearest existing ancestor is a writable folder (and `out`
 * itself, if it exists, is a folder); `what` names the option ("--out").
 */
export function requireWritableDir(out: string, what: string): void {
  let dir = path.resolve(out);
  while (!existsSync(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (!statSync(dir).isDirectory()) {
    throw new PathError(`${what} ${out} cannot be created: ${dir} is a file, not a folder. Choose another output directory.`);
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new PathError(`${what} ${out} cannot be written: ${dir} is not writable (${describeFsError(err)}). Choose a folder you can write to.`);
  }
}
