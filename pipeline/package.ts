/** @file Where the b2m package is installed and which version it is, from source (tsx, vitest) or from dist/. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding b2m's package.json, found by walking up from this module. */
export const packageRoot: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** The version field of b2m's package.json. */
export const b2mVersion: string = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'b2m') return dir;
    if (path.dirname(dir) === dir) throw new Error(`b2m's package.json was not found above ${start}; the installation is incomplete.`);
  }
}
