/** @file Images named in a summary, embedded in the report as data URIs so the page opens offline. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ReportError, describeFsError } from '../errors.js';

const SIGNATURES: readonly { mime: string; bytes: readonly number[] }[] = [
  { mime: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mime: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
  { mime: 'image/gif', bytes: [0x47, 0x49, 0x46, 0x38] },
];

/**
 * A data URI for `reference`: passed through when it already is a `data:image/` URI, otherwise read from a PNG,
 * JPEG or GIF file relative to `runDir`. `where` names the summary key in errors.
 */
export function imageDataUri(runDir: string, reference: string, where: string): string {
  if (reference.startsWith('data:')) {
    if (!reference.startsWith('data:image/')) {
      throw new ReportError(`${where} is a data URI of type ${reference.slice(5, reference.indexOf(';'))}, not an image. Give a PNG or JPEG file path relative to the run directory, or a data:image/ URI.`);
    }
    return reference;
  }
  const file = path.resolve(runDir, reference);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ReportError(`${where} names ${file}, which ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${describeFsError(err)})`}. Image paths are relative to the run directory ${runDir}; rerun the stage that writes them, or fix summary.json.`);
  }
  const format = SIGNATURES.find((s) => s.bytes.every((b, i) => bytes[i] === b));
  if (!format) {
    throw new ReportError(`${where} names ${file}, which is not a PNG, JPEG or GIF image. Write the scenes as PNG files.`);
  }
  return `data:${format.mime};base64,${bytes.toString('base64')}`;
}
