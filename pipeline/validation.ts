/** @file Zod issues turned into sentences a person can act on: the key path, what was found, what is allowed, the nearest valid key. */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Segment = PropertyKey;

/** What a message needs besides the issue: the validated data, its schema, and where a path came from. */
export interface IssueContext {
  /** The data that was validated (before defaults), to quote what was found. */
  readonly input: unknown;
  /** The schema it was validated against, to list the keys allowed at a path. */
  readonly schema: z.ZodType;
  /** Where the value at a path came from ("line 12", "--set train.steps=x"), or undefined. */
  readonly origin?: (path: readonly Segment[]) => string | undefined;
}

/** One sentence per issue, each naming the key path, what was found and what is allowed. */
export function describeIssues(issues: readonly Issue[], context: IssueContext): string[] {
  return issues.flatMap((issue) => describeIssue(issue, context));
}

/** `losses.latent.weight`, `student.channels[1]`; the empty path is "the top level". */
export function keyPath(path: readonly Segment[]): string {
  if (path.length === 0) return 'the top level';
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/** The candidate closest to `word` by edit distance (case-insensitive), if it is close enough to be a likely typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(1, Math.ceil(word.length / 3)) ? best : undefined;
}

/** A short phrase for a value as a person typed it: `"abc" (text)`, `12`, `a list of 3 items`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return `${JSON.stringify(value)} (text)`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/** The value at `path` inside `data`, or undefined where the path leaves it. */
export function valueAt(data: unknown, path: readonly Segment[]): unknown {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

/** The keys an object schema accepts at `path`, choosing union members by the data's discriminator. */
export function keysAt(schema: z.ZodType, path: readonly Segment[], data: unknown): string[] {
  const node = schemaAt(schema as unknown as SchemaNode, path, data);
  return node ? objectKeys(node, valueAt(data, path)) : [];
}

function describeIssue(issue: Issue, context: IssueContext): string[] {
  const where = (path: readonly Segment[]): string => {
    const origin = context.origin?.(path);
    return origin ? ` (${origin})` : '';
  };
  const path = issue.path;
  const found = valueAt(context.input, path);
  const at = `\`${keyPath(path)}\`${where(path)}`;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = expectedPhrase(issue.expected);
      if (found === undefined) return [`${at} is missing; it must be ${expected}.`];
      return [`${at} must be ${expected}, found ${describeValue(found)}.`];
    }
    case 'invalid_value':
      return [allowedSentence(at, issue.values, found)];
    case 'invalid_union': {
      const discriminated = issue as Issue & { discriminator?: string; options?: unknown[] };
      if (discriminated.discriminator !== undefined && discriminated.options) {
        return [allowedSentence(at, discriminated.options, found)];
      }
      const alternatives = issue.errors.map((errors) => errors.map((inner) => ({ ...inner, path: [...path, ...inner.path] }) as Issue));
      const depth = (errors: readonly Issue[]) => Math.max(...errors.map((e) => e.path.length));
      const deepest = [...alternatives].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (depth(deepest) > path.length) return describeIssues(deepest, context);
      const forms = alternatives.flatMap((errors) => errors.flatMap((e) => {
        if (e.code === 'invalid_value') return e.values.map((v) => String(v));
        if (e.code === 'invalid_type') return [expectedPhrase(e.expected)];
        return [];
      }));
      const guess = typeof found === 'string' ? nearest(found, forms) : undefined;
      return [`${at} must be ${forms.slice(0, -1).join(', ')}${forms.length > 1 ? ' or ' : ''}${forms[forms.length - 1] ?? 'of another form'}, found ${describeValue(found)}${guess ? `; did you mean ${guess}?` : '.'}`];
    }
    case 'unrecognized_keys': {
      const valid = keysAt(context.schema, path, context.input);
      return issue.keys.map((key) => {
        const full = [...path, key];
        const guess = nearest(key, valid);
        const under = path.length === 0 ? 'at the top level' : `under \`${keyPath(path)}\``;
        return `\`${keyPath(full)}\`${where(full)} is not a known key${guess ? `; did you mean \`${guess}\`?` : '.'}`
          + ` The keys allowed ${under} are: ${valid.join(', ')}.`;
      });
    }
    case 'too_small':
      return [`${at} ${boundPhrase(issue.origin, 'least', issue.minimum, issue.inclusive ?? true)}, found ${describeValue(found)}.`];
    case 'too_big':
      return [`${at} ${boundPhrase(issue.origin, 'most', issue.maximum, issue.inclusive ?? true)}, found ${describeValue(found)}.`];
    case 'custom':
      return [`${at} ${issue.message}`];
    default:
      return [`${at}: ${issue.message}.`];
  }
}

function allowedSentence(at: string, values: readonly unknown[], found: unknown): string {
  const allowed = values.map((v) => String(v));
  const guess = typeof found === 'string' ? nearest(found, allowed) : undefined;
  const list = allowed.length === 1 ? allowed[0] : `one of: ${allowed.join(', ')}`;
  return `${at} must be ${list}, found ${describeValue(found)}${guess ? `; did you mean ${guess}?` : '.'}`;
}

function expectedPhrase(expected: string): string {
  switch (expected) {
    case 'number': return 'a number';
    case 'int': return 'a whole number';
    case 'string': return 'text';
    case 'boolean': return 'true or false';
    case 'object': return 'a mapping of keys to values';
    case 'array': return 'a list';
    case 'tuple': return 'a list';
    default: return expected;
  }
}

function boundPhrase(origin: string, side: 'least' | 'most', bound: number | bigint, inclusive: boolean): string {
  if (origin === 'array' || origin === 'set') return `must have at ${side} ${bound} item${Number(bound) === 1 ? '' : 's'}`;
  if (origin === 'string') return `must have at ${side} ${bound} character${Number(bound) === 1 ? '' : 's'}`;
  const relation = side === 'least' ? (inclusive ? '≥' : '>') : (inclusive ? '≤' : '<');
  return `must be ${relation} ${bound}`;
}

interface SchemaNode {
  _zod: { def: SchemaDef };
}
interface SchemaDef {
  type: string;
  innerType?: SchemaNode;
  in?: SchemaNode;
  shape?: Record<string, SchemaNode>;
  options?: SchemaNode[];
  discriminator?: string;
  element?: SchemaNode;
  items?: SchemaNode[];
  valueType?: SchemaNode;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'nonoptional', 'readonly', 'catch']);

function unwrap(node: SchemaNode): SchemaNode {
  let current = node;
  for (;;) {
    const def = current._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

function unionMember(node: SchemaNode, data: unknown): SchemaNode[] {
  const def = node._zod.def;
  const options = (def.options ?? []).map(unwrap);
  if (def.discriminator === undefined) return options;
  const tag = valueAt(data, [def.discriminator]);
  const chosen = options.filter((option) => {
    const literal = option._zod.def.shape?.[def.discriminator as string];
    const values = literal ? (unwrap(literal)._zod.def as { values?: unknown[] }).values : undefined;
    return values?.includes(tag) ?? false;
  });
  return chosen.length > 0 ? chosen : options;
}

function schemaAt(root: SchemaNode, path: readonly Segment[], data: unknown): SchemaNode | undefined {
  let node: SchemaNode | undefined = unwrap(root);
  for (let i = 0; i < path.length && node; i++) {
    const segment = path[i] as Segment;
    const here = valueAt(data, path.slice(0, i));
    node = childOf(node, segment, here);
  }
  return node;
}

function childOf(node: SchemaNode, segment: Segment, data: unknown): SchemaNode | undefined {
  const def = node._zod.def;
  switch (def.type) {
    case 'object': {
      const child = def.shape?.[String(segment)];
      return child ? unwrap(child) : undefined;
    }
    case 'union':
      for (const option of unionMember(node, data)) {
        const child = childOf(option, segment, data);
        if (child) return child;
      }
      return undefined;
    case 'array':
      return def.element ? unwrap(def.element) : undefined;
    case 'tuple': {
      const item = def.items?.[Number(segment)];
      return item ? unwrap(item) : undefined;
    }
    case 'record':
      return def.valueType ? unwrap(def.valueType) : undefined;
    default:
      return undefined;
  }
}

function objectKeys(node: SchemaNode, data: unknown): string[] {
  const def = node._zod.def;
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'union') return [...new Set(unionMember(node, data).flatMap((option) => objectKeys(option, data)))];
  return [];
}

function editDistance(a: string, b: string): number {
  const previous = new Uint16Array(b.length + 1);
  const current = new Uint16Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1);
    }
    previous.set(current);
  }
  return previous[b.length] as number;
}
