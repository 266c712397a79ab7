/** @file What both simulators share: split codes, layered options over documented defaults, and knob checks that name the knob. */

import { DatasetError } from '../errors.js';

/** Every field optional, recursively; tuples and arrays are replaced whole. */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Lays `options` over `defaults`, key by key. An unknown key or a value of the wrong kind is an error naming its
 * dotted path under `root`, so a typo in a YAML experiment file is caught rather than silently ignored.
 */
export function resolveOptions<T extends object>(root: string, defaults: T, options: DeepPartial<T> | undefined): T {
  return merge(root, defaults, options) as T;
}

function merge(path: string, defaults: unknown, options: unknown): unknown {
  if (options === undefined) return structuredClone(defaults);
  if (isPlainObject(defaults)) {
    if (!isPlainObject(options)) {
      throw new DatasetError(`${path} must be an object of settings (got ${JSON.stringify(options)})`);
    }
    for (const key of Object.keys(options)) {
      if (!(key in defaults)) {
        throw new DatasetError(
          `${path}.${key} is not a setting; known settings are: ${Object.keys(defaults).join(', ')}`,
        );
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(defaults)) out[key] = merge(`${path}.${key}`, value, options[key]);
    return out;
  }
  if (Array.isArray(defaults)) {
    if (!Array.isArray(options) || options.length !== defaults.length) {
      throw new DatasetError(`${path} must be a list of ${defaults.length} values (got ${JSON.stringify(options)})`);
    }
    return options.map((value, i) => merge(`${path}[${i}]`, defaults[i], value));
  }
  if (typeof options !== typeof defaults) {
    throw new DatasetError(`${path} must be a ${typeof defaults} (got ${JSON.stringify(options)})`);
  }
  return options;
}

/** Checks that `value` is an integer in [min, max]; the error names the knob. */
export function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new DatasetError(`${name} must be an integer ${range} (got ${value})`);
  }
}

/** Checks that `value` is a finite number in [min, max]; the error names the knob. */
export function checkNumber(name: string, value: number, min: number, max = Number.POSITIVE_INFINITY): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new DatasetError(`${name} must be a finite number ${range} (got ${value})`);
  }
}

/** Checks that `value` is one of `allowed`; the error names the knob and the choices. */
export function checkChoice<T extends string>(name: string, value: string, allowed: readonly T[]): asserts value is T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new DatasetError(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
}

/** Checks that a [lo, hi] range is ordered and inside [min, max]. */
export function checkRange(name: string, range: readonly [number, number], min: number, max: number, integer: boolean): void {
  const check = integer ? checkInt : checkNumber;
  check(`${name}[0]`, range[0], min, max);
  check(`${name}[1]`, range[1], min, max);
  if (range[1] < range[0]) {
    throw new DatasetError(`${name} must be [low, high] with low <= high (got [${range[0]}, ${range[1]}])`);
  }
}

/** Split codes (indexes into the data layer's `SPLITS`) for `counts` rows laid out train first, then val, then test. */
export function splitCodes(counts: { train: number; val: number; test: number }): Uint8Array {
  const codes = new Uint8Array(counts.train + counts.val + counts.test);
  codes.fill(1, counts.train, counts.train + counts.val);
  codes.fill(2, counts.train + counts.val);
  return codes;
}
